import CLibSSL
import CSwiftLBTLSShim

/// A value read from a TLS session for the sample fetches.
public enum TLSFactValue: Sendable, Equatable {
    case string(String)
    case integer(Int)
    case boolean(Bool)
    case binary([UInt8])
}

/// Which certificate of a connection: the peer's (the client's on a listener, the server's on a
/// `server … ssl` connection) or our own.
public enum TLSCertificateSide: Sendable { case peer, local }

/// A field of an X.509 certificate, as HAProxy's `ssl_{c,f,s}_*` fetches print it.
public enum X509Field: Sendable {
    /// DER bytes; SHA-1 of the DER; the chain's DER bytes, concatenated.
    case der, sha1, chainDER
    /// ASN.1 time as encoded (`YYMMDDHHMMSSZ`).
    case notAfter, notBefore
    /// Short name of the signature algorithm (`RSA-SHA256`), long name of the key algorithm
    /// (`rsaEncryption`).
    case signatureAlgorithm, keyAlgorithm
    /// OpenSSL's one-line distinguished names (`/C=FR/O=…/CN=…`).
    case issuerDN, subjectDN
    /// Serial number bytes; version (1 for v1, 3 for v3).
    case serial, version
}

/// The facts of an established TLS connection that rules read (HAProxy's `ssl_fc_*`, `ssl_c_*`,
/// `ssl_f_*`, `ssl_s_*`). Read on demand from the live SSL object, on the connection's event
/// loop; nil once the connection is gone.
extension TLSHandler {
    public var negotiatedProtocol: String? { ssl.map { String(cString: SSL_get_version($0)) } }
    public var cipherName: String? {
        guard let ssl, let cipher = SSL_get_current_cipher(ssl), let name = SSL_CIPHER_get_name(cipher) else { return nil }
        return String(cString: name)
    }
    public var isResumed: Bool { ssl.map { swiftlb_SSL_session_reused($0) == 1 } ?? false }
    public var negotiatedALPN: String? {
        guard let ssl else { return nil }
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(ssl, &data, &length)
        return data.map { String(decoding: UnsafeBufferPointer(start: $0, count: Int(length)), as: UTF8.self) }
    }
    public var sessionID: [UInt8]? {
        guard let ssl, let session = SSL_get_session(ssl) else { return nil }
        var length: UInt32 = 0
        guard let id = SSL_SESSION_get_id(session, &length), length > 0 else { return nil }
        return Array(UnsafeBufferPointer(start: id, count: Int(length)))
    }
    /// The name the client sent with SNI (server side), or the one we sent (client side).
    public var sentServerName: String? { ssl.flatMap { swiftlb_SSL_get_servername($0) }.map { String(cString: $0) } }

    /// Whether the peer's certificate is known (also on a resumed session).
    public var hasPeerCertificate: Bool {
        guard let ssl, let cert = swiftlb_SSL_get_peer_certificate(ssl) else { return false }
        X509_free(cert)
        return true
    }

    /// `SSL_get_verify_result`: 0 when the peer's certificate verified (or none was asked for).
    public var verifyResult: Int { ssl.map { Int(SSL_get_verify_result($0)) } ?? 0 }

    /// The first errors met verifying the client's certificate (depth 0) and its CA chain.
    public var verifyErrors: (certificate: Int, ca: Int, caDepth: Int) {
        guard let ssl else { return (0, 0, 0) }
        var crt: Int32 = 0, ca: Int32 = 0, depth: Int32 = 0
        swiftlb_verify_errors(ssl, &crt, &ca, &depth)
        return (Int(crt), Int(ca), Int(depth))
    }

    /// A field of the peer's or our certificate; nil when there is none.
    public func certificateField(_ field: X509Field, of side: TLSCertificateSide) -> TLSFactValue? {
        guard let ssl else { return nil }
        if case .chainDER = field {
            guard side == .peer, let chain = SSL_get_peer_cert_chain(ssl) else { return nil }
            var bytes: [UInt8] = []
            for i in 0..<OPENSSL_sk_num(chain) {
                if let cert = OPENSSL_sk_value(chain, i) { bytes += X509Text.der(OpaquePointer(cert)) }
            }
            return .binary(bytes)
        }
        switch side {
        case .peer:
            guard let cert = swiftlb_SSL_get_peer_certificate(ssl) else { return nil }
            defer { X509_free(cert) }
            return X509Text.field(field, of: cert)
        case .local:
            guard let cert = SSL_get_certificate(ssl) else { return nil }
            return X509Text.field(field, of: cert)
        }
    }
}

/// Reading an X509 into the forms HAProxy prints.
enum X509Text {
    static func field(_ field: X509Field, of cert: OpaquePointer) -> TLSFactValue? {
        switch field {
        case .der: return .binary(der(cert))
        case .sha1:
            var digest = [UInt8](repeating: 0, count: 20)
            var length: UInt32 = 0
            guard X509_digest(cert, EVP_sha1(), &digest, &length) == 1 else { return nil }
            return .binary(Array(digest.prefix(Int(length))))
        case .chainDER: return nil
        case .notAfter: return time(X509_get0_notAfter(cert))
        case .notBefore: return time(X509_get0_notBefore(cert))
        case .signatureAlgorithm:
            let nid = X509_get_signature_nid(cert)
            return OBJ_nid2sn(nid).map { .string(String(cString: $0)) }
        case .keyAlgorithm:
            guard let key = X509_get0_pubkey(cert) else { return nil }
            return OBJ_nid2ln(EVP_PKEY_get_base_id(key)).map { .string(String(cString: $0)) }
        case .issuerDN: return name(X509_get_issuer_name(cert))
        case .subjectDN: return name(X509_get_subject_name(cert))
        case .serial:
            guard let serial = X509_get_serialNumber(cert) else { return nil }
            let length = Int(ASN1_STRING_length(serial))
            guard let data = ASN1_STRING_get0_data(serial) else { return .binary([]) }
            return .binary(Array(UnsafeBufferPointer(start: data, count: length)))
        case .version: return .integer(Int(X509_get_version(cert)) + 1)
        }
    }

    static func der(_ cert: OpaquePointer) -> [UInt8] {
        let length = i2d_X509(cert, nil)
        guard length > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            _ = i2d_X509(cert, &cursor)
        }
        return bytes
    }

    /// The time as HAProxy prints it: UTCTime's `YYMMDDHHMMSSZ`; a GeneralizedTime of the
    /// 2000s loses its century (`20500421185942Z` → `500421185942Z`), any other has no value.
    private static func time(_ time: UnsafePointer<ASN1_TIME>?) -> TLSFactValue? {
        guard let time else { return nil }
        let length = Int(ASN1_STRING_length(time))
        guard let data = ASN1_STRING_get0_data(time) else { return nil }
        var text = Array(UnsafeBufferPointer(start: data, count: length))
        if ASN1_STRING_type(time) == V_ASN1_GENERALIZEDTIME {
            guard text.count >= 15, text[0] == UInt8(ascii: "2"), text[1] == UInt8(ascii: "0") else { return nil }
            text.removeFirst(2)
        }
        return .string(String(decoding: text, as: UTF8.self))
    }

    private static func name(_ name: OpaquePointer?) -> TLSFactValue? {
        guard let name else { return nil }
        var buffer = [CChar](repeating: 0, count: 1024)
        guard X509_NAME_oneline(name, &buffer, Int32(buffer.count)) != nil else { return nil }
        return .string(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }
}
