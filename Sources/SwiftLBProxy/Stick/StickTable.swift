import NIOConcurrencyHelpers

/// `stick-table type ip size N expire T [store …]`: which server a client (or any key) was sent
/// to, and the counters `track-sc` keeps for it (`conn_cur`, `conn_rate`, `http_req_rate`),
/// remembered so the next request or connection goes to the same server or is limited —
/// HAProxy's stick tables, without its peers protocol.
///
/// One table per name for the whole process, shared by every event loop, split into shards
/// each behind its own lock (no global lock: two loops meet only on the same shard, for one hash
/// lookup and a few index moves). Why not one table per loop merged now and then: a client's
/// next connection is accepted on any loop, and a merge delay is exactly the window in which it
/// would be sent to another server or escape a rate limit — the table has to hold from the first
/// answer. A proxy without `stick`/`track-sc` rules never touches a table (zero cost).
///
/// Bounded: at most `size` entries (HAProxy's `size`); a full shard forgets its least recently
/// used entry (HAProxy purges its oldest). A table below `shardedFrom` entries is one shard, so
/// it holds exactly `size` keys whatever their hashes (sixteen shards of ⌈10/16⌉ = 1 would
/// let two keys of a `size 10` table evict each other); a large one is split, each shard
/// holding ⌈size/16⌉, within a few entries of HAProxy's global count. An entry lives `expire` after it was last stored,
/// matched or tracked (no `expire`: until evicted). Time is passed in (monotonic nanoseconds),
/// so the table is a pure structure under its locks.
///
/// A table with `peers` (or declared in a `peers` section) has a `sync`: every local store or
/// track is logged there for the peer sessions to send (`PeersService`); entries learnt from a
/// peer come in through `applyRemote` and are not logged (peers do not relay). A table without
/// peers is per instance.
final class StickTable: Sendable {
    /// What a key is made of (`type ip|ipv6|integer|string|binary`).
    enum KeyType: String, Sendable {
        case ip, ipv6, integer, string, binary
    }

    /// The server an entry sticks to: HAProxy's `server_id` (the server's `id`, or the number
    /// HAProxy gives it: `RuntimeServer.sid`) and its name.
    struct Server: Sendable, Equatable {
        let id: Int
        let name: String
    }

    /// What `store` asks the entries to count (server_id is always kept).
    struct Stored: Sendable, Equatable {
        var connCur = false
        var connCount = false
        var httpReqCount = false
        /// `gpt0`, `gpc0`, `gpc1`: HAProxy's general purpose tag and counters, which only
        /// rules change (`sc-set-gpt0`, `sc-inc-gpc0`, the `sc_inc_gpc0` fetch…).
        var gpt0 = false
        var gpc0 = false
        var gpc1 = false
        /// `conn_rate(T)`, `http_req_rate(T)`, `gpc0_rate(T)`, `gpc1_rate(T)`: the period in
        /// nanoseconds.
        var connRate: UInt64?
        var httpReqRate: UInt64?
        var gpc0Rate: UInt64?
        var gpc1Rate: UInt64?

        /// Whether counter `index` (0 or 1) or its rate is kept: an increment changes nothing
        /// otherwise.
        func keepsGPC(_ index: Int) -> Bool { index == 0 ? gpc0 || gpc0Rate != nil : gpc1 || gpc1Rate != nil }
    }

    let name: String
    let keyType: KeyType
    let size: Int
    /// Nanoseconds an entry lives after its last use; nil: until evicted.
    let expire: UInt64?
    let stored: Stored
    /// `len` of a string or binary key (HAProxy's default 32).
    let keyLength: Int
    /// The peers protocol's record of local changes; nil for a table no peers share.
    let sync: StickTableSync?
    /// `srvkey addr`: an entry names its server by `IP:PORT` (HAProxy's server key by address),
    /// so peers whose servers have other names still agree.
    let keyByAddress: Bool
    private let shards: [NIOLockedValueBox<Shard>]

    /// Shards of a large table.
    static let shardCount = 16
    /// The size from which a table is split into `shardCount` shards.
    static let shardedFrom = 4096

