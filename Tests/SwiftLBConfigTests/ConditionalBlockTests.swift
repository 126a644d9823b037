import Foundation
import SwiftLBTestSupport
import XCTest
@testable import SwiftLBConfig

/// `.if / .elif / .else / .endif` and `.notice / .warning / .alert / .diag`, as HAProxy 2.6.
final class ConditionalBlockTests: XCTestCase {
    let facts = BuildFacts(features: ["+OPENSSL", "-LUA", "+PCRE2"], sslLibrary: "OpenSSL 3.0.19 27 Jan 2026")

    func evaluate(_ text: String, environment: [String: String] = [:]) -> Bool? {
        try? ConfigCondition(facts: facts, environment: environment).evaluate(text).get()
    }

    func testPredicatesAndOperators() {
        XCTAssertEqual(evaluate("version_atleast(2.5-dev0)"), true)
        XCTAssertEqual(evaluate("version_atleast(2.6.12)"), true)
        XCTAssertEqual(evaluate("version_atleast(2.6.13)"), false)
        XCTAssertEqual(evaluate("version_before(2.7-dev1)"), true)
        XCTAssertEqual(evaluate("version_before(2.6)"), false)
        XCTAssertEqual(evaluate("feature(OPENSSL) && ssllib_name_startswith(OpenSSL)"), true)
        XCTAssertEqual(evaluate("feature(LUA)"), false)
        XCTAssertEqual(evaluate("feature(OPENSS)"), false)
        XCTAssertEqual(evaluate("openssl_version_atleast(3.0.0)"), true)
        XCTAssertEqual(evaluate("openssl_version_atleast(3.1.0)"), false)
        XCTAssertEqual(evaluate("openssl_version_before(1.1.1)"), false)
        XCTAssertEqual(evaluate("openssl_version_before(3.0.20)"), true)
        XCTAssertEqual(evaluate("ssllib_name_startswith(LibreSSL)"), false)
        XCTAssertEqual(evaluate("defined(S1_addr)", environment: ["S1_addr": ""]), true)
        XCTAssertEqual(evaluate("defined(S1_addr)"), false)
        XCTAssertEqual(evaluate("streq(\"a b\", 'a b') && strneq(a,b)"), true)
        XCTAssertEqual(evaluate("!0 && (1 || 0)"), true)
        XCTAssertEqual(evaluate("0 || 0 && 1"), false)
        XCTAssertEqual(evaluate("1 || 0 && 0"), true)
        XCTAssertEqual(evaluate("! ! 1"), true)
        XCTAssertEqual(evaluate(""), false)
        XCTAssertNil(evaluate("bogus(1)"))
        XCTAssertNil(evaluate("1 2"))
        XCTAssertNil(evaluate("(1"))
        XCTAssertNil(evaluate("streq(a)"))
        XCTAssertNil(evaluate("version_atleast(x.y)"))
        XCTAssertNil(try? ConfigCondition(facts: .unknown, environment: [:]).evaluate("openssl_version_atleast(1.0)").get())
    }

    /// HAProxy's own `-cc` is the spec: the same expressions give the same answers (the
    /// facts are those of the installed haproxy 2.6.12: its version, OpenSSL, and its features).
    func testAnswersLikeHAProxyMinusCC() throws {
        let haproxy = "/usr/sbin/haproxy"
        guard FileManager.default.isExecutableFile(atPath: haproxy) else { throw XCTSkip("no \(haproxy)") }
        let expressions = [
            "version_atleast(2.5-dev0)", "version_atleast(2.6.13)", "version_before(2.6.12)", "version_before(2.6.12-1)",
            "version_atleast(2.6)", "version_before(3)", "!0 && (1 || 0)", "(0 || 1) && !(1 && 0)", "0 || 0 && 1",
            "streq(a,b) || strneq(a , b)", "streq( x , x )", "defined(SWIFTLB_CC_SET)", "defined(SWIFTLB_CC_UNSET)",
            "ssllib_name_startswith(OpenSSL)", "ssllib_name_startswith(BoringSSL)", "openssl_version_atleast(1.1.1)",
            "openssl_version_before(4.0.0)", "feature(OPENSSL)", "feature(LUA) || !feature(WURFL)", "bogus(1)", "1 2", "(1", "",
        ]
        var environment = ProcessInfo.processInfo.environment
        environment["SWIFTLB_CC_SET"] = "x"
        environment["SWIFTLB_CC_UNSET"] = nil
        let mine = ConfigCondition(facts: BuildFacts(features: ["+OPENSSL", "-LUA", "-WURFL"], sslLibrary: "OpenSSL 3.0.19 27 Jan 2026"),
                                   environment: environment)
        for expression in expressions {
            let process = try SpawnedProcess(haproxy, ["-cc", expression], environment: environment, inheritEnvironment: false)
            let theirs: Bool? = switch process.wait(timeout: 30) { case 0: true; case 1: false; default: nil }
            XCTAssertEqual(try? mine.evaluate(expression).get(), theirs, "'\(expression)'")
        }
    }

