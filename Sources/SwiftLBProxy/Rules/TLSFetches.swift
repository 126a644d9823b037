import SwiftLBConfig
import SwiftLBTLS

/// Evaluating the TLS fetches (`ssl_c_*`, `ssl_f_*`, `ssl_s_*`, `ssl_fc_*`) against the
/// connection's `TLSHandler`: the client connection's for all but `ssl_s_*`, which read the
/// server connection of the exchange. A plain connection has no value (ACLs do not match,
/// `%[…]` prints nothing), except the booleans, which are false.
extension SampleInput {
    func tlsValue(_ fetch: TLSFetch) -> SampleValue? {
        switch fetch {
        case .certificate(.server, let field): return serverTLS?.certificateField(Self.x509Field(field), of: .peer).map(Self.sampleValue)
        case .backendProtocol: return serverTLS?.negotiatedProtocol.map { .string($0) }
        case .backendCipher: return serverTLS?.cipherName.map { .string($0) }
        case .backendALPN: return serverTLS?.negotiatedALPN.map { .string($0) }
        case .backendSessionID: return serverTLS?.sessionID.map { .binary($0) }
        case .backendResumed: return .boolean(serverTLS?.isResumed ?? false)
        default: break
        }
        guard let tls = facts.tls else {
            return fetch.isBoolean ? .boolean(false) : nil
        }
        switch fetch {
        case .certificate(let owner, let field):
            return tls.certificateField(Self.x509Field(field), of: owner == .frontend ? .local : .peer).map(Self.sampleValue)
        case .clientUsed: return .boolean(tls.hasPeerCertificate)
        case .clientVerify: return .integer(tls.verifyResult)
        case .clientError: return .integer(tls.verifyErrors.certificate)
        case .clientCAError: return .integer(tls.verifyErrors.ca)
        case .clientCAErrorDepth: return .integer(tls.verifyErrors.caDepth)
        case .protocolName: return tls.negotiatedProtocol.map { .string($0) }
        case .cipher: return tls.cipherName.map { .string($0) }
        case .alpn: return tls.negotiatedALPN.map { .string($0) }
        case .sessionID: return tls.sessionID.map { .binary($0) }
        case .resumed: return .boolean(tls.isResumed)
        // Presented on this connection: a resumed session carries the certificate but the
        // client did not send it again.
        case .hasCertificate: return .boolean(tls.hasPeerCertificate && !tls.isResumed)
        case .hasServerName: return .boolean(tls.sentServerName != nil)
        case .backendProtocol, .backendCipher, .backendALPN, .backendSessionID, .backendResumed: return nil  // above
        }
    }

    /// What an ACL compares: the value's text (a boolean matches when true).
    func tlsSamples(_ fetch: TLSFetch) -> [String] {
        guard let value = tlsValue(fetch) else { return [] }
        if case .boolean(let b) = value { return b ? ["1"] : [] }
        return [value.text]
    }

    private static func x509Field(_ field: TLSFetch.Field) -> X509Field {
        switch field {
        case .der: .der
        case .sha1: .sha1
        case .chainDER: .chainDER
        case .notafter: .notAfter
        case .notbefore: .notBefore
        case .sigAlg: .signatureAlgorithm
        case .keyAlg: .keyAlgorithm
        case .issuerDN: .issuerDN
        case .subjectDN: .subjectDN
        case .serial: .serial
        case .version: .version
        }
    }

    private static func sampleValue(_ value: TLSFactValue) -> SampleValue {
        switch value {
        case .string(let s): .string(s)
        case .integer(let i): .integer(i)
        case .boolean(let b): .boolean(b)
        case .binary(let bytes): .binary(bytes)
        }
    }
}
