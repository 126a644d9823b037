import NIOCore
import XCTest
@testable import SwiftLBProxy

/// One framing rule per message, decided from the head.
final class MessageFramingTests: XCTestCase {
    private func head(_ text: String, _ kind: MessageHead.Kind) -> MessageHead {
        var parser = HeadParser(kind: kind)
        var buffer = ByteBuffer(string: text)
        guard case .head(let h) = parser.parse(&buffer) else { fatalError("test head does not parse: \(text)") }
        return h
    }

    private func request(_ fields: String, version: String = "1.1") -> Result<BodyFramer.Mode?, HeadParser.Failure> {
        MessageFraming.request(head("POST / HTTP/\(version)\r\nHost: a\r\n\(fields)\r\n", .request))
    }

    func testRequestFraming() {
        XCTAssertEqual(try request("").get(), nil)
        XCTAssertEqual(try request("Content-Length: 0\r\n").get(), nil)
        XCTAssertEqual(try request("Content-Length: 12\r\n").get(), .length(12))
        XCTAssertEqual(try request("Content-Length: 12\r\nContent-Length: 12\r\n").get(), .length(12))
        XCTAssertEqual(try request("Content-Length: 12, 12\r\n").get(), .length(12), "HAProxy merges a list of identical values")
        XCTAssertEqual(try request("Transfer-Encoding: Chunked\r\n").get(), .chunked)
        for bad in ["Content-Length: 1\r\nContent-Length: 2\r\n", "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n",
                    "Transfer-Encoding: gzip, chunked\r\n", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                    "Transfer-Encoding: identity\r\n", "Content-Length: +1\r\n", "Content-Length: 1,2\r\n",
                    "Content-Length: 99999999999999999999\r\n"] {
            XCTAssertThrowsError(try request(bad).get(), bad)
        }
        XCTAssertThrowsError(try request("Transfer-Encoding: chunked\r\n", version: "1.0").get())
    }

    private func response(_ text: String, method: HTTPMethodName = .get) -> Result<MessageFraming.ResponseBody, HeadParser.Failure> {
        MessageFraming.response(head(text, .response), requestMethod: method)
    }

    func testResponseFraming() {
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n").get(), .framed(.length(3)))
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", method: .head).get(), .none)
        XCTAssertEqual(try response("HTTP/1.1 204 No Content\r\n\r\n").get(), .none)
        XCTAssertEqual(try response("HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n").get(), .none)
        XCTAssertEqual(try response("HTTP/1.1 100 Continue\r\n\r\n").get(), .none)
        XCTAssertEqual(try response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n").get(), .framed(.chunked))
        XCTAssertEqual(try response("HTTP/1.0 200 OK\r\n\r\n").get(), .framed(.untilClose))
        XCTAssertThrowsError(try response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n").get())
        XCTAssertThrowsError(try response("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n").get())
        XCTAssertThrowsError(try response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n").get())
    }
}
