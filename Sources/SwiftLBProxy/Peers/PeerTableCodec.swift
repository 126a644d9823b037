/// The stick-table messages of HAProxy's peers protocol: a table's definition (its name on the
/// wire, key type and size, which data it stores, expiry and rate periods), the switch to a
/// table, an entry's update, and the acknowledgement of updates. Pure: the dictionary of
/// `server_key` values a session keeps (`PeerDictionary`) is passed in.
enum PeerTableCodec {
    /// Key types on the wire (`PEER_KT_*`).
    enum KeyType: UInt64, Sendable {
        case integer = 2, ip = 4, ipv6 = 5, string = 6, binary = 7
    }

    /// How each of HAProxy 2.6's data types (`STKTABLE_DT_*`, by number) is encoded: one varint
    /// (signed, unsigned, 64-bit), a frequency counter (three varints), a dictionary entry, and
    /// for the array types that many of them (the count comes with the table's definition).
    enum DataKind: Sendable {
        case integer, frequency, dictionary
    }

    static let dataKinds: [DataKind] = [
        .integer,    // 0 server_id
        .integer,    // 1 gpt0
        .integer,    // 2 gpc0
        .frequency,  // 3 gpc0_rate
        .integer,    // 4 conn_cnt
        .frequency,  // 5 conn_rate
        .integer,    // 6 conn_cur
        .integer,    // 7 sess_cnt
        .frequency,  // 8 sess_rate
        .integer,    // 9 http_req_cnt
        .frequency,  // 10 http_req_rate
        .integer,    // 11 http_err_cnt
        .frequency,  // 12 http_err_rate
        .integer,    // 13 bytes_in_cnt
        .frequency,  // 14 bytes_in_rate
        .integer,    // 15 bytes_out_cnt
        .frequency,  // 16 bytes_out_rate
        .integer,    // 17 gpc1
        .frequency,  // 18 gpc1_rate
        .dictionary, // 19 server_key
        .integer,    // 20 http_fail_cnt
        .frequency,  // 21 http_fail_rate
        .integer,    // 22 gpt (array)
        .integer,    // 23 gpc (array)
        .frequency,  // 24 gpc_rate (array)
    ]
    static let arrayTypes: Set<Int> = [22, 23, 24]

    /// The data types SwiftLB's tables keep, by HAProxy's numbers.
    enum Data {
        static let serverID = 0, connCount = 4, connRate = 5, connCur = 6, httpReqCount = 9, httpReqRate = 10, serverKey = 19
        static let gpt0 = 1, gpc0 = 2, gpc0Rate = 3, gpc1 = 17, gpc1Rate = 18
    }

    /// A table as a `define` message describes it.
    struct Definition: Equatable, Sendable {
        /// The sender's number for the table (its later updates name it by the switch to it).
        var id: UInt64
        /// The table's name on the wire: a backend's name, or the `table` name of a `peers` section.
        var name: String
        var keyType: KeyType
        /// Bytes of the key: 4 (integer, ip), 16 (ipv6), `len` + 1 for a string (HAProxy counts
        /// the terminating NUL; 32 without `len`), `len` for binary.
        var keySize: UInt64
        /// One bit per stored data type.
        var dataTypes: UInt64
        /// Milliseconds an entry lives (0: no expiry).
        var expire: UInt64
        /// Periods of the frequency counters (milliseconds), and element counts of arrays.
        var periods: [Int: UInt64] = [:]
        var arrayCounts: [Int: UInt64] = [:]

        func stores(_ dataType: Int) -> Bool { dataTypes & (1 << UInt64(dataType)) != 0 }
    }

    /// A stored value as it travels.
    enum Value: Equatable, Sendable {
        case integer(UInt64)
        /// Milliseconds since the current period began, events in it, events in the previous one.
        case frequency(elapsed: UInt64, current: UInt64, previous: UInt64)
        /// A `server_key` (nil: none).
        case dictionary(String?)
        case array([Value])
    }

