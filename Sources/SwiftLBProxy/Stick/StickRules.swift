import Glibc
import NIOConcurrencyHelpers
import NIOCore
import SwiftLBConfig

/// The process's stick tables by name: those of the runtime in force. A runtime being built
/// asks for each declared table: one with the same declaration is the one in force, with its
/// entries (clients stay where they were across a reload); a changed declaration gets a new,
/// empty table. Nothing changes here until the new runtime is in force (`adopt`), so a reload
/// that is refused leaves the registry as it was. Asked only while a runtime is built, never
/// per request.
final class StickTables: Sendable {
    static let shared = StickTables()
    private let tables = NIOLockedValueBox<[String: StickTable]>([:])

    func table(_ name: String, declaration: SwiftLBConfig.StickTable) -> StickTable? {
        guard let type = StickTable.KeyType(rawValue: declaration.type) else { return nil }
        let expire = declaration.expire.map { UInt64($0.nanoseconds) }
        let stored = Self.stored(declaration.store)
        // A table of a peers section is `PEERS/NAME` here and `/NAME` on the wire (HAProxy
        // 2.6 sends that: its network id starts at the '/'); a backend's is its name.
        let wireName = declaration.peers.map { name.hasPrefix($0 + "/") ? String(name.dropFirst($0.count)) : name }
        if let t = tables.withLockedValue({ $0[name] }), t.keyType == type, t.size == declaration.size, t.expire == expire, t.stored == stored,
           t.keyLength == declaration.keyLength, t.sync?.peers == declaration.peers, t.sync?.wireName == wireName,
           t.sync?.lengthWritten ?? declaration.lengthWritten == declaration.lengthWritten,
           t.keyByAddress == declaration.serverKeyIsAddress { return t }
        var sync: StickTableSync?
        if let wireName, let peers = declaration.peers {
            sync = StickTableSync(wireName: wireName, peers: peers, lengthWritten: declaration.lengthWritten)
        }
        return StickTable(name: name, keyType: type, size: declaration.size, expire: expire, stored: stored, keyLength: declaration.keyLength,
                          sync: sync, keyByAddress: declaration.serverKeyIsAddress)
    }

    /// The tables of the runtime now in force (at start, and once a reload is in force): later
    /// builds find theirs here; tables no longer declared are forgotten (a runtime still
    /// serving keeps its own references until it is gone).
    func adopt(_ inForce: [String: StickTable]) {
        tables.withLockedValue { $0 = inForce }
    }

    /// `store` as written → what entries count (the parser refused anything else).
    static func stored(_ data: [String]) -> StickTable.Stored {
        var s = StickTable.Stored()
        for item in data {
            let name = item.prefix { $0 != "(" }
            let period = ConfigDuration(parsing: String(item.dropFirst(name.count + 1).dropLast())).map { UInt64($0.nanoseconds) }
            switch name {
            case "conn_cur": s.connCur = true
            case "conn_cnt": s.connCount = true
            case "http_req_cnt": s.httpReqCount = true
            case "conn_rate": s.connRate = period
            case "http_req_rate": s.httpReqRate = period
            case "gpt0": s.gpt0 = true
            case "gpc0": s.gpc0 = true
            case "gpc1": s.gpc1 = true
            case "gpc0_rate": s.gpc0Rate = period
            case "gpc1_rate": s.gpc1Rate = period
            default: break
            }
        }
        return s
    }

    /// Every table the configuration declares (a backend's or a `listen`'s under its name, a
    /// frontend's under its own), in declaration order.
    static func declared(_ configuration: Configuration) -> [(name: String, declaration: SwiftLBConfig.StickTable)] {
        var result: [(String, SwiftLBConfig.StickTable)] = []
        for b in configuration.backends.values { if let t = b.stickTable { result.append((b.name, t)) } }
        for f in configuration.frontends where configuration.backends[f.name] == nil { if let t = f.stickTable { result.append((f.name, t)) } }
        for p in configuration.peers.values where !p.disabled { for (name, t) in p.tables { result.append(("\(p.name)/\(name)", t)) } }
        return result.sorted { $0.1.line < $1.1.line }
    }

    /// The runtime's tables by name; errors name the file, line and keyword.
    static func build(_ configuration: Configuration, shared: StickTables = .shared) throws(ConfigErrors) -> [String: StickTable] {
        var result: [String: StickTable] = [:]
        var errors: [ConfigError] = []
        for (name, declaration) in declared(configuration) {
            guard let table = shared.table(name, declaration: declaration) else {
                errors.append(ConfigError(file: configuration.file, line: declaration.line, keyword: "stick-table",
                                          message: "stick-table type '\(declaration.type)' is not supported"))
                continue
            }
            if let peers = declaration.peers, configuration.peers[peers] == nil {
                errors.append(ConfigError(file: configuration.file, line: declaration.line, keyword: "stick-table",
                                          message: "no peers section named '\(peers)'"))
            }
            result[name] = table
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return result
    }
}

/// A backend's `stick on|match|store-request SAMPLE [table NAME] [if|unless COND]` rules:
/// before the balancer, `match` (and `on`) find the server a key was stuck to (the first rule
/// whose condition holds and whose key is in the table); once a server is chosen (by the match,
/// a cookie or the balancer), `store-request` (and `on`) remember it under each applicable
/// rule's key. The stream keeps a matched server only if it is usable (up, not in maintenance),
/// as HAProxy does, and goes to the balancer otherwise.
struct StickRules: Sendable {
    private struct Rule: Sendable {
        let kind: StickRule.Kind
        let sample: SampleExpression
        let condition: Condition?
        let table: StickTable
    }

