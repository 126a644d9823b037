@testable import SwiftLBProxy
import XCTest

/// HAProxy's freq_ctr arithmetic (freq_ctr.c, freq_ctr.h) on a clock the test sets: the
/// events of the current second, plus the previous second's for the part of it still inside
/// the last second.
final class SharedEventRateTests: XCTestCase {
    func testCurrentPeriodCountsWhole() {
        let rate = SharedEventRate()
        XCTAssertEqual(rate.read(now: 50_000), 0)
        for ms in stride(from: 50_000, to: 50_900, by: 100) { rate.add(now: ms) }
        XCTAssertEqual(rate.read(now: 50_950), 9, "the period started with the first event")
    }

    func testPreviousPeriodIsProrated() {
        let rate = SharedEventRate()
        for _ in 0..<10 { rate.add(now: 10_000) }
        rate.add(now: 11_000)  // opens the next period: 10 behind it
        XCTAssertEqual(rate.read(now: 11_000), 11, "all of the previous period still inside the last second")
        XCTAssertEqual(rate.read(now: 11_250), 8, "three quarters of 10, plus 1")
        XCTAssertEqual(rate.read(now: 11_999), 1)
        // No event since: the current period has become the previous one.
        XCTAssertEqual(rate.read(now: 12_500), 1, "1 left: HAProxy's flapping correction reads it whole")
        XCTAssertEqual(rate.read(now: 13_000), 1, "HAProxy's last millisecond of it too")
        XCTAssertEqual(rate.read(now: 13_001), 0)
    }

    func testAGapOfTwoPeriodsForgetsTheOldOne() {
        let rate = SharedEventRate()
        for _ in 0..<5 { rate.add(now: 20_000) }
        rate.add(now: 22_500)
        XCTAssertEqual(rate.read(now: 22_500), 1, "the 5 are more than a second old")
        for _ in 0..<3 { rate.add(now: 23_000) }
        XCTAssertEqual(rate.read(now: 23_000), 4, "the period started at 22 500")
    }

    /// Threads adding at once within a period lose no event.
    func testConcurrentAddsAreAllCounted() {
        let rate = SharedEventRate()
        let now = SharedEventRate.nowMs
        rate.add(now: now)  // opens the period
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            for _ in 0..<10_000 { rate.add(now: now) }
        }
        XCTAssertEqual(rate.read(now: now), 40_001)
    }
}
