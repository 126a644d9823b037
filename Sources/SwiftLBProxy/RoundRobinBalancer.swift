import Atomics
import NIOCore

/// Weighted round robin, process-wide and lock-free.
///
/// The order is precomputed once with the smooth weighted round-robin rule (nginx's; HAProxy's
/// `roundrobin` spreads the same way): weights 5:1:1 give a,a,b,a,c,a,a rather than a burst of
/// five a's. Each pick takes the next slot with one atomic increment, so consecutive requests
/// go to consecutive slots whichever event loop they arrive on, and a failed server is not
/// picked again by the very next request. Down servers are skipped in place, so the others
/// keep their relative weights.
final class RoundRobinBalancer: Balancer {
    private let table: ManagedAtomic<BalancerTable<[Int]>>
    private let next = ManagedAtomic<Int>(0)

    init(weights: [Int]) {
        table = ManagedAtomic(BalancerTable(Self.schedule(weights)))
    }

    func reweigh(_ servers: [RuntimeServer]) {
        table.store(BalancerTable(Self.schedule(servers.map(\.weight))), ordering: .releasing)
    }

    private static func schedule(_ weights: [Int]) -> [Int] {
        var scores = [Int](repeating: 0, count: weights.count)
        let total = weights.reduce(0, +)
        var schedule: [Int] = []
        schedule.reserveCapacity(total)
        for _ in 0..<total {
            var best = -1
            for i in weights.indices where weights[i] > 0 {
                scores[i] += weights[i]
                if best < 0 || scores[i] > scores[best] { best = i }
            }
            scores[best] -= total
            schedule.append(best)
        }
        return schedule
    }

    func pick(client: SocketAddress?, key: UInt32?, isCandidate: (Int) -> Bool) -> Int? {
        let schedule = table.load(ordering: .acquiring).value
        guard !schedule.isEmpty else { return nil }
        let start = next.loadThenWrappingIncrement(ordering: .relaxed) & Int.max
        // Walk on from our slot; one lap sees every server.
        for offset in 0..<schedule.count {
            let server = schedule[(start &+ offset) % schedule.count]
            if isCandidate(server) { return server }
        }
        return nil
    }
}
