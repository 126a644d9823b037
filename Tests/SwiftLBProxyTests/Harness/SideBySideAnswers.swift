import Foundation
import XCTest

/// Everything each program of a side-by-side pair (`ports`: SwiftLB's, then haproxy's) sends
/// back to `request` (`then` written 300 ms later) until it closes or `wait` seconds pass.
func sideBySideAnswers(_ ports: [Int], _ request: [UInt8], then: [UInt8]? = nil, wait: Double = 8) throws -> [String] {
    try ports.map { port in
        let client = try RawClient(port: port, timeout: wait)
        client.send(request)
        if let then {
            Thread.sleep(forTimeInterval: 0.3)
            client.send(then)
        }
        return client.readAll().text
    }
}

/// haproxy answered `status`, and SwiftLB the same bytes.
func assertSameAnswer(_ answers: [String], status: Int, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertTrue(answers[1].hasPrefix("HTTP/1.1 \(status) "), "haproxy, \(name): \(answers[1].debugDescription)", file: file, line: line)
    XCTAssertEqual(answers[0], answers[1], name, file: file, line: line)
}
