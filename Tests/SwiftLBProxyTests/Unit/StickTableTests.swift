import Foundation
import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// Stick tables as a structure (bounded, least recently used forgotten first, entries expire
/// after their last use, safe from many threads, rates over a sliding period) and `stick
/// on|match|store-request` rules from lb.conf.
final class StickTableTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    private static func server(_ name: String) -> SwiftLBProxy.StickTable.Server { SwiftLBProxy.StickTable.Server(id: Int(name.dropFirst()) ?? 0, name: name) }

    func testEntriesExpireAfterTheirLastUse() {
        let table = SwiftLBProxy.StickTable(name: "be", keyType: .ip, size: 100, expire: 10 * second)
        table.store([10, 0, 0, 1], server: Self.server("s1"), now: 0)
        XCTAssertEqual(table.lookup([10, 0, 0, 1], now: 9 * second)?.name, "s1")
        // The lookup refreshed it: still there 10 s after the lookup, not after the store.
        XCTAssertEqual(table.lookup([10, 0, 0, 1], now: 18 * second)?.name, "s1")
        XCTAssertNil(table.lookup([10, 0, 0, 1], now: 28 * second + 1))
        XCTAssertEqual(table.count, 0, "an expired entry found by a lookup is dropped")
        table.store([10, 0, 0, 2], server: Self.server("s2"), now: 0)
        table.store([10, 0, 0, 3], server: Self.server("s3"), now: 5 * second)
        table.purgeExpired(now: 12 * second)
        XCTAssertEqual(table.entries(now: 12 * second).map(\.entry.server?.name), ["s3"])
        XCTAssertEqual(table.entries(now: 12 * second).first?.remaining, 3 * second)
        // A store replaces the server.
        table.store([10, 0, 0, 3], server: Self.server("s9"), now: 12 * second)
        XCTAssertEqual(table.lookup([10, 0, 0, 3], now: 13 * second)?.name, "s9")
    }

    /// The largest sizes are a bound, not an allocation, and split into shards without
    /// overflowing (a size of Int.max trapped at start).
    func testTheLargestSizesStartEmpty() {
        for size in [Int(UInt32.max), Int.max] {
            let table = SwiftLBProxy.StickTable(name: "be", keyType: .string, size: size, expire: nil, keyLength: Int(UInt32.max))
            XCTAssertEqual(table.size, size)
            XCTAssertNil(table.lookup(Array("k".utf8), now: 0))
        }
    }

    /// A small table holds exactly `size` keys, whatever their hashes: `size 10` keeps ten
    /// clients (as HAProxy does), the eleventh evicts the least recently used one. (Split into
    /// sixteen shards it once kept one key per shard, so two clients could evict each other.)
    func testASmallTableHoldsExactlyItsSize() {
        for round in 0..<20 {
            let table = SwiftLBProxy.StickTable(name: "be", keyType: .ip, size: 10, expire: nil)
            let keys = (0..<11).map { [192, 0, UInt8(round), UInt8($0)] as [UInt8] }
            for (i, key) in keys.prefix(10).enumerated() { table.store(key, server: Self.server("s\(i)"), now: UInt64(i)) }
            XCTAssertEqual(table.count, 10, "round \(round): ten keys in a size-10 table")
            for (i, key) in keys.prefix(10).enumerated() { XCTAssertEqual(table.lookup(key, now: 100)?.name, "s\(i)") }
            table.store(keys[10], server: Self.server("s10"), now: 200)
            XCTAssertEqual(table.count, 10)
            XCTAssertNil(table.lookup(keys[0], now: 300), "the least recently used key went")
        }
    }

    /// An entry a connection still tracks neither expires nor is evicted under it (a
    /// `conn_cur` limit would otherwise forget connections that are still open); its expiry
    /// runs again from the last tracker's end.
    func testATrackedEntryOutlivesItsExpiryAndEviction() {
        let table = SwiftLBProxy.StickTable(name: "fe", keyType: .ip, size: 2, expire: 1 * second,
                                            stored: SwiftLBProxy.StickTable.Stored(connCur: true))
        let held: [UInt8] = [192, 0, 2, 1]
        table.track(held, connection: true, request: false, now: 0)
        XCTAssertEqual(table.counters(held, now: 5 * second)?.connCur, 1, "tracked: not expired after 5 s")
        for i in 0..<10 { table.track([198, 51, 100, UInt8(i)], connection: false, request: true, now: 6 * second + UInt64(i)) }
        XCTAssertEqual(table.counters(held, now: 7 * second)?.connCur, 1, "tracked: not evicted by ten other keys")
        table.untrackConnection(held)
        XCTAssertEqual(table.counters(held, now: StickSession.now())?.connCur, 0, "still there just after its connection ended")
        XCTAssertNil(table.counters(held, now: StickSession.now() + 2 * second), "expired once untracked")
    }

    func testAFullTableForgetsTheLeastRecentlyUsedEntry() {
        let table = SwiftLBProxy.StickTable(name: "be", keyType: .ip, size: SwiftLBProxy.StickTable.shardCount * 3, expire: nil)
        var keys: [[UInt8]] = []
        for i in 0..<2000 { keys.append([10, 1, UInt8(i >> 8), UInt8(i & 0xFF)]) }
        for (i, key) in keys.enumerated() { table.store(key, server: Self.server("s\(i)"), now: UInt64(i)) }
        XCTAssertLessThanOrEqual(table.count, SwiftLBProxy.StickTable.shardCount * 3, "bounded by size")
        // The most recent keys are all there; the first ones are gone.
        for (i, key) in keys.enumerated().suffix(5) { XCTAssertEqual(table.lookup(key, now: 3000)?.name, "s\(i)") }
        XCTAssertNil(table.lookup(keys[0], now: 3000))

        // In one shard: touching an entry saves it from eviction.
        var shard = SwiftLBProxy.StickTable.Shard(capacity: 3)
        func store(_ key: UInt8) { shard.refresh(shard.slotCreating([key], now: 0), now: 0, expire: nil) }
        func lookup(_ key: UInt8) -> Bool {
            guard let slot = shard.live([key], now: 0) else { return false }
            shard.refresh(slot, now: 0, expire: nil)
            return true
        }
        store(1); store(2); store(3)
        XCTAssertTrue(lookup(1))
        store(4)
        XCTAssertFalse(lookup(2), "2 was the least recently used")
        XCTAssertTrue(lookup(1))
        shard.remove([3])
        store(5); store(6)
        XCTAssertEqual(Set(shard.index.keys), Set([[1], [5], [6]] as [[UInt8]]), "4 was the least recently used when 6 came")
        XCTAssertEqual(shard.index.count, 3)
        XCTAssertEqual(shard.slots.count, 3, "freed slots are reused")
    }

    /// A day-long period with a busy key (`http_req_rate(24h)`, an office behind one NAT):
    /// previous × what is left of the period passed 64 bits from ~213 000 events and trapped.
    /// And a peer's counter with any `elapsed`, even past the clock, reads without trapping.
    func testRatesOfLongPeriodsAndAnyPeerCounter() {
        let day = 86_400 * second
        let now = 10 * day
        let busy = SwiftLBProxy.StickRate(now: now, elapsed: 0, current: 5, previous: 4_000_000)
        XCTAssertEqual(busy.rate(now: now, period: day), 4_000_005, "all of the previous period still counts at its start")
        XCTAssertEqual(busy.rate(now: now + day / 2, period: day), 2_000_005)
        let huge = SwiftLBProxy.StickRate(now: now, elapsed: 0, current: Int.max, previous: Int.max)
        XCTAssertEqual(huge.rate(now: now, period: day), Int.max, "capped, not wrapped")
        let skewed = SwiftLBProxy.StickRate(now: now, elapsed: UInt64.max, current: 3, previous: 0)
        XCTAssertEqual(skewed.rate(now: now, period: day), 0, "a period that began at the clock's origin is long over")
        XCTAssertEqual(skewed.wire(now: now, period: day).current, 0)
    }

    func testRatesSlideOverTheirPeriodAndConnectionsAreCounted() {
        let table = SwiftLBProxy.StickTable(name: "fe", keyType: .ip, size: 10, expire: 60 * second,
                               stored: SwiftLBProxy.StickTable.Stored(connCur: true, connRate: 10 * second, httpReqRate: 10 * second))
        let key: [UInt8] = [10, 0, 0, 1]
        for i in 0..<6 { table.track(key, connection: false, request: true, now: second + UInt64(i) * second) }
        func rate(_ now: UInt64) -> Int { table.counters(key, now: now)!.httpReqRate.rate(now: now, period: 10 * second) }
        XCTAssertEqual(rate(7 * second), 6)
        // Half a period later, half of the previous period's 6 still counts (HAProxy's freq_ctr).
        XCTAssertEqual(rate(16 * second), 3)
        XCTAssertEqual(rate(21 * second + 1), 0, "two periods later nothing is left")
        table.track(key, connection: true, request: false, now: 22 * second)
        table.track(key, connection: true, request: false, now: 22 * second)
        XCTAssertEqual(table.counters(key, now: 22 * second)?.connCur, 2)
        table.untrackConnection(key)
        XCTAssertEqual(table.counters(key, now: 22 * second)?.connCur, 1)
        XCTAssertEqual(table.counters(key, now: 22 * second)?.connRate.rate(now: 22 * second, period: 10 * second), 2)
        table.clear()
        XCTAssertNil(table.counters(key, now: 22 * second))
    }

    func testManyThreadsStoreAndLookUpTogether() {
        let table = SwiftLBProxy.StickTable(name: "be", keyType: .ip, size: 10_000, expire: 60 * second)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for i in 0..<5_000 {
                let key: [UInt8] = [10, UInt8(worker), UInt8(i >> 8), UInt8(i & 0xFF)]
                table.store(key, server: StickTableTests.server("s\(worker)"), now: 0)
                XCTAssertEqual(table.lookup(key, now: 1)?.name, "s\(worker)")
            }
        }
        XCTAssertLessThanOrEqual(table.count, 10_000 + SwiftLBProxy.StickTable.shardCount)
    }

    func testStickOnSrcFromTheConfiguration() throws {
        let config = try ConfigParser.parse(text: """
            frontend fe
                bind :8080
                default_backend be
            backend be
                stick-table type ip size 1k expire 30m
                stick on src
                server s1 127.0.0.1:1
                server s2 127.0.0.1:2
            backend other
                stick match src table be if { path_beg /api }
                server s1 127.0.0.1:1
            backend broken
                stick on src
                server s1 127.0.0.1:1
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        let tables = try StickTables.build(config, shared: StickTables())
        let rules = try StickRules(backend: config.backends["be"]!, configuration: config, tables: tables)
        let runtime = try ProxyRuntime(configuration: Configuration(file: "lb.conf", backends: ["be": config.backends["be"]!, "other": config.backends["other"]!]))
        let servers = runtime.backends.first { $0.name == "be" }!.servers
        let head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let client = SampleInput(facts: try facts(head, source: "192.0.2.7"))
        XCTAssertNil(rules.match(client, servers: servers, now: 0))
        func store(_ input: SampleInput, _ name: String, now: UInt64) {
            for (table, key) in rules.storeKeys(input) { table.store(key, server: Self.server(name), now: now) }
        }
        store(client, "s2", now: 0)
        XCTAssertEqual(rules.match(client, servers: servers, now: second)?.name, "s2")
        XCTAssertNil(rules.match(SampleInput(facts: try facts(head, source: "192.0.2.8")), servers: servers, now: second))
        XCTAssertNil(rules.match(SampleInput(facts: try facts(head, source: "2001:db8::1")), servers: servers, now: second), "no ip key for an IPv6 client")
        XCTAssertNil(rules.match(client, servers: servers, now: 31 * 60 * second + second), "expired after 30 minutes")

        // Another backend matching in be's table, under a condition; `match` stores nothing.
        let other = try StickRules(backend: config.backends["other"]!, configuration: config, tables: tables)
        store(client, "s1", now: 0)
        XCTAssertNil(other.match(client, servers: servers, now: 1))
        let api = SampleInput(facts: try facts(try requestHead("GET /api/x HTTP/1.1\r\n\r\n"), source: "192.0.2.7"))
        XCTAssertEqual(other.match(api, servers: servers, now: 1)?.name, "s1")
        XCTAssertTrue(other.storeKeys(api).isEmpty)

        // A server that is not usable is not matched: the balancer chooses.
        servers[0].health.setAdmin(.maint)
        XCTAssertNil(rules.match(client, servers: servers, now: 2))

        XCTAssertThrowsError(try StickRules(backend: config.backends["broken"]!, configuration: config, tables: tables)) { error in
            let e = (error as! ConfigErrors).errors
            XCTAssertEqual(e.first?.line, 13)
            XCTAssertEqual(e.first?.message, "backend 'broken' has no stick-table (declare one, or name another with 'table NAME')")
        }
    }

    /// An entry leads to its server by its key (`server_key`, the name) and, when that names no
    /// server (a peer's entry without one), by its `server_id` — the server's `id`, as HAProxy's
    /// stream.c looks it up.
    func testAMatchFallsBackToTheServersID() throws {
        let config = try ConfigParser.parse(text: """
            backend be
                stick-table type ip size 1k
                stick on src
                server s1 127.0.0.1:1 id 7
                server s2 127.0.0.1:2 id 9
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        let tables = try StickTables.build(config, shared: StickTables())
        let rules = try StickRules(backend: config.backends["be"]!, configuration: config, tables: tables)
        let servers = try ProxyRuntime(configuration: config).backends[0].servers
        XCTAssertEqual(servers.map(\.sid), [7, 9])
        let client = SampleInput(facts: try facts(try requestHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n"), source: "192.0.2.7"))
        func stuck(_ id: Int, _ name: String) -> String? {
            for (table, key) in rules.storeKeys(client) { table.store(key, server: .init(id: id, name: name), now: 0) }
            return rules.match(client, servers: servers, now: 1)?.name
        }
        XCTAssertEqual(stuck(9, ""), "s2", "by server_id")
        XCTAssertEqual(stuck(9, "s1"), "s1", "the key first")
        XCTAssertEqual(stuck(9, "gone"), "s2", "a key naming no server: server_id")
        XCTAssertNil(stuck(2, ""), "2 is s2's position, not its id")
    }

    func testKeysOfEachTableType() {
        func table(_ type: SwiftLBProxy.StickTable.KeyType) -> SwiftLBProxy.StickTable { SwiftLBProxy.StickTable(name: "t", keyType: type, size: 1, expire: nil) }
        XCTAssertEqual(StickRules.key(.string("192.0.2.7"), table: table(.ip)), [192, 0, 2, 7])
        XCTAssertEqual(StickRules.key(.string("::ffff:192.0.2.7"), table: table(.ip)), [192, 0, 2, 7])
        XCTAssertNil(StickRules.key(.string("2001:db8::1"), table: table(.ip)))
        XCTAssertEqual(StickRules.key(.string("192.0.2.7"), table: table(.ipv6)), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 7])
        XCTAssertEqual(StickRules.key(.integer(258), table: table(.integer)), [0, 0, 0, 0, 0, 0, 1, 2])
        XCTAssertEqual(StickRules.key(.string(String(repeating: "a", count: 40)), table: table(.string))?.count, 32)
        XCTAssertNil(StickRules.key(nil, table: table(.string)))
        XCTAssertEqual(StickRules.describe([192, 0, 2, 7], type: .ip), "192.0.2.7")
        XCTAssertEqual(StickRules.describe([0, 0, 0, 0, 0, 0, 1, 2], type: .integer), "258")
    }

    func testSourceConnectionsCountOpenConnectionsPerAddress() {
        let counter = SourceConnections()
        XCTAssertEqual(counter.opened("192.0.2.7"), 1)
        XCTAssertEqual(counter.opened("192.0.2.7"), 2)
        XCTAssertEqual(counter.opened("::ffff:192.0.2.7"), 3, "a mapped address is the same client")
        counter.closed("192.0.2.7")
        XCTAssertEqual(counter.count("192.0.2.7"), 2)
        counter.closed("192.0.2.7")
        counter.closed("192.0.2.7")
        counter.closed("192.0.2.7")
        XCTAssertEqual(counter.count("192.0.2.7"), 0)
        XCTAssertEqual(counter.count("198.51.100.1"), 0)
    }

    func testASessionTracksAndReadsItsCounters() {
        let fe = SwiftLBProxy.StickTable(name: "fe", keyType: .ip, size: 10, expire: 60 * second,
                                         stored: SwiftLBProxy.StickTable.Stored(connCur: true, httpReqRate: 10 * second))
        let session = StickSession(tables: ["fe": fe], own: fe)
        session.track(0, value: .string("192.0.2.7"), tableName: nil, connectionLevel: true)
        session.beginRequest()
        session.beginRequest()
        func read(_ entry: StickCounterFetch.Entry, _ counter: StickCounterFetch.Counter, source: String? = "192.0.2.7") -> Int? {
            session.value(StickCounterFetch(entry: entry, counter: counter), source: source)
        }
        XCTAssertEqual(read(.tracked(0, table: nil), .httpReqRate), 2)
        XCTAssertEqual(read(.tracked(0, table: nil), .connCur), 1)
        XCTAssertNil(read(.tracked(1, table: nil), .connCur), "sc1 tracks nothing")
        XCTAssertEqual(read(.source(table: nil), .httpReqRate), 2)
        XCTAssertEqual(read(.source(table: nil), .httpReqRate, source: "192.0.2.8"), 0, "a client without an entry reads 0")
        // A request-level tracker of another counter: one more "connection" of its entry while the request lasts.
        session.track(1, value: .string("192.0.2.9"), tableName: "fe", connectionLevel: false)
        XCTAssertEqual(read(.table(nil), .tableCount), 2)
        XCTAssertEqual(read(.table("fe"), .tableAvailable), 8)
        XCTAssertEqual(read(.source(table: nil), .connCur, source: "192.0.2.9"), 1)
        session.close()
        XCTAssertEqual(read(.source(table: nil), .connCur), 0)
        XCTAssertEqual(read(.source(table: nil), .connCur, source: "192.0.2.9"), 0)
    }

    /// A reload builds its tables without touching the ones in force: a changed declaration gets
    /// a new table, but until that runtime is adopted (the reload went through) the next build
    /// still finds the table in force with its entries. (A refused reload once replaced it.)
    func testARefusedReloadLeavesTheTablesInForce() throws {
        let registry = StickTables()
        func config(_ size: Int) throws -> Configuration {
            try ConfigParser.parse(text: "backend be\n    stick-table type ip size \(size)\n    stick on src\n    server s1 127.0.0.1:1\n",
                                   file: "lb.conf", acceptingPending: true, environment: [:])
        }
        let first = try StickTables.build(config(10), shared: registry)
        registry.adopt(first)
        let changed = try StickTables.build(config(20), shared: registry)
        XCTAssertFalse(changed["be"] === first["be"], "a changed declaration starts a new table")
        XCTAssertTrue(try StickTables.build(config(10), shared: registry)["be"] === first["be"], "the refused build changed nothing")
        registry.adopt(changed)
        XCTAssertTrue(try StickTables.build(config(20), shared: registry)["be"] === changed["be"], "once in force, it is the one found")
    }
}
