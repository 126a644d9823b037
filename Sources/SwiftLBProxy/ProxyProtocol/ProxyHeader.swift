import NIOCore
import SwiftLBConfig

/// A PROXY protocol header (HAProxy's doc/proxy-protocol.txt, versions 1 and 2): the
/// connection's real ends as the proxy in front of SwiftLB saw them.
struct ProxyHeader: Equatable {
    enum Command: Equatable {
        /// The connection is the proxy's own (a health check): keep the socket's addresses.
        case local
        /// Relayed for a client: `source`/`destination` are the client's connection.
        case proxy
    }

    var version: Int
    var command: Command
    /// nil for v1 `UNKNOWN`, v2 `LOCAL`, an unspecified or unsupported family: then the
    /// socket's own addresses stand (as HAProxy does).
    var source: SocketAddress?
    var destination: SocketAddress?
    /// v2 AF_UNIX: the two socket paths (the addresses stay the socket's).
    var unixPaths: (source: String, destination: String)?
    /// v2 type-length-value extensions, in order (ALPN 0x01, AUTHORITY 0x02, CRC32C 0x03,
    /// NOOP 0x04, UNIQUE_ID 0x05, SSL 0x20, NETNS 0x30…), kept as received.
    var tlvs: [TLV] = []

    struct TLV: Equatable {
        var type: UInt8
        var value: [UInt8]
    }

    static let v2Signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
    /// The longest v1 line the specification allows, CRLF included.
    static let v1MaxLength = 107

    /// The TLV types HAProxy reads (others are skipped).
    enum TLVType {
        static let alpn: UInt8 = 0x01, authority: UInt8 = 0x02, crc32c: UInt8 = 0x03, noop: UInt8 = 0x04, uniqueID: UInt8 = 0x05
        static let ssl: UInt8 = 0x20, netns: UInt8 = 0x30
    }

    /// The AUTHORITY TLV (the host name the client asked for, e.g. its SNI).
    var authority: String? { tlvs.first { $0.type == TLVType.authority }.map { String(decoding: $0.value, as: UTF8.self) } }

    static func == (a: ProxyHeader, b: ProxyHeader) -> Bool {
        a.version == b.version && a.command == b.command && a.source == b.source && a.destination == b.destination
            && a.unixPaths?.source == b.unixPaths?.source && a.unixPaths?.destination == b.unixPaths?.destination && a.tlvs == b.tlvs
    }
}

/// Reads a PROXY header at the start of a connection, strictly: what is not exactly a v1 line
/// or a v2 block is refused (HAProxy closes such a connection without a word).
///
/// v1: `PROXY TCP4|TCP6 SRC DST SPORT DPORT\r\n` with single spaces, addresses of the named
/// family, decimal ports up to 65535, at most 107 bytes; or `PROXY UNKNOWN…\r\n`.
/// v2: the 12-byte signature, version 2, command LOCAL or PROXY, a length that covers the
/// addresses of the family (INET 12, INET6 36, UNIX 216 bytes), TLVs that fit exactly, and
/// a CRC32C TLV, when present, that matches.
enum ProxyHeaderDecoder {
    enum Outcome: Equatable {
        /// More bytes are needed to decide.
        case incomplete
        /// A header of `length` bytes; what follows is the client's data.
        case header(ProxyHeader, length: Int)
        case invalid(String)
    }

    static func decode(_ buffer: ByteBuffer) -> Outcome {
        buffer.withUnsafeReadableBytes { decode(Array($0)) }
    }

    static func decode(_ b: [UInt8]) -> Outcome {
        let v1Prefix = Array("PROXY ".utf8)
        if b.count < v1Prefix.count || b.count < ProxyHeader.v2Signature.count {
            // Decide as soon as the bytes cannot be either signature.
            let couldBeV1 = zip(b, v1Prefix).allSatisfy { $0 == $1 }
            let couldBeV2 = zip(b, ProxyHeader.v2Signature).allSatisfy { $0 == $1 }
            if !couldBeV1 && !couldBeV2 { return .invalid("not a PROXY protocol header") }
            if !(couldBeV1 && b.count >= v1Prefix.count) { return .incomplete }
        }
        if b.starts(with: v1Prefix) { return decodeV1(b) }
        if b.starts(with: ProxyHeader.v2Signature) { return decodeV2(b) }
        return .invalid("not a PROXY protocol header")
    }

    private static func decodeV1(_ b: [UInt8]) -> Outcome {
        if let lf = b.firstIndex(of: 0x0A), lf < b.firstIndex(of: 0x0D) ?? b.count { return .invalid("PROXY v1 line not ended by CRLF") }
        guard let cr = b.firstIndex(of: 0x0D) else {
            return b.count >= ProxyHeader.v1MaxLength ? .invalid("PROXY v1 line longer than 107 bytes") : .incomplete
        }
        guard cr + 1 < b.count else { return cr + 2 > ProxyHeader.v1MaxLength ? .invalid("PROXY v1 line longer than 107 bytes") : .incomplete }
        guard b[cr + 1] == 0x0A else { return .invalid("PROXY v1 line not ended by CRLF") }
        let length = cr + 2
        guard length <= ProxyHeader.v1MaxLength else { return .invalid("PROXY v1 line longer than 107 bytes") }
        let line = String(decoding: b[6..<cr], as: UTF8.self)
        if line == "UNKNOWN" || line.hasPrefix("UNKNOWN ") {
            return .header(ProxyHeader(version: 1, command: .proxy), length: length)
        }
        let words = line.split(separator: " ", omittingEmptySubsequences: false)
        guard words.count == 5, words[0] == "TCP4" || words[0] == "TCP6" else {
            return .invalid("PROXY v1 expects 'TCP4|TCP6 SRC DST SPORT DPORT' or 'UNKNOWN', got '\(line)'")
        }
        let v6 = words[0] == "TCP6"
        guard let sport = port(words[3]), let dport = port(words[4]) else { return .invalid("PROXY v1 port out of range in '\(line)'") }
        guard let src = address(String(words[1]), v6: v6, port: sport), let dst = address(String(words[2]), v6: v6, port: dport) else {
            return .invalid("PROXY v1 address is not \(v6 ? "IPv6" : "IPv4") in '\(line)'")
        }
        return .header(ProxyHeader(version: 1, command: .proxy, source: src, destination: dst), length: length)
    }

