import NIOCore
import SwiftLBConfig

/// `server … send-proxy` / `send-proxy-v2`: the bytes to write first on a new server
/// connection, telling the server who the client is — as HAProxy 2.6 writes them
/// (`make_proxy_line_v1/v2`): both ends IPv4 → TCP4 / INET; one of them IPv6 → TCP6 / INET6
/// with the IPv4 one mapped (`::ffff:a.b.c.d`); anything else (a unix socket, an unknown
/// end) → `PROXY UNKNOWN` / a LOCAL v2 header. v2 carries no TLV unless asked for.
///
/// `source`/`destination` are the client connection's ends (after any PROXY header it came
/// with): the client's address and the address it connected to.
enum ProxyHeaderEncoder {
    static func v1(source: SocketAddress?, destination: SocketAddress?, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        var out = allocator.buffer(capacity: ProxyHeader.v1MaxLength)
        guard let (src, dst, v6) = ends(source, destination) else {
            out.writeString("PROXY UNKNOWN\r\n")
            return out
        }
        func text(_ bytes: [UInt8]) -> String {
            if bytes.count == 4 { return bytes.map { String($0) }.joined(separator: ".") }
            return SocketAddressText.ipv6(bytes)
        }
        out.writeString("PROXY \(v6 ? "TCP6" : "TCP4") \(text(src.bytes)) \(text(dst.bytes)) \(src.port) \(dst.port)\r\n")
        return out
    }

    /// `checksum`: a CRC32C TLV first, computed over the whole header (RFC: PROXY v2 §2.2.5).
    static func v2(source: SocketAddress?, destination: SocketAddress?, tlvs: [ProxyHeader.TLV] = [], checksum: Bool = false,
                   allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        let tlvs = checksum ? [ProxyHeader.TLV(type: ProxyHeader.TLVType.crc32c, value: [0, 0, 0, 0])] + tlvs : tlvs
        var out = allocator.buffer(capacity: 16 + 36 + tlvs.reduce(0) { $0 + 3 + $1.value.count })
        out.writeBytes(ProxyHeader.v2Signature)
        var body: [UInt8] = []
        if let (src, dst, v6) = ends(source, destination) {
            out.writeInteger(UInt8(0x21))  // version 2, PROXY
            out.writeInteger(UInt8(v6 ? 0x21 : 0x11))  // INET6|INET, STREAM
            body += src.bytes + dst.bytes
            body += [UInt8(src.port >> 8), UInt8(src.port & 0xFF), UInt8(dst.port >> 8), UInt8(dst.port & 0xFF)]
        } else {
            out.writeInteger(UInt8(0x20))  // version 2, LOCAL
            out.writeInteger(UInt8(0x00))  // UNSPEC
        }
        // A TLV's length and the header's are 16-bit: what would not fit is left out.
        for tlv in tlvs where tlv.value.count <= Int(UInt16.max) && body.count + 3 + tlv.value.count <= Int(UInt16.max) {
            body.append(tlv.type)
            body += [UInt8(tlv.value.count >> 8), UInt8(tlv.value.count & 0xFF)]
            body += tlv.value
        }
        out.writeInteger(UInt16(body.count))
        out.writeBytes(body)
        if checksum, let first = tlvs.first, first.type == ProxyHeader.TLVType.crc32c {
            // The CRC TLV's value sits right after the addresses and the TLV's 3-byte head.
            let at = out.writerIndex - body.count + (body.count - tlvs.reduce(0) { $0 + 3 + $1.value.count }) + 3
            out.setInteger(CRC32C.checksum(Array(out.readableBytesView)), at: at)
        }
        return out
    }

    /// The two ends as address bytes of one family (IPv4 mapped into IPv6 when they differ),
    /// or nil when one is not an IP address.
    private static func ends(_ source: SocketAddress?, _ destination: SocketAddress?) -> ((bytes: [UInt8], port: Int), (bytes: [UInt8], port: Int), Bool)? {
        guard let source, let destination, let sip = source.ipAddress, let dip = destination.ipAddress,
              var s = IPNetwork.bytes(sip), var d = IPNetwork.bytes(dip) else { return nil }
        // `IPNetwork.bytes` folds IPv4-mapped IPv6 to IPv4; the socket's family decides here.
        if source.protocol == .inet6 && s.count == 4 { s = mapped(s) }
        if destination.protocol == .inet6 && d.count == 4 { d = mapped(d) }
        if s.count != d.count {
            if s.count == 4 { s = mapped(s) }
            if d.count == 4 { d = mapped(d) }
        }
        return ((s, source.port ?? 0), (d, destination.port ?? 0), s.count == 16)
    }

    private static func mapped(_ v4: [UInt8]) -> [UInt8] { Array(repeating: 0, count: 10) + [0xFF, 0xFF] + v4 }
}

/// IPv6 text as `inet_ntop` writes it (RFC 5952: lower case, the longest run of two or more
/// zero groups as `::`, a mapped IPv4 address as `::ffff:a.b.c.d`).
enum SocketAddressText {
    static func ipv6(_ b: [UInt8]) -> String {
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF {
            return "::ffff:\(b[12]).\(b[13]).\(b[14]).\(b[15])"
        }
        let groups = stride(from: 0, to: 16, by: 2).map { Int(b[$0]) << 8 | Int(b[$0 + 1]) }
        var bestStart = -1, bestLength = 0, i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLength && j - i >= 2 { bestStart = i; bestLength = j - i }
                i = j
            } else {
                i += 1
            }
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        guard bestStart >= 0 else { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }
}
