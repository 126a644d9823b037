import Foundation
import XCTest

/// The last two letters of httplog's termination state (`%tsc`): what the persistence cookie
/// was in the request (N none, I names no server, D names a server that is down, V valid) and
/// what the response did with it (I inserted, N nothing). The same configuration and requests
/// through HAProxy 2.6 and SwiftLB must log the same four letters.
final class CookieLogLettersTests: XCTestCase {
    func config(http: Int, backends: [Int], down: Int, syslog: Int, indirect: Bool, extra: String = "") -> String {
        AccessLogTests.syslogHTTPDefaults(syslog: syslog) + """
        frontend fe
            bind 127.0.0.1:\(http)
            default_backend app
        backend app
            cookie SRVID insert \(indirect ? "indirect " : "")nocache
            option redispatch
        \(extra)
            server s1 127.0.0.1:\(backends[0]) cookie one
            server s2 127.0.0.1:\(down) cookie two check inter 100ms fall 1

        """
    }

    func testTheCookieLettersAgreeWithHAProxy() throws {
        try agree(indirect: true)
    }

    /// Without `indirect` too, a client whose cookie names the server that answers gets no
    /// Set-Cookie (HAProxy's `!SF_DIRECT`): `indirect` only takes the cookie off the request.
    func testWithoutIndirectAValidCookieIsNotSentAgainAsByHAProxy() throws {
        try agree(indirect: false)
    }

    /// `use-server` and `ignore-persist` make a cookie unused (U) and insert none, as
    /// HAProxy 2.6 logs them.
    func testUseServerAndIgnorePersistLetters() throws {
        try agree(indirect: true, extra: "    use-server s1 if { req.hdr(x-use) 1 }\n    ignore-persist if { req.hdr(x-ignore) 1 }",
                  cases: [("use-server, a valid cookie", "Cookie: SRVID=one\r\nX-Use: 1\r\n"), ("use-server, no cookie", "X-Use: 1\r\n"),
                          ("ignore-persist, a valid cookie", "Cookie: SRVID=one\r\nX-Ignore: 1\r\n"),
                          ("ignore-persist, the down server's cookie", "Cookie: SRVID=two\r\nX-Ignore: 1\r\n")],
                  expected: ["--UN", "--NN", "--UN", "--UN"])
    }

    private func agree(indirect: Bool, extra: String = "",
                       cases: [(String, String)] = [("no cookie", ""), ("a cookie naming no server", "Cookie: SRVID=nobody\r\n"),
                                                   ("a valid cookie", "Cookie: SRVID=one\r\n"),
                                                   ("a cookie naming a server that is down", "Cookie: SRVID=two\r\n")],
                       expected: [String] = ["--NI", "--II", "--VN", "--DI"]) throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let down = refusedPort()  // nothing listens: s2 is marked down by its check
        let hsyslog = try SyslogReceiver(), ssyslog = try SyslogReceiver()
        let (hhttp, shttp) = (freePort(), freePort())
        let hcfg = try dir.write("haproxy.cfg", config(http: hhttp, backends: nginx.ports, down: down, syslog: hsyslog.port, indirect: indirect, extra: extra))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hhttp), haproxy.stderr)
        let lb = try SwiftLBInstance(config: config(http: shttp, backends: nginx.ports, down: down, syslog: ssyslog.port, indirect: indirect, extra: extra),
                                     waitPort: shttp, in: dir)
        defer { lb.stop() }
        usleep(1_000_000)  // both have marked s2 down (inter 100ms, fall 1)
        _ = hsyslog.receive(count: 100, within: 0.3)
        _ = ssyslog.receive(count: 100, within: 0.1)

        func letters(port: Int, syslog: SyslogReceiver) throws -> [String] {
            var out: [String] = []
            for (_, headers) in cases {
                let client = try RawClient(port: port, timeout: 3)
                client.send("GET / HTTP/1.1\r\nHost: a\r\n" + headers + "Connection: close\r\n\r\n")
                XCTAssertEqual(statusCode(client.readResponse()), 200)
                let line = syslog.receive(count: 1, within: 5).first { $0.contains("\"GET / HTTP/1.1\"") } ?? ""
                // "… 200 BYTES - - TSC CONNS …": the field after the two captured-cookie dashes.
                let fields = line.split(separator: " ")
                let at = fields.firstIndex { $0 == "200" }.map { $0 + 4 }
                out.append(at.flatMap { $0 < fields.count ? String(fields[$0]) : nil } ?? "missing in: \(line)")
            }
            return out
        }
        let reference = try letters(port: hhttp, syslog: hsyslog)
        let ours = try letters(port: shttp, syslog: ssyslog)
        XCTAssertEqual(reference, expected, "HAProxy 2.6 is the reference: \(haproxy.stderr)")
        XCTAssertEqual(ours, reference, cases.map(\.0).joined(separator: ", "))
    }
}
