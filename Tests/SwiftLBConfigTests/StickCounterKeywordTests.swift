import XCTest
@testable import SwiftLBConfig

/// The general purpose counters of stick tables (`store gpt0,gpc0,gpc0_rate(T),gpc1,
/// gpc1_rate(T)`), the rules that change them (`sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`,
/// `sc-set-gpt0(N) VALUE` in tcp-request connection|session|content and http-request/response
/// rules), their fetches, `tcp-request session` rules, `tcp-request content switch-mode` and the
/// inert `option splice-*`.
final class StickCounterKeywordTests: XCTestCase {
    private let head = """
        defaults
            mode http
            timeout client 5s
            timeout server 5s
            timeout connect 5s
        frontend fe
            bind :80
            stick-table type ip size 1k expire 30s store gpt0,gpc0,gpc0_rate(10s),gpc1,gpc1_rate(1m),conn_cnt

        """

    func testCounterRulesAndStoreAreParsed() throws {
        let config = try parseOrFail(head + """
                tcp-request connection track-sc0 src
                tcp-request connection sc-inc-gpc1(0)
                tcp-request session sc-inc-gpc0 if { src 127.0.0.1 }
                tcp-request session track-sc1 src
                tcp-request content sc-set-gpt0(1) 5
                http-request sc-inc-gpc0(2)
                http-request sc-set-gpt0(0) sc0_get_gpc0,add(1)
                http-response sc-inc-gpc1(1)
                http-request deny if { sc0_inc_gpc0 gt 10 } || { src_get_gpc0 gt 3 } || { sc_gpc0_rate(0) gt 5 }
                http-request set-header x-g %[sc_get_gpc1(0)]

            """)
        let f = config.frontends[0]
        XCTAssertEqual(f.stickTable?.store, ["gpt0", "gpc0", "gpc0_rate(10s)", "gpc1", "gpc1_rate(1m)", "conn_cnt"])
        let rules = f.tcpRequestRules
        XCTAssertEqual(rules.map(\.layer), [.connection, .connection, .session, .session, .content])
        XCTAssertEqual(rules[1].counterAction, StickCounterAction(counter: 0, kind: .incrementGPC(1)))
        XCTAssertEqual(rules[2].counterAction, StickCounterAction(counter: 0, kind: .incrementGPC(0)))
        XCTAssertNotNil(rules[2].condition)
        XCTAssertEqual(rules[4].counterAction, StickCounterAction(counter: 1, kind: .setGPT0("5")))
        guard case .stickCounter(let a) = f.httpRequestRules[0].action, case .stickCounter(let b) = f.httpRequestRules[1].action,
              case .stickCounter(let c) = f.httpResponseRules[0].action else { return XCTFail("\(f.httpRequestRules)") }
        XCTAssertEqual(a, StickCounterAction(counter: 2, kind: .incrementGPC(0)))
        XCTAssertEqual(b, StickCounterAction(counter: 0, kind: .setGPT0("sc0_get_gpc0,add(1)")))
        XCTAssertEqual(c, StickCounterAction(counter: 1, kind: .incrementGPC(1)))
    }

    func testStickCounterFetchesAreParsed() throws {
        let expected: [(String, StickCounterFetch)] = [
            ("sc0_get_gpc0", StickCounterFetch(entry: .tracked(0, table: nil), counter: .gpc0)),
            ("sc_inc_gpc1(2)", StickCounterFetch(entry: .tracked(2, table: nil), counter: .incGPC1)),
            ("sc1_clr_gpc0(t)", StickCounterFetch(entry: .tracked(1, table: "t"), counter: .clearGPC0)),
            ("src_get_gpt0", StickCounterFetch(entry: .source(table: nil), counter: .gpt0)),
            ("src_gpc0_rate(t)", StickCounterFetch(entry: .source(table: "t"), counter: .gpc0Rate)),
        ]
        for (word, fetch) in expected {
            guard case .success(.stickCounter(let f)?) = StickFetchParser.stickFetch(word) else { XCTFail(word); continue }
            XCTAssertEqual(f, fetch, word)
        }
    }

