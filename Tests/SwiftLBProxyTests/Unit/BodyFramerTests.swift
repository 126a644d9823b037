import NIOCore
import XCTest
@testable import SwiftLBProxy

/// Body framing: exactly the body's bytes are taken, whatever the buffer boundaries; chunked
/// bodies pass as they came, or decoded for an HTTP/1.0 client; bad chunks are refused.
final class BodyFramerTests: XCTestCase {
    /// Feeds `pieces` one after the other; returns what the sink got, what was left of the last
    /// piece, and whether the body completed.
    private func run(_ mode: BodyFramer.Mode, _ pieces: [String], decode: Bool = false) throws -> (out: String, rest: String, done: Bool) {
        var framer = BodyFramer(mode)
        var out = ""
        var input = ByteBuffer()
        var done = false
        for piece in pieces {
            input.writeString(piece)
            if !done { done = try framer.take(from: &input, decode: decode) { out += String(buffer: $0) } }
        }
        return (out, String(buffer: input), done)
    }

    func testContentLengthTakesExactlyItsBytes() throws {
        let r = try run(.length(5), ["ab", "cdeGET / HTTP/1.1"])
        XCTAssertEqual(r.out, "abcde")
        XCTAssertEqual(r.rest, "GET / HTTP/1.1")
        XCTAssertTrue(r.done)
        XCTAssertFalse(try run(.length(5), ["ab"]).done)
    }

    private let chunkedBody = "5;ext=\"v\"\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n"

    func testChunkedPassesAsItCameAtEveryBoundary() throws {
        let all = chunkedBody + "NEXT"
        let bytes = Array(all)
        for split in 0...bytes.count {
            let r = try run(.chunked, [String(bytes[..<split]), String(bytes[split...])])
            XCTAssertEqual(r.out, chunkedBody, "split at \(split)")
            XCTAssertEqual(r.rest, "NEXT", "split at \(split)")
            XCTAssertTrue(r.done)
        }
        // Byte by byte, decoded.
        let r = try run(.chunked, all.map { String($0) }, decode: true)
        XCTAssertEqual(r.out, "hello0123456789")
        XCTAssertTrue(r.done)
    }

    func testChunkedDecodedAtEveryBoundary() throws {
        let bytes = Array(chunkedBody)
        for split in 0...bytes.count {
            let r = try run(.chunked, [String(bytes[..<split]), String(bytes[split...])], decode: true)
            XCTAssertEqual(r.out, "hello0123456789", "split at \(split)")
        }
    }

    func testBadChunksAreRefused() {
        let cases = [
            "no size": "\r\nabc\r\n0\r\n\r\n",
            "not hex": "zz\r\n",
            "too many digits": "1000000000000000\r\n",
            "negative": "-1\r\n",
            "no CRLF after data": "3\r\nabcX\r\n",
            "bare LF after size": "3\nabc\r\n",
            "control in extension": "3;\u{01}\r\nabc\r\n",
            "control in trailer": "0\r\nX: \u{01}\r\n\r\n",
            // What HAProxy and nginx both refuse (DifferentialFramingTests).
            "size past 2^56": "fffffffffffffff\r\n",
            "size 2^56": "100000000000000\r\n",
            // Forwarded as they came, these would be framed differently by a strict server.
            "whitespace after size": "3 \r\nabc\r\n",
            "tab after size": "3\t\r\nabc\r\n",
            "extension without a name": "3;\r\nabc\r\n",
            "extension name not a token": "3;=x\r\nabc\r\n",
            "trailer without a colon": "0\r\nbogus\r\n\r\n",
            "trailer with an empty name": "0\r\n: v\r\n\r\n",
            "folded trailer": "0\r\nX: a\r\n b\r\n\r\n",
            "space in a trailer name": "0\r\nX Y: a\r\n\r\n",
            // HTX keeps a name's length in one byte (HAProxy: 400 or 502).
            "trailer name of 256 bytes": "0\r\n" + String(repeating: "t", count: 256) + ": v\r\n\r\n",
        ]
        for (name, body) in cases.sorted(by: { $0.key < $1.key }) {
            XCTAssertThrowsError(try run(.chunked, [body]), name)
        }
    }

    /// What RFC 9112 §7.1 allows and every server frames alike still passes.
    func testChunkEdgesThatAreValidPass() throws {
        for body in ["03\r\nabc\r\n0\r\n\r\n", "000000000000000000003\r\nabc\r\n0\r\n\r\n",
                     "3 ;a=b\r\nabc\r\n0\r\n\r\n", "3; a\r\nabc\r\n0\r\n\r\n", "3;a;b=\"c d\"\r\nabc\r\n0\r\n\r\n",
                     "ffffffffffffff\r\n", "0\r\nX-T: 1\r\nY:\r\n\r\n",
                     "0\r\n" + String(repeating: "t", count: 255) + ": \(String(repeating: "v", count: 300))\r\n\r\n"] {
            XCTAssertNoThrow(try run(.chunked, [body]), body)
        }
    }

    func testUntilCloseTakesEverything() throws {
        let r = try run(.untilClose, ["abc", "def"])
        XCTAssertEqual(r.out, "abcdef")
        XCTAssertFalse(r.done)
    }
}
