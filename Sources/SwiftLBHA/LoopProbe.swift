import Atomics
import NIOCore

/// Ties the VIP to the proxy being useful: every proxy event loop is asked, once per advert
/// interval of each instance, to answer a ping; a loop that leaves a ping unanswered for
/// longer than the instance's limit (3 × advert_int, at least 100 ms) is wedged, and the
/// instance goes FAULT — a wedged proxy loses the VIP like a dead one. One probe serves every
/// instance of the group (a ping already outstanding is not sent again).
///
/// What is measured is how long the *oldest unanswered ping* has waited, not how long ago a
/// loop last answered: the latter also grows when the VRRP loop itself runs late (a machine
/// short of CPU delays its timer), which turned a starved observer into a FAULT and moved the
/// VIP away from a proxy that was serving.
final class LoopProbe: Sendable {
    private let loops: [any EventLoop]
    /// Per loop, the uptime (ns) at which its outstanding ping was sent; 0 once answered.
    private let pendingSince: [ManagedAtomic<UInt64>]
    private let clock: @Sendable () -> UInt64

    init(loops: [any EventLoop], clock: @escaping @Sendable () -> UInt64 = { NIODeadline.now().uptimeNanoseconds }) {
        self.loops = loops
        self.clock = clock
        self.pendingSince = loops.map { _ in ManagedAtomic(0) }
    }

    /// A fault reason for each loop whose ping has waited longer than `limit` nanoseconds.
    func lateLoops(limit: UInt64) -> [String] {
        let now = clock()
        return pendingSince.enumerated().compactMap { index, pending in
            let since = pending.load(ordering: .acquiring)
            guard since != 0, now > since, now - since > limit else { return nil }
            return "proxy event loop \(index) has not answered for \((now - since) / 1_000_000) ms"
        }
    }

    /// Pings every loop that has no ping outstanding.
    func ping() {
        let now = max(clock(), 1)
        for (loop, pending) in zip(loops, pendingSince) where pending.compareExchange(expected: 0, desired: now, ordering: .acquiringAndReleasing).exchanged {
            loop.execute { pending.store(0, ordering: .releasing) }
        }
    }
}