    private let rules: [Rule]
    var isEmpty: Bool { rules.isEmpty }

    /// The rules of `backend`; `tables` are the runtime's (the backend's own, or the one
    /// `table NAME` names). Errors name the file, line and keyword.
    init(backend: Backend, configuration: Configuration, tables: [String: StickTable]) throws(ConfigErrors) {
        var rules: [Rule] = []
        var errors: [ConfigError] = []
        for rule in backend.stickRules {
            func fail(_ message: String) {
                errors.append(ConfigError(file: configuration.file, line: rule.line, keyword: "stick \(rule.kind.rawValue)", message: message))
            }
            if rule.kind == .storeResponse, backend.options.mode != .http {
                // Learning from a TCP response (`payload_lv(43,1) if serverhello`) is not done:
                // refused rather than accepted and never stored.
                fail("'stick store-response' is supported in 'mode http' backends only (SwiftLB learns keys from HTTP responses)")
                continue
            }
            let tableName = rule.table ?? backend.name
            guard let table = tables[tableName] else {
                fail(rule.table == nil ? "backend '\(backend.name)' has no stick-table (declare one, or name another with 'table NAME')"
                                       : "no stick-table in a proxy named '\(tableName)'")
                continue
            }
            do {
                rules.append(Rule(kind: rule.kind, sample: try SampleExpression(parsing: rule.sample), condition: rule.condition, table: table))
            } catch {
                fail(error.message)
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        self.rules = rules
    }

    /// The server of the first applicable `on`/`match` rule whose key is stuck to a server of
    /// `servers` usable now (or at all, `persistent`: `option persist`, `force-persist`); nil
    /// sends the stream to the balancer.
    func match(_ input: SampleInput, servers: [RuntimeServer], now: UInt64, persistent: Bool = false) -> RuntimeServer? {
        for rule in rules where (rule.kind == .on || rule.kind == .match) && (rule.condition?.evaluate(input) ?? true) {
            guard let key = Self.key(rule.sample.evaluate(input), table: rule.table),
                  let stuck = rule.table.lookup(key, now: now) else { continue }
            let byAddress = rule.table.keyByAddress
            // By its key (name or address), else by its `server_id` (HAProxy's order: an entry a
            // peer sent without `server_key`).
            // An entry naming no server, or one that may not take the client, lets the next
            // rules try (HAProxy's process_sticking_rules goes on while nothing is assigned).
            guard let server = servers.first(where: { byAddress ? $0.addressKey == stuck.name : $0.name == stuck.name })
                    ?? servers.first(where: { $0.sid == stuck.id }),
                  server.health.acceptsStickyClients || persistent else { continue }
            return server
        }
        return nil
    }

    /// The entries a chosen server is to be stored under (each applicable `on`/`store-request`
    /// rule's key), computed once per request; `Dispatch` stores its server in them.
    func storeKeys(_ input: SampleInput) -> [(StickTable, [UInt8])] {
        var keys: [(StickTable, [UInt8])] = []
        for rule in rules where (rule.kind == .on || rule.kind == .storeRequest) && (rule.condition?.evaluate(input) ?? true) {
            if let key = Self.key(rule.sample.evaluate(input), table: rule.table) { keys.append((rule.table, key)) }
        }
        return keys
    }

    /// Whether a `stick store-response` rule is to run on the responses.
    var storesResponses: Bool { rules.contains { $0.kind == .storeResponse } }

    /// `stick store-response`: the server that answered is stored under the key each applicable
    /// rule reads from the response (`input.response`) — the first such key of each table only,
    /// as HAProxy's process_store_rules keeps one entry per table.
    func storeResponse(_ input: SampleInput, server: RuntimeServer, now: UInt64) {
        var stored: [ObjectIdentifier] = []
        for rule in rules where rule.kind == .storeResponse && !stored.contains(ObjectIdentifier(rule.table)) && (rule.condition?.evaluate(input) ?? true) {
            guard let key = Self.key(rule.sample.evaluate(input), table: rule.table) else { continue }
            let name = rule.table.keyByAddress ? server.addressKey : server.name
            rule.table.store(key, server: StickTable.Server(id: server.sid, name: name), now: now)
            stored.append(ObjectIdentifier(rule.table))
        }
    }

    /// A sample as a key of the table's type: an IPv4 address (4 bytes) for `ip` — an IPv6
    /// client has no `ip` key, as in HAProxy —, 16 bytes for `ipv6` (IPv4 mapped), 8 bytes for
    /// `integer`, the bytes (at most `len`) for `string`.
    static func key(_ value: SampleValue?, table: StickTable) -> [UInt8]? {
        guard let value else { return nil }
        switch table.keyType {
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
            return Array(value.text.utf8.prefix(table.keyLength))
        }
    }

    /// A key as `show table` prints it.
    static func describe(_ key: [UInt8], type: StickTable.KeyType) -> String {
        switch type {
        case .ip, .ipv6:
            var address = key
            return address.withUnsafeMutableBytes { raw -> String in
                var text = [CChar](repeating: 0, count: 64)
                let family = key.count == 4 ? AF_INET : AF_INET6
                guard inet_ntop(family, raw.baseAddress, &text, socklen_t(text.count)) != nil else { return "?" }
                return String(cString: text)
            }
        case .integer:
            return String(key.reduce(Int64(0)) { $0 << 8 | Int64($1) })
        case .string, .binary:
            return String(decoding: key, as: UTF8.self)
        }
    }
}

/// Connections open now from each client address, process-wide (every event loop counts into
/// it), sharded like the stick tables — not wired: `src_conn_cur` reads a stick table's
/// `conn_cur`, as in HAProxy. An address is forgotten when its last
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
