import NIOCore

/// `show table [NAME]` and `clear table NAME` on the stats socket, in HAProxy 2.6's words:
/// a `# table: NAME, type: ip, size:N, used:M` line per table, then with a name one line per
/// entry, `0xID: key=K use=0 exp=MS` and the stored data (`server_id=1 server_key=s1`,
/// `gpc0=0`, `conn_cur=0`, `http_req_rate(10000)=4`) in HAProxy's order.
extension ProxyRuntime {
    public func showTable(_ name: String?) -> String {
        // HAProxy lists its proxies' tables last-declared first.
        let tables = StickTables.declared(configuration).reversed().compactMap { stickTables[$0.name] }
        guard let name else {
            let now = UInt64(NIODeadline.now().uptimeNanoseconds)
            return tables.map { Self.header($0, used: $0.entries(now: now).count) }.joined()
        }
        guard let table = stickTables[name] else { return "No such table\n" }
        let now = UInt64(NIODeadline.now().uptimeNanoseconds)
        let entries = table.entries(now: now)
        var out = Self.header(table, used: entries.count)
        for (key, entry, remaining) in entries.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            var line = "0x\(String(Self.entryID(key), radix: 16)): key=\(StickRules.describe(key, type: table.keyType)) use=\(entry.trackers)"
            line += " exp=\(remaining.map { String($0 / 1_000_000) } ?? "0")"
            if let server = entry.server { line += " server_id=\(server.id)" }
            let s = table.stored
            if s.gpt0 { line += " gpt0=\(entry.gpt0)" }
            if s.gpc0 { line += " gpc0=\(entry.gpc0)" }
            if let p = s.gpc0Rate { line += " gpc0_rate(\(p / 1_000_000))=\(entry.gpc0Rate.rate(now: now, period: p))" }
            if s.connCount { line += " conn_cnt=\(entry.connCount)" }
            if let p = s.connRate { line += " conn_rate(\(p / 1_000_000))=\(entry.connRate.rate(now: now, period: p))" }
            if s.connCur { line += " conn_cur=\(entry.connCur)" }
            if s.httpReqCount { line += " http_req_cnt=\(entry.httpReqCount)" }
            if let p = s.httpReqRate { line += " http_req_rate(\(p / 1_000_000))=\(entry.httpReqRate.rate(now: now, period: p))" }
            if s.gpc1 { line += " gpc1=\(entry.gpc1)" }
            if let p = s.gpc1Rate { line += " gpc1_rate(\(p / 1_000_000))=\(entry.gpc1Rate.rate(now: now, period: p))" }
            if let server = entry.server { line += " server_key=\(server.name)" }
            out += line + "\n"
        }
        return out
    }

    /// `clear table NAME`: every entry of the table is forgotten (HAProxy 2.6 does the same
    /// without a key filter). nil: no such table.
    public func clearTable(_ name: String) -> Bool {
        guard let table = stickTables[name] else { return false }
        table.clear()
        return true
    }

    /// `used`: the live entries (an expired one not purged yet is not counted, as HAProxy's
    /// expiry task would have removed it).
    private static func header(_ table: StickTable, used: Int) -> String {
        "# table: \(table.name), type: \(table.keyType.rawValue), size:\(table.size), used:\(used)\n"
    }

    /// A stable stand-in for HAProxy's entry address.
    private static func entryID(_ key: [UInt8]) -> UInt64 {
        key.reduce(UInt64(0x5500_0000_0000)) { ($0 &* 31) &+ UInt64($1) } & 0xFFFF_FFFF_FFFF
    }
}
