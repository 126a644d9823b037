import Atomics
import NIOCore

/// `hash-type map-based` (HAProxy's default) for `balance source|uri|url_param|hdr`: a table
/// with each server taking traffic as many times as its weight (divided by the weights' common
/// divisor), interleaved as HAProxy's `recalc_server_map` does, and the key's server at
/// `key % table size` (`map_get_server_hash`) — the same server HAProxy picks for the same key.
/// A server going down or up rebuilds the table: most keys move. Without a key (the request
/// lacks the part hashed) the table is walked round robin (`map_get_server_rr`).
final class MapHashBalancer: Balancer {
    private let cache: HashTableCache<ServerMap>
    private let cursor = ManagedAtomic<Int>(0)

    init(servers: [RuntimeServer]) {
        let divisor = ServerMap.divisor(servers.map(\.parameters.weight))
        cache = HashTableCache(servers) { servers, tier in
            ServerMap(weights: servers.indices.map { tier.members[$0] ? (servers[$0].weight + divisor - 1) / divisor : 0 })
        }
    }

    func reweigh(_ servers: [RuntimeServer]) { cache.rebuild() }

    func pick(client: SocketAddress?, key: UInt32?, isCandidate: (Int) -> Bool) -> Int? {
        let map = cache.table
        guard !map.slots.isEmpty else { return nil }
        let start = key.map { Int($0 % UInt32(map.slots.count)) }
            ?? (cursor.loadThenWrappingIncrement(ordering: .relaxed) & Int.max) % map.slots.count
        return firstCandidate(in: map.slots, from: start, servers: map.serverCount, isCandidate: isCandidate)
    }
}

/// HAProxy's server map: server indexes, each as many times as its effective weight.
struct ServerMap: Sendable {
    let slots: [Int]
    let serverCount: Int

    /// `init_server_map`: the greatest common divisor of the configured weights (those above
    /// 0), by which every weight is divided to keep the map small.
    static func divisor(_ weights: [Int]) -> Int {
        func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
        return max(weights.filter { $0 > 0 }.reduce(0, gcd), 1)
    }

    /// `recalc_server_map`: for each slot, every server gains its weight of score, and the one
    /// with the best `(score + total) / total` (the first declared on a tie) takes the slot and
    /// gives back the total. `weights[i]`: server i's effective weight (0: not in the map).
    init(weights: [Int]) {
        let total = weights.reduce(0, +)
        var score = [Int](repeating: 0, count: weights.count)
        var slots: [Int] = []
        slots.reserveCapacity(total)
        for _ in 0..<total {
            var best = -1, bestValue = 0
            for (i, weight) in weights.enumerated() where weight > 0 {
                // One slot: the first server, without the division (HAProxy's shortcut).
                if total == 1 { best = i; break }
                score[i] += weight
                let value = (score[i] + total) / total
                if best < 0 || value > bestValue { (best, bestValue) = (i, value) }
            }
            slots.append(best)
            score[best] -= total
        }
        self.slots = slots
        serverCount = weights.filter { $0 > 0 }.count
    }
}