    /// 1 to 5 decimal digits, at most 65535.
    private static func port(_ text: Substring) -> Int? {
        guard (1...5).contains(text.count), text.allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(text), n <= 65535 else { return nil }
        return n
    }

    private static func address(_ text: String, v6: Bool, port: Int) -> SocketAddress? {
        // inet_pton for the family named: "TCP4 ::1 …" is refused.
        if v6 {
            guard IPNetwork.bytes(text) != nil, text.contains(":") else { return nil }
        } else {
            guard let bytes = IPNetwork.bytes(text), bytes.count == 4, !text.contains(":") else { return nil }
        }
        return try? SocketAddress(ipAddress: text, port: port)
    }

    private static func decodeV2(_ b: [UInt8]) -> Outcome {
        guard b.count >= 16 else { return .incomplete }
        let verCmd = b[12], fam = b[13]
        guard verCmd >> 4 == 2 else { return .invalid("PROXY v2 version \(verCmd >> 4)") }
        let length = Int(b[14]) << 8 | Int(b[15])
        let total = 16 + length
        guard b.count >= total else { return .incomplete }
        var header = ProxyHeader(version: 2, command: .local)
        switch verCmd & 0x0F {
        case 0x00: header.command = .local
        case 0x01: header.command = .proxy
        default: return .invalid("PROXY v2 command \(verCmd & 0x0F) is neither LOCAL nor PROXY")
        }
        guard fam & 0x0F <= 2, fam >> 4 <= 3 else { return .invalid("PROXY v2 unknown address family or transport 0x\(String(fam, radix: 16))") }
        var offset = 16
        let family = fam >> 4
        let addressLength = [0, 12, 36, 216][Int(family)]
        guard length >= addressLength else { return .invalid("PROXY v2 length \(length) too short for its addresses (\(addressLength))") }
        if header.command == .proxy {
            switch family {
            case 1:
                header.source = ipv4(b, offset, portAt: offset + 8)
                header.destination = ipv4(b, offset + 4, portAt: offset + 10)
            case 2:
                header.source = ipv6(b, offset, portAt: offset + 32)
                header.destination = ipv6(b, offset + 16, portAt: offset + 34)
            case 3:
                header.unixPaths = (path(b[offset..<offset + 108]), path(b[offset + 108..<offset + 216]))
            default:
                break
            }
        }
        offset += addressLength
        // TLVs: each must fit, and together end exactly at the header's end.
        while offset < total {
            guard offset + 3 <= total else { return .invalid("PROXY v2 truncated TLV") }
            let type = b[offset]
            let len = Int(b[offset + 1]) << 8 | Int(b[offset + 2])
            guard offset + 3 + len <= total else { return .invalid("PROXY v2 TLV 0x\(String(type, radix: 16)) longer than the header") }
            let value = Array(b[offset + 3..<offset + 3 + len])
            switch type {
            case ProxyHeader.TLVType.crc32c:
                guard len == 4 else { return .invalid("PROXY v2 CRC32C TLV is not 4 bytes") }
                var zeroed = Array(b[0..<total])
                for k in 0..<4 { zeroed[offset + 3 + k] = 0 }
                let expected = UInt32(value[0]) << 24 | UInt32(value[1]) << 16 | UInt32(value[2]) << 8 | UInt32(value[3])
                guard CRC32C.checksum(zeroed) == expected else { return .invalid("PROXY v2 CRC32C does not match") }
            case ProxyHeader.TLVType.authority:
                guard len <= 255 else { return .invalid("PROXY v2 AUTHORITY longer than 255 bytes") }
            case ProxyHeader.TLVType.uniqueID:
                guard len <= 128 else { return .invalid("PROXY v2 UNIQUE_ID longer than 128 bytes") }
            default:
                break
            }
            header.tlvs.append(ProxyHeader.TLV(type: type, value: value))
            offset += 3 + len
        }
        return .header(header, length: total)
    }

    private static func ipv4(_ b: [UInt8], _ at: Int, portAt: Int) -> SocketAddress? {
        let text = "\(b[at]).\(b[at + 1]).\(b[at + 2]).\(b[at + 3])"
        return try? SocketAddress(ipAddress: text, port: Int(b[portAt]) << 8 | Int(b[portAt + 1]))
    }

    private static func ipv6(_ b: [UInt8], _ at: Int, portAt: Int) -> SocketAddress? {
        var groups: [String] = []
        for k in stride(from: 0, to: 16, by: 2) { groups.append(String(Int(b[at + k]) << 8 | Int(b[at + k + 1]), radix: 16)) }
        return try? SocketAddress(ipAddress: groups.joined(separator: ":"), port: Int(b[portAt]) << 8 | Int(b[portAt + 1]))
    }

    private static func path(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    }
}
