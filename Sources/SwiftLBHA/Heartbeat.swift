/// One heartbeat between two SwiftLB instances. Wire format, big-endian, 56 bytes:
///
/// | offset | size | field |
/// |---|---|---|
/// | 0 | 4 | magic `SLBV` |
/// | 4 | 1 | version (1) |
/// | 5 | 1 | virtual router id |
/// | 6 | 1 | priority (0 = resigning) |
/// | 7 | 1 | reserved, 0 |
/// | 8 | 4 | advert interval, ms |
/// | 12 | 4 | sender IPv4 address |
/// | 16 | 8 | sequence (strictly increasing per sender, across restarts) |
/// | 24 | 32 | HMAC-SHA256 of bytes 0..<24 under the shared key (zeros with `auth none`) |
public struct Heartbeat: Sendable, Equatable {
    public var routerID: UInt8
    public var priority: UInt8
    public var intervalMilliseconds: UInt32
    public var sender: UInt32
    public var sequence: UInt64

    public init(routerID: UInt8, priority: UInt8, intervalMilliseconds: UInt32, sender: UInt32, sequence: UInt64) {
        self.routerID = routerID
        self.priority = priority
        self.intervalMilliseconds = intervalMilliseconds
        self.sender = sender
        self.sequence = sequence
    }

    public static let size = 56
    static let magic: [UInt8] = Array("SLBV".utf8)
}

/// Why a packet was dropped; each is counted, and logged at a bounded rate by the shell.
public enum HeartbeatDrop: Error, Sendable, Equatable {
    case badLength(Int)
    case badMagicOrVersion
    case otherRouter(UInt8)
    case badMAC
    case replayed(last: UInt64, got: UInt64)
    /// Sent (by its sequence's clock) more than `ReplayGuard.maximumAge` ago: a capture
    /// replayed to an instance that restarted and no longer remembers the sender's sequence.
    case stale(ageMilliseconds: Int64)
    /// Not from a configured `unicast_peer`, or the packet's sender field is not its source.
    case unknownSender(String)

    /// A short name for counters and logs.
    public var kind: String {
        switch self {
        case .badLength: "bad length"
        case .badMagicOrVersion: "not a heartbeat"
        case .otherRouter: "other virtual_router_id"
        case .badMAC: "bad MAC"
        case .replayed: "replayed"
        case .stale: "stale"
        case .unknownSender: "unknown sender"
        }
    }
}

/// Encodes and checks heartbeats with the key of `auth_key_file` (nil: `auth none`).
public struct HeartbeatCodec: Sendable {
    private let key: [UInt8]?
    public let routerID: UInt8

    public init(key: [UInt8]?, routerID: UInt8) {
        self.key = key
        self.routerID = routerID
    }

    public func encode(_ h: Heartbeat) -> [UInt8] {
        var out = Heartbeat.magic + [1, routerID, h.priority, 0]  // the codec's router id is authoritative
        appendBE(&out, UInt64(h.intervalMilliseconds), bytes: 4)
        appendBE(&out, UInt64(h.sender), bytes: 4)
        appendBE(&out, h.sequence, bytes: 8)
        out += mac(out)
        return out
    }

    /// The router id of what looks like a heartbeat (length, magic and version), before any
    /// authentication: the shared socket sorts packets by it to the instance whose key checks
    /// the rest.
    public static func routerID(of bytes: [UInt8]) -> Result<UInt8, HeartbeatDrop> {
        guard bytes.count == Heartbeat.size else { return .failure(.badLength(bytes.count)) }
        guard Array(bytes[0..<4]) == Heartbeat.magic, bytes[4] == 1 else { return .failure(.badMagicOrVersion) }
        return .success(bytes[5])
    }

    /// Parses and authenticates; replay is the `ReplayGuard`'s job (it keeps state).
    public func decode(_ bytes: [UInt8]) -> Result<Heartbeat, HeartbeatDrop> {
        switch Self.routerID(of: bytes) {
        case .failure(let why): return .failure(why)
        case .success(let id) where id != routerID: return .failure(.otherRouter(id))
        case .success: break
        }
        guard MAC.equal(mac(Array(bytes[0..<24])), bytes[24...]) else { return .failure(.badMAC) }
        return .success(Heartbeat(routerID: bytes[5], priority: bytes[6],
                                  intervalMilliseconds: UInt32(readBE(bytes, 8, 4)), sender: UInt32(readBE(bytes, 12, 4)),
                                  sequence: readBE(bytes, 16, 8)))
    }

    private func mac(_ data: [UInt8]) -> [UInt8] { MAC.hmac(key: key, data) }
}

/// Drops a heartbeat whose sequence is not above the last one accepted from its sender — a
/// captured packet sent again is ignored, however valid its MAC.
public struct ReplayGuard: Sendable {
    private var last: [UInt32: UInt64] = [:]
    /// How far the sender's clock (in its sequence) may lag ours; the two nodes' clocks must
    /// agree within this (NTP does far better).
    public static let maximumAge: Int64 = 60_000
    public init() {}

    /// `wallClockMilliseconds`: ours, for the staleness check (nil skips it).
    public mutating func admit(_ h: Heartbeat, wallClockMilliseconds: Int64? = nil) -> Result<Heartbeat, HeartbeatDrop> {
        if let now = wallClockMilliseconds {
            let age = now - Int64(h.sequence >> 20)
            if age > Self.maximumAge { return .failure(.stale(ageMilliseconds: age)) }
        }
        if let previous = last[h.sender], h.sequence <= previous { return .failure(.replayed(last: previous, got: h.sequence)) }
        last[h.sender] = h.sequence
        return .success(h)
    }
}

/// Sequence numbers that keep increasing across restarts and follow the wall clock: the
/// clock's milliseconds in the high bits, a counter in the low 20 for heartbeats sent within
/// the same millisecond. Following the clock matters: receivers drop a sequence whose time is
/// more than a minute old (a replayed capture), so a sender that has run for an hour must
/// not still be stamping its start time.
public struct SequenceSource: Sendable {
    private var last: UInt64 = 0
    public init() {}
    public mutating func take(wallClockMilliseconds now: UInt64) -> UInt64 {
        last = max(last + 1, now << 20)
        return last
    }
}

func appendBE(_ out: inout [UInt8], _ value: UInt64, bytes: Int) {
    for i in stride(from: bytes - 1, through: 0, by: -1) { out.append(UInt8((value >> (UInt64(i) * 8)) & 0xFF)) }
}

func readBE(_ bytes: [UInt8], _ offset: Int, _ count: Int) -> UInt64 {
    var v: UInt64 = 0
    for i in 0..<count { v = (v << 8) | UInt64(bytes[offset + i]) }
    return v
}
