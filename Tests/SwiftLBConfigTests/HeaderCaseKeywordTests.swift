import Foundation
import XCTest
@testable import SwiftLBConfig

/// `h1-case-adjust`, `h1-case-adjust-file` and the two options that apply the map, with the
/// errors haproxy 2.6 gives (`haproxy -c` on the same lines).
final class HeaderCaseKeywordTests: XCTestCase {
    func testTheMapAndTheOptionsAreRead() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("case-\(getpid()).map").path
        try "# comment\n  host   Host  \n\nx-file\tX-File\r\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let config = try parseOrFail("""
            global
                h1-case-adjust content-length Content-Length
                h1-case-adjust-file \(file)
            defaults
                mode http
                option h1-case-adjust-bogus-client
            frontend fe
                bind :8080
                default_backend be
            backend be
                option h1-case-adjust-bogus-server
                server s 127.0.0.1:80
            """)
        XCTAssertEqual(config.global.headerNameCase, ["content-length": "Content-Length", "host": "Host", "x-file": "X-File"])
        XCTAssertTrue(config.frontends[0].options.h1CaseAdjustBogusClient)
        XCTAssertEqual(config.backends["be"]?.options.h1CaseAdjustBogusServer, true)
    }

    func testHAProxysErrors() {
        func message(_ text: String) -> String { parseErrors(text, file: "t.conf").first?.message ?? "accepted" }
        XCTAssertTrue(message("global\n  h1-case-adjust a\n").contains("expects <from> and <to> as argument"))
        XCTAssertTrue(message("global\n  h1-case-adjust content-length content-LENGTH-x\n").contains("must not differ except the case"))
        XCTAssertTrue(message("global\n  h1-case-adjust a A\n  h1-case-adjust a A\n").contains("duplicate entry 'a'"))
        XCTAssertTrue(message("global\n  h1-case-adjust-file /nonexistent/case.map\n").contains("failed to open file"))
    }
}
