/// The non-cryptographic hashes of HAProxy's converters (`sdbm`, `djb2`, `wt6`, `crc32`,
/// `crc32c`, `xxh32`, `xxh64`) and of its `hash-type` (the first four), bit for bit as HAProxy
/// 2.6 computes them (src/hash.c, import/xxhash.h), so a `balance hdr(x)` key or a logged hash
/// is the same number behind either proxy.
/// Pure functions of the bytes.
enum SampleHash {
    /// The sdbm database's hash: h = byte + h * 65599, from 0, on 32 bits (HAProxy's default
    /// `hash-type` function).
    static func sdbm<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var hash: UInt32 = 0
        for b in bytes { hash = UInt32(b) &+ (hash << 6) &+ (hash << 16) &- hash }
        return hash
    }

    /// Bernstein's hash: h = h * 33 + byte, from 5381, on 32 bits.
    static func djb2<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var hash: UInt32 = 5381
        for b in bytes { hash = (hash << 5) &+ hash &+ UInt32(b) }
        return hash
    }

    /// Willy Tarreau's wt6 hash (HAProxy's `hash_wt6`).
    static func wt6<S: Sequence>(_ bytes: S) -> UInt32 where S.Element == UInt8 {
        var h0: UInt32 = 0xA53C_965A, h1: UInt32 = 0x5CA6_953A
        var step0: UInt32 = 6, step1: UInt32 = 18
        for b in bytes {
            var t = UInt32(b)
            h0 = ~(h0 ^ t)
            h1 = ~(h1 &+ t)
            // A step of 0 rotates by nothing (Swift's over-shift gives 0, as x86 gives x in C).
            t = h1 << step0 | h1 >> (32 - step0)
            h1 = h0 << step1 | h0 >> (32 - step1)
            h0 = t
            t = ((h0 >> 16) ^ h1) & 0xFFFF
            step0 = t & 0x1F
            step1 = t >> 11
        }
        return h0 ^ h1
    }

    /// Bob Jenkins' full-avalanche integer hash times a prime near 3/4 of 2^32 (HAProxy's
    /// `full_hash`): the optional argument of `crc32`, `crc32c`, `djb2`, `wt6`.
    static func avalanche(_ value: UInt32) -> UInt32 {
        var a = value
        a = (a &+ 0x7ED5_5D16) &+ (a << 12)
        a = (a ^ 0xC761_C23C) ^ (a >> 19)
        a = (a &+ 0x1656_67B1) &+ (a << 5)
        a = (a &+ 0xD3A2_646C) ^ (a << 9)
        a = (a &+ 0xFD70_46C5) &+ (a << 3)
        a = (a ^ 0xB55A_4F09) ^ (a >> 16)
        return a &* 3_221_225_473
    }

    // MARK: xxHash (XXH32, XXH64), from the specification

    private static let p32: (UInt32, UInt32, UInt32, UInt32, UInt32) = (0x9E37_79B1, 0x85EB_CA77, 0xC2B2_AE3D, 0x27D4_EB2F, 0x1656_67B1)
    private static let p64: (UInt64, UInt64, UInt64, UInt64, UInt64) =
        (0x9E37_79B1_85EB_CA87, 0xC2B2_AE3D_27D4_EB4F, 0x1656_67B1_9E37_79F9, 0x85EB_CA77_C2B2_AE63, 0x27D4_EB2F_1656_67C5)

    private static func rotl(_ x: UInt32, _ r: UInt32) -> UInt32 { x << r | x >> (32 - r) }
    private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { x << r | x >> (64 - r) }
    private static func read32(_ b: [UInt8], _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
    private static func read64(_ b: [UInt8], _ i: Int) -> UInt64 { UInt64(read32(b, i)) | UInt64(read32(b, i + 4)) << 32 }

    static func xxh32(_ input: [UInt8], seed: UInt32) -> UInt32 {
        let (p1, p2, p3, p4, p5) = p32
        func round(_ acc: UInt32, _ lane: UInt32) -> UInt32 { rotl(acc &+ lane &* p2, 13) &* p1 }
        var i = 0
        var h: UInt32
        if input.count >= 16 {
            var v1 = seed &+ p1 &+ p2, v2 = seed &+ p2, v3 = seed, v4 = seed &- p1
            while i + 16 <= input.count {
                v1 = round(v1, read32(input, i)); v2 = round(v2, read32(input, i + 4))
                v3 = round(v3, read32(input, i + 8)); v4 = round(v4, read32(input, i + 12))
                i += 16
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
        } else {
            h = seed &+ p5
        }
        h = h &+ UInt32(truncatingIfNeeded: input.count)
        while i + 4 <= input.count {
            h = rotl(h &+ read32(input, i) &* p3, 17) &* p4
            i += 4
        }
        while i < input.count {
            h = rotl(h &+ UInt32(input[i]) &* p5, 11) &* p1
            i += 1
        }
        h ^= h >> 15; h = h &* p2; h ^= h >> 13; h = h &* p3; h ^= h >> 16
        return h
    }

    static func xxh64(_ input: [UInt8], seed: UInt64) -> UInt64 {
        let (p1, p2, p3, p4, p5) = p64
        func round(_ acc: UInt64, _ lane: UInt64) -> UInt64 { rotl(acc &+ lane &* p2, 31) &* p1 }
        func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 { (acc ^ round(0, v)) &* p1 &+ p4 }
        var i = 0
        var h: UInt64
        if input.count >= 32 {
            var v1 = seed &+ p1 &+ p2, v2 = seed &+ p2, v3 = seed, v4 = seed &- p1
            while i + 32 <= input.count {
                v1 = round(v1, read64(input, i)); v2 = round(v2, read64(input, i + 8))
                v3 = round(v3, read64(input, i + 16)); v4 = round(v4, read64(input, i + 24))
                i += 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = merge(merge(merge(merge(h, v1), v2), v3), v4)
        } else {
            h = seed &+ p5
        }
        h = h &+ UInt64(input.count)
        while i + 8 <= input.count {
            h ^= round(0, read64(input, i))
            h = rotl(h, 27) &* p1 &+ p4
            i += 8
        }
        if i + 4 <= input.count {
            h ^= UInt64(read32(input, i)) &* p1
            h = rotl(h, 23) &* p2 &+ p3
            i += 4
        }
        while i < input.count {
            h ^= UInt64(input[i]) &* p5
            h = rotl(h, 11) &* p1
            i += 1
        }
        h ^= h >> 33; h = h &* p2; h ^= h >> 29; h = h &* p3; h ^= h >> 32
        return h
    }
}
