import Atomics

/// What `hash-type consistent` and `balance random` share: the ring of the servers taking
/// traffic now, and the walk from a point on it that `hash-balance-factor` bounds.
struct RingLookup: Sendable {
    private let servers: [RuntimeServer]
    /// `hash-balance-factor` (0: none).
    private let balanceFactor: Int
    private let cache: HashTableCache<HashRing>

    init(servers: [RuntimeServer], balanceFactor: Int) {
        self.servers = servers
        self.balanceFactor = balanceFactor
        cache = HashTableCache(servers) { servers, tier in
            HashRing(ids: servers.map(\.sid), weights: servers.indices.map { tier.members[$0] ? servers[$0].weight * 16 : 0 })
        }
    }

    /// The ring now (weight × 16 points per server, HAProxy's effective weight); nil when no
    /// server takes traffic.
    var ring: HashRing? {
        let ring = cache.table
        return ring.keys.isEmpty ? nil : ring
    }

    /// A weight changed: the ring is built again.
    func rebuild() { cache.rebuild() }

    /// The server of the point at `start`, or on from there the first that `isCandidate`
    /// accepts and, with a `balanceFactor`, that has room (HAProxy's `chash_get_server_hash`).
    func server(at start: Int, on ring: HashRing, isCandidate: (Int) -> Bool) -> Int? {
        guard balanceFactor > 0 else { return firstCandidate(in: ring.owners, from: start, servers: ring.serverCount, isCandidate: isCandidate) }
        let served = servers.reduce(0) { $0 + $1.active.load(ordering: .relaxed) }
        return firstCandidate(in: ring.owners, from: start, servers: ring.serverCount) { i in
            isCandidate(i) && ring.hasRoom(i, serving: servers[i].active.load(ordering: .relaxed), backendServing: served, factor: balanceFactor)
        }
    }
}

/// HAProxy's consistent-hash tree as a sorted array: point keys and the server of each.
struct HashRing: Sendable {
    let keys: [UInt32]
    let owners: [Int]
    let serverCount: Int
    /// Per server: its weight on the ring (0: not on it) and the weights of the servers on it
    /// declared before it (`cumulative_weight`), for bounded loads.
    private let weights: [Int]
    private let weightBefore: [Int]
    private let totalWeight: Int

    /// `ids[i]`, `weights[i]`: server i's id and effective weight (its number of points).
    init(ids: [Int], weights: [Int]) {
        var points: [(key: UInt32, owner: Int)] = []
        for (i, weight) in weights.enumerated() {
            let base = UInt32(truncatingIfNeeded: ids[i]) &* 4096
            for j in 0..<weight { points.append((SampleHash.avalanche(base &+ UInt32(j)), i)) }
        }
        points.sort { $0.key < $1.key }
        keys = points.map(\.key)
        owners = points.map(\.owner)
        serverCount = weights.filter { $0 > 0 }.count
        self.weights = weights
        var before: [Int] = []
        var total = 0
        for weight in weights {
            before.append(total)
            total += weight
        }
        weightBefore = before
        totalWeight = total
    }

    /// The position of the point nearest to `key` on the ring: of the first point at or after
    /// it (around the end) and the one before that, the closer, the one before on a tie.
    func nearest(to key: UInt32) -> Int {
        var lo = 0, hi = keys.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if keys[mid] < key { lo = mid + 1 } else { hi = mid }
        }
        let next = lo == keys.count ? 0 : lo
        let previous = next == 0 ? keys.count - 1 : next - 1
        return key &- keys[previous] <= keys[next] &- key ? previous : next
    }

    /// `chash_server_is_eligible`: with `backendServing + 1` requests spread by weight and the
    /// factor (a percentage), the slots server i has — its whole share per weight unit, plus its
    /// part of the remainder by its place in declaration order, at least 1 — and whether it
    /// serves fewer than that.
    func hasRoom(_ i: Int, serving: Int, backendServing: Int, factor: Int) -> Bool {
        let slots = ((backendServing + 1) * factor + 99) / 100
        let perWeight = slots / totalWeight, remainder = slots % totalWeight
        var mine = weights[i] * perWeight
        mine += (weightBefore[i] + weights[i]) * remainder / totalWeight - weightBefore[i] * remainder / totalWeight
        return serving < max(mine, 1)
    }
}
