@testable import SwiftLBHealth
import XCTest

/// `option spop-check`'s exchange, pure: the HELLO HAProxy 2.6 sends (the 82 bytes
/// reg-tests/checks/spop-check.vtc matches) and the verdict on agent frames, in SPOE's words.
final class SPOPCheckTests: XCTestCase {
    private func verdict(_ hex: String, closed: Bool = true) -> ConversationStep {
        var check = SPOPCheck()
        let bytes = stride(from: 0, to: hex.count, by: 2).map { i -> UInt8 in
            let start = hex.index(hex.startIndex, offsetBy: i)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)!
        }
        return check.received(bytes, closed: closed)
    }

    func testHelloIsHAProxys() {
        let hello = SPOPCheck.hello
        XCTAssertEqual(hello.count, 82)
        XCTAssertEqual(Array(hello[0..<4]), [0, 0, 0, 0x4E])
        XCTAssertEqual(Array(hello[4..<11]), [1, 0, 0, 0, 1, 0, 0])  // HAPROXY-HELLO, FIN, stream 0, frame 0
        XCTAssertEqual(String(decoding: hello[12..<29], as: UTF8.self), "supported-version")
        XCTAssertEqual(SPOPCheck.encodeVarint(16380), [0xFC, 0xF0, 0x06])
        var p = 0
        XCTAssertEqual(SPOPCheck.decodeVarint([0xFC, 0xF0, 0x06], &p), 16380)
        for value: UInt64 in [0, 239, 240, 2287, 2288, 1 << 20, 1 << 40] {
            var q = 0
            XCTAssertEqual(SPOPCheck.decodeVarint(SPOPCheck.encodeVarint(value), &q), value)
        }
    }

    func testAgentFramesAreJudgedAsHAProxyJudgesThem() {
        let good = "00000036650000000100000776657273696F6E0803322E300E6D61782D6672616D652D73697A6503FCF0060C6361706162696C69746965730800"
        XCTAssertEqual(verdict(good, closed: false), .finished(.passed("SPOA server is ok", .l7ok, info: "SPOA server is ok")))
        XCTAssertEqual(verdict(String(good.prefix(40)), closed: false), .waitForMore)  // the frame is not whole yet
        XCTAssertEqual(verdict("00000000"), .finished(.failed("invalid frame received", .l7response)))
        XCTAssertEqual(verdict("000000076500000000000000"), .finished(.failed("fragmentation not supported", .l7response)))
        XCTAssertEqual(verdict("0000001465000000010000077665727369" + "6F6E0803312E30"), .finished(.failed("unsupported version", .l7response)))
        // version 2.0 without max-frame-size; a frame size of 100 (below 256).
        XCTAssertEqual(verdict("00000014650000000100000776657273696F6E0803322E30"), .finished(.failed("max-frame-size value not found", .l7response)))
        XCTAssertEqual(verdict("00000025650000000100000776657273696F6E0803322E300E6D61782D6672616D652D73697A650364"),
                       .finished(.failed("max-frame-size too big or too small", .l7response)))
        // AGENT-DISCONNECT with status-code 2: its reason.
        XCTAssertEqual(verdict("00000015660000000100000B7374617475732D636F64650302"), .finished(.failed("a timeout occurred", .l7response)))
    }
}