    /// An entry's update.
    struct Update: Equatable, Sendable {
        /// The sender's update number; nil in an incremental update (the previous one + 1).
        var id: UInt32?
        /// Milliseconds the entry has left (timed updates, sent while teaching a whole table).
        var expire: UInt32?
        /// The key as on the wire: a string's bytes, 4 bytes big-endian for an integer, the
        /// address bytes for ip and ipv6.
        var key: [UInt8]
        var values: [Int: Value]
    }

    enum Failure: Error, Equatable {
        case malformed(String)
    }

    // MARK: define

    static func encodeDefinition(_ d: Definition) -> [UInt8] {
        var out: [UInt8] = []
        PeerCodec.encode(d.id, into: &out)
        let name = Array(d.name.utf8)
        PeerCodec.encode(UInt64(name.count), into: &out)
        out += name
        PeerCodec.encode(d.keyType.rawValue, into: &out)
        PeerCodec.encode(d.keySize, into: &out)
        PeerCodec.encode(d.dataTypes, into: &out)
        PeerCodec.encode(d.expire, into: &out)
        for type in 0..<dataKinds.count where d.stores(type) {
            if arrayTypes.contains(type) {
                PeerCodec.encode(UInt64(type), into: &out)
                PeerCodec.encode(d.arrayCounts[type] ?? 1, into: &out)
                if dataKinds[type] == .frequency { PeerCodec.encode(d.periods[type] ?? 0, into: &out) }
            } else if dataKinds[type] == .frequency {
                PeerCodec.encode(UInt64(type), into: &out)
                PeerCodec.encode(d.periods[type] ?? 0, into: &out)
            }
        }
        return PeerCodec.tableMessage(.define, out)
    }

    /// A `define` body; nil key type: a type SwiftLB does not know (the table is ignored, as
    /// HAProxy ignores a table it cannot match).
    static func decodeDefinition(_ body: [UInt8]) throws(Failure) -> Definition? {
        let b = body[...]
        var i = b.startIndex
        guard let id = PeerCodec.decode(b, at: &i), let nameLength = PeerCodec.decode(b, at: &i) else { throw .malformed("table definition") }
        guard nameLength > 0, let n = fits(nameLength, b.endIndex - i), i + n < b.endIndex else { throw .malformed("table name") }
        let name = String(decoding: b[i..<i + n], as: UTF8.self)
        i += n
        guard let rawType = PeerCodec.decode(b, at: &i), let keySize = PeerCodec.decode(b, at: &i),
              let dataTypes = PeerCodec.decode(b, at: &i) else { throw .malformed("table definition") }
        guard let keyType = KeyType(rawValue: rawType) else { return nil }
        var d = Definition(id: id, name: name, keyType: keyType, keySize: keySize, dataTypes: dataTypes, expire: 0)
        // Old peers stop here (no expiry, no parameters); an array type then cannot be read.
        guard let expire = PeerCodec.decode(b, at: &i) else {
            return arrayTypes.contains(where: { d.stores($0) }) ? nil : d
        }
        d.expire = expire
        for type in 0..<64 where d.stores(type) {
            guard type < dataKinds.count else { return nil }
            let isArray = arrayTypes.contains(type)
            guard isArray || dataKinds[type] == .frequency else { continue }
            guard PeerCodec.decode(b, at: &i) == UInt64(type) else { return nil }
            if isArray {
                guard let count = PeerCodec.decode(b, at: &i) else { return nil }
                d.arrayCounts[type] = count
            }
            if dataKinds[type] == .frequency {
                guard let period = PeerCodec.decode(b, at: &i) else { return nil }
                d.periods[type] = period
            }
        }
        return d
    }

    // MARK: switch, ack

    static func encodeSwitch(tableID: UInt64) -> [UInt8] { PeerCodec.tableMessage(.switchTable, PeerCodec.encoded(tableID)) }

    static func decodeSwitch(_ body: [UInt8]) throws(Failure) -> UInt64 {
        var i = 0
        guard let id = PeerCodec.decode(body[...], at: &i) else { throw .malformed("switch") }
        return id
    }

