import SwiftLBLog
import XCTest

/// The log-format parser: every variable of HAProxy 2.6 compiles, the flags and `%o` do what
/// HAProxy documents, and every malformed string gets a message naming what is wrong.
final class LogFormatParserTests: XCTestCase {
    /// The 64 variables of 2.6's `logformat_keywords`, spelled as HAProxy spells them.
    static let haproxyVariables = ["B", "CC", "CS", "H", "ID", "ST", "T", "Ta", "Tc", "Th", "Ti", "Tl", "Tq", "Tr", "TR", "Td",
                                   "Ts", "Tt", "Tu", "Tw", "U", "ac", "b", "bc", "bi", "bp", "bq", "ci", "cp", "f", "fc", "fi",
                                   "fp", "ft", "hr", "hrl", "hs", "hsl", "HM", "HP", "HPO", "HQ", "HU", "HV", "lc", "ms", "pid",
                                   "r", "rc", "rt", "s", "sc", "si", "sp", "sq", "sslc", "sslv", "t", "tr", "trg", "trl", "ts", "tsc"]
    static let httpOnly: Set = ["CC", "CS", "Ta", "Ti", "Tq", "Tr", "TR", "HM", "HP", "HPO", "HQ", "HU", "HV", "r", "tr", "trg", "trl"]

    func testEveryVariableCompilesInHTTPMode() throws {
        XCTAssertEqual(Set(LogVariable.names), Set(Self.haproxyVariables))
        for name in Self.haproxyVariables {
            let format = try LogFormat.parse("x%\(name)-y")
            XCTAssertEqual(format.source, "x%\(name)-y")
            XCTAssertEqual(LogVariable(name: name)?.name, name)
        }
    }

    func testHTTPVariablesAreRefusedInTCPMode() {
        for name in Self.haproxyVariables {
            if Self.httpOnly.contains(name) {
                XCTAssertThrowsError(try LogFormat.parse("%\(name)", mode: .tcp)) {
                    XCTAssertEqual("\($0)", "format variable '\(name)' is reserved for HTTP mode")
                }
            } else {
                XCTAssertNoThrow(try LogFormat.parse("%\(name)", mode: .tcp), name)
            }
        }
    }

    func testNamesAreCaseSensitiveAndLongest() throws {
        var r = LogRecord()
        r.idle = 7; r.requestDoneAt = 9
        r.acceptDate = LogTimestamp(seconds: 0, microseconds: 5000)
        XCTAssertEqual(try LogFormat.parse("%TR/%Tr/%Ti").string(r), "2/-1/7")
        XCTAssertThrowsError(try LogFormat.parse("%HPOX")) { XCTAssertTrue("\($0)".hasPrefix("no such format variable 'HPOX'")) }
        XCTAssertEqual(try LogFormat.parse("%ms.").string(r), "005.")
    }

    func testLiteralsSeparatorsAndPercent() throws {
        let r = LogRecord()
        XCTAssertEqual(try LogFormat.parse("a%%b  c   d ").string(r), "a%b c d ")
        XCTAssertEqual(try LogFormat.parse("   lead").string(r), "lead")
        XCTAssertEqual(try LogFormat.parse("tab\there").string(r), "tab\there")
        XCTAssertEqual(try LogFormat.parse("").string(r), "")
        XCTAssertEqual(try LogFormat.parse("100%%").string(r), "100%")
    }

    func testFlags() throws {
        var r = LogRecord()
        r.frontend = "fe"
        r.client = .ipv4(10, 0, 0, 1, port: 80)
        XCTAssertEqual(try LogFormat.parse("%{+Q}f %f %{+Q,+X}ci %{+X}cp %{-M}ID|%ID %{+Q}ID").string(r), #""fe" fe 0A000001 0050 |- """#)
        XCTAssertEqual(try LogFormat.parse("%{+Q}o %f %{-Q}f %{-Q}o %f").string(r), #""fe" fe fe"#)
        XCTAssertEqual(try LogFormat.parse("%{}f %{,}f").string(r), "fe fe")
        r.uniqueID = #"a"b]c\"#
        XCTAssertEqual(try LogFormat.parse("%{+E}ID %{+E,+Q}ID").string(r), #"a\"b\]c\\ "a\"b\]c\\""#)
    }

    // MARK: errors

    private func assertError(_ format: String, _ expected: String, mode: LogMode = .http, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try LogFormat.parse(format, mode: mode), file: file, line: line) {
            XCTAssertEqual("\($0)", expected, file: file, line: line)
        }
    }

    func testUnknownVariable() {
        assertError("%foo", "no such format variable 'foo'. If you wanted to emit the '%' character verbatim, you need to use '%%'")
        assertError("%HPQ", "no such format variable 'HPQ'. If you wanted to emit the '%' character verbatim, you need to use '%%' (did you mean '%HP'?)")
        assertError("%ssl_c", "no such format variable 'ssl'. If you wanted to emit the '%' character verbatim, you need to use '%%' (did you mean '%sslc'?)")
    }

    func testPercentFollowedByWhatCannotStartAName() {
        assertError("50% off", "unexpected variable name near ' ' at position 3 line : '50% off'. Maybe you want to write a single '%', use the syntax '%%'")
        assertError("%1", "unexpected variable name near '1' at position 1 line : '%1'. Maybe you want to write a single '%', use the syntax '%%'")
        assertError("a%!", "'%' followed by '!' at position 2 names no variable; write '%%' for a literal '%'")
        assertError("trailing %", "truncated line after '%'")
    }

    func testUnbalancedBracesAndBrackets() {
        assertError("%{+Q", "truncated line after '+Q': missing '}'")
        assertError("%{+Q}", "parse argument modifier without variable name near '%{+Q}'")
        assertError("%{+Q} r", "parse argument modifier without variable name near '%{+Q}'")
        assertError("%{+Q}-r", "parse argument modifier without variable name near '%{+Q}'")
        assertError("%[src", "missing ']' after 'src'")
        assertError("%[req.hdr(host]", "missing ']' after 'req.hdr(host]'")
        assertError("%[]", "empty sample expression '%[]'")
    }

    func testBadFlags() {
        assertError("%{+Z}r", "unknown flag 'Z' in '%{+Z}' (flags are M, Q, X and E)")
        assertError("%{Q}r", "flag 'Q' in '%{Q}' needs a sign: '+Q' adds it, '-Q' removes it")
        assertError("%{+Q,J}o", "flag 'J' in '%{+Q,J}' needs a sign: '+J' adds it, '-J' removes it")
    }

    func testPredefinedFormatsAreHAProxysStrings() {
        XCTAssertEqual(LogFormat.httplog.source, "%ci:%cp [%tr] %ft %b/%s %TR/%Tw/%Tc/%Tr/%Ta %ST %B %CC %CS %tsc %ac/%fc/%bc/%sc/%rc %sq/%bq %hr %hs %{+Q}r")
        XCTAssertEqual(LogFormat.tcplog.source, "%ci:%cp [%t] %ft %b/%s %Tw/%Tc/%Tt %B %ts %ac/%fc/%bc/%sc/%rc %sq/%bq")
        XCTAssertEqual(LogFormat.tcplog.mode, .tcp)
        XCTAssertTrue(LogFormat.httplog.usesRequest)
        XCTAssertFalse(LogFormat.tcplog.usesRequest)
        XCTAssertEqual(try LogFormat.parse(LogFormat.httplogString), LogFormat.httplog)
    }
}
