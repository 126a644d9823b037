import Foundation
import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// Stick tables as a structure (bounded, least recently used forgotten first, entries expire
/// after their last use, safe from many threads) and `stick on` rules from lb.conf.
final class StickTableTests: XCTestCase {
    private let second: UInt64 = 1_000_000_000

    func testEntriesExpireAfterTheirLastUse() {
        let table = StickTable(name: "be", keyType: .ip, size: 100, expire: 10 * second)
        table.store([10, 0, 0, 1], server: "s1", now: 0)
        XCTAssertEqual(table.lookup([10, 0, 0, 1], now: 9 * second), "s1")
        // The lookup refreshed it: still there 10 s after the lookup, not after the store.
        XCTAssertEqual(table.lookup([10, 0, 0, 1], now: 18 * second), "s1")
        XCTAssertNil(table.lookup([10, 0, 0, 1], now: 28 * second + 1))
        XCTAssertEqual(table.count, 0, "an expired entry found by a lookup is dropped")
        table.store([10, 0, 0, 2], server: "s2", now: 0)
        table.store([10, 0, 0, 3], server: "s3", now: 5 * second)
        table.purgeExpired(now: 12 * second)
        XCTAssertEqual(table.entries(now: 12 * second).map(\.server), ["s3"])
        XCTAssertEqual(table.entries(now: 12 * second).first?.remaining, 3 * second)
        // A store replaces the server.
        table.store([10, 0, 0, 3], server: "s9", now: 12 * second)
        XCTAssertEqual(table.lookup([10, 0, 0, 3], now: 13 * second), "s9")
    }

    func testAFullTableForgetsTheLeastRecentlyUsedEntry() {
        // 16 shards of one entry each (size 16): fill one shard's worth by finding keys that share a shard.
        let table = StickTable(name: "be", keyType: .ip, size: StickTable.shardCount * 3, expire: nil)
        var keys: [[UInt8]] = []
        for i in 0..<2000 { keys.append([10, 1, UInt8(i >> 8), UInt8(i & 0xFF)]) }
        for (i, key) in keys.enumerated() { table.store(key, server: "s\(i)", now: UInt64(i)) }
        XCTAssertLessThanOrEqual(table.count, StickTable.shardCount * 3, "bounded by size")
        // The most recent keys are all there; the first ones are gone.
        for (i, key) in keys.enumerated().suffix(5) { XCTAssertEqual(table.lookup(key, now: 3000), "s\(i)") }
        XCTAssertNil(table.lookup(keys[0], now: 3000))

        // In one shard: touching an entry saves it from eviction.
        var shard = StickTable.Shard(capacity: 3)
        shard.store([1], server: "a", expiry: nil)
        shard.store([2], server: "b", expiry: nil)
        shard.store([3], server: "c", expiry: nil)
        XCTAssertEqual(shard.lookup([1], now: 0, expire: nil), "a")
        shard.store([4], server: "d", expiry: nil)
        XCTAssertNil(shard.lookup([2], now: 0, expire: nil), "b was the least recently used")
        XCTAssertEqual(shard.lookup([1], now: 0, expire: nil), "a")
        shard.remove([3])
        shard.store([5], server: "e", expiry: nil)
        shard.store([6], server: "f", expiry: nil)
        XCTAssertEqual(Set(shard.index.keys), Set([[1], [5], [6]] as [[UInt8]]), "d was the least recently used when f came")
        XCTAssertEqual(shard.index.count, 3)
        XCTAssertEqual(shard.slots.count, 3, "freed slots are reused")
    }

    func testManyThreadsStoreAndLookUpTogether() {
        let table = StickTable(name: "be", keyType: .ip, size: 10_000, expire: 60 * second)
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            for i in 0..<5_000 {
                let key: [UInt8] = [10, UInt8(worker), UInt8(i >> 8), UInt8(i & 0xFF)]
                table.store(key, server: "s\(worker)", now: 0)
                XCTAssertEqual(table.lookup(key, now: 1), "s\(worker)")
            }
        }
        XCTAssertLessThanOrEqual(table.count, 10_000 + StickTable.shardCount)
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
                stick on src table be if { path_beg /api }
                server s1 127.0.0.1:1
            backend broken
                stick on src
                server s1 127.0.0.1:1
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        let tables = StickTables()
        let rules = try StickRules(backend: config.backends["be"]!, configuration: config, tables: tables)
        let head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let client = SampleInput(facts: try facts(head, source: "192.0.2.7"))
        XCTAssertNil(rules.match(client, now: 0))
        rules.store(client, server: "s2", now: 0)
        XCTAssertEqual(rules.match(client, now: second), "s2")
        XCTAssertNil(rules.match(SampleInput(facts: try facts(head, source: "192.0.2.8")), now: second))
        XCTAssertNil(rules.match(SampleInput(facts: try facts(head, source: "2001:db8::1")), now: second), "no ip key for an IPv6 client")
        XCTAssertNil(rules.match(client, now: 31 * 60 * second + second), "expired after 30 minutes")

        // Another backend using be's table, under a condition.
        let other = try StickRules(backend: config.backends["other"]!, configuration: config, tables: tables)
        rules.store(client, server: "s1", now: 0)
        XCTAssertNil(other.match(client, now: 1))
        XCTAssertEqual(other.match(SampleInput(facts: try facts(try requestHead("GET /api/x HTTP/1.1\r\n\r\n"), source: "192.0.2.7")), now: 1), "s1")

        // A reload with the same declaration keeps the entries.
        let again = try StickRules(backend: config.backends["be"]!, configuration: config, tables: tables)
        XCTAssertEqual(again.match(client, now: 2), "s1")

        XCTAssertThrowsError(try StickRules(backend: config.backends["broken"]!, configuration: config, tables: tables)) { error in
            let e = (error as! ConfigErrors).errors
            XCTAssertEqual(e.first?.line, 13)
            XCTAssertEqual(e.first?.message, "backend 'broken' has no stick-table")
        }
    }

    func testKeysOfEachTableType() {
        XCTAssertEqual(StickRules.key(.string("192.0.2.7"), type: .ip), [192, 0, 2, 7])
        XCTAssertEqual(StickRules.key(.string("::ffff:192.0.2.7"), type: .ip), [192, 0, 2, 7])
        XCTAssertNil(StickRules.key(.string("2001:db8::1"), type: .ip))
        XCTAssertEqual(StickRules.key(.string("192.0.2.7"), type: .ipv6), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 7])
        XCTAssertEqual(StickRules.key(.integer(258), type: .integer), [0, 0, 0, 0, 0, 0, 1, 2])
        XCTAssertEqual(StickRules.key(.string(String(repeating: "a", count: 40)), type: .string)?.count, 32)
        XCTAssertNil(StickRules.key(nil, type: .string))
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
}
