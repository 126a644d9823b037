import Foundation
import XCTest

/// Rules seen on the wire through a running swiftlb on loopback. What a server receives after the target rules (`set-path`, `set-pathq`, `replace-pathq`)
/// and the `pathq` fetch, through a running swiftlb on loopback — an absolute-form request
/// too, whose rewritten target goes out absolute, as HAProxy 2.6 sends it
/// (http-rules/path_and_pathq.vtc's rules).
final class RuleTargetWireTests: XCTestCase {
    func testPathRulesReachTheServerForOriginAndAbsoluteForm() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let rules = """
            http-request add-header x-pathq %[pathq]
            http-request set-path /fe%[path]
            http-request replace-path (.*) /foo\\1
            http-request set-pathq %[path]?app=regtest&%[query]
            http-request replace-pathq /([^?]*)\\?app=([^&]*)&?(.*) /\\2/\\1?\\3
            """
        let (lb, port) = try startProxy(backend: "app", backends: "backend app\n    server s1 127.0.0.1:\(backend.port)\n", frontendExtra: rules, in: dir)
        defer { lb.stop() }
        for (target, host) in [("/req1?a=1&b=2", "h.example"), ("http://good.example/req2?a=1", "good.example")] {
            let client = try RawClient(port: port, timeout: 3)
            client.send("GET \(target) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n")
            XCTAssertTrue(client.readAll().text.hasPrefix("HTTP/1.1 200"))
        }
        let seen = backend.waitForRequests(2)
        XCTAssertEqual(seen.map(\.target), ["/regtest/foo/fe/req1?a=1&b=2", "http://good.example/regtest/foo/fe/req2?a=1"])
        XCTAssertEqual(seen.map { $0.raw.lowercased().components(separatedBy: "\r\n").filter { $0.hasPrefix("x-pathq:") || $0.hasPrefix("host:") }.sorted() },
                       [["host: h.example", "x-pathq: /req1?a=1&b=2"], ["host: good.example", "x-pathq: /req2?a=1"]])
    }

    /// http-rules/http_after_response.vtc's /stats case: a backend's stats page gets the
    /// backend's then the frontend's after-response rules.
    func testAfterResponseRulesRunOnABackendsStatsPage() throws {
        let dir = try TempDirectory()
        let backends = """
            backend app
                stats enable
                stats uri /stats
                http-after-response set-status 234
                http-after-response del-header content-type
                http-after-response set-header x-be %[status]
                server s1 127.0.0.1:1
            """
        let (lb, port) = try startProxy(backend: "app", backends: backends, frontendExtra: "http-after-response set-header x-fe %[status]", in: dir)
        defer { lb.stop() }
        let client = try RawClient(port: port, timeout: 3)
        client.send("GET /stats HTTP/1.1\r\nHost: h\r\n\r\n")
        let text = client.readAll().text
        let head = text.components(separatedBy: "\r\n\r\n")[0].lowercased()
        XCTAssertTrue(head.hasPrefix("http/1.1 234 "), head)
        XCTAssertTrue(head.contains("\r\nx-be: 234") && head.contains("\r\nx-fe: 234"), head)
        XCTAssertFalse(head.contains("content-type"), head)
        XCTAssertTrue(text.contains("<html"), String(text.prefix(300)))
    }

    /// `http-response deny` answers 502 unless `deny_status` says otherwise (HAProxy's default
    /// for responses; `http-request deny` is 403).
    func testADeniedResponseIsABadGateway() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let backends = "backend app\n    http-response deny if { path /deny }\n    http-response deny deny_status 429 if { path /tea }\n    server s1 127.0.0.1:\(backend.port)\n"
        let (lb, port) = try startProxy(backend: "app", backends: backends, in: dir)
        defer { lb.stop() }
        for (path, status) in [("/deny", "502"), ("/tea", "429"), ("/ok", "200")] {
            let client = try RawClient(port: port, timeout: 3)
            client.send("GET \(path) HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            let text = client.readAll().text
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 \(status) "), "\(path): \(text.prefix(80))")
        }
    }

    /// A request that never parsed gets the 400 page without the after-response rules, as
    /// HAProxy's mux answers it (connection/proxy_protocol_tlv_validation.vtc, c2): the
    /// bytes compared with haproxy's for the same configuration.
    func testAMalformedRequestGetsHAProxysPageWithoutAfterResponseRules() throws {
        let dir = try TempDirectory()
        func config(_ port: Int) -> String {
            "frontend fe\n    bind 127.0.0.1:\(port)\n    http-after-response set-header x-after 1\n    http-request return status 200\n"
        }
        let both = try SideBySide(config, in: dir)
        defer { both.stop() }
        func answer(_ port: Int) throws -> String {
            let client = try RawClient(port: port, timeout: 3)
            client.send("\u{02}\u{00}\u{05}54321GET / HTTP/1.1\r\nHost: h\r\n\r\n")
            return client.readAll().text
        }
        let ours = try answer(both.lbPort)
        XCTAssertTrue(ours.hasPrefix("HTTP/1.1 400 "), ours)
        XCTAssertEqual(ours.debugDescription, try answer(both.haproxyPort).debugDescription)
    }
}
