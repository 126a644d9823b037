/// A latency histogram with fixed bucket bounds, made for the data path: each event loop owns
/// one per frontend/backend/server and records into it with plain integer increments (no
/// lock, no atomic, no allocation after init); a snapshot merges the loops' copies by adding
/// counts. Fixed bounds make the merge a loop over a few integers and give Prometheus the
/// same `le` labels on every scrape.
///
/// The bounds run from 100 µs (a loopback request) to 60 s (a slow upload), roughly three per
/// decade. Percentiles are estimated by linear interpolation inside a bucket; the exact
/// maximum is kept apart.
public struct LatencyHistogram: Sendable, Equatable {
    /// Upper bounds of the buckets, in nanoseconds, ascending. A value lands in the first
    /// bucket whose bound is >= the value; above the last bound it lands in the overflow
    /// (`+Inf`) bucket.
    public static let boundsNanoseconds: [UInt64] = [
        100_000, 250_000, 500_000,
        1_000_000, 2_500_000, 5_000_000,
        10_000_000, 25_000_000, 50_000_000,
        100_000_000, 250_000_000, 500_000_000,
        1_000_000_000, 2_500_000_000, 5_000_000_000,
        10_000_000_000, 30_000_000_000, 60_000_000_000,
    ]

    /// Per-bucket counts (not cumulative); the last element is the overflow bucket.
    public private(set) var counts: [UInt64]
    public private(set) var count: UInt64 = 0
    public private(set) var sumNanoseconds: UInt64 = 0
    public private(set) var maxNanoseconds: UInt64 = 0

    public init() {
        counts = Array(repeating: 0, count: Self.boundsNanoseconds.count + 1)
    }

    /// Records one observation.
    public mutating func record(nanoseconds: UInt64) {
        var i = 0
        let bounds = Self.boundsNanoseconds
        while i < bounds.count && nanoseconds > bounds[i] { i += 1 }
        counts[i] &+= 1
        count &+= 1
        sumNanoseconds &+= nanoseconds
        if nanoseconds > maxNanoseconds { maxNanoseconds = nanoseconds }
    }

    /// Adds another loop's histogram to this one.
    public mutating func merge(_ other: LatencyHistogram) {
        for i in counts.indices { counts[i] &+= other.counts[i] }
        count &+= other.count
        sumNanoseconds &+= other.sumNanoseconds
        maxNanoseconds = max(maxNanoseconds, other.maxNanoseconds)
    }

    /// The merge of several histograms (nil when there are none).
    public static func merged<S: Sequence>(_ histograms: S) -> LatencyHistogram? where S.Element == LatencyHistogram {
        var result: LatencyHistogram?
        for h in histograms {
            if result == nil { result = h } else { result!.merge(h) }
        }
        return result
    }

    /// Cumulative counts per bound, Prometheus's `_bucket{le=…}` (the last one is `+Inf`).
    public var cumulativeCounts: [UInt64] {
        var running: UInt64 = 0
        return counts.map { running &+= $0; return running }
    }

    /// The estimated `q`-quantile (0...1) in nanoseconds; nil when empty. Interpolates inside
    /// the bucket, never above the observed maximum.
    public func quantileNanoseconds(_ q: Double) -> UInt64? {
        guard count > 0 else { return nil }
        let rank = max(1, (Double(count) * min(max(q, 0), 1)).rounded(.up))
        var below: UInt64 = 0
        for (i, n) in counts.enumerated() where n > 0 {
            if Double(below + n) >= rank {
                let lower = i == 0 ? 0 : Double(Self.boundsNanoseconds[i - 1])
                let upper = i < Self.boundsNanoseconds.count ? Double(Self.boundsNanoseconds[i]) : Double(maxNanoseconds)
                let fraction = (rank - Double(below)) / Double(n)
                let estimate = lower + (min(upper, Double(maxNanoseconds)) - lower) * fraction
                return min(UInt64(max(estimate, 0)), maxNanoseconds)
            }
            below += n
        }
        return maxNanoseconds
    }

    /// Milliseconds, for the page and JSON.
    public func quantileMilliseconds(_ q: Double) -> Double? {
        quantileNanoseconds(q).map { Double($0) / 1_000_000 }
    }
}

/// HAProxy's per-second event rate (`freq_ctr`): the count of the current second plus the
/// previous second's, weighted by what is left of the current one. Like the histogram it is
/// a plain value that one event loop updates and a snapshot merges.
public struct RateCounter: Sendable, Equatable {
    private var second: Int64 = 0
    private var current: Int = 0
    private var previous: Int = 0
    /// The highest one-second rate seen, updated when a second ends.
    public private(set) var max = 0

    public init() {}

    /// Counts `n` events at `nanoseconds` (a monotonic clock).
    public mutating func record(_ n: Int = 1, atNanoseconds now: UInt64) {
        roll(to: Int64(now / 1_000_000_000))
        current += n
        max = Swift.max(max, rate(atNanoseconds: now))
    }

    /// Events over the last second at `now`.
    public func rate(atNanoseconds now: UInt64) -> Int {
        let s = Int64(now / 1_000_000_000)
        let elapsed = Double(now % 1_000_000_000) / 1_000_000_000
        switch s - second {
        case 0: return current + Int((Double(previous) * (1 - elapsed)).rounded(.down))
        case 1: return Int((Double(current) * (1 - elapsed)).rounded(.down))
        default: return 0
        }
    }

    /// Adds another loop's counter (both read at the same `now`).
    public mutating func merge(_ other: RateCounter, atNanoseconds now: UInt64) {
        let s = Int64(now / 1_000_000_000)
        var a = self, b = other
        a.roll(to: s)
        b.roll(to: s)
        a.current += b.current
        a.previous += b.previous
        a.max = Swift.max(a.max, b.max)
        self = a
    }

    private mutating func roll(to s: Int64) {
        if s == second { return }
        previous = s - second == 1 ? current : 0
        current = 0
        second = s
    }
}
