import XCTest
@testable import SwiftLBConfig

/// Numbers at and past the 64-bit range in lb.conf: read as HAProxy reads them (strtol clamps,
/// suffixed sizes that do not fit are refused), never an arithmetic trap. Found by a sweep of
/// such values through `swiftlb check` over every numeric keyword.
final class HugeNumberTests: XCTestCase {
    func testCIntegerClampsAsStrtol() {
        for (text, value, rest) in [("9223372036854775807", Int.max, ""), ("9223372036854775808", Int.max, ""),
                                    ("99999999999999999999999", Int.max, ""), ("-9223372036854775808", Int.min, ""),
                                    ("-9223372036854775809", Int.min, ""), ("-99999999999999999999999", Int.min, ""),
                                    ("0x7fffffffffffffff", Int.max, ""), ("0xffffffffffffffffff", Int.max, ""),
                                    ("-0x8000000000000000", Int.min, ""), ("-12", -12, ""), ("017", 15, ""), ("10k", 10, "k")] {
            let (parsed, left) = cInteger(text)
            XCTAssertEqual(parsed, value, text)
            XCTAssertEqual(String(left), rest, text)
        }
    }

    func testMaxKeepAliveQueueTakesAnyNumberStrtolReads() throws {
        for text in ["-9223372036854775808", "-9223372036854775809", "9223372036854775808"] {
            let config = try parseOrFail("""
                defaults
                    mode http
                    timeout client 5s
                    timeout server 5s
                    timeout connect 5s
                backend b
                    max-keep-alive-queue \(text)
                    server s 127.0.0.1:80
                """)
            XCTAssertEqual(config.backends["b"]?.options.maxKeepAliveQueue, text.hasPrefix("-") ? Int.min : Int.max, text)
        }
    }
}
