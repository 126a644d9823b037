import SwiftLBTLS

/// The converters that read their input as bytes — digests, hashes, base64 decoding — as
/// HAProxy 2.6's sample.c defines them: `sha1` and `sha2([bits])` yield a binary (20 to 64
/// bytes, printed through `hex` or `base64`), `b64dec`/`ub64dec` a binary, `ub64enc` text, the
/// hashes an integer (`crc32`, `crc32c`, `djb2`, `sdbm`, `wt6` with an optional avalanche flag,
/// `xxh32`/`xxh64` with an optional seed; `xxh64` is signed as HAProxy stores it).
enum ByteConverter: Sendable {
    enum Hash: String, Sendable { case crc32, crc32c, djb2, sdbm, wt6 }

    case sha1
    case sha2(bits: Int)
    case b64dec, ub64dec, ub64enc
    case hash(Hash, avalanche: Bool)
    case xxh32(seed: UInt32)
    case xxh64(seed: UInt64)

    static let names = ["b64dec", "crc32", "crc32c", "djb2", "sdbm", "sha1", "sha2", "ub64dec", "ub64enc", "wt6", "xxh32", "xxh64"]

    /// The converter `name` with its arguments; nil when `name` is none of these.
    init?(_ name: String, _ args: [String]) throws(SampleExpression.Failure) {
        func integer() throws(SampleExpression.Failure) -> Int? {
            guard args.count <= 1 else { throw SampleExpression.Failure(message: "'\(name)' takes at most one argument") }
            guard let text = args.first, !text.isEmpty else { return nil }
            guard let n = Int(text) else { throw SampleExpression.Failure(message: "'\(name)' expects an integer argument, not '\(text)'") }
            return n
        }
        func none() throws(SampleExpression.Failure) {
            guard args.isEmpty || args == [""] else { throw SampleExpression.Failure(message: "converter '\(name)' takes no argument") }
        }
        switch name {
        case "sha1": try none(); self = .sha1
        case "sha2":
            let bits = try integer() ?? 256
            guard [224, 256, 384, 512].contains(bits) else {
                throw SampleExpression.Failure(message: "'sha2': unsupported number of bits '\(bits)' (224, 256, 384 or 512)")
            }
            self = .sha2(bits: bits)
        case "b64dec": try none(); self = .b64dec
        case "ub64dec": try none(); self = .ub64dec
        case "ub64enc": try none(); self = .ub64enc
        case "xxh32": self = .xxh32(seed: UInt32(truncatingIfNeeded: try integer() ?? 0))
        case "xxh64": self = .xxh64(seed: UInt64(bitPattern: Int64(try integer() ?? 0)))
        default:
            guard let hash = Hash(rawValue: name) else { return nil }
            self = .hash(hash, avalanche: (try integer() ?? 0) != 0)
        }
    }

    /// The converted value; nil when the input does not decode (the expression then fails).
    func apply(_ bytes: [UInt8]) -> SampleValue? {
        switch self {
        case .sha1: return .binary(Digest.sha1(bytes))
        case .sha2(let bits): return Digest.sha2(bytes, bits: bits).map { .binary($0) }
        case .b64dec: return Base64.decode(bytes, url: false).map { .binary($0) }
        case .ub64dec: return Base64.decode(bytes, url: true).map { .binary($0) }
        case .ub64enc: return .string(Base64.encodeURL(bytes))
        case .xxh32(let seed): return .integer(Int(SampleHash.xxh32(bytes, seed: seed)))
        case .xxh64(let seed): return .integer(Int(Int64(bitPattern: SampleHash.xxh64(bytes, seed: seed))))
        case .hash(let hash, let avalanche):
            let h: UInt32
            switch hash {
            case .crc32: h = CRC32.checksum(bytes)
            case .crc32c: h = CRC32C.checksum(bytes)
            case .djb2: h = SampleHash.djb2(bytes)
            case .sdbm: h = SampleHash.sdbm(bytes)
            case .wt6: h = SampleHash.wt6(bytes)
            }
            return .integer(Int(avalanche ? SampleHash.avalanche(h) : h))
        }
    }
}

