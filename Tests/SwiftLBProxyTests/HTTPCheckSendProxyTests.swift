import Foundation
import XCTest

/// `http-check connect send-proxy`, `check-send-proxy` and a `send-proxy` server's checks: the
/// check starts with a PROXY header, as HAProxy 2.6
/// writes one for a check — v1 with the check connection's own addresses, v2 (a server with
/// `send-proxy-v2`) a LOCAL header without addresses — then its request. A Python server on
/// loopback records what comes before the request line; HAProxy runs the same file.
final class HTTPCheckSendProxyTests: XCTestCase {
    private static let capture = """
        import socket, sys
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(10)
        while True:
            c, _ = s.accept(); c.settimeout(3); data = b""
            try:
                while b"GET / HTTP/1.0\\r\\n" not in data:
                    part = c.recv(4096)
                    if not part: break
                    data += part
            except OSError:
                pass
            c.close()
            if data:
                print(data[:data.find(b"GET ")].hex(), flush=True); break
        """

    /// What came before the check's request line, as text with the ports masked (v1) or hex (v2).
    private func preamble(server: String, haproxy: Bool) throws -> String {
        Self.readable(try firstCheckReport(script: Self.capture, checkRules: "http-check connect send-proxy\nhttp-check send meth GET uri /",
                                           serverOptions: server, haproxy: haproxy))
    }

    /// Captured bytes (hex) as text with a v1 header's ports masked, or as they are (hex) when
    /// they do not start with a v1 header.
    private static func readable(_ hex: String) -> String {
        let bytes = stride(from: 0, to: hex.count, by: 2).compactMap { i -> UInt8? in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
        }
        guard bytes.first == UInt8(ascii: "P") else { return hex }
        return String(decoding: bytes, as: UTF8.self)
            .replacingOccurrences(of: #" \d+ \d+\r\n"#, with: " LPORT SPORT\r\n", options: .regularExpression)
    }

    func testTheCheckStartsWithHAProxysProxyHeader() throws {
        let v1 = try preamble(server: "", haproxy: false), v2 = try preamble(server: "send-proxy-v2", haproxy: false)
        XCTAssertEqual(v1, "PROXY TCP4 127.0.0.1 127.0.0.1 LPORT SPORT\r\n")
        XCTAssertEqual(v2, "0d0a0d0a000d0a515549540a20000000")
        try requireHAProxy()
        XCTAssertEqual(try preamble(server: "", haproxy: true), v1, "HAProxy")
        XCTAssertEqual(try preamble(server: "send-proxy-v2", haproxy: true), v2, "HAProxy")
    }

    /// The first bytes of the first connection (until it closes or stays quiet for a second), hex.
    private static let firstBytes = """
        import socket, sys
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(10)
        c, _ = s.accept(); c.settimeout(1); data = b""
        try:
            while len(data) < 256:
                part = c.recv(4096)
                if not part: break
                data += part
        except OSError:
            pass
        print(data.hex(), flush=True)
        """

    /// What a check of `backend` lines (the server on the capture port, or sent there by
    /// `port`) writes first, as text with the ports masked, or hex when binary.
    private func firstCheckBytes(_ backend: (Int) -> String, haproxy: Bool) throws -> String {
        let dir = try TempDirectory()
        let capture = freePort()
        let peer = try ChildProcess("/usr/bin/env", ["python3", "-c", Self.firstBytes, "\(capture)"], logDirectory: dir, name: "capture")
        defer { peer.stop() }
        guard waitForPort(capture) else { throw HarnessError("the capture did not listen: \(peer.stderr)") }
        let port = freePort()
        let child = try startOnSameFile(differentialHTTPDefaults + """
            listen app
                bind 127.0.0.1:\(port)
            \(backend(capture))

            """, haproxy: haproxy, port: port, in: dir)
        defer { child.stop() }
        _ = waitUntil(timeout: 5) { !peer.stdout.isEmpty }
        return Self.readable(peer.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// HAProxy 2.6 (`check.send_proxy`): a `send-proxy` server's checks start with its PROXY
    /// header when they go where the traffic goes (a plain connect check sends it, then
    /// closes), and with `check-send-proxy` when they go to another `port`; without it, not.
    /// A PROXY-protocol server (nginx `listen … proxy_protocol`) otherwise answers the check
    /// with an error and the server is marked down.
    func testASendProxyServersChecksStartWithItsHeaderAsInHAProxy() throws {
        try requireHAProxy()
        let elsewhere = freePort()
        let cases: [(String, (Int) -> String, String)] = [
            ("connect check of a send-proxy server", { "    mode tcp\n    server s1 127.0.0.1:\($0) check inter 300ms send-proxy" },
             "PROXY TCP4 127.0.0.1 127.0.0.1 LPORT SPORT\r\n"),
            ("httpchk of a send-proxy server", { "    option httpchk GET /health\n    server s1 127.0.0.1:\($0) check inter 300ms send-proxy" },
             "PROXY TCP4 127.0.0.1 127.0.0.1 LPORT SPORT\r\nGET /health HTTP/1.0\r\n"),
            ("redis-check on another port with check-send-proxy",
             { "    mode tcp\n    option redis-check\n    server s1 127.0.0.1:\(elsewhere) send-proxy-v2 check inter 300ms port \($0) check-send-proxy" },
             "0d0a0d0a000d0a515549540a20000000" + "*1\r\n$4\r\nPING\r\n".utf8.map { String(format: "%02x", $0) }.joined()),
            ("redis-check on another port", { "    mode tcp\n    option redis-check\n    server s1 127.0.0.1:\(elsewhere) send-proxy-v2 check inter 300ms port \($0)" },
             "*1\r\n$4\r\nPING\r\n".utf8.map { String(format: "%02x", $0) }.joined()),
        ]
        for (name, backend, expected) in cases {
            // SwiftLB's check request has headers of its own after the request line.
            let cut = { (text: String) in text.range(of: "HTTP/1.0\r\n").map { String(text[..<$0.upperBound]) } ?? text }
            XCTAssertEqual(cut(try firstCheckBytes(backend, haproxy: true)), expected, "HAProxy, \(name)")
            XCTAssertEqual(cut(try firstCheckBytes(backend, haproxy: false)), expected, "SwiftLB, \(name)")
        }
    }
}
