import Foundation
import XCTest
@testable import SwiftLBProxy

/// Replays the fuzz corpus (Tests/fixtures/fuzz-corpus: the seeds, and inputs scripts/fuzz.sh
/// found interesting or that once crashed) through the same target libFuzzer runs, so every
/// finding stays a regression test.
final class FuzzCorpusTests: XCTestCase {
    func testTheHTTP1CorpusRunsClean() throws {
        let directory = Paths.fixtures.appendingPathComponent("fuzz-corpus/http1")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        XCTAssertGreaterThan(files.count, 5)
        for file in files {
            let data = try Data(contentsOf: directory.appendingPathComponent(file))
            data.withUnsafeBytes { CodecFuzzing.run($0) }
        }
    }
}
