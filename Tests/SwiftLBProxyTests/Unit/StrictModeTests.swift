import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// `strict-mode` and the rewrite room of `tune.bufsize`, on heads without sockets: a rewrite
/// that does not fit what the buffer has left is a 500 in strict mode, skipped (the head
/// unchanged) with `strict-mode off`; without a limit every rewrite applies. And the room
/// itself: HAProxy's buffer fills to its size less the reserve.
final class StrictModeTests: XCTestCase {
    func testARewriteThatDoesNotFitFailsOrIsSkipped() throws {
        let rules = try requestRules("""
                http-request set-header x-a 0123456789
                http-request strict-mode off if { path /soft }
                http-request set-header x-b 0123456789
            """)
        func run(_ path: String, room: Int?) throws -> (HTTPRuleVerdict, String) {
            var head = try requestHead("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
            var input = SampleInput(facts: try facts(head))
            input.rewriteRoom = room
            let verdict = rules.evaluate(&head, &input)
            return (verdict, serialised(head))
        }
        // `x-a: 0123456789\r\n` is 17 bytes: room for one, not for two.
        guard case .respond(let response, .internalError) = try run("/hard", room: 30).0 else { return XCTFail("strict: not a 500") }
        XCTAssertEqual(response.status, 500)
        let (soft, head) = try run("/soft", room: 30)
        guard case .continue = soft else { return XCTFail("soft: \(soft)") }
        XCTAssertEqual(head, "GET /soft HTTP/1.1\r\nHost: h\r\nx-a: 0123456789\r\n\r\n")
        let (fits, both) = try run("/hard", room: 34)
        guard case .continue = fits else { return XCTFail("34 bytes: \(fits)") }
        XCTAssertTrue(both.contains("x-a: 0123456789\r\nx-b: 0123456789\r\n"), both)
        let (unlimited, all) = try run("/hard", room: nil)
        guard case .continue = unlimited else { return XCTFail("unlimited: \(unlimited)") }
        XCTAssertTrue(all.contains("x-b: 0123456789\r\n"), all)
    }

    func testRoomIsWhatTheBufferLeavesAtLeastTheReserve() {
        var limits = HeadParser.Limits()
        XCTAssertNil(limits.rewriteRoom(head: 100, buffered: 5000))
        limits.bufferSize = 2048
        limits.rewriteReserve = 128
        XCTAssertEqual(limits.rewriteRoom(head: 48, buffered: 2000), 128)
        XCTAssertEqual(limits.rewriteRoom(head: 48, buffered: 0), 2000)
    }

    func testParsing() throws {
        let config = try ConfigParser.parse(text: "frontend fe\n    bind :80\n    http-request strict-mode off\n    http-response strict-mode on\n    http-after-response strict-mode off\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n", file: "t.cfg")
        guard case .strictMode(false) = config.frontends[0].httpRequestRules[0].action,
              case .strictMode(true) = config.frontends[0].httpResponseRules[0].action else { return XCTFail("not parsed") }
        XCTAssertThrowsError(try ConfigParser.parse(text: "frontend fe\n    bind :80\n    http-request strict-mode maybe\n", file: "t.cfg")) { error in
            let e = (error as? ConfigErrors)?.errors.first
            XCTAssertEqual(e?.line, 3)
            XCTAssertEqual(e?.keyword, "http-request")
            XCTAssertTrue(e?.message.contains("'strict-mode on' or 'strict-mode off'") ?? false, "\(String(describing: e))")
        }
    }
}
