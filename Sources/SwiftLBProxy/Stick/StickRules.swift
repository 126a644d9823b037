import NIOConcurrencyHelpers
import SwiftLBConfig

/// The process's stick tables by backend name. A reload asks again for each backend's table:
/// one with the same type, size and expiry is kept with its entries (clients stay where they
/// were across a reload); a changed declaration starts empty.
final class StickTables: Sendable {
    static let shared = StickTables()
    private let tables = NIOLockedValueBox<[String: StickTable]>([:])

    func table(_ name: String, declaration: SwiftLBConfig.StickTable) -> StickTable? {
        guard let type = StickTable.KeyType(rawValue: declaration.type) else { return nil }
        let expire = declaration.expire.map { UInt64($0.nanoseconds) }
        return tables.withLockedValue { all in
            if let t = all[name], t.keyType == type, t.size == declaration.size, t.expire == expire { return t }
            let t = StickTable(name: name, keyType: type, size: declaration.size, expire: expire)
            all[name] = t
            return t
        }
    }
}

/// A backend's `stick on SAMPLE [table NAME] [if|unless COND]` rules: before the balancer,
/// `match` finds the server a key was stuck to (the first rule whose condition holds and whose
/// key is in the table); once a server is chosen (by the match, a cookie or the balancer),
/// `store` remembers it under each applicable rule's key. The stream keeps the server only if
/// it is usable (up, not in maintenance), as HAProxy does, and goes to the balancer otherwise.
struct StickRules: Sendable {
    private struct Rule: Sendable {
        let sample: SampleExpression
        let condition: Condition?
        let table: StickTable
    }

    private let rules: [Rule]
    var isEmpty: Bool { rules.isEmpty }

    /// The rules of `backend`; `tables` gives each its table (the backend's own, or the one
    /// `table NAME` names). Errors name the file, line and keyword.
    init(backend: Backend, configuration: Configuration, tables: StickTables = .shared) throws(ConfigErrors) {
        var rules: [Rule] = []
        var errors: [ConfigError] = []
        for rule in backend.stickRules {
            func fail(_ message: String) { errors.append(ConfigError(file: configuration.file, line: rule.line, keyword: "stick on", message: message)) }
            let tableName = rule.table ?? backend.name
            guard let declaration = tableName == backend.name ? backend.stickTable : configuration.backends[tableName]?.stickTable else {
                fail(rule.table == nil ? "backend '\(backend.name)' has no stick-table" : "no stick-table in a backend named '\(tableName)'")
                continue
            }
            guard let table = tables.table(tableName, declaration: declaration) else {
                fail("stick-table type '\(declaration.type)' is not supported")
                continue
            }
            do {
                rules.append(Rule(sample: try SampleExpression(parsing: rule.sample), condition: rule.condition, table: table))
            } catch {
                fail(error.message)
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        self.rules = rules
    }

    /// The server name the first applicable rule's key is stuck to, or nil.
    func match(_ input: SampleInput, now: UInt64) -> String? {
        for rule in rules where rule.condition?.evaluate(input) ?? true {
            guard let key = Self.key(rule.sample.evaluate(input), type: rule.table.keyType) else { continue }
            if let server = rule.table.lookup(key, now: now) { return server }
        }
        return nil
    }

    /// Remembers `server` for this request under every applicable rule's key.
    func store(_ input: SampleInput, server: String, now: UInt64) {
        for rule in rules where rule.condition?.evaluate(input) ?? true {
            guard let key = Self.key(rule.sample.evaluate(input), type: rule.table.keyType) else { continue }
            rule.table.store(key, server: server, now: now)
        }
    }

    /// A sample as a key of the table's type: an IPv4 address (4 bytes) for `ip` — an IPv6
    /// client has no `ip` key, as in HAProxy —, 16 bytes for `ipv6` (IPv4 mapped), 8 bytes for
    /// `integer`, the bytes (at most 32, HAProxy's default `len`) for `string` and `binary`.
    static func key(_ value: SampleValue?, type: StickTable.KeyType) -> [UInt8]? {
        guard let value else { return nil }
        switch type {
        case .ip:
            guard let bytes = IPNetwork.bytes(value.text), bytes.count == 4 else { return nil }
            return bytes
        case .ipv6:
            guard let bytes = IPNetwork.bytes(value.text) else { return nil }
            return bytes.count == 16 ? bytes : Array(repeating: 0, count: 10) + [0xFF, 0xFF] + bytes
        case .integer:
            guard let n = value.integer else { return nil }
            return withUnsafeBytes(of: Int64(n).bigEndian) { Array($0) }
        case .string, .binary:
            return Array(value.text.utf8.prefix(32))
        }
    }
}

/// `src_conn_cur`: connections open now from each client address, process-wide (every event
/// loop counts into it), sharded like the stick tables. An address is forgotten when its last
/// connection closes, so the map holds only addresses with open connections.
final class SourceConnections: Sendable {
    static let shared = SourceConnections()
    private let shards: [NIOLockedValueBox<[[UInt8]: Int]>] = (0..<16).map { _ in NIOLockedValueBox([:]) }

    private func shard(_ key: [UInt8]) -> NIOLockedValueBox<[[UInt8]: Int]> {
        var h = Hasher()
        h.combine(key)
        return shards[Int(UInt(bitPattern: h.finalize()) % UInt(shards.count))]
    }

    /// A connection from `address` was accepted; returns the count including it.
    @discardableResult
    func opened(_ address: String) -> Int {
        guard let key = IPNetwork.bytes(address) else { return 0 }
        return shard(key).withLockedValue { map in
            map[key, default: 0] += 1
            return map[key]!
        }
    }

    /// A connection from `address` closed (call once per `opened`).
    func closed(_ address: String) {
        guard let key = IPNetwork.bytes(address) else { return }
        shard(key).withLockedValue { map in
            guard let n = map[key] else { return }
            if n <= 1 { map.removeValue(forKey: key) } else { map[key] = n - 1 }
        }
    }

    func count(_ address: String) -> Int {
        guard let key = IPNetwork.bytes(address) else { return 0 }
        return shard(key).withLockedValue { $0[key] ?? 0 }
    }
}
