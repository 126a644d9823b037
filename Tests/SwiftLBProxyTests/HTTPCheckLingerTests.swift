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
        try firstCheckReport(script: Self.server, arguments: [serverClosesFirst ? "first" : "open"],
                             checkRules: "http-check connect\(linger ? " linger" : "")\nhttp-check send meth GET uri /\nhttp-check expect status 200",
                             haproxy: haproxy)
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
