import NIOCore
import XCTest
@testable import SwiftLBProxy

/// The `h1-case-adjust` map on a serialised head: names only, in place.
final class HeaderNameCaseTests: XCTestCase {
    func testNamesInTheMapAreRecasedAndNothingElse() throws {
        let map = ["content-length": "Content-Length", "x-custom": "X-CUSTOM"]
        XCTAssertNil(HeaderNameCase(map, enabled: false), "the option is off: nothing to do")
        XCTAssertNil(HeaderNameCase([:], enabled: true), "an empty map: nothing to do")
        let nameCase = try XCTUnwrap(HeaderNameCase(map, enabled: true))
        var head = ByteBuffer(string: "GET /x-custom HTTP/1.1\r\nCONTENT-length: 2\r\nx-custom: x-custom\r\nx-customs: 1\r\nother: content-length\r\n\r\n")
        nameCase.apply(to: &head)
        XCTAssertEqual(String(buffer: head),
                       "GET /x-custom HTTP/1.1\r\nContent-Length: 2\r\nX-CUSTOM: x-custom\r\nx-customs: 1\r\nother: content-length\r\n\r\n")
    }
}