    /// An acknowledgement: the receiver's number for the table (the sender's `define` id) and
    /// the last update received.
    static func encodeAck(tableID: UInt64, update: UInt32) -> [UInt8] {
        var out = PeerCodec.encoded(tableID)
        PeerCodec.appendUInt32(update, into: &out)
        return PeerCodec.tableMessage(.ack, out)
    }

    static func decodeAck(_ body: [UInt8]) throws(Failure) -> (tableID: UInt64, update: UInt32) {
        var i = 0
        guard let id = PeerCodec.decode(body[...], at: &i), let update = PeerCodec.readUInt32(body[...], at: &i) else { throw .malformed("ack") }
        return (id, update)
    }

    // MARK: update

    /// An update of a table defined as `d` (its data types, in their order).
    static func encodeUpdate(_ u: Update, definition d: Definition, dictionary: inout PeerDictionary) -> [UInt8] {
        var out: [UInt8] = []
        if let id = u.id { PeerCodec.appendUInt32(id, into: &out) }
        if let expire = u.expire { PeerCodec.appendUInt32(expire, into: &out) }
        switch d.keyType {
        case .string:
            let key = u.key.prefix(Int(d.keySize) - 1)
            PeerCodec.encode(UInt64(key.count), into: &out)
            out += key
        case .integer, .ip, .ipv6, .binary:
            var key = Array(u.key.prefix(Int(d.keySize)))
            key += Array(repeating: 0, count: Int(d.keySize) - key.count)
            out += key
        }
        for type in 0..<dataKinds.count where d.stores(type) {
            encodeValue(u.values[type], kind: dataKinds[type], count: arrayTypes.contains(type) ? Int(d.arrayCounts[type] ?? 1) : nil,
                        into: &out, dictionary: &dictionary)
        }
        let type: PeerCodec.TableMessage = switch (u.id != nil, u.expire != nil) {
        case (true, true): .updateTimed
        case (true, false): .update
        case (false, true): .incrementalUpdateTimed
        case (false, false): .incrementalUpdate
        }
        return PeerCodec.tableMessage(type, out)
    }

    private static func encodeValue(_ value: Value?, kind: DataKind, count: Int?, into out: inout [UInt8], dictionary: inout PeerDictionary) {
        if let count {
            let items: [Value] = if case .array(let a) = value { a } else { [] }
            for n in 0..<count { encodeValue(n < items.count ? items[n] : nil, kind: kind, count: nil, into: &out, dictionary: &dictionary) }
            return
        }
        switch kind {
        case .integer:
            if case .integer(let v) = value { PeerCodec.encode(v, into: &out) } else { out.append(0) }
        case .frequency:
            if case .frequency(let elapsed, let current, let previous) = value {
                PeerCodec.encode(elapsed, into: &out)
                PeerCodec.encode(current, into: &out)
                PeerCodec.encode(previous, into: &out)
            } else {
                out += [0, 0, 0]
            }
        case .dictionary:
            guard case .dictionary(let text?) = value else {
                out.append(0)
                return
            }
            switch dictionary.send(text) {
            case .known(let id):
                PeerCodec.encode(1, into: &out)
                PeerCodec.encode(UInt64(id), into: &out)
            case .new(let id):
                var data = PeerCodec.encoded(UInt64(id))
                let bytes = Array(text.utf8)
                PeerCodec.encode(UInt64(bytes.count), into: &data)
                data += bytes
                PeerCodec.encode(UInt64(data.count), into: &out)
                out += data
            }
        }
    }

