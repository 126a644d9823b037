import XCTest
@testable import SwiftLBConfig

/// `compression algo|type|offload` and `filter compression`, read as HAProxy 2.6 reads them:
/// each algorithm goes in front of the list (the one inherited from `defaults` too), `offload`
/// is ignored with a warning in `defaults`, one compression filter per proxy.
final class CompressionKeywordTests: XCTestCase {
    private let head = "defaults\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\n"

    func testAlgorithmsTypesAndInheritance() throws {
        let config = try parseOrFail(head + """
                compression algo gzip deflate
                compression type text/html
            frontend f
                bind 127.0.0.1:80
                compression algo raw-deflate
                compression offload
                filter compression
                default_backend b
            backend b
                compression type application/json text/plain
                server s 127.0.0.1:81
            """)
        let f = try XCTUnwrap(config.frontends.first?.options.compression)
        XCTAssertEqual(f.algorithms, [.rawDeflate, .deflate, .gzip], "prepended, after the inherited ones as HAProxy's list")
        XCTAssertEqual(f.types, ["text/html"])
        XCTAssertTrue(f.offload)
        XCTAssertNotNil(f.filterLine)
        let b = try XCTUnwrap(config.backends["b"]?.options.compression)
        XCTAssertEqual(b.algorithms, [.deflate, .gzip])
        XCTAssertEqual(b.types, ["text/plain", "application/json", "text/html"])
        XCTAssertFalse(b.offload)
        XCTAssertTrue(config.warnings.isEmpty, "\(config.warnings)")
        XCTAssertNil(try parseOrFail(head + "frontend f\n    bind 127.0.0.1:80\n    default_backend b\nbackend b\n    server s 127.0.0.1:81\n")
            .frontends[0].options.compression, "no compression, nothing to do per request")
    }

    func testOffloadInDefaultsIsIgnoredWithAWarning() throws {
        let config = try parseOrFail(head + "    compression algo gzip\n    compression offload\nbackend b\n    server s 127.0.0.1:81\n")
        XCTAssertEqual(config.backends["b"]?.options.compression?.offload, false)
        XCTAssertEqual(config.warnings.map(\.line), [6])
        XCTAssertTrue(config.warnings.first?.message.contains("ignored in a 'defaults' section") == true, "\(config.warnings)")
    }

    func testBadLinesNameTheirLineAndKeyword() {
        let backend = head + "backend b\n    server s 127.0.0.1:81\n"
        for (line, words) in [
            ("    compression algo br", "'br' is not a supported algorithm"),
            ("    compression algo", "expects <algorithm>"),
            ("    compression type", "expects <type>"),
            ("    compression offload now", "takes no argument"),
            ("    compression level 9", "unknown"),
            ("    filter compression\n    filter compression", "only one compression filter"),
            ("    filter trace", "SwiftLB's only filter is 'filter compression'"),
        ] {
            let errors = parseErrors(backend + line + "\n")
            XCTAssertEqual(errors.count, 1, "\(line): \(errors)")
            XCTAssertTrue(errors.first?.description.contains(words) == true, "\(line): \(errors)")
            XCTAssertEqual(errors.first?.line, line.contains("\n") ? 8 : 7, "\(line): \(errors)")
        }
        XCTAssertFalse(parseErrors(head + "    filter compression\nbackend b\n    server s 127.0.0.1:81\n").isEmpty, "no filter in defaults (HAProxy: FLB)")
    }
}
