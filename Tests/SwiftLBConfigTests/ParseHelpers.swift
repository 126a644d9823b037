import XCTest
@testable import SwiftLBConfig

/// Parses `text`, failing the test with every error when it does not parse.
func parseOrFail(_ text: String, file: String = "test.conf", pending: Bool = false, environment: [String: String] = [:],
                 sourceFile: StaticString = #filePath, line: UInt = #line) throws -> Configuration {
    do { return try ConfigParser.parse(text: text, file: file, acceptingPending: pending, environment: environment) } catch {
        XCTFail("unexpected errors:\n\(error)", file: sourceFile, line: line)
        throw error
    }
}

/// The errors of `text` (none when it parses).
func parseErrors(_ text: String, file: String = "test.conf", pending: Bool = false) -> [ConfigError] {
    do { _ = try ConfigParser.parse(text: text, file: file, acceptingPending: pending, environment: [:]); return [] } catch { return error.errors }
}
