import XCTest
@testable import SwiftLBConfig

/// The keyword registry: one registration per keyword and section, and suggestions that only
/// name a likely typo of a keyword that means the same kind of thing.
final class RegistryTests: XCTestCase {
    func testEveryKeywordIsRegisteredOncePerSection() {
        var seen: [String: String] = [:]
        for keyword in KeywordRegistry.all {
            for section in keyword.sections {
                let key = "\(section.rawValue)/\(keyword.name)"
                XCTAssertNil(seen[key], "'\(keyword.name)' is registered twice for \(section.rawValue)")
                seen[key] = keyword.usage
            }
        }
        XCTAssertGreaterThan(seen.count, 300, "HAProxy's known keywords are registered too")
    }

    /// Active and pending keywords are parsed into the model (flipping a pending one to
    /// active must not need a parser written then); only unsupported ones are refused unread.
    func testFeatureKeywordsHaveAParserUnlessRefusedOutright() {
        for keyword in KeywordRegistry.features {
            if case .unsupported = keyword.status { continue }
            XCTAssertNotNil(keyword.parse, "'\(keyword.name)' is \(keyword.status) but has no parser")
        }
    }

    func testParameterTablesHaveNoDuplicateNames() {
        for names in [KeywordRegistry.serverParameters.names, KeywordRegistry.bindParameters.names,
                      KeywordRegistry.cookieOptions.names, KeywordRegistry.statsSocketParameters.names] {
            XCTAssertEqual(Set(names).count, names.count, "\(names)")
        }
    }

    func testLookupTakesTheLongestRegisteredName() {
        guard case .found(let k, let n) = KeywordRegistry.lookup(["timeout", "client", "5s"], in: .defaults) else { return XCTFail() }
        XCTAssertEqual(k.name, "timeout client")
        XCTAssertEqual(n, 2)
        guard case .unknownInFamily(let prefix, let word) = KeywordRegistry.lookup(["timeout", "clinet", "5s"], in: .defaults) else { return XCTFail() }
        XCTAssertEqual(prefix, "timeout")
        XCTAssertEqual(word, "clinet")
        guard case .wrongSection = KeywordRegistry.lookup(["server", "s", "1.2.3.4:80"], in: .frontend) else { return XCTFail() }
        guard case .unknown = KeywordRegistry.lookup(["frobnicate"], in: .global) else { return XCTFail() }
    }

    func testSuggestionsAreLikelyTyposOnly() {
        XCTAssertEqual(nearestKeyword(to: "maxcon", in: ["maxconn", "nbthread"]), "maxconn")
        XCTAssertEqual(nearestKeyword(to: "wieght", in: ["weight", "check"]), "weight", "a transposition is one edit")
        XCTAssertEqual(nearestKeyword(to: "sned", in: ["send", "expect"]), "send")
        XCTAssertEqual(nearestKeyword(to: "maxidel", in: ["maxidle", "maxlife"]), "maxidle")
        XCTAssertNil(nearestKeyword(to: "ssl_fc_sni", in: ["ssl_fc", "path"]), "another fetch, not a typo")
        XCTAssertNil(nearestKeyword(to: "dontlog-normal", in: ["dontlognull", "httplog"]))
        XCTAssertNil(nearestKeyword(to: "frobnicate", in: ["forwardfor"]))
        XCTAssertNil(nearestKeyword(to: "abc", in: ["xyz"]), "short words allow one edit")
    }
}
