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
