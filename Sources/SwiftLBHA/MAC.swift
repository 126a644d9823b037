import CLibSSL

/// HMAC-SHA256 under the shared `auth_key_file` key, for the heartbeat and the peer link; with
/// `auth none` (no key) every MAC is 32 zero bytes, so the formats stay the same.
enum MAC {
    static let size = 32

    static func hmac(key: [UInt8]?, _ data: [UInt8]) -> [UInt8] {
        guard let key else { return [UInt8](repeating: 0, count: size) }
        var out = [UInt8](repeating: 0, count: size)
        var length: UInt32 = 0
        _ = key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), d.baseAddress?.assumingMemoryBound(to: UInt8.self), d.count, &out, &length)
            }
        }
        return out
    }

    /// Constant-time comparison (CRYPTO_memcmp), so a forger learns nothing from timing.
    static func equal(_ a: [UInt8], _ b: ArraySlice<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) } } == 0
    }
}
