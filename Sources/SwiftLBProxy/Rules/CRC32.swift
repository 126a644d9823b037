/// A table-driven reflected CRC-32: the IEEE one (zlib's) for HAProxy's `crc32` converter,
/// Castagnoli's (RFC 4960 appendix B) for the PROXY v2 checksum TLV.
struct ReflectedCRC32: Sendable {
    private let table: [UInt32]

    init(polynomial: UInt32) {
        table = (0..<256).map { n in
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? polynomial ^ (c >> 1) : c >> 1 }
            return c
        }
    }

    func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}

/// CRC-32 (IEEE 802.3, zlib's), as HAProxy's `crc32` converter computes it.
let CRC32 = ReflectedCRC32(polynomial: 0xEDB8_8320)
/// CRC-32C (Castagnoli), the PROXY protocol v2 checksum.
let CRC32C = ReflectedCRC32(polynomial: 0x82F6_3B78)
