import XCTest
@testable import SwiftLBConfig

/// `defaults NAME [from OTHER]`, `frontend|backend X from NAME`, and HTTP rules in named
/// defaults (HAProxy 2.6, reg-test http-rules/default_rules.vtc).
final class NamedDefaultsTests: XCTestCase {
    func testProxiesStartFromTheDefaultsTheyName() throws {
        let config = try parseOrFail("""
            defaults common
                mode http
                timeout connect 1s
                timeout client 7s
                timeout server 7s
            defaults fast from common
                timeout server 2s
            defaults
                mode http
                timeout connect 3s
                timeout client 3s
                timeout server 3s
            frontend implicit
                bind 127.0.0.1:8080
                default_backend be
            frontend explicit from fast
                bind 127.0.0.1:8081
                default_backend be
            backend be from common
                server s1 127.0.0.1:8082
            """)
        XCTAssertEqual(config.frontends[0].options.timeouts.client, .seconds(3))
        XCTAssertEqual(config.frontends[1].options.timeouts.client, .seconds(7))
        XCTAssertEqual(config.backends["be"]?.options.timeouts.server, .seconds(7))
        XCTAssertEqual(config.backends["be"]?.options.timeouts.connect, .seconds(1))
        XCTAssertEqual(config.defaultsLines, [1, 6, 8])
    }

    func testRulesOfNamedDefaultsRunFirst() throws {
        let config = try parseOrFail("""
            defaults common
                mode http
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            defaults def_front from common
                http-request set-header x-frontend "%[fe_name]"
                http-response set-header x-frontend "%[fe_name]"
                http-request allow
            defaults def_back from common
                http-request set-header x-backend be
            frontend fe from def_front
                bind 127.0.0.1:8080
                http-request deny
                default_backend be
            backend be from def_back
                http-request set-header x-own be
                server s1 127.0.0.1:8081
            """)
        XCTAssertEqual(config.frontends[0].httpRequestRules.map(\.line), [7, 9, 14])
        XCTAssertEqual(config.frontends[0].requestRules.map(\.line), [7])
        XCTAssertEqual(config.frontends[0].httpResponseRules.map(\.line), [8])
        XCTAssertEqual(config.backends["be"]?.httpRequestRules.map(\.line), [11, 17])
    }

    func testHAProxysRefusals() {
        func errors(_ text: String) -> [String] { parseErrors(text).map(\.description) }
        XCTAssertEqual(errors("defaults\n  http-request deny"),
                       ["parsing [test.conf:2] : 'http-request' : 'http-request' not allowed in anonymous 'defaults' section"])
        XCTAssertEqual(errors("frontend fe from nowhere\n  bind :80"),
                       ["parsing [test.conf:1] : 'frontend' : defaults section 'nowhere' not found for frontend 'fe'"])
        XCTAssertEqual(errors("defaults a\ndefaults a\nbackend b from a\n  server s 127.0.0.1:1"),
                       ["parsing [test.conf:3] : 'backend' : ambiguous defaults section name 'a' referenced by backend 'b' exists at least at test.conf:1 and test.conf:2"])
        let withRules = "defaults r\n  mode http\n  http-request deny\n"
        XCTAssertEqual(errors(withRules + "defaults x from r"),
                       ["parsing [test.conf:4] : 'defaults' : a defaults section cannot inherit from a defaults section defining TCP/HTTP rules (defaults section at test.conf:1)"])
        XCTAssertEqual(errors(withRules + "listen l from r\n  bind :80\n  server s 127.0.0.1:1"),
                       ["parsing [test.conf:4] : 'listen' : a listen section cannot inherit from a defaults section defining TCP/HTTP rules"])
        XCTAssertEqual(errors(withRules + "frontend f from r\n  bind :80\nbackend b from r\n  server s 127.0.0.1:1"),
                       ["parsing [test.conf:6] : 'backend' : frontends and backends cannot inherit from the same defaults section if it defines TCP/HTTP rules (defaults section at test.conf:1)"])
        XCTAssertEqual(errors("defaults a from\n"), ["parsing [test.conf:1] : 'defaults' : expects 'defaults [NAME] [from DEFAULTS]'"])
    }
}
