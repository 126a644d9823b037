import Atomics
import NIOCore

/// `balance source`: a consistent hash of the client address. Every SwiftLB instance with the
/// same server names and weights builds the same ring, so both VIP holders send a client to
/// the same server and a takeover keeps affinity without sharing any table. When a server is
/// down, only its clients move (to the next point on the ring).
final class SourceHashBalancer: Balancer {
    private let table: ManagedAtomic<BalancerTable<ConsistentHashRing>>

    init(servers: [RuntimeServer]) {
        table = ManagedAtomic(BalancerTable(ConsistentHashRing(servers)))
    }

    func reweigh(_ servers: [RuntimeServer]) {
        table.store(BalancerTable(ConsistentHashRing(servers)), ordering: .releasing)
    }

    func pick(client: SocketAddress?, key: UInt64?, isCandidate: (Int) -> Bool) -> Int? {
        table.load(ordering: .acquiring).value.server(for: stableHash((client?.ipAddress ?? "").utf8), isCandidate: isCandidate)
    }
}

/// The ring of SwiftLB's consistent hashes (`source`, `uri`, `url_param`, `hdr`): 64 points per
/// unit of weight, placed by a hash of the server's name, so that the same servers give the same
/// ring in every process and a server that goes down moves only the keys that were its own.
struct ConsistentHashRing: Sendable {
    /// (hash, server index), sorted by hash.
    private let points: [(UInt64, Int)]
    /// Servers on the ring: a pick that found none of them a candidate stops there.
    private let serverCount: Int

    init(_ servers: [RuntimeServer]) {
        var ring: [(UInt64, Int)] = []
        for server in servers where server.weight > 0 {
            for replica in 0..<(64 * server.weight) {
                ring.append((stableHash(Array("\(server.name)#\(replica)".utf8)), server.index))
            }
        }
        points = ring.sorted { $0.0 < $1.0 }
        serverCount = Set(ring.map(\.1)).count
    }

    /// The server of the first point at or after `key` (binary search) that `isCandidate`
    /// accepts, going clockwise; nil when none does.
    func server(for key: UInt64, isCandidate: (Int) -> Bool) -> Int? {
        guard !points.isEmpty else { return nil }
        var lo = 0, hi = points.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if points[mid].0 < key { lo = mid + 1 } else { hi = mid }
        }
        // Each server asked once: when every server is busy, the walk ends after them, not
        // after 64 points per unit of weight of each.
        var tried = Set<Int>()
        for offset in 0..<points.count {
            let server = points[(lo + offset) % points.count].1
            guard tried.insert(server).inserted else { continue }
            if isCandidate(server) { return server }
            if tried.count == serverCount { break }
        }
        return nil
    }
}
