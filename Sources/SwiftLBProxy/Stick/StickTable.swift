import NIOConcurrencyHelpers

/// `stick-table type ip size N expire T`: which server a client (or any key) was sent to,
/// remembered so the next request or connection goes to the same one — HAProxy's stick
/// tables, without its peers protocol.
///
/// One table per backend for the whole process, shared by every event loop, split into
/// shards each behind its own lock. Why not one table per loop merged now and then: a client's
/// next connection is accepted on any loop, and a merge delay is exactly the window in which
/// it would be sent to another server — stickiness has to hold from the first answer. A shard
/// is locked for one hash lookup and a few index moves; with 16 shards two loops rarely meet.
///
/// Bounded: at most `size` entries (HAProxy's `size`); a full shard forgets its least recently
/// used entry (HAProxy purges its oldest). An entry lives `expire` after it was last stored or
/// matched (no `expire`: until evicted). Time is passed in (monotonic nanoseconds), so the
/// table is a pure structure under its locks.
///
/// The two VIP instances do NOT share tables (SwiftLB has no `peers`): after a takeover the
/// new master's table does not know the old one's clients. A deployment that needs clients to
/// keep their server across a takeover uses `cookie … insert` or `balance source`, which both
/// instances compute the same way.
final class StickTable: Sendable {
    /// What a key is made of (`type ip|ipv6|integer|string|binary`).
    enum KeyType: String, Sendable {
        case ip, ipv6, integer, string, binary
    }

    let name: String
    let keyType: KeyType
    let size: Int
    /// Nanoseconds an entry lives after its last use; nil: until evicted.
    let expire: UInt64?
    private let shards: [NIOLockedValueBox<Shard>]

    static let shardCount = 16

    init(name: String, keyType: KeyType, size: Int, expire: UInt64?) {
        precondition(size > 0, "a stick table holds at least one entry")
        self.name = name
        self.keyType = keyType
        self.size = size
        self.expire = expire
        let perShard = max(1, (size + Self.shardCount - 1) / Self.shardCount)
        shards = (0..<Self.shardCount).map { _ in NIOLockedValueBox(Shard(capacity: perShard)) }
    }

    private func shard(_ key: [UInt8]) -> NIOLockedValueBox<Shard> {
        var h = Hasher()
        h.combine(key)
        return shards[Int(UInt(bitPattern: h.finalize()) % UInt(Self.shardCount))]
    }

    /// The server stored for `key`, refreshing the entry's expiry; nil when none or expired.
    func lookup(_ key: [UInt8], now: UInt64) -> String? {
        shard(key).withLockedValue { $0.lookup(key, now: now, expire: expire) }
    }

    /// Remembers `server` for `key` (replacing what was there), evicting the least recently
    /// used entry of a full shard.
    func store(_ key: [UInt8], server: String, now: UInt64) {
        shard(key).withLockedValue { $0.store(key, server: server, expiry: expire.map { now &+ $0 }) }
    }

    func remove(_ key: [UInt8]) {
        shard(key).withLockedValue { $0.remove(key) }
    }

    /// Entries held (expired ones not purged yet included).
    var count: Int { shards.reduce(0) { $0 + $1.withLockedValue { $0.index.count } } }

    /// Drops every expired entry (a periodic sweep; lookups drop them lazily too).
    func purgeExpired(now: UInt64) {
        for shard in shards { shard.withLockedValue { $0.purge(now: now) } }
    }

    /// Every live entry: key, server, nanoseconds left (nil: no expiry) — for the runtime
    /// API's `show table`.
    func entries(now: UInt64) -> [(key: [UInt8], server: String, remaining: UInt64?)] {
        shards.flatMap { shard in
            shard.withLockedValue { s in
                s.index.compactMap { key, slot in
                    let e = s.slots[slot]
                    if let expiry = e.expiry, expiry <= now { return nil }
                    return (key, e.server, e.expiry.map { $0 - now })
                }
            }
        }
    }

    /// One shard: a dictionary into a slab of entries threaded on a most-recently-used list
    /// (indices, no allocation per entry once the slab has grown).
    struct Shard {
        struct Slot {
            var key: [UInt8]
            var server: String
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

        mutating func lookup(_ key: [UInt8], now: UInt64, expire: UInt64?) -> String? {
            guard let slot = index[key] else { return nil }
            if let expiry = slots[slot].expiry, expiry <= now {
                remove(key)
                return nil
            }
            if let expire { slots[slot].expiry = now &+ expire }
            touch(slot)
            return slots[slot].server
        }

        mutating func store(_ key: [UInt8], server: String, expiry: UInt64?) {
            if let slot = index[key] {
                slots[slot].server = server
                slots[slot].expiry = expiry
                touch(slot)
                return
            }
            if index.count >= capacity, oldest >= 0 { remove(slots[oldest].key) }
            let slot: Int
            let entry = Slot(key: key, server: server, expiry: expiry)
            if let reused = free.popLast() {
                slots[reused] = entry
                slot = reused
            } else {
                slots.append(entry)
                slot = slots.count - 1
            }
            index[key] = slot
            link(slot)
        }

        mutating func remove(_ key: [UInt8]) {
            guard let slot = index.removeValue(forKey: key) else { return }
            unlink(slot)
            slots[slot].key = []
            slots[slot].server = ""
            free.append(slot)
        }

        mutating func purge(now: UInt64) {
            let expired = index.filter { slots[$0.value].expiry.map { $0 <= now } ?? false }.map(\.key)
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
