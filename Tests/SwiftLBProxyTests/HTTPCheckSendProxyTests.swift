import Foundation
import XCTest

/// `http-check connect send-proxy`: the HTTP check starts with a PROXY header, as HAProxy 2.6
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
        let hex = try firstCheckReport(script: Self.capture, checkRules: "http-check connect send-proxy\nhttp-check send meth GET uri /",
                                       serverOptions: server, haproxy: haproxy)
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
}