    init(name: String, keyType: KeyType, size: Int, expire: UInt64?, stored: Stored = Stored(), keyLength: Int = 32,
         sync: StickTableSync? = nil, keyByAddress: Bool = false) {
        precondition(size > 0, "a stick table holds at least one entry")
        self.name = name
        self.keyType = keyType
        self.size = size
        self.expire = expire
        self.stored = stored
        self.keyLength = keyLength
        self.sync = sync
        self.keyByAddress = keyByAddress
        let count = size >= Self.shardedFrom ? Self.shardCount : 1
        let perShard = size / count + (size % count == 0 ? 0 : 1)
        shards = (0..<count).map { _ in NIOLockedValueBox(Shard(capacity: perShard)) }
    }

    private func shard(_ key: [UInt8]) -> NIOLockedValueBox<Shard> {
        var h = Hasher()
        h.combine(key)
        return shards.count == 1 ? shards[0] : shards[Int(UInt(bitPattern: h.finalize()) % UInt(shards.count))]
    }

    /// The server stored for `key`, refreshing the entry's expiry; nil when none or expired.
    func lookup(_ key: [UInt8], now: UInt64) -> Server? {
        shard(key).withLockedValue { s in
            guard let slot = s.live(key, now: now) else { return nil }
            s.refresh(slot, now: now, expire: expire)
            return s.slots[slot].entry.server
        }
    }

    /// Remembers `server` for `key` (replacing what was there), evicting the least recently
    /// used entry of a full shard.
    func store(_ key: [UInt8], server: Server, now: UInt64) {
        shard(key).withLockedValue { s in
            let slot = s.slotCreating(key, now: now)
            s.slots[slot].entry.server = server
            s.refresh(slot, now: now, expire: expire)
        }
        sync?.changed(key)
    }

    /// An entry a peer sent: its server and counters replace ours (`conn_cur` stays ours:
    /// HAProxy keeps it local), and it lives `remaining` nanoseconds (nil: the table's expire).
    /// Not logged for the peers (they do not relay what they learn).
    func applyRemote(_ key: [UInt8], now: UInt64, remaining: UInt64?, _ change: (inout Entry) -> Void) {
        shard(key).withLockedValue { s in
            let slot = s.slotCreating(key, now: now)
            change(&s.slots[slot].entry)
            s.refresh(slot, now: now, expire: remaining ?? expire)
        }
    }

    /// `track-sc`: counts a connection (`connection`) or a request (`request`) for `key`,
    /// creating its entry.
    func track(_ key: [UInt8], connection: Bool, request: Bool, now: UInt64) {
        shard(key).withLockedValue { s in
            let slot = s.slotCreating(key, now: now)
            s.slots[slot].entry.count(connection: connection, request: request, stored: stored, now: now)
            s.refresh(slot, now: now, expire: expire)
        }
        sync?.changed(key)
    }

    /// Changes `key`'s entry (created if missing) with `change` and returns what it returns:
    /// the general purpose counters' rules and fetches (`sc-inc-gpc0`, `sc_clr_gpc0`,
    /// `src_inc_gpc0`, `sc-set-gpt0`). The entry is used now (its expiry runs again) and, in a
    /// table peers share, sent to them.
    @discardableResult
    func update(_ key: [UInt8], now: UInt64, _ change: (inout Entry, Stored) -> Int) -> Int {
        let result = shard(key).withLockedValue { s in
            let slot = s.slotCreating(key, now: now)
            let r = change(&s.slots[slot].entry, stored)
            s.refresh(slot, now: now, expire: expire)
            return r
        }
        sync?.changed(key)
        return result
    }

    /// A tracked connection closed: `conn_cur` and the trackers (`use`) go down (the entry
    /// stays until it expires).
    func untrackConnection(_ key: [UInt8]) {
        shard(key).withLockedValue { s in
            guard let slot = s.index[key] else { return }
            s.slots[slot].entry.connCur = max(0, s.slots[slot].entry.connCur - 1)
            s.slots[slot].entry.trackers = max(0, s.slots[slot].entry.trackers - 1)
            // The expiry runs again from the last tracker's end, as in HAProxy.
            if s.slots[slot].entry.trackers == 0, let expire { s.slots[slot].expiry = StickSession.now() &+ expire }
        }
    }

    /// The counters of `key` now (nil when it has no live entry).
    func counters(_ key: [UInt8], now: UInt64) -> Entry? {
        shard(key).withLockedValue { s in s.live(key, now: now).map { s.slots[$0].entry } }
    }

