/// The TLS sample fetches (`ssl_c_*`, `ssl_f_*`, `ssl_s_*`, `ssl_fc_*`): what a rule, an ACL or
/// a `%[…]` reads from the client connection's TLS session (or, for `ssl_s_*`, from the
/// server connection's). Parsed here from the fetch's name; evaluated by the proxy from the
/// connection's `TLSHandler`.
public enum TLSFetch: Sendable, Hashable {
    /// Whose certificate a certificate fetch reads.
    public enum Owner: String, Sendable, Hashable {
        /// `ssl_c_*`: the client's, on the frontend connection.
        case client = "ssl_c_"
        /// `ssl_f_*`: ours, presented on the frontend connection.
        case frontend = "ssl_f_"
        /// `ssl_s_*`: the server's, on the backend connection.
        case server = "ssl_s_"
    }

    /// A field of an X.509 certificate.
    public enum Field: String, Sendable, Hashable, CaseIterable {
        case der, sha1, notafter, notbefore, sigAlg = "sig_alg", keyAlg = "key_alg", issuerDN = "i_dn", subjectDN = "s_dn"
        case serial, version, chainDER = "chain_der"
    }

    case certificate(Owner, Field)
    /// `ssl_c_used`: the client presented a certificate (even on a resumed session).
    case clientUsed
    /// `ssl_c_verify`: the verification result (X509_V_OK is 0).
    case clientVerify
    /// `ssl_c_err`, `ssl_c_ca_err`, `ssl_c_ca_err_depth`: the first errors met verifying the
    /// client's certificate and its CA chain.
    case clientError, clientCAError, clientCAErrorDepth
    /// `ssl_fc_protocol`, `ssl_fc_cipher`, `ssl_fc_alpn`, `ssl_fc_session_id` (`ssl_fc_sni` is
    /// the model's `sslFCSNI`).
    case protocolName, cipher, alpn, sessionID
    /// `ssl_fc_is_resumed`, `ssl_fc_has_crt`, `ssl_fc_has_sni`: booleans.
    case resumed, hasCertificate, hasServerName
    /// `ssl_bc_protocol`, `ssl_bc_cipher`, `ssl_bc_alpn`, `ssl_bc_session_id`,
    /// `ssl_bc_is_resumed`: the same of the server connection (response rules).
    case backendProtocol, backendCipher, backendALPN, backendSessionID, backendResumed

    static let byName: [String: TLSFetch] = {
        var table: [String: TLSFetch] = [
            "ssl_c_used": .clientUsed, "ssl_c_verify": .clientVerify, "ssl_c_err": .clientError,
            "ssl_c_ca_err": .clientCAError, "ssl_c_ca_err_depth": .clientCAErrorDepth,
            "ssl_fc_protocol": .protocolName, "ssl_fc_cipher": .cipher, "ssl_fc_alpn": .alpn,
            "ssl_fc_session_id": .sessionID, "ssl_fc_is_resumed": .resumed, "ssl_fc_has_crt": .hasCertificate,
            "ssl_fc_has_sni": .hasServerName, "ssl_bc_protocol": .backendProtocol, "ssl_bc_cipher": .backendCipher,
            "ssl_bc_alpn": .backendALPN, "ssl_bc_session_id": .backendSessionID, "ssl_bc_is_resumed": .backendResumed,
        ]
        for owner in [Owner.client, .frontend, .server] {
            for field in Field.allCases where !(owner == .frontend && field == .chainDER) {
                table[owner.rawValue + field.rawValue] = .certificate(owner, field)
            }
        }
        return table
    }()

    /// The fetch named `name` (without arguments), if it is a TLS one SwiftLB evaluates.
    public init?(name: String) {
        guard let fetch = Self.byName[name] else { return nil }
        self = fetch
    }

    /// Every name, for messages.
    public static var names: [String] { byName.keys.sorted() }

    /// Integers compare with `eq|ge|gt|le|lt` in ACLs.
    public var isInteger: Bool {
        switch self {
        case .clientVerify, .clientError, .clientCAError, .clientCAErrorDepth, .certificate(_, .version): true
        default: false
        }
    }

    /// Booleans match without a pattern in ACLs.
    public var isBoolean: Bool {
        switch self {
        case .clientUsed, .resumed, .hasCertificate, .hasServerName, .backendResumed: true
        default: false
        }
    }
}
