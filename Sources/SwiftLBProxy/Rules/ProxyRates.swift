import Atomics
import NIOCore

/// Events per second of one proxy, as HAProxy's freq_ctr counts those its rules read
/// (`fe_sess_rate`, `fe_req_rate`, `be_sess_rate`): the events of the current one-second
/// period plus those of the previous period weighted by the part of it still inside the last
/// second. A period starts with its first event (not on a whole second), as HAProxy's.
///
/// Every loop counts into the same three atomics: an event is one relaxed add (and, once a
/// second, the rotation of the periods by the loop that wins a compare-and-swap); a read is a
/// few relaxed loads. No lock, no per-loop state for a request to reach across loops.
final class SharedEventRate: Sendable {
    /// Start of the current period, in ms of uptime; its low bit set while one loop rotates
    /// the periods (the others add to `current` meanwhile: nothing is lost).
    private let tick = ManagedAtomic<Int>(0)
    private let current = ManagedAtomic<Int>(0)
    private let previous = ManagedAtomic<Int>(0)

    private static let period = 1000

    static var nowMs: Int { Int(NIODeadline.now().uptimeNanoseconds / 1_000_000) }

    /// One event now (update_freq_ctr).
    func add(now: Int = SharedEventRate.nowMs) {
        // Bounded: a loop waits for a rotation in progress on another (a few instructions).
        for _ in 0..<1000 {
            let start = tick.load(ordering: .relaxed)
            if now - start < Self.period {
                current.wrappingIncrement(ordering: .relaxed)
                return
            }
            if start & 1 == 0, tick.compareExchange(expected: start, desired: start | 1, ordering: .acquiring).exchanged {
                rotate(from: start, now: now)
                return
            }
        }
        current.wrappingIncrement(ordering: .relaxed)  // never reached in practice; the event is still counted
    }

    /// The current period becomes the previous one (none when two periods went by) and this
    /// event opens the new one; clears the low bit of `tick` last.
    private func rotate(from start: Int, now: Int) {
        var next = start + Self.period
        let ended = current.exchange(1, ordering: .relaxed)
        if now - next >= Self.period {
            previous.store(0, ordering: .relaxed)
            next = now
        } else {
            previous.store(ended, ordering: .relaxed)
        }
        tick.store(next & ~1, ordering: .releasing)
    }

    /// The events of the last second (read_freq_ctr): with no event in the current period and
    /// at most one in the previous, that one whole (HAProxy's flapping correction at very low
    /// rates).
    func read(now: Int = SharedEventRate.nowMs) -> Int {
        var start = 0, current = 0, previous = 0
        // A reading between two equal loads of the tick, no rotation in progress (bounded).
        for _ in 0..<100 {
            start = tick.load(ordering: .acquiring)
            current = self.current.load(ordering: .relaxed)
            previous = self.previous.load(ordering: .relaxed)
            // The two loads above must be done before the tick is read again (a seqlock's
            // reader; x86 keeps loads in order anyway, weaker CPUs need the fence).
            atomicMemoryFence(ordering: .acquiring)
            if start & 1 == 0, tick.load(ordering: .relaxed) == start { break }
        }
        var remain = start + Self.period - now
        if remain < 0 {
            // Past the current period: it is the previous one now, for what is left of it.
            remain += Self.period
            previous = remain >= 0 ? current : 0
            current = 0
        }
        if current == 0, previous <= 1 { return previous }
        return (previous * max(remain, 0) + current * Self.period) / Self.period
    }
}

/// A frontend's rates for its rules: sessions begun (counted where HAProxy's session_count_new
/// counts them: after the connection and session rules and the handshakes) and HTTP requests
/// received (also those refused as malformed).
final class FrontendRates: Sendable {
    let sessions = SharedEventRate()
    let requests = SharedEventRate()
}

extension RuntimeFrontend {
    /// A client connection became a session (its handshakes done, its session rules passed):
    /// counted for the stats page on `loop`, and in `fe_sess_rate` when a rule reads it.
    func countSessionBegun(on loop: LoopState) {
        loop.stats.frontend(counterID) { $0.sessionsBegun += 1 }
        rates?.sessions.add()
    }
}
