import Foundation
import XCTest

/// `capture cookie NAME len N`: httplog's `%CC` and `%CS` are the first request cookie and the
/// first cookie the response sets whose name begins with NAME (`name=value`, attributes left
/// out), cut to N bytes — or to `tune.http.cookielen` — as HAProxy 2.6 logs them on the same
/// configuration and requests.
final class CaptureCookieTests: XCTestCase {
    /// Two cookies set, the second one captured (blanks around its `=`, which HAProxy squeezes out).
    private static let answer = """
        def answer(path):
            return (b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nSet-Cookie: OTHER=1; path=/\\r\\n"
                    b"Set-Cookie:  SESSID =  0123456789abcdefghij; path=/; HttpOnly\\r\\nConnection: close\\r\\n\\r\\nok")
        """

    func testCapturedCookiesAreLoggedAsByHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let dir = try TempDirectory()
        let origin = try PythonOrigin(answer: Self.answer, in: dir)
        defer { origin.stop() }
        for (global, length) in [("", 12), ("    tune.http.cookielen 10\n", 32)] {
            func config(http: Int, syslog: Int) -> String {
                AccessLogTests.syslogHTTPDefaults(syslog: syslog).replacingOccurrences(of: "local0\n", with: "local0\n" + global) + """
                frontend fe
                    bind 127.0.0.1:\(http)
                    capture cookie SESSID len \(length)
                    default_backend app
                backend app
                    server s1 127.0.0.1:\(origin.port)

                """
            }
            let hsyslog = try SyslogReceiver(), ssyslog = try SyslogReceiver()
            let (hhttp, shttp) = (freePort(), freePort())
            let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("haproxy.cfg", config(http: hhttp, syslog: hsyslog.port))],
                                           logDirectory: dir, name: "haproxy")
            defer { haproxy.stop() }
            XCTAssertTrue(waitForPort(hhttp), haproxy.stderr)
            let lb = try SwiftLBInstance(config: config(http: shttp, syslog: ssyslog.port), waitPort: shttp, in: dir)
            defer { lb.stop() }

            func captured(port: Int, syslog: SyslogReceiver) throws -> [String] {
                var out: [String] = []
                for cookie in ["a=1; SESSIDX=zz ;  SESSID=0123456789abcdefghijklmnop", "a=1", nil, "b=2;  SESSID = 0123456789abcdefghij"] {
                    let client = try RawClient(port: port, timeout: 3)
                    client.send("GET / HTTP/1.1\r\nHost: a\r\n" + (cookie.map { "Cookie: \($0)\r\n" } ?? "") + "Connection: close\r\n\r\n")
                    XCTAssertEqual(statusCode(client.readResponse()), 200)
                    let line = syslog.receive(count: 1, within: 5).first { $0.contains("\"GET / HTTP/1.1\"") } ?? ""
                    // "… 200 BYTES CC CS TSC …"
                    let fields = line.split(separator: " ")
                    let at = fields.firstIndex { $0 == "200" }
                    out.append(at.map { $0 + 3 < fields.count ? "\(fields[$0 + 2]) \(fields[$0 + 3])" : line } ?? "missing in: \(line)")
                }
                return out
            }
            let reference = try captured(port: hhttp, syslog: hsyslog)
            let ours = try captured(port: shttp, syslog: ssyslog)
            let expected = length == 12 ? ["SESSIDX=zz SESSID=01234", "- SESSID=01234", "- SESSID=01234", "SESSID=01234 SESSID=01234"]
                                        : ["SESSIDX=zz SESSID=012", "- SESSID=012", "- SESSID=012", "SESSID=012 SESSID=012"]
            XCTAssertEqual(reference, expected, "HAProxy 2.6 is the reference: \(haproxy.stderr)")
            XCTAssertEqual(ours, reference, global)
        }
    }
}
