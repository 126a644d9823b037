import Foundation
import XCTest

/// How a check's connection ends when the checker closes first, as HAProxy 2.6 ends it: with a
/// reset (SO_LINGER 0: its "close hard if needed" on every server connection), or cleanly (a
/// FIN) with `http-check connect linger` ("cleanly close the connection instead of using a
/// single RST"). A Python server on loopback answers each check and, keeping its side open,
/// reports how the checker ended the connection: `rst` or `fin`. HAProxy 2.6 runs the same
/// file; a server whose close ends its answer gets a clean close either way.
final class HTTPCheckLingerTests: XCTestCase {
    private static let server = """
        import socket, sys
        s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8); s.settimeout(20)
        def serve(c):
            data = b""
            while b"\\r\\n\\r\\n" not in data:
                part = c.recv(4096)
                if not part: return None  # a probe that the port is open, not a check
                data += part
            if sys.argv[2] == "first":  # an answer ended by the server's close, in one segment
                c.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
                c.sendall(b"HTTP/1.0 200 OK\\r\\n\\r\\nok"); c.shutdown(socket.SHUT_WR)
            else:
                c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 0\\r\\n\\r\\n")
            try:
                return "fin" if c.recv(4096) == b"" else "data"
            except ConnectionResetError:
                return "rst"
            except socket.timeout:
                return "open"
        for _ in range(10):
            c, _ = s.accept(); c.settimeout(5)
            try:
                end = serve(c)
            except OSError as e:
                end = "error " + str(e)
            c.close()
            if end: print(end, flush=True)
        """

    /// How the first check's connection was ended, with or without `linger`.
    private func ending(linger: Bool, serverClosesFirst: Bool = false, haproxy: Bool) throws -> String {
        let dir = try TempDirectory()
        let checkPort = freePort()
        let server = try ChildProcess("/usr/bin/env", ["python3", "-c", Self.server, "\(checkPort)", serverClosesFirst ? "first" : "open"], logDirectory: dir, name: "check-server")
        defer { server.stop() }
        XCTAssertTrue(waitForPort(checkPort), server.stderr)
        let port = freePort()
        let config = differentialHTTPDefaults + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                option httpchk
                http-check connect\(linger ? " linger" : "")
                http-check send meth GET uri /
                http-check expect status 200
                server s1 127.0.0.1:\(checkPort) check inter 300ms

            """
        let child = try startOnSameFile(config, haproxy: haproxy, port: port, in: dir)
        defer { child.stop() }
        _ = waitUntil(timeout: 5) { !server.stdout.isEmpty }
        return server.stdout.split(separator: "\n").first.map(String.init) ?? "nothing: \(server.stderr)"
    }

    func testChecksEndWithAResetUnlessLingerAsHAProxysDo() throws {
        XCTAssertEqual(try ending(linger: false, haproxy: false), "rst")
        XCTAssertEqual(try ending(linger: true, haproxy: false), "fin")
        XCTAssertEqual(try ending(linger: false, serverClosesFirst: true, haproxy: false), "fin")
        try requireHAProxy()
        XCTAssertEqual(try ending(linger: false, haproxy: true), "rst", "HAProxy")
        XCTAssertEqual(try ending(linger: true, haproxy: true), "fin", "HAProxy")
        XCTAssertEqual(try ending(linger: false, serverClosesFirst: true, haproxy: true), "fin", "HAProxy")
    }
}
