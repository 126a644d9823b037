import Atomics
import NIOCore

/// `balance random(N)`: draw N candidates at random and take the least loaded ("power of two
/// choices" for N = 2): nearly leastconn's spread with no global scan. The random source is a
/// shared counter run through a mixing function — cheap, lock-free, and random enough for
/// spreading load (not for anything secret).
final class RandomBalancer: Balancer {
    private let servers: [RuntimeServer]
    private let draws: Int
    private let counter = ManagedAtomic<UInt64>(UInt64.random(in: 0...UInt64.max))

    init(servers: [RuntimeServer], draws: Int) {
        self.servers = servers
        self.draws = draws
    }

    func pick(client: SocketAddress?, key: UInt32?, isCandidate: (Int) -> Bool) -> Int? {
        let candidates = servers.indices.filter(isCandidate)
        guard !candidates.isEmpty else { return nil }
        var best: Int?
        for _ in 0..<draws {
            let x = mix64(counter.loadThenWrappingIncrement(by: 0x9E37_79B9_7F4A_7C15, ordering: .relaxed))
            let i = candidates[Int(x % UInt64(candidates.count))]
            if best == nil || servers[i].active.load(ordering: .relaxed) * max(servers[best!].weight, 1)
                < servers[best!].active.load(ordering: .relaxed) * max(servers[i].weight, 1) {
                best = i
            }
        }
        return best
    }
}
