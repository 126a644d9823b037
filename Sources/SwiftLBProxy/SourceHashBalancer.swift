import Atomics
import NIOCore

/// `balance source`: a consistent hash of the client address. Every SwiftLB instance with the
/// same server names and weights builds the same ring, so both VIP holders send a client to
/// the same server and a takeover keeps affinity without sharing any table. When a server is
/// down, only its clients move (to the next point on the ring).
final class SourceHashBalancer: Balancer {
    /// Points on the ring (hash, server index), sorted by hash; 64 points per unit of weight.
    private let table: ManagedAtomic<BalancerTable<[(UInt64, Int)]>>

    init(servers: [RuntimeServer]) {
        table = ManagedAtomic(BalancerTable(Self.ring(servers)))
    }

    func reweigh(_ servers: [RuntimeServer]) {
        table.store(BalancerTable(Self.ring(servers)), ordering: .releasing)
    }

    private static func ring(_ servers: [RuntimeServer]) -> [(UInt64, Int)] {
        var ring: [(UInt64, Int)] = []
        for server in servers where server.weight > 0 {
            for replica in 0..<(64 * server.weight) {
                ring.append((stableHash(Array("\(server.name)#\(replica)".utf8)), server.index))
            }
        }
        return ring.sorted { $0.0 < $1.0 }
    }

    func pick(client: SocketAddress?, isCandidate: (Int) -> Bool) -> Int? {
        let ring = table.load(ordering: .acquiring).value
        guard !ring.isEmpty else { return nil }
        let key = stableHash(Array((client?.ipAddress ?? "").utf8))
        // First point at or after the key (binary search), then clockwise to a candidate.
        var lo = 0, hi = ring.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ring[mid].0 < key { lo = mid + 1 } else { hi = mid }
        }
        var tried = Set<Int>()
        for offset in 0..<ring.count {
            let server = ring[(lo + offset) % ring.count].1
            if isCandidate(server) { return server }
            tried.insert(server)
            if tried.count == ring.count { break }
        }
        return nil
    }
}
