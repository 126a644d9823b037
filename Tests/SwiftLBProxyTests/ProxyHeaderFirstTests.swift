import Foundation
import XCTest

/// Behind `bind … accept-proxy` nothing leaves the proxy before a valid PROXY header arrived:
/// HAProxy installs no protocol until then, so an h2 listener sends its SETTINGS only after
/// the header (and after the `tcp-request session` rules it triggers let the connection live).
/// SwiftLB and HAProxy 2.6 side by side on the same configuration — HTTP/2 with prior
/// knowledge (`proto h2`), HTTP/2 chosen by ALPN over TLS, HTTP/1.1 and `mode tcp` — through
/// real sockets: a client that sends nothing reads nothing, a bad header closes the connection
/// without a byte, a session rule that refuses the header's source too, and a good header then
/// the client's preface gets the server's SETTINGS.
final class ProxyHeaderFirstTests: XCTestCase {
    /// The client's HTTP/2 preface and an empty SETTINGS frame.
    private let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8) + [0, 0, 0, 4, 0, 0, 0, 0, 0]

    private func header(_ source: String, port: Int) -> String { "PROXY TCP4 \(source) 127.0.0.1 40000 \(port)\r\n" }

    /// What a client that sends `bytes` (perhaps none) gets within `wait` seconds, and whether
    /// the connection ended.
    private func exchange(_ port: Int, _ bytes: [UInt8], wait: TimeInterval) throws -> (bytes: [UInt8], closed: Bool) {
        let client = try RawClient(port: port, timeout: wait)
        if !bytes.isEmpty { client.send(bytes) }
        return client.readAllBytes()
    }

    func testNothingIsWrittenBeforeTheProxyHeaderIsAcceptedAsHAProxy() throws {
        try requireHAProxy()
        let dir = try TempDirectory()
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["pp.example.test", pem]).status, 0)
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        // Per side: the h2 port is SideBySide's; the others are remembered by it.
        var extra: [Int: (h1: Int, tcp: Int, tls: Int)] = [:]
        let both = try SideBySide({ port in
            let ports = extra[port] ?? (freePort(), freePort(), freePort())
            extra[port] = ports
            let refuse = "    tcp-request session reject if { src 203.0.113.66 }"
            return """
            frontend h2
                bind 127.0.0.1:\(port) proto h2 accept-proxy
            \(refuse)
                default_backend app
            frontend h1
                bind 127.0.0.1:\(ports.h1) accept-proxy
            \(refuse)
                default_backend app
            frontend tls
                bind 127.0.0.1:\(ports.tls) accept-proxy ssl crt \(pem) alpn h2
            \(refuse)
                default_backend app
            frontend tcp
                mode tcp
                bind 127.0.0.1:\(ports.tcp) accept-proxy
            \(refuse)
                default_backend tcpapp
            backend app
                server s1 127.0.0.1:\(backend.port)
            backend tcpapp
                mode tcp
                server s1 127.0.0.1:\(backend.port)

            """
        }, in: dir)
        defer { both.stop() }

        for (side, h2) in zip(["SwiftLB", "HAProxy"], both.ports) {
            let others = extra[h2]!
            let listeners = [("proto h2", h2), ("HTTP/1.1", others.h1), ("tcp", others.tcp), ("ssl alpn h2", others.tls)]
            for (name, port) in listeners {
                // Connected, silent for 300 ms: not a byte, and still open.
                let idle = try exchange(port, [], wait: 0.3)
                XCTAssertEqual(idle.bytes, [], "\(side) \(name): wrote before any PROXY header")
                XCTAssertFalse(idle.closed, "\(side) \(name): closed a connection still within its header timeout")
                // Not a PROXY header: closed without a byte.
                let bad = try exchange(port, Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8), wait: 3)
                XCTAssertEqual(bad.bytes, [], "\(side) \(name): answered a connection without a valid PROXY header")
                XCTAssertTrue(bad.closed, "\(side) \(name): kept a connection without a valid PROXY header")
                let badV1 = try exchange(port, Array("PROXY TCP4 1.2.3.4\r\n".utf8) + preface, wait: 3)
                XCTAssertEqual(badV1.bytes, [], "\(side) \(name): answered a malformed PROXY header")
                XCTAssertTrue(badV1.closed, "\(side) \(name): kept a malformed PROXY header")
            }
            // A good header from a source the session rules refuse: closed without a byte,
            // the h2 server preface included.
            for (name, port) in listeners.dropLast() {
                let refused = try exchange(port, Array(header("203.0.113.66", port: port).utf8) + preface, wait: 3)
                XCTAssertEqual(refused.bytes, [], "\(side) \(name): wrote to a session its rules refused")
                XCTAssertTrue(refused.closed, "\(side) \(name): kept a session its rules refused")
            }
            // A good header then the client's preface: the server's SETTINGS (not an ACK) on
            // stream 0 come first.
            let client = try RawClient(port: h2, timeout: 0.5)
            client.send(Array(header("203.0.113.7", port: h2).utf8) + preface)
            var frame: [UInt8] = []
            for _ in 0..<10 where frame.count < 9 {
                let (bytes, closed) = client.readAllBytes()
                frame += bytes
                if closed { break }
            }
            XCTAssertGreaterThanOrEqual(frame.count, 9, "\(side): no frame after a good PROXY header")
            if frame.count >= 9 {
                XCTAssertEqual(Array(frame[3..<9]), [4, 0, 0, 0, 0, 0], "\(side): the first frame is not the server's SETTINGS: \(frame.prefix(9))")
            }
            // The same over TLS with ALPN h2, and HTTP/1.1 and tcp answer a request.
            let tls = runCommand("/usr/bin/timeout", ["10", "python3", "-c", Self.tlsH2Client, "\(others.tls)", header("203.0.113.7", port: others.tls)])
            XCTAssertEqual(tls.out, "h2 4\n", "\(side) ssl alpn h2: \(tls.err)")
            // Refused by the session rules once the handshake is done: no SETTINGS either.
            let refusedTLS = runCommand("/usr/bin/timeout", ["10", "python3", "-c", Self.tlsH2Client, "\(others.tls)", header("203.0.113.66", port: others.tls)])
            XCTAssertEqual(refusedTLS.out, "h2 -1\n", "\(side) ssl alpn h2, session refused: \(refusedTLS.err)")
            for (name, port) in [("HTTP/1.1", others.h1), ("tcp", others.tcp)] {
                let c = try RawClient(port: port, timeout: 3)
                c.send(header("203.0.113.7", port: port) + "GET /\(name) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                XCTAssertEqual(statusCode(c.readResponse()), 200, "\(side) \(name) after a good PROXY header")
            }
        }
    }

    /// A plain `proto h2` bind whose `tcp-request connection|session` rules refuse the client:
    /// not even the server's SETTINGS go out (NIOHTTP2Handler writes them as the channel
    /// becomes active, before the rules ran), as with HAProxy, which installs no mux then.
    func testARefusedH2ConnectionGetsNoSettingsAsHAProxy() throws {
        try requireHAProxy()
        let dir = try TempDirectory()
        var second: [Int: Int] = [:]
        let both = try SideBySide({ port in
            let session = second[port] ?? freePort()
            second[port] = session
            return """
            frontend byconnection
                bind 127.0.0.1:\(port) proto h2
                tcp-request connection reject if { src 127.0.0.1 }
                default_backend app
            frontend bysession
                bind 127.0.0.1:\(session) proto h2
                tcp-request session reject if { src 127.0.0.1 }
                default_backend app
            backend app
                server s1 127.0.0.1:1

            """
        }, in: dir)
        defer { both.stop() }
        for (side, port) in zip(["SwiftLB", "HAProxy"], both.ports) {
            for (name, target) in [("connection", port), ("session", second[port]!)] {
                let refused = try exchange(target, preface, wait: 3)
                XCTAssertEqual(refused.bytes, [], "\(side) \(name) rules: wrote to a refused h2 connection")
                XCTAssertTrue(refused.closed, "\(side) \(name) rules: kept a refused h2 connection")
            }
        }
    }

    /// Sends the PROXY header (argv 2) in clear, then a TLS handshake offering only h2, the
    /// client preface and an empty SETTINGS; prints the chosen protocol and the type of the
    /// first frame received (-1: none before the connection ended).
    private static let tlsH2Client = """
        import socket, ssl, sys
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
        s.sendall(sys.argv[2].encode())
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.set_alpn_protocols(["h2"])
        t = ctx.wrap_socket(s)
        frame = b""
        try:
            t.sendall(b"PRI * HTTP/2.0\\r\\n\\r\\nSM\\r\\n\\r\\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0]))
            while len(frame) < 9:
                data = t.recv(9 - len(frame))
                if not data:
                    break
                frame += data
        except OSError:
            pass  # closed by the proxy
        print(t.selected_alpn_protocol(), frame[3] if len(frame) > 3 else -1)
        """
}
