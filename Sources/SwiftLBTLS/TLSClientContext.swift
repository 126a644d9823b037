import CLibSSL

/// The client side: OpenSSL's defaults, optional verification against a CA file, ALPN.
public final class TLSClientContext: @unchecked Sendable {
    private let ctx: OpaquePointer
    private let alpnWire: [UInt8]

    /// - Parameters:
    ///   - caFile: verify the server against these CAs (nil: no verification, `verify none`).
    public init(caFile: String? = nil, alpn: [String] = []) throws {
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
        var wire: [UInt8] = []
        for proto in alpn { wire.append(UInt8(proto.utf8.count)); wire += Array(proto.utf8) }
        self.alpnWire = wire
        self.ctx = ctx
    }

    deinit { SSL_CTX_free(ctx) }

    func makeSSL(serverName: String?) -> OpaquePointer? {
        guard let ssl = SSL_new(ctx) else { return nil }
        if let serverName {
            _ = swiftlb_SSL_set_tlsext_host_name(ssl, serverName)
            _ = SSL_set1_host(ssl, serverName)  // checked against the certificate when verifying
        }
        if !alpnWire.isEmpty { _ = SSL_set_alpn_protos(ssl, alpnWire, UInt32(alpnWire.count)) }
        return ssl
    }
}
