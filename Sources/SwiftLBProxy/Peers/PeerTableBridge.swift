/// Between a `StickTable` and the peers protocol's view of it: its definition (wire name, key
/// type and size as HAProxy counts them, the data it stores with their numbers and periods),
/// an entry as the values of an update, and an update's values into an entry. Pure.
enum PeerTableBridge {
    typealias Codec = PeerTableCodec

    /// The definition of `table` numbered `id`. `server_id` and `server_key` are always
    /// declared: HAProxy adds both to a table its `stick` rules use, and SwiftLB's entries
    /// always hold a server.
    static func definition(_ table: StickTable, id: UInt64, sync: StickTableSync) -> Codec.Definition {
        let lengthWritten = sync.lengthWritten
        let keyType: Codec.KeyType
        let keySize: UInt64
        switch table.keyType {
        case .ip: (keyType, keySize) = (.ip, 4)
        case .ipv6: (keyType, keySize) = (.ipv6, 16)
        case .integer: (keyType, keySize) = (.integer, 4)
        case .string: (keyType, keySize) = (.string, lengthWritten ? UInt64(table.keyLength) + 1 : 32)
        case .binary: (keyType, keySize) = (.binary, UInt64(table.keyLength))
        }
        var types: [Int] = [Codec.Data.serverID, Codec.Data.serverKey]
        var periods: [Int: UInt64] = [:]
        let s = table.stored
        if s.connCount { types.append(Codec.Data.connCount) }
        if s.connCur { types.append(Codec.Data.connCur) }
        if s.httpReqCount { types.append(Codec.Data.httpReqCount) }
        if let p = s.connRate { types.append(Codec.Data.connRate); periods[Codec.Data.connRate] = p / 1_000_000 }
        if let p = s.httpReqRate { types.append(Codec.Data.httpReqRate); periods[Codec.Data.httpReqRate] = p / 1_000_000 }
        if s.gpt0 { types.append(Codec.Data.gpt0) }
        if s.gpc0 { types.append(Codec.Data.gpc0) }
        if s.gpc1 { types.append(Codec.Data.gpc1) }
        if let p = s.gpc0Rate { types.append(Codec.Data.gpc0Rate); periods[Codec.Data.gpc0Rate] = p / 1_000_000 }
        if let p = s.gpc1Rate { types.append(Codec.Data.gpc1Rate); periods[Codec.Data.gpc1Rate] = p / 1_000_000 }
        let bits = types.reduce(UInt64(0)) { $0 | 1 << UInt64($1) }
        return Codec.Definition(id: id, name: sync.wireName, keyType: keyType, keySize: keySize, dataTypes: bits,
                                expire: (table.expire ?? 0) / 1_000_000, periods: periods)
    }

    /// Our key as it travels: an integer key is 8 bytes here, 4 on the wire.
    static func wireKey(_ key: [UInt8], type: StickTable.KeyType) -> [UInt8] {
        type == .integer ? Array(key.suffix(4)) : key
    }

    static func localKey(_ key: [UInt8], type: StickTable.KeyType) -> [UInt8] {
        switch type {
        case .integer:
            let n = Int32(bitPattern: key.prefix(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
            return withUnsafeBytes(of: Int64(n).bigEndian) { Array($0) }
        case .string:
            // HAProxy's string keys end at their first NUL.
            return Array(key.prefix { $0 != 0 })
        default:
            return key
        }
    }

    static func values(_ entry: StickTable.Entry, table: StickTable, now: UInt64) -> [Int: Codec.Value] {
        var v: [Int: Codec.Value] = [:]
        if let server = entry.server {
            v[Codec.Data.serverID] = .integer(UInt64(UInt32(truncatingIfNeeded: server.id)))
            v[Codec.Data.serverKey] = .dictionary(server.name.isEmpty ? nil : server.name)
        }
        v[Codec.Data.connCount] = .integer(UInt64(max(0, entry.connCount)))
        v[Codec.Data.connCur] = .integer(UInt64(max(0, entry.connCur)))
        v[Codec.Data.httpReqCount] = .integer(UInt64(max(0, entry.httpReqCount)))
        if let p = table.stored.connRate { v[Codec.Data.connRate] = frequency(entry.connRate.wire(now: now, period: p)) }
        if let p = table.stored.httpReqRate { v[Codec.Data.httpReqRate] = frequency(entry.httpReqRate.wire(now: now, period: p)) }
        v[Codec.Data.gpt0] = .integer(UInt64(UInt32(truncatingIfNeeded: entry.gpt0)))
        v[Codec.Data.gpc0] = .integer(UInt64(UInt32(truncatingIfNeeded: entry.gpc0)))
        v[Codec.Data.gpc1] = .integer(UInt64(UInt32(truncatingIfNeeded: entry.gpc1)))
        if let p = table.stored.gpc0Rate { v[Codec.Data.gpc0Rate] = frequency(entry.gpc0Rate.wire(now: now, period: p)) }
        if let p = table.stored.gpc1Rate { v[Codec.Data.gpc1Rate] = frequency(entry.gpc1Rate.wire(now: now, period: p)) }
        return v
    }

    private static func frequency(_ f: (elapsed: UInt64, current: Int, previous: Int)) -> Codec.Value {
        .frequency(elapsed: f.elapsed / 1_000_000, current: UInt64(f.current), previous: UInt64(f.previous))
    }

    /// An update's values into `entry` (what the table does not store is left out; `conn_cur`
    /// is local, as in HAProxy).
    static func apply(_ values: [Int: Codec.Value], to entry: inout StickTable.Entry, table: StickTable, now: UInt64) {
        var id: Int?
        var key: String?
        if case .integer(let n)? = values[Codec.Data.serverID] { id = Int(Int32(truncatingIfNeeded: n)) }
        if case .dictionary(let name)? = values[Codec.Data.serverKey] { key = name }
        if let id, id != 0 || key != nil { entry.server = StickTable.Server(id: id, name: key ?? "") }
        let s = table.stored
        if s.connCount, case .integer(let n)? = values[Codec.Data.connCount] { entry.connCount = Int(clamping: n) }
        if s.httpReqCount, case .integer(let n)? = values[Codec.Data.httpReqCount] { entry.httpReqCount = Int(clamping: n) }
        if s.gpt0, case .integer(let n)? = values[Codec.Data.gpt0] { entry.gpt0 = Int(UInt32(truncatingIfNeeded: n)) }
        if s.gpc0, case .integer(let n)? = values[Codec.Data.gpc0] { entry.gpc0 = Int(UInt32(truncatingIfNeeded: n)) }
        if s.gpc1, case .integer(let n)? = values[Codec.Data.gpc1] { entry.gpc1 = Int(UInt32(truncatingIfNeeded: n)) }
        func rate(_ period: UInt64?, _ type: Int, _ target: inout StickRate) {
            guard let p = period, case .frequency(let e, let c, let pr)? = values[type] else { return }
            target = StickRate(now: now, elapsed: min(e * 1_000_000, p), current: Int(clamping: c), previous: Int(clamping: pr))
        }
        rate(s.connRate, Codec.Data.connRate, &entry.connRate)
        rate(s.httpReqRate, Codec.Data.httpReqRate, &entry.httpReqRate)
        rate(s.gpc0Rate, Codec.Data.gpc0Rate, &entry.gpc0Rate)
        rate(s.gpc1Rate, Codec.Data.gpc1Rate, &entry.gpc1Rate)
    }
}
