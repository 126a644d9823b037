import CLibSSL

/// Small digests from libcrypto for protocol checks (not for secrets of our own).
public enum Digest {
    /// base64(SHA-1(text)): the WebSocket `Sec-WebSocket-Accept` computation (RFC 6455 §4.2.2).
    public static func sha1Base64(_ text: String) -> String {
        var digest = [UInt8](repeating: 0, count: 20)
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBufferPointer { SHA1($0.baseAddress, $0.count, &digest) }
        var out = [UInt8](repeating: 0, count: 32)
        let n = EVP_EncodeBlock(&out, digest, Int32(digest.count))
        return String(decoding: out[0..<Int(n)], as: UTF8.self)
    }
}

extension Digest {
    /// SHA-1 of `bytes` (HAProxy's `sha1` converter).
    public static func sha1(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 20)
        _ = bytes.withUnsafeBufferPointer { SHA1($0.baseAddress, $0.count, &digest) }
        return digest
    }

    /// SHA-2 of `bytes` with `bits` 224, 256, 384 or 512 (HAProxy's `sha2(bits)`); nil for
    /// another size.
    public static func sha2(_ bytes: [UInt8], bits: Int) -> [UInt8]? {
        var digest = [UInt8](repeating: 0, count: bits / 8)
        _ = bytes.withUnsafeBufferPointer { input -> UnsafeMutablePointer<UInt8>? in
            switch bits {
            case 224: SHA224(input.baseAddress, input.count, &digest)
            case 256: SHA256(input.baseAddress, input.count, &digest)
            case 384: SHA384(input.baseAddress, input.count, &digest)
            case 512: SHA512(input.baseAddress, input.count, &digest)
            default: nil
            }
        }
        return [224, 256, 384, 512].contains(bits) ? digest : nil
    }
}
