import Foundation

/// `Tests/fixtures/tunnel_peer.py` on a loopback port: a raw TCP server that half-closes, or
/// answers after the client's FIN, or stops reading until told — the peers a tunnel's
/// half-close and backpressure are judged against. What it saw is on its stdout, one line each.
final class TunnelPeer {
    let port = freePort()
    let child: ChildProcess

    init(mode: String, in dir: TempDirectory) throws {
        child = try ChildProcess("/usr/bin/env", ["python3", Paths.fixtures.appendingPathComponent("tunnel_peer.py").path, "\(port)", mode],
                                 logDirectory: dir, name: "tunnel-peer-\(mode)-\(port)")
        guard waitForPort(port) else { throw HarnessError("tunnel_peer.py did not start: \(child.stderr)") }
    }

    /// The first stdout line starting with `prefix`, waited for (bounded). The port probe that
    /// saw SwiftLB listening is a session too (no bytes), so tests name their lines by the
    /// byte counts in them.
    func line(startingWith prefix: String, timeout: TimeInterval) -> String? {
        var found: String?
        _ = waitUntil(timeout: timeout) {
            found = child.stdout.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
            return found != nil
        }
        return found
    }

    func stop() { child.stop() }
}

/// The bytes of a WebSocket handshake and of client frames, for tests that drive a tunnel
/// byte by byte with `RawClient` (timing the tunnel's end exactly, which a library hides).
enum WebSocketBytes {
    /// The RFC 6455 §1.3 sample key, whose right accept is `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=`.
    static func upgrade(path: String = "/echo", host: String = "a") -> String {
        "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    }

    /// A masked text frame (clients must mask), FIN set, for payloads under 126 bytes.
    static func text(_ payload: String) -> [UInt8] {
        let bytes = Array(payload.utf8)
        precondition(bytes.count < 126, "short frames only")
        let mask: [UInt8] = [0x37, 0xfa, 0x21, 0x3d]
        return [0x81, 0x80 | UInt8(bytes.count)] + mask + bytes.enumerated().map { $0.element ^ mask[$0.offset % 4] }
    }
}
