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
        if let p = s.connRate, case .frequency(let e, let c, let pr)? = values[Codec.Data.connRate] {
            entry.connRate = StickRate(now: now, elapsed: min(e * 1_000_000, p), current: Int(clamping: c), previous: Int(clamping: pr))
        }
        if let p = s.httpReqRate, case .frequency(let e, let c, let pr)? = values[Codec.Data.httpReqRate] {
            entry.httpReqRate = StickRate(now: now, elapsed: min(e * 1_000_000, p), current: Int(clamping: c), previous: Int(clamping: pr))
        }
    }
}