    func testBadCounterRulesNameFileLineAndKeyword() {
        for (line, message) in [("    tcp-request connection sc-inc-gpc0(3)", "'sc-inc-gpc0(3)': expects sc-inc-gpc0(0), sc-inc-gpc0(1) or sc-inc-gpc0(2)"),
                                ("    http-request sc-inc-gpc1(x)", "'sc-inc-gpc1(x)': expects"),
                                ("    tcp-request content sc-set-gpt0(0)", "'sc-set-gpt0(0)' expects one value"),
                                ("    http-request sc-inc-gpc0(0) now", "unexpected 'now' before the condition"),
                                ("    stick-table type ip size 1k store gpc2", "stick-table store 'gpc2' is not supported by SwiftLB"),
                                ("    stick-table type ip size 1k store gpc0_rate", "'gpc0_rate' expects a period"),
                                ("    tcp-request content switch-mode http proto h2", "'switch-mode http proto h2' is not supported by SwiftLB"),
                                ("    tcp-request content switch-mode tcp", "expects 'switch-mode http [proto h1]'")] {
            let errors = parseErrors(head.replacingOccurrences(of: "    stick-table type ip size 1k expire 30s store gpt0,gpc0,gpc0_rate(10s),gpc1,gpc1_rate(1m),conn_cnt\n", with: "") + line + "\n",
                                     file: "g.conf")
            XCTAssertEqual(errors.count, 1, "\(line): \(errors)")
            guard let e = errors.first else { continue }
            XCTAssertEqual(e.file, "g.conf")
            XCTAssertEqual(e.line, 8, line)
            XCTAssertTrue(e.description.contains(message), "\(line): \(e)")
            XCTAssertTrue(e.description.contains(line.split(separator: " ")[0]), "names the keyword: \(e)")
        }
    }

    /// A table's size and a string key's length beyond HAProxy's unsigned int, and a size
    /// whose suffix overflows, are refused with file, line and keyword (`swiftlb check` used
    /// to die of an arithmetic overflow on them).
    func testHugeTableSizesAndLengthsAreRefusedByName() {
        let table = "    stick-table type ip size 1k expire 30s store gpt0,gpc0,gpc0_rate(10s),gpc1,gpc1_rate(1m),conn_cnt\n"
        for (line, keyword, message) in [
            ("    stick-table type string len 9223372036854775807 size 10", "stick-table", "'len' expects a number of bytes from 1 to 4294967295"),
            ("    stick-table type ip size 9223372036854775807", "stick-table", "'size' expects a number of entries from 1 to 4294967295"),
            ("    stick-table type ip size 4294967296", "stick-table", "'size' expects a number of entries from 1 to 4294967295"),
            ("    stick-table type ip size 99999999999999g", "stick-table", "'size' expects a number of entries"),
            ("    http-request wait-for-body time 1s at-least 99999999999999g", "http-request", "'at-least' expects a size in bytes"),
        ] {
            let errors = parseErrors(head.replacingOccurrences(of: table, with: "") + line + "\n", file: "h.conf")
            XCTAssertEqual(errors.count, 1, "\(line): \(errors)")
            guard let e = errors.first else { continue }
            XCTAssertEqual(e.file, "h.conf")
            XCTAssertEqual(e.line, 8, line)
            XCTAssertEqual(e.keyword, keyword, line)
            XCTAssertTrue(e.description.contains(message), "\(line): \(e)")
        }
        XCTAssertEqual(parseErrors(head.replacingOccurrences(of: table, with: "") + "    stick-table type string len 4294967295 size 4294967295\n"), [],
                       "the largest values are accepted")
    }

    func testSpliceOptionsAreAcceptedAsInert() throws {
        let config = try parseOrFail(head + "    option splice-request\n    option splice-response\n    no option splice-auto\n")
        XCTAssertEqual(config.warnings.count, 2, "\(config.warnings)")
        XCTAssertTrue(config.warnings.allSatisfy { $0.description.contains("inert") }, "\(config.warnings)")
        XCTAssertFalse(parseErrors(head + "    option splice-request now\n").isEmpty)
    }
}
