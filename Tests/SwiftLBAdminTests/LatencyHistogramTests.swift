import NIOCore
import NIOPosix
import SwiftLBAdmin
import XCTest

/// The per-loop histogram and rate counter: bucket edges, merging, quantile estimates.
final class LatencyHistogramTests: XCTestCase {
    func testBucketEdges() {
        var h = LatencyHistogram()
        h.record(nanoseconds: 100_000)          // exactly the first bound: first bucket (le is inclusive)
        h.record(nanoseconds: 100_001)          // just above: second
        h.record(nanoseconds: 0)
        h.record(nanoseconds: 61_000_000_000)   // beyond the last bound: +Inf only
        XCTAssertEqual(h.counts[0], 2)
        XCTAssertEqual(h.counts[1], 1)
        XCTAssertEqual(h.counts.last, 1)
        XCTAssertEqual(h.count, 4)
        XCTAssertEqual(h.cumulativeCounts.last, 4)
        XCTAssertEqual(h.cumulativeCounts[LatencyHistogram.boundsNanoseconds.count - 1], 3, "le=60 excludes the 61 s one")
        XCTAssertEqual(h.maxNanoseconds, 61_000_000_000)
        XCTAssertEqual(h.sumNanoseconds, 61_000_200_001)
    }

    func testMergeOfLoopsEqualsOneHistogram() {
        let samples: [UInt64] = (0..<1000).map { UInt64($0 * $0 * 997 % 3_000_000_000) }
        var whole = LatencyHistogram(), a = LatencyHistogram(), b = LatencyHistogram()
        for (i, s) in samples.enumerated() {
            whole.record(nanoseconds: s)
            if i % 3 == 0 { a.record(nanoseconds: s) } else { b.record(nanoseconds: s) }
        }
        a.merge(b)
        XCTAssertEqual(a, whole)
        XCTAssertEqual(LatencyHistogram.merged([LatencyHistogram(), whole]), whole)
        XCTAssertNil(LatencyHistogram.merged([LatencyHistogram]()))
    }

    func testQuantilesStayInsideTheRightBucketAndBelowTheMaximum() {
        XCTAssertNil(LatencyHistogram().quantileNanoseconds(0.5))
        var h = LatencyHistogram()
        for ms in 1...100 { h.record(nanoseconds: UInt64(ms) * 1_000_000) }
        let p50 = h.quantileNanoseconds(0.5)!, p90 = h.quantileNanoseconds(0.9)!, p99 = h.quantileNanoseconds(0.99)!
        XCTAssertTrue((25_000_000...50_000_000).contains(p50), "the 50th of 1…100 ms lies in (25, 50] ms: \(p50)")
        XCTAssertTrue((50_000_000...100_000_000).contains(p90))
        XCTAssertLessThanOrEqual(p90, p99)
        XCTAssertLessThanOrEqual(p99, h.maxNanoseconds)
        XCTAssertEqual(h.quantileNanoseconds(1), 100_000_000)
        var one = LatencyHistogram()
        one.record(nanoseconds: 3_000_000)
        XCTAssertEqual(one.quantileMilliseconds(0.5), 3, "never above the observed maximum")
    }

    /// The intended use: each event loop records into its own copy with no lock; a snapshot
    /// gathers the copies from their loops and merges them.
    func testPerLoopRecordingThenMerge() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let loops = Array(group.makeIterator())
        var perLoop: [NIOLoopBoundBox<LatencyHistogram>] = []
        for loop in loops { perLoop.append(try await loop.submit { NIOLoopBoundBox(LatencyHistogram(), eventLoop: loop) }.get()) }
        let boxes = perLoop
        for (i, loop) in loops.enumerated() {
            try await loop.submit {
                for n in 0..<10_000 { boxes[i].value.record(nanoseconds: UInt64(n % 500) * 1_000 + UInt64(i)) }
            }.get()
        }
        var copies: [LatencyHistogram] = []
        for (i, loop) in loops.enumerated() { copies.append(try await loop.submit { boxes[i].value }.get()) }
        try await group.shutdownGracefully()
        let merged = LatencyHistogram.merged(copies)!
        XCTAssertEqual(merged.count, 20_000)
        XCTAssertEqual(merged.cumulativeCounts.last, 20_000)
    }

    func testRateCounter() {
        var r = RateCounter()
        let t0: UInt64 = 1_000 * 1_000_000_000
        for _ in 0..<30 { r.record(atNanoseconds: t0 + 100_000_000) }
        XCTAssertEqual(r.rate(atNanoseconds: t0 + 900_000_000), 30)
        // Half-way through the next second, half of the previous second still counts.
        XCTAssertEqual(r.rate(atNanoseconds: t0 + 1_500_000_000), 15)
        r.record(10, atNanoseconds: t0 + 1_500_000_000)
        XCTAssertEqual(r.rate(atNanoseconds: t0 + 1_500_000_000), 25)
        XCTAssertEqual(r.rate(atNanoseconds: t0 + 5_000_000_000), 0, "quiet seconds later")
        XCTAssertEqual(r.max, 30)
        var other = RateCounter()
        other.record(5, atNanoseconds: t0 + 1_200_000_000)
        var merged = r
        merged.merge(other, atNanoseconds: t0 + 1_500_000_000)
        XCTAssertEqual(merged.rate(atNanoseconds: t0 + 1_500_000_000), 30)
    }
}
