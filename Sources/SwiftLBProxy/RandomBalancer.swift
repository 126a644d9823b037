import Atomics
import NIOCore

/// `balance random(N)`, as HAProxy's `get_server_rnd`: N random points of the consistent-hash
/// ring (`HashRing`: weight × 16 points per server), so a server is drawn in proportion to
/// its weight, and of the servers drawn the least loaded per unit of weight ("power of two
/// choices" for N = 2; on a tie the later draw). `hash-balance-factor` bounds the loads as for
/// `hash-type consistent` (HAProxy's documented use of it). The random source is a shared
/// counter run through a mixing function — cheap, lock-free, and random enough for spreading
/// load (not for anything secret).
final class RandomBalancer: Balancer {
    private let servers: [RuntimeServer]
    private let draws: Int
    private let lookup: RingLookup
    private let counter = ManagedAtomic<UInt64>(UInt64.random(in: 0...UInt64.max))

    init(servers: [RuntimeServer], draws: Int, balanceFactor: Int = 0) {
        self.servers = servers
        self.draws = draws
        lookup = RingLookup(servers: servers, balanceFactor: balanceFactor)
    }

    func reweigh(_ servers: [RuntimeServer]) { lookup.rebuild() }

    func pick(client: SocketAddress?, key: UInt32?, isCandidate: (Int) -> Bool) -> Int? {
        guard let ring = lookup.ring else { return nil }
        var best: Int?
        for _ in 0..<draws {
            let x = mix64(counter.loadThenWrappingIncrement(by: 0x9E37_79B9_7F4A_7C15, ordering: .relaxed))
            let point = ring.nearest(to: UInt32(truncatingIfNeeded: x >> 32))
            guard let drawn = lookup.server(at: point, on: ring, isCandidate: isCandidate) else { return nil }
            // HAProxy keeps the earlier draw only when the new one is more loaded per weight.
            if let previous = best, previous != drawn,
               servers[drawn].active.load(ordering: .relaxed) * servers[previous].weight
                > servers[previous].active.load(ordering: .relaxed) * servers[drawn].weight {
                continue
            }
            best = drawn
        }
        return best
    }
}