    func parse(_ text: String, environment: [String: String] = [:]) throws(ConfigErrors) -> Configuration {
        try ConfigParser.parse(text: text, file: "c.conf", acceptingPending: false, environment: environment, facts: facts)
    }

    func errors(_ text: String) -> [String] {
        do throws(ConfigErrors) { _ = try parse(text); return [] } catch { return error.errors.map(\.description) }
    }

    func testBranchesChooseTheLinesParsed() throws {
        let config = try parse("""
            .if version_atleast(2.5)
            frontend a
            .elif 1
            frontend wrong1
            .else
            frontend wrong2
            .endif
                bind 127.0.0.1:8080
            .if defined(NOPE)
                bogus keyword never read
            .elif feature(OPENSSL)
                .if 0
                    default_backend nope
                .else
                    default_backend be
                .endif
            .else
                default_backend nope2
            .endif
            backend be
            .if 0
                .if bogus(
                .endif
                server nope 127.0.0.1:1
            .elif 1
                server s1 127.0.0.1:8081
            .elif 1
                server nope 127.0.0.1:2
            .endif
            """)
        XCTAssertEqual(config.frontends.map(\.name), ["a"])
        XCTAssertEqual(config.frontends.first?.defaultBackend, "be")
        XCTAssertEqual(config.backends["be"]?.servers.map(\.name), ["s1"])
    }

    func testDirectives() throws {
        let config = try parse("""
            .notice "hello there"
            .warning careful
            .diag quiet
            .if 0
            .alert "not read"
            .endif
            frontend a
                bind 127.0.0.1:8080
                default_backend be
            backend be
                server s1 127.0.0.1:8081
            """)
        XCTAssertEqual(config.notices.map(\.description), ["parsing [c.conf:1] : '.notice' : hello there"])
        XCTAssertEqual(config.warnings.filter { $0.keyword == ".warning" }.map(\.description), ["parsing [c.conf:2] : '.warning' : careful"])
        // .alert stops the reading: the unknown keyword after it is never reported.
        XCTAssertEqual(errors(".alert \"stop here\"\nfrontend a\n  bogus"), ["parsing [c.conf:1] : '.alert' : stop here"])
    }

    func testErrorsNameFileAndLine() {
        XCTAssertEqual(errors(".endif"), ["parsing [c.conf:1] : '.endif' : lone '.endif' with no matching '.if'"])
        XCTAssertEqual(errors(".else"), ["parsing [c.conf:1] : '.else' : lone '.else' with no matching '.if'"])
        XCTAssertEqual(errors(".elif 1"), ["parsing [c.conf:1] : '.elif' : lone '.elif' with no matching '.if'"])
        XCTAssertEqual(errors("\n.if 1\n"), ["parsing [c.conf:2] : '.if' : non-terminated '.if' block"])
        XCTAssertEqual(errors(".if 1\n.else\n.else\n.endif"), ["parsing [c.conf:3] : '.else' : '.else' after '.else' is not permitted"])
        XCTAssertEqual(errors(".if 1\n.else\n.elif 1\n.endif"), ["parsing [c.conf:3] : '.elif' : '.elif' after '.else' is not permitted"])
        XCTAssertEqual(errors(".if bogus(1)\n.endif"), ["parsing [c.conf:1] : '.if' : unparsable conditional expression 'bogus(1)' in '.if'"])
        XCTAssertEqual(errors(".warning two words"),
                       ["parsing [c.conf:1] : '.warning' : Unexpected argument 'words' for '.warning'. Use quotes if the message should contain spaces"])
        XCTAssertEqual(errors(".iff 1"), ["parsing [c.conf:1] : '.iff' : unknown directive '.iff'"])
    }
}
