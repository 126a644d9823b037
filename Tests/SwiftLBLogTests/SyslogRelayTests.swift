@testable import SwiftLBLog
import SwiftLBTestSupport
import XCTest

/// The pure halves of the `log-forward` relay: a received message taken apart as HAProxy's
/// `parse_log_message` does and its header rebuilt as `build_log_header` does (the expected
/// bytes are what haproxy 2.6.12 relayed for the same input; LogForwardTests compares the two
/// live), and RFC 6587 stream framing.
final class SyslogRelayTests: XCTestCase {
    private func relayed(_ input: String, _ format: SyslogFormat, facility: Int = 16) -> String {
        let message = SyslogMessage(parsing: Array(input.utf8))
        var buffer = LogBuffer()
        let header = message.header(format, level: message.level ?? 0, facility: message.facility ?? facility,
                                    now: LogTimestamp(seconds: 1_796_034_194, microseconds: 0), buffer: &buffer)
        return String(decoding: header + message.text, as: UTF8.self)
    }

    override class func setUp() { TestEnvironment.set("TZ", "UTC") }

    func testLocalFormatReadsTheTagAsTheHostAsHAProxyDoes() {
        let m = SyslogMessage(parsing: Array(#"<134>Nov 30 10:20:00 haproxy[4242]: 127.0.0.1:5555 [x] "GET /a HTTP/1.1""#.utf8))
        XCTAssertEqual(m.facility, 16)
        XCTAssertEqual(m.level, 6)
        XCTAssertEqual(String(decoding: m.host, as: UTF8.self), "haproxy[4242]:")
        XCTAssertTrue(m.tag.isEmpty)  // "127.0.0.1:5555" is no tag: ':' is not followed by a space
        XCTAssertEqual(relayed(#"<134>Nov 30 10:20:00 haproxy[4242]: 127.0.0.1:5555 [x] "GET /a HTTP/1.1""#, .rfc5424),
                       #"<134>1 2026-11-30T10:20:00-00:00 haproxy[4242]: - - - - 127.0.0.1:5555 [x] "GET /a HTTP/1.1""#)
    }

    func testRFC3164WithTagAndPidBecomesRFC5424() {
        XCTAssertEqual(relayed("<134>Nov 30 10:20:00 myhost haproxy[4242]: hello 3164", .rfc5424),
                       "<134>1 2026-11-30T10:20:00-00:00 myhost haproxy 4242 - - hello 3164")
        // And back, without `format`: a host and an ISO time make it RFC 5424 again.
        XCTAssertEqual(relayed("<134>1 2026-11-30T10:20:00-00:00 myhost haproxy 4242 - - hello 3164", .unspecified),
                       "<134>1 2026-11-30T10:20:00-00:00 myhost haproxy 4242 - - hello 3164")
    }

    func testRFC5424WithStructuredDataBecomesRFC3164() {
        let input = #"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An application event"#
        let m = SyslogMessage(parsing: Array(input.utf8))
        XCTAssertEqual(String(decoding: m.structuredData, as: UTF8.self), #"[exampleSDID@32473 iut="3"]"#)
        XCTAssertEqual(String(decoding: m.msgid, as: UTF8.self), "ID47")
        XCTAssertEqual(relayed(input, .rfc3164), "<165>Oct 11 22:14:15 mymachine.example.com evntslog: An application event")
        XCTAssertEqual(relayed(input, .unspecified), input)
    }

    func testAMessageWithoutPriorityTakesTheTargetsFacilityAndEmerg() {
        XCTAssertEqual(relayed("no pri at all", .rfc3164), "<128>Nov 30 10:23:14 localhost no pri at all")
        XCTAssertEqual(relayed("no pri at all", .unspecified), "no pri at all")
    }

    func testABadHeaderKeepsOnlyThePriority() {
        let m = SyslogMessage(parsing: Array("<13>1 yesterday host tag - - - text".utf8))
        XCTAssertEqual(m.level, 5)
        XCTAssertTrue(m.host.isEmpty && m.time.isEmpty)
        XCTAssertEqual(String(decoding: m.text, as: UTF8.self), "1 yesterday host tag - - - text")
        XCTAssertEqual(relayed("<13>1 yesterday host tag - - - text", .unspecified), "<13>1 yesterday host tag - - - text")
    }

    func testStreamFraming() throws {
        let framer = SyslogStreamFramer(limit: 64)
        func next(_ s: String) throws -> (String, Int)? {
            let bytes = Array(s.utf8)
            return try bytes.withUnsafeBytes { raw in
                try framer.next(raw).map { (String(decoding: $0.message, as: UTF8.self), $0.consumed) }
            }
        }
        XCTAssertEqual(try next("11 <13>message<13>x")?.0, "<13>message")
        XCTAssertEqual(try next("11 <13>message<13>x")?.1, 14)
        XCTAssertNil(try next("11 <13>mess"))  // the rest is still coming
        XCTAssertNil(try next("11"))
        XCTAssertEqual(try next("<13>line\r\nnext")?.0, "<13>line")
        XCTAssertEqual(try next("<13>line\r\nnext")?.1, 10)
        XCTAssertNil(try next("<13>no end yet"))
        XCTAssertThrowsError(try next("013 <13>x")) { XCTAssertEqual($0 as? SyslogStreamFramer.Failure, .badFraming) }
        XCTAssertThrowsError(try next("hello\n")) { XCTAssertEqual($0 as? SyslogStreamFramer.Failure, .badFraming) }
        XCTAssertThrowsError(try next("99999 <13>x")) { XCTAssertEqual($0 as? SyslogStreamFramer.Failure, .tooLong) }
        XCTAssertThrowsError(try next("<13>" + String(repeating: "x", count: 80))) { XCTAssertEqual($0 as? SyslogStreamFramer.Failure, .tooLong) }
        XCTAssertEqual(SyslogStreamFramer.frame(Array("<13>m".utf8), octetCounting: true), Array("5 <13>m".utf8))
        XCTAssertEqual(SyslogStreamFramer.frame(Array("<13>m".utf8), octetCounting: false), Array("<13>m\n".utf8))
    }
}