extension Base64 {
    /// base64url without padding (RFC 4648 §5), HAProxy's `ub64enc`.
    static func encodeURL(_ bytes: [UInt8]) -> String {
        var text = encode(bytes)
        while text.last == "=" { text.removeLast() }
        return String(text.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 })
    }

    /// Decodes standard base64 (a length a multiple of 4, `=` padding only at the end) or,
    /// `url`, base64url with its padding optional (HAProxy's `b64dec` and `ub64dec`); nil for
    /// anything else.
    static func decode(_ input: [UInt8], url: Bool) -> [UInt8]? {
        var text = input
        if url {
            guard text.count % 4 != 1 else { return nil }
            text = text.map { $0 == UInt8(ascii: "-") ? UInt8(ascii: "+") : $0 == UInt8(ascii: "_") ? UInt8(ascii: "/") : $0 }
            while text.count % 4 != 0 { text.append(UInt8(ascii: "=")) }
        }
        guard text.count % 4 == 0 else { return nil }
        func sextet(_ c: UInt8) -> UInt32? {
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(c - UInt8(ascii: "a") + 26)
            case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0") + 52)
            case UInt8(ascii: "+"): 62
            case UInt8(ascii: "/"): 63
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(text.count / 4 * 3)
        var i = 0
        while i < text.count {
            let quad = text[i..<(i + 4)]
            let last = i + 4 == text.count
            let padding = quad.reversed().prefix { $0 == UInt8(ascii: "=") }.count
            guard padding <= 2, padding == 0 || last else { return nil }
            var v: UInt32 = 0
            for c in quad.prefix(4 - padding) {
                guard let s = sextet(c) else { return nil }
                v = v << 6 | s
            }
            v <<= UInt32(6 * padding)
            out.append(UInt8(v >> 16 & 0xFF))
            if padding < 2 { out.append(UInt8(v >> 8 & 0xFF)) }
            if padding < 1 { out.append(UInt8(v & 0xFF)) }
            i += 4
        }
        return out
    }
}

/// The converters that compare their input with a variable, as HAProxy 2.6 defines them
/// (sample.c `strcmp`, ssl_sample.c `secure_memcmp`): `strcmp(VAR)` yields an integer signed
/// like strcmp(3) (0 when equal, the shorter string is the smaller when one is the other's
/// prefix); `secure_memcmp(VAR)` a boolean, equal bytes, compared in a time that does not
/// depend on where they differ when the lengths match (a token checked against a secret). A
/// variable that is not set makes the expression fail, as in HAProxy.
struct VariableComparison: Sendable {
    let variable: String
    /// `secure_memcmp`: binary, constant time, a boolean; else `strcmp`.
    let constantTime: Bool

    init(_ name: String, _ args: [String]) throws(SampleExpression.Failure) {
        guard args.count == 1, !args[0].isEmpty else { throw SampleExpression.Failure(message: "'\(name)' expects one variable name (SCOPE.NAME)") }
        guard VariableScope.split(args[0]) != nil else {
            throw SampleExpression.Failure(message: "'\(name)': '\(args[0])' is not SCOPE.NAME with scope proc, sess, txn, req or res")
        }
        variable = args[0]
        constantTime = name == "secure_memcmp"
    }

    func apply(_ input: SampleValue, _ stored: SampleValue) -> SampleValue {
        if constantTime { return .boolean(Self.constantTimeEqual(input.bytes, stored.bytes)) }
        return .integer(Self.strcmp(Array(input.text.utf8), Array(stored.text.utf8)))
    }

    /// strcmp(3) over the common length (the first differing bytes' difference, as unsigned
    /// bytes), then -1/1 by length, as HAProxy's `sample_conv_strcmp`.
    static func strcmp(_ a: [UInt8], _ b: [UInt8]) -> Int {
        for (x, y) in zip(a, b) where x != y { return Int(x) - Int(y) }
        return a.count == b.count ? 0 : a.count < b.count ? -1 : 1
    }

    /// Equal bytes; with equal lengths every byte is read whatever differs (CRYPTO_memcmp's
    /// contract).
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in 0..<a.count { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
