/// HAProxy's peers protocol (2.6, "HAProxyS 2.1") on the wire, as pure functions over bytes:
/// its variable-length integers, the message framing (class, type, and for stick-table
/// messages a length), and each message's body. No I/O and no state beyond what a message
/// needs (the dictionary cache of `server_key` values lives in `PeerDictionary`): the session
/// (`PeerSessionMachine`) and the I/O shell (`PeersService`) use it, the unit tests check it
/// byte for byte (src/peers.c and doc/peers-v2.0.txt of the haproxy 2.6 source are the spec).
enum PeerCodec {
    /// `intencode`: below 240 one byte; above, the low four bits with the 0xF0 mark, then
    /// seven bits a byte, each but the last with its high bit set.
    static func encode(_ value: UInt64, into out: inout [UInt8]) {
        if value < 240 {
            out.append(UInt8(value))
            return
        }
        out.append(UInt8(truncatingIfNeeded: value) | 0xF0)
        var i = (value - 240) >> 4
        while i >= 128 {
            out.append(UInt8(truncatingIfNeeded: i) | 0x80)
            i = (i - 128) >> 7
        }
        out.append(UInt8(i))
    }

    static func encoded(_ value: UInt64) -> [UInt8] {
        var out: [UInt8] = []
        encode(value, into: &out)
        return out
    }

    /// `intdecode`: the integer at `index` (advanced past it), nil when the bytes end first.
    static func decode(_ bytes: ArraySlice<UInt8>, at index: inout Int) -> UInt64? {
        guard index < bytes.endIndex else { return nil }
        var value = UInt64(bytes[index])
        index += 1
        guard value >= 240 else { return value }
        var shift: UInt64 = 4
        while true {
            guard index < bytes.endIndex, shift < 64 else { return nil }
            let byte = bytes[index]
            index += 1
            value &+= UInt64(byte) << shift
            shift += 7
            if byte < 128 { return value }
        }
    }

    static func appendUInt32(_ value: UInt32, into out: inout [UInt8]) {
        out += [UInt8(value >> 24), UInt8(truncatingIfNeeded: value >> 16), UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }

    static func readUInt32(_ bytes: ArraySlice<UInt8>, at index: inout Int) -> UInt32? {
        guard index + 4 <= bytes.endIndex else { return nil }
        let v = bytes[index..<index + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        index += 4
        return v
    }

    // MARK: framing

    /// Message classes (`PEER_MSG_CLASS_*`).
    enum MessageClass: UInt8 {
        case control = 0, error = 1, stickTable = 10, reserved = 255
    }

    /// Control messages (`PEER_MSG_CTRL_*`): two bytes, no body.
    enum Control: UInt8, Sendable {
        case resyncRequest = 0, resyncFinished = 1, resyncPartial = 2, resyncConfirm = 3, heartbeat = 4
    }

    /// Stick-table messages (`PEER_MSG_STKT_*`); their type has the high bit set, which says a
    /// length and a body follow.
    enum TableMessage: UInt8 {
        case update = 0x80, incrementalUpdate = 0x81, define = 0x82, switchTable = 0x83, ack = 0x84
        case updateTimed = 0x85, incrementalUpdateTimed = 0x86
    }

    /// One framed message: its class and type bytes and its body (empty below type 128).
    struct Frame: Equatable, Sendable {
        var messageClass: UInt8
        var type: UInt8
        var body: [UInt8]
    }

    /// The largest body accepted (HAProxy's trash buffer, 16 kB by default).
    static let maxBody = 65536

    enum FrameResult: Equatable {
        case frame(Frame, consumed: Int)
        case needMore
        case tooLarge(UInt64)
    }

    /// The first message of `bytes`, or what stops it being read.
    static func frame(_ bytes: ArraySlice<UInt8>) -> FrameResult {
        guard bytes.count >= 2 else { return .needMore }
        let start = bytes.startIndex
        let messageClass = bytes[start], type = bytes[start + 1]
        guard type & 0x80 != 0 else { return .frame(Frame(messageClass: messageClass, type: type, body: []), consumed: 2) }
        var index = start + 2
        guard let length = decode(bytes, at: &index) else {
            // A length is at most five bytes: more without an end is a broken stream.
            return bytes.count - 2 >= 5 ? .tooLarge(UInt64.max) : .needMore
        }
        guard length <= maxBody else { return .tooLarge(length) }
        guard bytes.endIndex - index >= Int(length) else { return .needMore }
        let body = Array(bytes[index..<index + Int(length)])
        return .frame(Frame(messageClass: messageClass, type: type, body: body), consumed: index + Int(length) - start)
    }

    static func control(_ c: Control) -> [UInt8] { [MessageClass.control.rawValue, c.rawValue] }

    /// `PEER_MSG_CLASS_ERROR`: 0 protocol error, 1 size limit.
    static func error(_ code: UInt8) -> [UInt8] { [MessageClass.error.rawValue, code] }

    static func tableMessage(_ type: TableMessage, _ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [MessageClass.stickTable.rawValue, type.rawValue]
        encode(UInt64(body.count), into: &out)
        return out + body
    }

    // MARK: handshake

    static let protocolName = "HAProxyS"
    static let version = "2.1"

    /// The connecting side's three lines: protocol and version, the name it expects the other
    /// side to have, its own name with its pid and relative pid (always 1).
    static func hello(remote: String, local: String, pid: Int32) -> [UInt8] {
        Array("\(protocolName) \(version)\n\(remote)\n\(local) \(pid) 1\n".utf8)
    }

    /// Status codes of the handshake (`PEER_SESS_SC_*`).
    enum Status: Int, Sendable {
        case success = 200, tryAgain = 300, protocolError = 501, badVersion = 502, badHost = 503, unknownPeer = 504
    }

    static func status(_ s: Status) -> [UInt8] { Array("\(s.rawValue)\n".utf8) }

    /// "2.1" → (2, 1); HAProxy accepts major 2 and a minor up to its own.
    static func acceptsVersion(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let major = Int(parts[0]), let minor = Int(parts[1]) else { return false }
        return major == 2 && minor <= 1
    }
}
