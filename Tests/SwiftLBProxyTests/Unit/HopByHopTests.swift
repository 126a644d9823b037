import XCTest
@testable import SwiftLBProxy

/// `RequestRewriter.removeHopByHop` on request and response heads: what of the client's
/// connection fields goes on (HAProxy 2.6's choices, `HTTPMessagingParityTests` compares live).
final class HopByHopTests: XCTestCase {
    private func forwarded(_ fields: String, response: Bool = false) throws -> String {
        var head = response ? try responseHead("HTTP/1.1 200 OK\r\n\(fields)\r\n") : try requestHead("GET / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n")
        _ = RequestRewriter.removeHopByHop(&head)
        return serialised(head)
    }

    func testTETrailersAloneGoesOnInARequest() throws {
        XCTAssertEqual(try forwarded("TE: trailers, gzip\r\nConnection: TE\r\n"), "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n")
        XCTAssertEqual(try forwarded("TE: deflate,Trailers\r\n"), "GET / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\n\r\n")
        XCTAssertEqual(try forwarded("TE: gzip\r\n"), "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(try forwarded("TE: trailers;q=0.5\r\n"), "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(try forwarded("TE: trailers\r\n", response: true), "HTTP/1.1 200 OK\r\n\r\n", "TE means nothing in a response")
    }
}