    func remove(_ key: [UInt8]) {
        shard(key).withLockedValue { $0.remove(key) }
    }

    /// `clear table NAME`: forgets every entry.
    func clear() {
        for shard in shards { shard.withLockedValue { $0 = Shard(capacity: $0.capacity) } }
    }

    /// Entries held (expired ones not purged yet included).
    var count: Int { shards.reduce(0) { $0 + $1.withLockedValue { $0.index.count } } }

    /// Drops every expired entry (lookups drop them lazily too).
    func purgeExpired(now: UInt64) {
        for shard in shards { shard.withLockedValue { $0.purge(now: now) } }
    }

    /// Every live entry with the nanoseconds it has left (nil: no expiry) — for the runtime
    /// API's `show table`.
    func entries(now: UInt64) -> [(key: [UInt8], entry: Entry, remaining: UInt64?)] {
        shards.flatMap { shard in
            shard.withLockedValue { s in
                s.index.compactMap { key, slot in
                    let e = s.slots[slot]
                    if let expiry = e.expiry, expiry <= now { return nil }
                    return (key, e.entry, e.expiry.map { $0 - now })
                }
            }
        }
    }

    /// What an entry holds: the server it sticks to and its counters.
    struct Entry: Sendable {
        var server: Server?
        /// Connections and requests tracking it now (HAProxy's `use=` reference count).
        var trackers = 0
        var connCur = 0
        var connCount = 0
        var httpReqCount = 0
        var connRate = StickRate()
        var httpReqRate = StickRate()
        var gpt0 = 0
        var gpc0 = 0
        var gpc1 = 0
        var gpc0Rate = StickRate()
        var gpc1Rate = StickRate()

        /// `sc-inc-gpcN` / `sc_inc_gpcN`: one more on counter `index` (0 or 1) and its rate,
        /// those `stored`; the counter's new value.
        mutating func incrementGPC(_ index: Int, stored: Stored, now: UInt64) -> Int {
            if index == 0 {
                if let p = stored.gpc0Rate { gpc0Rate.add(now: now, period: p) }
                if stored.gpc0 { gpc0 += 1 }
                return gpc0
            }
            if let p = stored.gpc1Rate { gpc1Rate.add(now: now, period: p) }
            if stored.gpc1 { gpc1 += 1 }
            return gpc1
        }

        /// `sc_clr_gpcN`: counter `index` back to 0; its value before.
        mutating func clearGPC(_ index: Int) -> Int {
            defer { if index == 0 { gpc0 = 0 } else { gpc1 = 0 } }
            return index == 0 ? gpc0 : gpc1
        }

        mutating func count(connection: Bool, request: Bool, stored: Stored, now: UInt64) {
            if connection {
                trackers += 1
                connCur += 1
                connCount += 1
                if let period = stored.connRate { connRate.add(now: now, period: period) }
            }
            if request {
                httpReqCount += 1
                if let period = stored.httpReqRate { httpReqRate.add(now: now, period: period) }
            }
        }
    }

    /// One shard: a dictionary into a slab of entries threaded on a most-recently-used list
    /// (indices, no allocation per entry once the slab has grown).
    struct Shard {
        struct Slot {
            var key: [UInt8]
            var entry: Entry
            var expiry: UInt64?
            var newer = -1
            var older = -1
        }

        let capacity: Int
        var index: [[UInt8]: Int] = [:]
        var slots: [Slot] = []
        var free: [Int] = []
        /// Most and least recently used slots (-1: empty).
        var newest = -1
        var oldest = -1

        init(capacity: Int) { self.capacity = capacity }

        /// The slot of `key` when it is there and not expired (an expired one is dropped).
        mutating func live(_ key: [UInt8], now: UInt64) -> Int? {
            guard let slot = index[key] else { return nil }
            // An entry a connection still tracks never expires under it (HAProxy holds it
            // by its reference count): its conn_cur must go down when that connection ends.
            if let expiry = slots[slot].expiry, expiry <= now, slots[slot].entry.trackers == 0 {
                remove(key)
                return nil
            }
            return slot
        }

