import XCTest
@testable import SwiftLBConfig

/// Settings SwiftLB accepts mean what they mean in HAProxy (issue #13's four differences and
/// the security review's timeouts).
final class HAProxyCompatibilityTests: XCTestCase {
    private let backend = "defaults\n    mode http\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\nbackend b\n    server s 127.0.0.1:80\n"

    private func parse(_ text: String, line: UInt = #line) throws -> Configuration { try parseOrFail(text, file: "t.conf", line: line) }

    private func errors(_ text: String) -> [ConfigError] { parseErrors(text, file: "t.conf") }

    func testCookieMaxidleAndMaxlifeTakeSecondsLikeHAProxy() throws {
        let config = try parse(backend + "    cookie S insert maxidle 1800 maxlife 600\n")
        XCTAssertEqual(config.backends["b"]?.options.cookie?.maxidle, .seconds(1800))
        XCTAssertEqual(config.backends["b"]?.options.cookie?.maxlife, .seconds(600), "the seed's 'maxlife 600' is ten minutes")
        let units = try parse(backend + "    cookie S insert maxidle 30m maxlife 2h\n")
        XCTAssertEqual(units.backends["b"]?.options.cookie?.maxidle, .seconds(1800))
        XCTAssertEqual(units.backends["b"]?.options.cookie?.maxlife, .seconds(7200))
        XCTAssertEqual(errors(backend + "    cookie S insert maxlife 500ms\n").first?.message,
                       "'maxlife' expects a time of at least 1s: seconds (600) or with a unit (30m)")
        XCTAssertEqual(errors(backend + "    cookie S insert maxidel 10\n").first?.message,
                       "unknown cookie option 'maxidel' (did you mean 'maxidle'?)")
    }

    func testHTTP2ListenersAndTheirTuning() throws {
        let h2 = try parse(backend + """
            global
                tune.h2.max-concurrent-streams 50
                tune.h2.initial-window-size 1048576
            frontend f
                bind :443 ssl crt x.pem alpn h2,http/1.1
                bind :8080 proto h2
                default_backend b

            """)
        XCTAssertEqual(h2.frontends[0].binds[0].tls?.alpn, ["h2", "http/1.1"])
        XCTAssertEqual(h2.frontends[0].binds[1].proto, "h2")
        XCTAssertEqual(h2.global.tuneH2MaxConcurrentStreams, 50)
        XCTAssertEqual(h2.global.tuneH2InitialWindowSize, 1_048_576)
        let defaults = try parse(backend + "frontend f\n    bind :80\n    default_backend b\n")
        XCTAssertEqual(defaults.global.tuneH2MaxConcurrentStreams, 100, "HAProxy's default")
        let e = errors("frontend f\n    bind :80 proto h3\n")
        XCTAssertEqual(e.first?.line, 2)
        XCTAssertEqual(e.first?.keyword, "bind")
        XCTAssertTrue(e.first?.message.contains("'proto' expects h1 or h2") == true, "\(e)")
        XCTAssertEqual(errors("global\n    tune.h2.max-concurrent-streams 0\n").first?.keyword, "tune.h2.max-concurrent-streams")
    }

    func testServerProto() throws {
        let config = try parse("backend b\n    mode http\n    default-server proto h2\n    server s1 127.0.0.1:80\n    server s2 127.0.0.1:81 proto h1\n")
        XCTAssertEqual(config.backends["b"]?.servers.map(\.parameters.http2), [true, false])
        let e = errors("backend b\n    server s 127.0.0.1:80 proto h3\n")
        XCTAssertEqual(e.first?.line, 2)
        XCTAssertEqual(e.first?.keyword, "server")
        XCTAssertTrue(e.first?.message.contains("'proto' expects h1 or h2") == true, "\(e)")
    }

    func testRedirectSchemeDefaultsTo302() throws {
        let config = try parse(backend + "frontend f\n    bind :80\n    redirect scheme https if !{ ssl_fc }\n    redirect scheme https code 301\n    default_backend b\n")
        XCTAssertEqual(config.frontends[0].redirects.map(\.code), [302, 301])
    }

    func testTCPChecksUnderModeHTTPAreWarnedAbout() throws {
        let config = try parse(backend + "backend redis\n    option redis-check\n    server r 127.0.0.1:6379 check\n")
        XCTAssertEqual(config.backends["redis"]?.options.protocolCheck, .redis, "HAProxy's redis-check")
        let warning = try XCTUnwrap(config.warnings.first { $0.message.contains("tcp-check") })
        XCTAssertEqual(warning.line, 8)
        XCTAssertTrue(warning.message.contains("backend 'redis' checks its servers with tcp-check (or redis-check) but serves 'mode http'"), warning.message)
        XCTAssertFalse(try parse(backend).warnings.contains { $0.message.contains("tcp-check") })
    }

    func testTimeoutZeroMeansNoTimeoutWithHAProxysWarning() throws {
        let config = try parse("defaults\n    timeout client 0\n    timeout connect 5s\n    timeout server 0s\nbackend b\n    server s 127.0.0.1:80\nfrontend f\n    bind :80\n    default_backend b\n")
        XCTAssertNil(config.frontends[0].options.timeouts.client)
        XCTAssertNil(config.backends["b"]?.options.timeouts.server)
        XCTAssertEqual(config.backends["b"]?.options.timeouts.connect, .seconds(5))
        let text = config.warnings.map(\.description)
        XCTAssertTrue(text.contains { $0.hasPrefix("parsing [t.conf:7] : 'timeout' : missing timeouts for frontend 'f'.") }, "\(text)")
        XCTAssertTrue(text.contains { $0.hasPrefix("parsing [t.conf:5] : 'timeout' : missing timeouts for backend 'b'.") }, "\(text)")
        let listen = try parse("listen app\n    bind :80\n    timeout connect 1s\n    timeout server 1s\n    server s 127.0.0.1:80\n")
        XCTAssertEqual(listen.warnings.filter { $0.message.contains("missing timeouts") }.map { String($0.message.split(separator: "\n")[0]) },
                       ["missing timeouts for proxy 'app'."], "one warning for a listen, as HAProxy gives")
    }

    func testChecksFasterThan100msAreWarnedAbout() throws {
        let config = try parse(backend + "    server t 127.0.0.1:81 check inter 10 fastinter 50ms\n    server u 127.0.0.1:82 check inter 100ms\n    server v 127.0.0.1:83 inter 1\n")
        let fast = config.warnings.filter { $0.message.contains("more often than every 100ms") }
        XCTAssertEqual(fast.map(\.line), [8], "only the checked server below 100ms")
        XCTAssertTrue(fast.first?.message.hasPrefix("inter 10ms, fastinter 50ms:") == true, "\(fast)")
        XCTAssertEqual(config.backends["b"]?.servers[1].parameters.inter, .milliseconds(10), "the value is kept for the checker to floor")
    }
}