    /// An update (`type` says whether it has an id and an expiry) of a table the remote defined
    /// as `d`.
    static func decodeUpdate(_ body: [UInt8], type: PeerCodec.TableMessage, definition d: Definition,
                             dictionary: inout PeerDictionary) throws(Failure) -> Update {
        let b = body[...]
        var i = b.startIndex
        var u = Update(id: nil, expire: nil, key: [], values: [:])
        if type == .update || type == .updateTimed {
            guard let id = PeerCodec.readUInt32(b, at: &i) else { throw .malformed("update id") }
            u.id = id
        }
        if type == .updateTimed || type == .incrementalUpdateTimed {
            guard let expire = PeerCodec.readUInt32(b, at: &i) else { throw .malformed("update expiry") }
            u.expire = expire
        }
        switch d.keyType {
        case .string:
            guard let length = PeerCodec.decode(b, at: &i), let n = fits(length, b.endIndex - i) else { throw .malformed("update key") }
            u.key = Array(b[i..<i + n])
            i += n
        case .integer, .ip, .ipv6, .binary:
            // The size is the remote definition's: any UInt64 may have come.
            guard let n = fits(d.keySize, b.endIndex - i) else { throw .malformed("update key") }
            u.key = Array(b[i..<i + n])
            i += n
        }
        for type in 0..<dataKinds.count where d.stores(type) {
            if arrayTypes.contains(type) {
                var items: [Value] = []
                for _ in 0..<(d.arrayCounts[type] ?? 0) { items.append(try decodeValue(b, at: &i, kind: dataKinds[type], dictionary: &dictionary)) }
                u.values[type] = .array(items)
            } else {
                u.values[type] = try decodeValue(b, at: &i, kind: dataKinds[type], dictionary: &dictionary)
            }
        }
        return u
    }

    /// A length read from the wire as an Int, when at most `room` bytes (any UInt64 may come).
    private static func fits(_ length: UInt64, _ room: Int) -> Int? {
        length <= UInt64(max(0, room)) ? Int(length) : nil
    }

    private static func decodeValue(_ b: ArraySlice<UInt8>, at i: inout Int, kind: DataKind, dictionary: inout PeerDictionary) throws(Failure) -> Value {
        guard let first = PeerCodec.decode(b, at: &i) else { throw .malformed("update data") }
        switch kind {
        case .integer:
            return .integer(first)
        case .frequency:
            guard let current = PeerCodec.decode(b, at: &i), let previous = PeerCodec.decode(b, at: &i) else { throw .malformed("update rate") }
            return .frequency(elapsed: first, current: current, previous: previous)
        case .dictionary:
            guard first > 0 else { return .dictionary(nil) }
            guard let n = fits(first, b.endIndex - i) else { throw .malformed("server_key") }
            let end = i + n
            let data = b[..<end]
            guard let id = PeerCodec.decode(data, at: &i), id > 0, id <= UInt64(PeerDictionary.size) else { throw .malformed("server_key id") }
            if i == end {
                return .dictionary(dictionary.received(id: Int(id)))
            }
            guard let length = PeerCodec.decode(data, at: &i), let n = fits(length, end - i) else { throw .malformed("server_key value") }
            let text = String(decoding: b[i..<i + n], as: UTF8.self)
            i = end
            dictionary.learn(id: Int(id), text)
            return .dictionary(text)
        }
    }
}

/// The `server_key` dictionary of one peer session (HAProxy's `dcache`): a value is sent once
/// with a number (1…128), then by its number alone; each direction has its own. The sending
/// side reuses numbers in turn when it has given out all 128 (its oldest value is forgotten and
/// sent again in full the next time).
struct PeerDictionary: Sendable {
    static let size = 128
    private var sent: [String: Int] = [:]
    private var sentSlots: [String?] = Array(repeating: nil, count: PeerDictionary.size)
    private var nextSlot = 0
    private var received: [String?] = Array(repeating: nil, count: PeerDictionary.size)

    enum Sent: Equatable {
        case known(Int)
        case new(Int)
    }

    mutating func send(_ text: String) -> Sent {
        if let id = sent[text] { return .known(id) }
        let slot = nextSlot
        nextSlot = (nextSlot + 1) % Self.size
        if let old = sentSlots[slot] { sent[old] = nil }
        sentSlots[slot] = text
        sent[text] = slot + 1
        return .new(slot + 1)
    }

    mutating func learn(id: Int, _ text: String) { received[id - 1] = text }

    func received(id: Int) -> String? { received[id - 1] }
}
