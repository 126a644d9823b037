import XCTest
@testable import SwiftLBAdmin

/// Numbers at the edges of what the renderers print: a latency histogram's sum passes Int64
/// nanoseconds after ~292 years of summed requests (long WebSocket tunnels get there far
/// sooner), and converting it trapped the metrics page. Large values print as whole units, then
/// in exponent form, both valid Prometheus and JSON numbers.
final class RenderNumberTests: XCTestCase {
    func testPrometheusFloatsAtEveryMagnitude() {
        XCTAssertEqual(PrometheusWriter.format(0.00025), "0.00025")
        XCTAssertEqual(PrometheusWriter.format(2.5), "2.5")
        XCTAssertEqual(PrometheusWriter.format(60), "60")
        XCTAssertEqual(PrometheusWriter.format(1_000_000), "1000000")
        XCTAssertEqual(PrometheusWriter.format(9_300_000_000), "9300000000")
        XCTAssertEqual(PrometheusWriter.format(-9_300_000_000), "-9300000000")
        XCTAssertEqual(PrometheusWriter.format(Double(UInt64.max) / 1e9), "18446744074")
        XCTAssertEqual(PrometheusWriter.format(1e19), "1e+19")
        XCTAssertEqual(PrometheusWriter.format(.infinity), "+Inf")
        XCTAssertEqual(PrometheusWriter.format(.nan), "NaN")
    }

    func testJSONDoublesAtEveryMagnitude() {
        for (value, text) in [(1.5, "1.500"), (-0.25, "-0.250"), (9e15, "9000000000000000"), (1e19, "1e+19"), (-1e19, "-1e+19")] {
            let w = JSONWriter()
            w.double(value)
            XCTAssertEqual(w.text, text, "\(value)")
        }
    }
}
