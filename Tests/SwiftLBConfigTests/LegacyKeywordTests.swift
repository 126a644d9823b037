import XCTest
@testable import SwiftLBConfig

/// Keywords HAProxy 2.x removed: translated with a warning that prints the modern line, or
/// refused with the modern line to write.
final class LegacyKeywordTests: XCTestCase {
    private let head = "defaults\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\nfrontend f\n    bind :80\n    default_backend b\nbackend b\n    server s 127.0.0.1:80\n"

    private func parse(_ text: String, pending: Bool = false, line: UInt = #line) throws -> Configuration {
        try parseOrFail(text, file: "old.cfg", pending: pending, line: line)
    }

    private func refusal(_ text: String) -> ConfigError? { parseErrors(text, file: "old.cfg").first }

    func testReqaddAndRspaddBecomeAddHeaderRules() throws {
        let config = try parse(head + "    reqadd X-Forwarded-Proto:\\ https if { ssl_fc }\n    rspadd Strict-Transport-Security:\\ max-age=31536000\n")
        let b = try XCTUnwrap(config.backends["b"])
        XCTAssertEqual(b.requestRules.count, 1)
        guard case .add(let name, let value) = b.requestRules[0].action else { return XCTFail() }
        XCTAssertEqual(name, "X-Forwarded-Proto")
        XCTAssertEqual(value.parts, [.literal("https")])
        XCTAssertNotNil(b.requestRules[0].condition)
        XCTAssertEqual(b.httpRequestRules.count, 1, "in order among every rule")
        guard case .add(let rname, let rvalue) = b.responseRules.first?.action else { return XCTFail() }
        XCTAssertEqual(rname, "Strict-Transport-Security")
        XCTAssertEqual(rvalue.parts, [.literal("max-age=31536000")])
        let warnings = config.warnings.filter { $0.message.contains("was removed") }.map(\.description)
        XCTAssertEqual(warnings, [
            "parsing [old.cfg:10] : 'reqadd' : 'reqadd' was removed in HAProxy 2.1; SwiftLB reads this line as: http-request add-header X-Forwarded-Proto https if { ssl_fc }",
            "parsing [old.cfg:11] : 'rspadd' : 'rspadd' was removed in HAProxy 2.1; SwiftLB reads this line as: http-response add-header Strict-Transport-Security max-age=31536000",
        ])
        let spaced = try parse(head + "    reqadd X-Note:\\ two\\ words\n")
        XCTAssertTrue(spaced.warnings.contains { $0.message.hasSuffix("http-request add-header X-Note \"two words\"") })
    }

    func testReqdelOfOneHeaderBecomesDelHeader() throws {
        let config = try parse(head + "    reqidel ^X-Forwarded-For:.*\n    reqdel ^Proxy:\n    rspidel ^Server:\n")
        let b = try XCTUnwrap(config.backends["b"])
        guard case .delete(let first) = b.requestRules[0].action, case .delete(let second) = b.requestRules[1].action,
              case .delete(let third) = b.responseRules[0].action else { return XCTFail() }
        XCTAssertEqual([first, second, third], ["X-Forwarded-For", "Proxy", "Server"])
        XCTAssertTrue(config.warnings.contains { $0.message.hasSuffix("SwiftLB reads this line as: http-request del-header X-Forwarded-For") })
        let error = try XCTUnwrap(refusal(head + "    reqidel ^X-(Foo|Bar):\n"))
        XCTAssertEqual(error.line, 10)
        XCTAssertTrue(error.message.contains("does not name one header") && error.message.contains("write: http-request del-header NAME"), error.message)
    }

    func testOldTimeoutsAndRedispatchBecomeTheirModernKeywords() throws {
        let config = try parse("defaults\n    contimeout 5000\n    clitimeout 50000\n    srvtimeout 50000\n    redispatch\nbackend b\n    server s 127.0.0.1:80\n")
        let b = try XCTUnwrap(config.backends["b"])
        XCTAssertEqual(b.options.timeouts.connect, .seconds(5))
        XCTAssertEqual(b.options.timeouts.server, .seconds(50))
        XCTAssertEqual(b.options.timeouts.client, .seconds(50))
        XCTAssertTrue(b.options.redispatch)
        XCTAssertTrue(config.warnings.contains { $0.message == "'contimeout' was removed in HAProxy 2.1; SwiftLB reads this line as: timeout connect 5000" })
        XCTAssertTrue(config.warnings.contains { $0.message == "'redispatch' was removed in HAProxy 2.1; SwiftLB reads this line as: option redispatch" })
    }

