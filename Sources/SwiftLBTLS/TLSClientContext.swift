import CLibSSL
import CSwiftLBTLSShim

/// The client side, one per server: OpenSSL's defaults, optional verification against a CA
/// file, ALPN, and the server's newest session offered to the next connection (as HAProxy
/// does towards its servers), so a new connection to a TLS server is usually a resumption
/// instead of a full handshake.
public final class TLSClientContext: @unchecked Sendable {
    private let ctx: OpaquePointer
    private let alpnWire: [UInt8]
    /// The session kept for the next connection; nil when reuse is off.
    private let sessions: OpaquePointer?

    /// - Parameters:
    ///   - caFile: verify the server against these CAs (nil: no verification, `verify none`).
    ///   - reuseSessions: offer the server's last session to the next connection (HAProxy's
    ///     default; its `no-ssl-reuse` turns it off).
    public init(caFile: String? = nil, alpn: [String] = [], reuseSessions: Bool = true) throws {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError.drain("SSL_CTX_new failed") }
        if let caFile {
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else {
                SSL_CTX_free(ctx); throw TLSError.drain("cannot load CA file \(caFile)")
            }
            SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
        } else {
            SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
        }
        setTransportModes(ctx)
        var wire: [UInt8] = []
        for proto in alpn { wire.append(UInt8(proto.utf8.count)); wire += Array(proto.utf8) }
        self.alpnWire = wire
        if reuseSessions {
            guard let slot = swiftlb_session_slot_new() else { SSL_CTX_free(ctx); throw TLSError.drain("cannot keep TLS sessions") }
            guard swiftlb_session_slot_attach(slot, ctx) == 1 else {
                swiftlb_session_slot_free(slot); SSL_CTX_free(ctx); throw TLSError.drain("cannot keep TLS sessions")
            }
            self.sessions = slot
        } else {
            self.sessions = nil
        }
        self.ctx = ctx
    }

    deinit {
        SSL_CTX_free(ctx)
        swiftlb_session_slot_free(sessions)
    }

    func makeSSL(serverName: String?) -> OpaquePointer? {
        guard let ssl = SSL_new(ctx) else { return nil }
        if let serverName {
            _ = swiftlb_SSL_set_tlsext_host_name(ssl, serverName)
            _ = SSL_set1_host(ssl, serverName)  // checked against the certificate when verifying
        }
        if !alpnWire.isEmpty { _ = SSL_set_alpn_protos(ssl, alpnWire, UInt32(alpnWire.count)) }
        if let sessions { swiftlb_session_slot_offer(sessions, ssl) }
        return ssl
    }
}
