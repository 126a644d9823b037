import Atomics
import NIOCore

/// `hash-type consistent` for `balance source|uri|url_param|hdr`, as HAProxy's lb_chash.c:
/// each server taking traffic has weight × 16 points on a 32-bit ring, point j of the server
/// whose id (`id N`, else HAProxy's number for it) is P at `full_hash(P × 4096 + j)`, and a
/// key goes to the point nearest to it, before or after (`chash_get_server_hash`) — the same
/// server HAProxy picks. A server going down takes only its own points away. With
/// `hash-balance-factor`, a server over its share of the load passes the key on to the next
/// point (bounded loads). Without a key the ring is walked round robin (`chash_get_next_server`).
final class ConsistentHashBalancer: Balancer {
    private let lookup: RingLookup
    private let cursor = ManagedAtomic<Int>(0)

    init(servers: [RuntimeServer], balanceFactor: Int) {
        lookup = RingLookup(servers: servers, balanceFactor: balanceFactor)
    }

    func reweigh(_ servers: [RuntimeServer]) { lookup.rebuild() }

    func pick(client: SocketAddress?, key: UInt32?, isCandidate: (Int) -> Bool) -> Int? {
        guard let ring = lookup.ring else { return nil }
        guard let key else {
            let start = (cursor.loadThenWrappingIncrement(ordering: .relaxed) & Int.max) % ring.keys.count
            return firstCandidate(in: ring.owners, from: start, servers: ring.serverCount, isCandidate: isCandidate)
        }
        return lookup.server(at: ring.nearest(to: key), on: ring, isCandidate: isCandidate)
    }
}
