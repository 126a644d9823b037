import Atomics

/// The servers a hashing table holds. HAProxy's map (lb_map.c) and trees (lb_chash.c) hold the
/// servers that take traffic — UP, weight above 0, neither in maintenance nor draining — of one
/// tier: the primaries, or the backups when no primary takes traffic (all of them, as with
/// `option allbackups`, which SwiftLB always applies). A server going down or up changes the
/// table, and so where keys land; a full or already-failed server does not (the pick walks on).
struct HashTier: Sendable {
    /// For each server of the backend, whether the table holds it.
    let members: [Bool]
    /// Each server's weight when the table was built: a table built from a weight read just
    /// before a `set weight` (or an agent's `N%`) is not current, whoever stored it last.
    let weights: [Int]

    init(_ servers: [RuntimeServer]) {
        let backups = !servers.contains { !$0.backup && $0.health.takesTraffic }
        members = servers.map { $0.backup == backups && $0.health.takesTraffic }
        weights = servers.map(\.weight)
    }

    /// Whether the servers taking traffic now, and their weights, are still these: read on
    /// every pick, so it allocates nothing.
    func isCurrent(_ servers: [RuntimeServer]) -> Bool {
        let backups = !servers.contains { !$0.backup && $0.health.takesTraffic }
        for (i, server) in servers.enumerated()
        where members[i] != (server.backup == backups && server.health.takesTraffic) || (members[i] && weights[i] != server.weight) {
            return false
        }
        return true
    }
}

/// A hashing balancer's table (the map, or the ring) for the servers taking traffic now,
/// rebuilt by whichever event loop first sees that they changed, or when a weight changes.
/// Lock-free: one atomic load per pick; two loops rebuilding at once build the same table.
final class HashTableCache<Table: Sendable>: Sendable {
    struct Built: Sendable {
        let tier: HashTier
        let table: Table
    }

    private let servers: [RuntimeServer]
    private let build: @Sendable ([RuntimeServer], HashTier) -> Table
    private let current: ManagedAtomic<BalancerTable<Built>>

    init(_ servers: [RuntimeServer], build: @escaping @Sendable ([RuntimeServer], HashTier) -> Table) {
        self.servers = servers
        self.build = build
        current = ManagedAtomic(BalancerTable(Self.built(servers, build)))
    }

    /// The table for the servers taking traffic now.
    var table: Table {
        let built = current.load(ordering: .acquiring).value
        if built.tier.isCurrent(servers) { return built.table }
        return rebuild()
    }

    /// A weight changed (`set weight`, an agent): the table is built again.
    @discardableResult
    func rebuild() -> Table {
        let built = Self.built(servers, build)
        current.store(BalancerTable(built), ordering: .releasing)
        return built.table
    }

    private static func built(_ servers: [RuntimeServer], _ build: ([RuntimeServer], HashTier) -> Table) -> Built {
        let tier = HashTier(servers)
        return Built(tier: tier, table: build(servers, tier))
    }
}

/// The first server, from `start` on around `owners` (a map's slots, a ring's points), that
/// `isCandidate` accepts, each server asked once; nil when none does. HAProxy takes the
/// server at `start` even when it is full (the request queues for it) or failed (`map-based`
/// ignores `option redispatch`); SwiftLB moves on to the next one, as its other algorithms do.
func firstCandidate(in owners: [Int], from start: Int, servers count: Int, isCandidate: (Int) -> Bool) -> Int? {
    guard !owners.isEmpty else { return nil }
    if isCandidate(owners[start]) { return owners[start] }
    // Only when the hashed server is passed over (full, failed, a slowstart draw, the balance factor).
    // `owners` hold server indices of the backend (`count` of them take part), grown to as met.
    var tried = [Bool](repeating: false, count: owners[start] + 1)
    tried[owners[start]] = true
    var asked = 1
    for offset in 1..<owners.count {
        guard asked < count else { break }
        let server = owners[(start + offset) % owners.count]
        if server >= tried.count { tried += repeatElement(false, count: server + 1 - tried.count) }
        guard !tried[server] else { continue }
        tried[server] = true
        asked += 1
        if isCandidate(server) { return server }
    }
    return nil
}
