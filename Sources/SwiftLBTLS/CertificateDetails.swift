import CLibSSL

/// What `show ssl cert PATH` prints of a certificate, in HAProxy's words and order (Serial,
/// dates, SAN, key algorithm, SHA1 fingerprint, subject, issuer, then each chain
/// certificate's subject and issuer), and the checks `set ssl cert` makes of a payload.
extension TLSCertificate {
    public var detailLines: String { Self.details(leaf: leaf, chain: chain) }

    /// The same for PEM certificates alone (a transaction's candidate may lack its key); nil
    /// when they do not decode.
    public static func detailLines(certificates pem: [UInt8]) -> String? {
        var certs: [OpaquePointer] = []
        pem.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return }
            defer { BIO_free(bio) }
            while let cert = PEM_read_bio_X509(bio, nil, nil, nil) { certs.append(cert) }
        }
        ERR_clear_error()
        defer { certs.forEach { X509_free($0) } }
        guard let leaf = certs.first else { return nil }
        return details(leaf: leaf, chain: Array(certs.dropFirst()))
    }

    private static func details(leaf: OpaquePointer, chain: [OpaquePointer]) -> String {
        var out = "Serial: \(Self.serial(leaf))\n"
        out += "notBefore: \(Self.text(X509_get0_notBefore(leaf)))\n"
        out += "notAfter: \(Self.text(X509_get0_notAfter(leaf)))\n"
        out += "Subject Alternative Name: \(Self.alternativeNames(leaf))\n"
        out += "Algorithm: \(algorithm(leaf))\n"
        out += "SHA1 FingerPrint: \(sha1Fingerprint(leaf))\n"
        out += "Subject: \(Self.oneline(X509_get_subject_name(leaf)))\n"
        out += "Issuer: \(Self.oneline(X509_get_issuer_name(leaf)))\n"
        for cert in chain {
            out += "Chain Subject: \(Self.oneline(X509_get_subject_name(cert)))\n"
            out += "Chain Issuer: \(Self.oneline(X509_get_issuer_name(cert)))\n"
        }
        return out
    }

    /// The leaf's SHA-1, uppercase hex (`ssl_s_sha1,hex`).
    public var sha1Fingerprint: String { Self.sha1Fingerprint(leaf) }

    private static func sha1Fingerprint(_ leaf: OpaquePointer) -> String {
        var digest = [UInt8](repeating: 0, count: 20)
        var length: UInt32 = 0
        guard X509_digest(leaf, EVP_sha1(), &digest, &length) == 1 else { return "" }
        return Self.hex(digest[0..<Int(length)])
    }

    /// HAProxy's `cert_get_pkey_algo`: RSA2048, EC256, DSA1024…
    private static func algorithm(_ leaf: OpaquePointer) -> String {
        guard let key = X509_get0_pubkey(leaf) else { return "unknown" }
        let bits = EVP_PKEY_get_bits(key)
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA, EVP_PKEY_RSA_PSS: return "RSA\(bits)"
        case EVP_PKEY_EC: return "EC\(bits)"
        case EVP_PKEY_DSA: return "DSA\(bits)"
        default: return "unknown"
        }
    }

    /// Whether PEM certificate blocks all decode.
    static func decodes(certificates pem: [UInt8]) -> Bool {
        readBlocks(pem) { bio in PEM_read_bio_X509(bio, nil, nil, nil).map { X509_free($0); return true } ?? false }
    }

    /// Whether a PEM private key block decodes.
    static func decodes(key pem: [UInt8]) -> Bool {
        readBlocks(pem) { bio in PEM_read_bio_PrivateKey(bio, nil, nil, nil).map { EVP_PKEY_free($0); return true } ?? false }
    }

    /// Reads `pem` (blocks made by `CertificateParts.split`) with `readOne`; true when every
    /// block decoded.
    private static func readBlocks(_ pem: [UInt8], _ readOne: (OpaquePointer) -> Bool) -> Bool {
        let blocks = pem.split(separator: UInt8(ascii: "\n")).filter { $0.starts(with: "-----BEGIN ".utf8) }.count
        ERR_clear_error()
        defer { ERR_clear_error() }
        return pem.withUnsafeBytes { raw -> Bool in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return false }
            defer { BIO_free(bio) }
            var count = 0
            while count < blocks, readOne(bio) { count += 1 }
            return blocks > 0 && count == blocks
        }
    }

    private static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        let digits = Array("0123456789ABCDEF")
        var out = ""
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return out
    }

    private static func serial(_ cert: OpaquePointer) -> String {
        guard let serial = X509_get_serialNumber(cert), let data = ASN1_STRING_get0_data(serial) else { return "" }
        return hex(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(serial))))
    }

    /// HAProxy's ssl_sock_get_dn_oneline: `/C=FR/O=…/CN=…`.
    private static func oneline(_ name: OpaquePointer?) -> String {
        guard let name else { return "" }
        var out = ""
        for i in 0..<X509_NAME_entry_count(name) {
            guard let entry = X509_NAME_get_entry(name, i),
                  let object = X509_NAME_ENTRY_get_object(entry),
                  let value = X509_NAME_ENTRY_get_data(entry),
                  let data = ASN1_STRING_get0_data(value) else { continue }
            let nid = OBJ_obj2nid(object)
            let short = OBJ_nid2sn(nid).map { String(cString: $0) } ?? "?"
            out += "/\(short)=" + String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(value))), as: UTF8.self)
        }
        return out
    }

    /// The DNS names of the subjectAltName, `DNS:a, DNS:b`.
    private static func alternativeNames(_ cert: OpaquePointer) -> String {
        guard let names = X509_get_ext_d2i(cert, NID_subject_alt_name, nil, nil) else { return "" }
        let stack = OpaquePointer(names)
        defer { GENERAL_NAMES_free(stack) }
        var out: [String] = []
        for i in 0..<OPENSSL_sk_num(stack) {
            guard let raw = OPENSSL_sk_value(stack, i) else { continue }
            let name = raw.assumingMemoryBound(to: GENERAL_NAME.self)
            guard name.pointee.type == GEN_DNS, let ia5 = name.pointee.d.dNSName, let data = ASN1_STRING_get0_data(ia5) else { continue }
            out.append("DNS:" + String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(ia5))), as: UTF8.self))
        }
        return out.joined(separator: ", ")
    }
}