    func testLinesWithoutAnExactModernFormAreRefusedWithTheLineToWrite() throws {
        let cases: [(String, String)] = [
            ("    reqrep ^Host:\\ (.*) Host:\\ new.example\n", "write: http-request replace-header Host (.*) \"Host: new.example\""),
            ("    reqirep ^GET\\ /old(.*) GET\\ /new\\1\n", "write: http-request replace-path REGEX REPLACEMENT"),
            ("    reqideny ^User-Agent:.*bot\n", "write: http-request deny if { req.hdr(NAME) -i -m reg ^User-Agent:.*bot }"),
            ("    reqpass ^X:\n", "nothing: remove the line"),
            ("    rspideny ^Server:\n", "write: http-response deny if { res.hdr(NAME) -i -m reg ^Server: }"),
        ]
        for (line, expected) in cases {
            let error = try XCTUnwrap(refusal(head + line), line)
            XCTAssertEqual(error.line, 10)
            XCTAssertTrue(error.message.contains("was removed in HAProxy 2.1") && error.message.contains(expected), error.message)
        }
        XCTAssertEqual(refusal(head.replacingOccurrences(of: "frontend f", with: "frontend f\n    monitor-net 10.0.0.0/8"))?.message,
                       "'monitor-net' was removed in HAProxy 2.4; write: http-request return status 200 if { src 10.0.0.0/8 }")
        XCTAssertTrue(refusal("global\n    nbproc 4\n")?.message.contains("write 'nbthread 4'") == true)
        XCTAssertTrue(try parse("global\n    nbproc 1\n").warnings.contains { $0.message.contains("nbproc was removed in HAProxy 2.5") })
    }

    func testBlockAndForcecloseTranslateToModernRules() throws {
        let text = head + "    acl bad path_beg /admin\n    block if bad\n    option forceclose\n"
        XCTAssertNil(refusal(text), "http-request deny and option httpclose are active")
        let config = try parse(text, pending: false)
        let b = try XCTUnwrap(config.backends["b"])
        guard case .deny(let answer) = b.httpRequestRules.first?.action else { return XCTFail() }
        XCTAssertEqual(answer.status, 403)
        XCTAssertEqual(b.options.httpConnectionMode, .close)
        XCTAssertTrue(config.warnings.contains { $0.message.hasSuffix("SwiftLB reads this line as: http-request deny if bad") })
        XCTAssertTrue(config.warnings.contains { $0.message.hasSuffix("SwiftLB reads this line as: option httpclose") })
    }

    /// HAProxy 1.8's `listen NAME ADDRESS` (Percona's example haproxy.cfg): a `bind` line.
    func testAnAddressOnTheSectionLineIsReadAsABindLine() throws {
        let config = try parse("listen stats :1936,127.0.0.1:1937\n    mode http\n    stats enable\n    stats uri /\n" +
                               "frontend fe 127.0.0.1:8080\n    mode http\n    default_backend stats\n")
        XCTAssertEqual(config.frontends.map { $0.binds.map { "\($0.host):\($0.port)@\($0.line)" } },
                       [["0.0.0.0:1936@1", "127.0.0.1:1937@1"], ["127.0.0.1:8080@5"]])
        XCTAssertTrue(config.warnings.contains { $0.line == 1 && $0.message ==
            "'listen NAME ADDRESS' was removed in HAProxy 1.9; SwiftLB reads this line as: listen stats, then bind :1936,127.0.0.1:1937" })
        // A backend never had one; more words are not an address either.
        let error = refusal("backend b :1936\n    server s 127.0.0.1:80\n")
        XCTAssertEqual(error?.line, 1)
        XCTAssertTrue(error?.message.contains("write 'bind :1936' under 'backend b'") == true, "\(String(describing: error))")
        XCTAssertEqual(refusal("listen stats :1936 extra\n    stats enable\n")?.line, 1)
    }

    func testHTTPTunnelIsRemovedWithAWarning() throws {
        let config = try parse(head + "    option http-tunnel\n")
        XCTAssertTrue(config.warnings.contains { $0.line == 10 && $0.message.contains("processes every request of a connection; remove the line") })
    }
}
