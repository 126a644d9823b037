import CLibSSL
#if canImport(Glibc)
import Glibc
#endif

/// One PEM file as HAProxy reads `crt`: a private key and its certificate chain, in any
/// order (the seed stack's hipc.pem has the key first). Loading checks that the key matches
/// the leaf certificate; validity dates come back as warnings, not errors.
public final class TLSCertificate: @unchecked Sendable {
    public let path: String
    let key: OpaquePointer      // EVP_PKEY*
    let leaf: OpaquePointer     // X509*
    let chain: [OpaquePointer]  // X509*
    /// Names the leaf is valid for (CN and DNS SANs), for messages.
    public let subject: String
    /// The subject's CNs, lowercased: HAProxy's SNI takes them next to the SAN names.
    let commonNames: [String]
    /// "expired on …" / "not valid before …", when that applies now.
    public let validityWarning: String?

    public convenience init(path: String) throws {
        try self.init(pem: try Self.readFile(path), path: path)
    }

    /// The same from PEM text in memory (a `set ssl cert` payload, or a store entry's parts).
    public init(pem: [UInt8], path: String) throws {
        self.path = path
        ERR_clear_error()
        var keyPointer: OpaquePointer?
        var certs: [OpaquePointer] = []
        // Read every PEM block in order; keys and certificates may come in any order.
        pem.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return }
            defer { BIO_free(bio) }
            while true {
                var name: UnsafeMutablePointer<CChar>?
                var header: UnsafeMutablePointer<CChar>?
                var data: UnsafeMutablePointer<UInt8>?
                var length = 0
                guard PEM_read_bio(bio, &name, &header, &data, &length) == 1, let name, let data else { break }
                defer { OPENSSL_free_shim(name); OPENSSL_free_shim(header); OPENSSL_free_shim(data) }
                let kind = String(cString: name)
                var cursor: UnsafePointer<UInt8>? = UnsafePointer(data)
                if kind == "CERTIFICATE" {
                    if let cert = d2i_X509(nil, &cursor, length) { certs.append(cert) }
                } else if kind.hasSuffix("PRIVATE KEY") {
                    if keyPointer == nil { keyPointer = d2i_AutoPrivateKey(nil, &cursor, length) }
                }
            }
        }
        ERR_clear_error()  // PEM_read's end-of-file "no start line" is not an error here
        guard let leaf = certs.first else {
            certs.forEach { X509_free($0) }
            if let keyPointer { EVP_PKEY_free(keyPointer) }
            throw TLSError("no certificate found (expected a PEM with 'BEGIN CERTIFICATE')")
        }
        guard let keyPointer else {
            certs.forEach { X509_free($0) }
            throw TLSError("no private key found (HAProxy-style crt files hold the key and the certificate chain)")
        }
        guard X509_check_private_key(leaf, keyPointer) == 1 else {
            certs.forEach { X509_free($0) }
            EVP_PKEY_free(keyPointer)
            ERR_clear_error()
            throw TLSError("the private key does not match the certificate")
        }
        self.key = keyPointer
        self.leaf = leaf
        self.chain = Array(certs.dropFirst())
        self.subject = Self.names(of: leaf).joined(separator: ", ")
        self.commonNames = Self.names(of: leaf).map { $0.lowercased() }
        if X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0 {
            validityWarning = "certificate expired on \(Self.text(X509_get0_notAfter(leaf)))"
        } else if X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0 {
            validityWarning = "certificate not valid before \(Self.text(X509_get0_notBefore(leaf)))"
        } else {
            validityWarning = nil
        }
    }

    /// A whole (small) file's bytes, or HAProxy-style errors naming why not.
    public static func readFile(_ path: String) throws -> [UInt8] {
        guard let file = fopen(path, "r") else {
            throw TLSError("cannot read certificate file: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return bytes
    }

    deinit {
        EVP_PKEY_free(key)
        X509_free(leaf)
        chain.forEach { X509_free($0) }
    }

    public enum KeyType: Sendable { case ecdsa, rsa, other }
    /// What signs with this certificate's key (SNI selection prefers ECDSA for clients that
    /// can use it, as HAProxy does).
    public var keyType: KeyType {
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_EC: .ecdsa
        case EVP_PKEY_RSA, EVP_PKEY_RSA_PSS: .rsa
        default: .other
        }
    }

    /// Whether the leaf is valid for `host` (SAN/CN, wildcards), OpenSSL's own matching.
    public func matches(host: String) -> Bool {
        X509_check_host(leaf, host, host.utf8.count, 0, nil) == 1
    }

    private static func names(of cert: OpaquePointer) -> [String] {
        var names: [String] = []
        if let subject = X509_get_subject_name(cert) {
            var buffer = [CChar](repeating: 0, count: 256)
            if X509_NAME_get_text_by_NID(subject, NID_commonName, &buffer, Int32(buffer.count)) > 0 {
                names.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
            }
        }
        return names
    }

    static func text(_ time: UnsafePointer<ASN1_TIME>?) -> String {
        guard let time, let bio = BIO_new(BIO_s_mem()) else { return "?" }
        defer { BIO_free(bio) }
        ASN1_TIME_print(bio, time)
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = BIO_read(bio, &buffer, Int32(buffer.count))
        return n > 0 ? String(decoding: buffer[0..<Int(n)], as: UTF8.self) : "?"
    }
}

/// OPENSSL_free is a macro; CRYPTO_free is the function behind it.
@inline(__always)
func OPENSSL_free_shim(_ pointer: UnsafeMutableRawPointer?) {
    CRYPTO_free(pointer, #file, #line)
}