        /// The slot of `key`, a new empty entry when it has none (evicting the least recently
        /// used entry of a full shard).
        mutating func slotCreating(_ key: [UInt8], now: UInt64) -> Int {
            if let slot = live(key, now: now) { return slot }
            if index.count >= capacity {
                // The least recently used entry no connection tracks; when every entry is
                // tracked the shard grows past its size rather than lose a live count.
                var candidate = oldest
                while candidate >= 0 && slots[candidate].entry.trackers > 0 { candidate = slots[candidate].newer }
                if candidate >= 0 { remove(slots[candidate].key) }
            }
            let slot: Int
            let new = Slot(key: key, entry: Entry(), expiry: nil)
            if let reused = free.popLast() {
                slots[reused] = new
                slot = reused
            } else {
                slots.append(new)
                slot = slots.count - 1
            }
            index[key] = slot
            link(slot)
            return slot
        }

        /// Used now: lives `expire` from now and becomes the most recently used.
        mutating func refresh(_ slot: Int, now: UInt64, expire: UInt64?) {
            slots[slot].expiry = expire.map { now &+ $0 }
            touch(slot)
        }

        mutating func remove(_ key: [UInt8]) {
            guard let slot = index.removeValue(forKey: key) else { return }
            unlink(slot)
            slots[slot].key = []
            slots[slot].entry = Entry()
            free.append(slot)
        }

        mutating func purge(now: UInt64) {
            let expired = index.filter { slots[$0.value].entry.trackers == 0 && (slots[$0.value].expiry.map { $0 <= now } ?? false) }.map(\.key)
            for key in expired { remove(key) }
        }

        private mutating func touch(_ slot: Int) {
            guard newest != slot else { return }
            unlink(slot)
            link(slot)
        }

        /// Puts `slot` first (newest).
        private mutating func link(_ slot: Int) {
            slots[slot].newer = -1
            slots[slot].older = newest
            if newest >= 0 { slots[newest].newer = slot }
            newest = slot
            if oldest < 0 { oldest = slot }
        }

        private mutating func unlink(_ slot: Int) {
            let newer = slots[slot].newer, older = slots[slot].older
            if newer >= 0 { slots[newer].older = older } else { newest = older }
            if older >= 0 { slots[older].newer = newer } else { oldest = newer }
            slots[slot].newer = -1
            slots[slot].older = -1
        }
    }
}

/// HAProxy's `freq_ctr` over a period: events in the current period plus the previous
/// period's share of what is left of it (a sliding window without keeping every event).
struct StickRate: Sendable, Equatable {
    private var start: UInt64 = 0
    private var current = 0
    private var previous = 0

    private mutating func rotate(now: UInt64, period: UInt64) {
        guard now >= start &+ period else { return }
        // One period later the current count becomes the previous; two or more: both are old.
        previous = now >= start &+ 2 &* period ? 0 : current
        current = 0
        start = now - (now - start) % period
    }

    mutating func add(now: UInt64, period: UInt64) {
        if start == 0 { start = now }
        rotate(now: now, period: period)
        current += 1
    }

    /// A counter as a peer sent it: `elapsed` nanoseconds into its current period.
    init(now: UInt64, elapsed: UInt64, current: Int, previous: Int) {
        // A peer's `elapsed` is any number: one past `now` starts the period at the clock's origin.
        start = elapsed < now ? max(1, now - elapsed) : 1
        self.current = current
        self.previous = previous
    }

    init() {}

    /// What the peers protocol sends: nanoseconds into the current period, its count and the
    /// previous period's.
    func wire(now: UInt64, period: UInt64) -> (elapsed: UInt64, current: Int, previous: Int) {
        guard start != 0 else { return (0, 0, 0) }
        var copy = self
        copy.rotate(now: now, period: period)
        return (now >= copy.start ? now - copy.start : 0, copy.current, copy.previous)
    }

    /// Events per period now.
    func rate(now: UInt64, period: UInt64) -> Int {
        guard start != 0 else { return 0 }
        var copy = self
        copy.rotate(now: now, period: period)
        let elapsed = now >= copy.start ? now - copy.start : 0
        let remaining = period > elapsed ? period - elapsed : 0
        // previous × remaining overflows 64 bits past ~213 000 events in a 24 h period: the
        // product is taken whole (128 bits); the quotient is at most `previous`.
        let share = period == 0 ? 0 : Int(period.dividingFullWidth(UInt64(max(0, copy.previous)).multipliedFullWidth(by: remaining)).quotient)
        let (sum, overflow) = copy.current.addingReportingOverflow(share)
        return overflow ? .max : sum
    }
}
