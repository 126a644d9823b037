import Atomics
import NIOCore

/// `balance leastconn`: the candidate with the fewest requests in flight relative to its
/// weight. Right for long-lived sessions (WebSockets, long polls), where round robin piles
/// them up unevenly. Ties rotate so that an idle farm is still used in turn.
final class LeastConnBalancer: Balancer {
    private let servers: [RuntimeServer]
    private let rotation = ManagedAtomic<Int>(0)

    init(servers: [RuntimeServer]) { self.servers = servers }

    func pick(client: SocketAddress?, key: UInt32?, isCandidate: (Int) -> Bool) -> Int? {
        guard !servers.isEmpty else { return nil }
        let start = rotation.loadThenWrappingIncrement(ordering: .relaxed) & Int.max
        var best: Int?
        var bestLoad = 0, bestWeight = 1
        for offset in 0..<servers.count {
            let i = (start &+ offset) % servers.count
            guard isCandidate(i) else { continue }
            let load = servers[i].active.load(ordering: .relaxed)
            let weight = max(servers[i].weight, 1)
            // load/weight < bestLoad/bestWeight, without division.
            if best == nil || load * bestWeight < bestLoad * weight {
                best = i
                bestLoad = load
                bestWeight = weight
            }
        }
        return best
    }
}
