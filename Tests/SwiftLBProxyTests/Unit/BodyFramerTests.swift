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
        ]
        for (name, body) in cases.sorted(by: { $0.key < $1.key }) {
            XCTAssertThrowsError(try run(.chunked, [body]), name)
        }
    }

    func testUntilCloseTakesEverything() throws {
        let r = try run(.untilClose, ["abc", "def"])
        XCTAssertEqual(r.out, "abcdef")
        XCTAssertFalse(r.done)
    }
}
