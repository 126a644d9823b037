import Foundation
import XCTest

/// `fe_sess_rate`, `fe_req_rate` and `be_sess_rate` — a proxy's events over the last second,
/// as HAProxy's freq_ctr counts them — beside HAProxy 2.6 on the same configuration. Each
/// burst below takes well under a second, so both read whole counts: a value or a route
/// differs only when the events are counted elsewhere than HAProxy counts them.
final class ProxyRateFetchTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// One session (a keep-alive connection, then an h2 one), every request counted by the
    /// frontend, every request routed to a backend counted by it (a stream each, not the
    /// connection): `use_backend slow if { be_sess_rate(app) gt 5 }` sends the 7th on.
    func testRatesOfRequestsAndStreamsAsInHAProxy() throws {
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                http-request return status 200 hdr X-Rates "fe %[fe_sess_rate] %[fe_req_rate] %[be_sess_rate(app)]" if { path /fe }
                use_backend slow if { be_sess_rate(app) gt 5 }
                default_backend app
            backend app
                http-request return status 200 hdr X-Rates "app %[be_sess_rate] %[fe_req_rate(fe)] %[fe_sess_rate(fe)]"
            backend slow
                http-request return status 200 hdr X-Rates "slow %[be_sess_rate] %[be_sess_rate(app)]"
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            var seen: [String] = []
            let client = try RawClient(port: port, timeout: 3)
            for path in Array(repeating: "/", count: 8) + ["/fe"] {
                client.send("GET \(path) HTTP/1.1\r\nHost: a\r\n\r\n")
                seen += Self.rates(in: client.readResponse())
            }
            // A second session over h2 (its request a stream), a third over HTTP/1.1.
            for version in ["--http2-prior-knowledge", "--http1.1"] {
                seen += Self.rates(in: curl(["-s", version, "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/fe"]).out)
            }
            XCTAssertEqual(seen, [
                "app 1 1 1", "app 2 2 1", "app 3 3 1", "app 4 4 1", "app 5 5 1", "app 6 6 1",
                "slow 1 6", "slow 2 6", "fe 1 9 6", "fe 2 10 6", "fe 3 11 6",
            ], "port \(port)")
        }
    }

    /// `tcp-request connection reject if { fe_sess_rate gt 10 }`: of a burst of 30 connections
    /// the first 11 become sessions (a refused one is no session, so it does not count), the
    /// others are refused; two seconds later the rate is 0 again. In mode tcp a backend counts
    /// each session routed to it (`none`, without a server, closes at once).
    func testSessionRatesLimitTCPSessionsAsInHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let both = try SideBySide({ port, second in
            """
            frontend fe
                mode tcp
                bind 127.0.0.1:\(port)
                tcp-request connection reject if { fe_sess_rate gt 10 }
                default_backend be
            frontend fe2
                mode tcp
                bind 127.0.0.1:\(second)
                use_backend none if { be_sess_rate(be2) gt 2 }
                default_backend be2
            backend be
                mode tcp
                server s1 127.0.0.1:\(nginx.ports[0])
            backend be2
                mode tcp
                server s1 127.0.0.1:\(nginx.ports[0])
            backend none
                mode tcp
            """
        }, in: dir)
        defer { both.stop() }
        func answered(_ client: RawClient) -> Bool {
            client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            return statusCode(client.readAll().text) == 200
        }
        for (port, second) in zip(both.ports, both.secondPorts) {
            let burst = try (0..<30).map { _ in try RawClient(port: port, timeout: 3) }
            let sessions = burst.filter(answered).count
            // 11 when the burst fits in a second, as here; a slow start may let one more in.
            XCTAssertTrue((11...12).contains(sessions), "port \(port): \(sessions) sessions of 30")
            usleep(2_100_000)
            XCTAssertTrue(answered(try RawClient(port: port, timeout: 3)), "port \(port): the rate fell back to 0")
            let routed = try (0..<5).map { _ in answered(try RawClient(port: second, timeout: 3)) }
            XCTAssertEqual(routed, [true, true, true, false, false], "port \(second): the 4th session reads be2's rate 3")
        }
    }

    /// HAProxy resolves the fetch's argument when it loads the file, with these messages: a
    /// frontend fetch without argument in a backend names no frontend, and the reverse.
    func testRateFetchOfTheWrongSideIsRefusedAsByHAProxy() throws {
        try assertRefusedAsByHAProxy([
            ("acl x be_sess_rate gt 1", "proxy 'fe', referenced in arg 1 of ACL keyword 'be_sess_rate' in proxy 'fe', has not backend capability."),
            ("acl x fe_sess_rate(be) gt 1", "unable to find frontend 'be' referenced in arg 1 of ACL keyword 'fe_sess_rate' in proxy 'fe'."),
            ("acl x be_sess_rate(fe) gt 1", "unable to find backend 'fe' referenced in arg 1 of ACL keyword 'be_sess_rate' in proxy 'fe'."),
        ], rest: "use_backend be if x", in: dir)
        try assertRefusedAsByHAProxy([
            ("acl x fe_req_rate gt 1", "proxy 'be', referenced in arg 1 of ACL keyword 'fe_req_rate' in proxy 'be', has not frontend capability."),
            ("acl x fe_conn gt 1", "proxy 'be', referenced in arg 1 of ACL keyword 'fe_conn' in proxy 'be', has not frontend capability."),
        ], rest: "http-request deny if x", inBackend: true, in: dir)
    }

    /// The `x-rates` values of a response (or of several heads, in order).
    private static func rates(in text: String) -> [String] {
        text.split(separator: "\r\n").compactMap { line in
            line.lowercased().hasPrefix("x-rates:") ? String(line.dropFirst("x-rates:".count)).trimmingCharacters(in: .whitespaces) : nil
        }
    }
}
