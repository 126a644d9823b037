import Atomics
import NIOCore

/// Ties the VIP to the proxy being useful: every proxy event loop is asked, once per advert
/// interval of each instance, to stamp the time; a loop whose stamp is older than the
/// instance's limit (3 × advert_int, at least 100 ms) is wedged, and the instance goes FAULT
/// — a wedged proxy loses the VIP like a dead one. One probe serves every instance of the
/// group (their pings only refresh the same stamps).
final class LoopProbe: Sendable {
    private let loops: [any EventLoop]
    /// Uptime (ns) at which each loop last ran the probe.
    private let answers: [ManagedAtomic<UInt64>]

    init(loops: [any EventLoop]) {
        self.loops = loops
        let now = NIODeadline.now().uptimeNanoseconds
        self.answers = loops.map { _ in ManagedAtomic(now) }
    }

    /// A fault reason for each loop that has not answered within `limit` nanoseconds.
    func lateLoops(limit: UInt64) -> [String] {
        let now = NIODeadline.now().uptimeNanoseconds
        return answers.enumerated().compactMap { index, answered in
            let at = answered.load(ordering: .relaxed)
            guard now > at && now - at > limit else { return nil }
            return "proxy event loop \(index) has not answered for \((now - at) / 1_000_000) ms"
        }
    }

    /// Asks every loop to stamp the time.
    func ping() {
        for (loop, answered) in zip(loops, answers) {
            loop.execute { answered.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed) }
        }
    }
}
