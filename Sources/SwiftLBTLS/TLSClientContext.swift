import CLibSSL
import CSwiftLBTLSShim
import NIOConcurrencyHelpers

/// What a `server … ssl` line asks of its TLS connections (HAProxy's server SSL keywords).
public struct TLSClientOptions: Sendable {
    /// `ca-file`: verify the server against these CAs (`verify required`); nil: `verify none`.
    public var caFile: String?
    /// `crl-file`: revoked certificates, checked with `caFile`.
    public var crlFile: String?
    /// `crt`: the client certificate (key and chain) presented to the server.
    public var certificate: TLSCertificate?
    public var minVersion: TLSSettings.Version?
    public var maxVersion: TLSSettings.Version?
    public var ciphers: String?
    public var ciphersuites: String?
    public var alpn: [String] = []
    /// Offer the server's last session to the next connection (HAProxy's default; its
    /// `no-ssl-reuse` turns it off).
    public var reuseSessions = true
    /// `no-tls-tickets`: do not ask for session tickets.
    public var noTickets = false
    public init() {}
}

/// The client side, one per server: OpenSSL's defaults unless the server line says otherwise
/// (versions, ciphers, a client certificate), optional verification against a CA file (and a
/// CRL), ALPN, and the server's newest session offered to the next connection (as HAProxy
/// does towards its servers), so a new connection to a TLS server is usually a resumption
/// instead of a full handshake.
public final class TLSClientContext: @unchecked Sendable {
    /// One SSL_CTX with its session slot, built from options.
    private final class Built: @unchecked Sendable {
        let ctx: OpaquePointer
        let alpnWire: [UInt8]
        /// The session kept for the next connection; nil when reuse is off.
        let sessions: OpaquePointer?
        let options: TLSClientOptions
        /// The CA/CRL files the server is verified against, kept in the `CAFileStore`.
        let verifyFiles: VerifyFiles
        /// Stores swapped out by commits (a handshake may still read one); freed with the context
        /// (changed under the owner's lock).
        var retiredStores: [OpaquePointer] = []

        init(options: TLSClientOptions, caFileStore: CAFileStore) throws {
            self.options = options
            let verifyFiles = VerifyFiles(caFiles: options.caFile.map { [$0] } ?? [], crlFile: options.caFile == nil ? nil : options.crlFile)
            self.verifyFiles = verifyFiles
            ERR_clear_error()
            guard let ctx = SSL_CTX_new(TLS_client_method()) else { throw TLSError.drain("SSL_CTX_new failed") }
            func fail(_ message: String) -> TLSError { SSL_CTX_free(ctx); return TLSError.drain(message) }
            if options.caFile != nil {
                if let bad = verifyFiles.install(on: ctx, from: caFileStore) {
                    throw fail(bad == options.crlFile ? "unable to configure CRL file '\(bad)'" : "unable to load CA file '\(bad)'")
                }
                SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nil)
            } else {
                SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nil)
            }
            if let min = options.minVersion {
                if min < .tls12 { SSL_CTX_set_security_level(ctx, 0) }  // OpenSSL 3 refuses TLS < 1.2 at level 1
                guard swiftlb_SSL_CTX_set_min_proto_version_any(ctx, min.openSSL) == 1 else { throw fail("cannot set ssl-min-ver \(min.rawValue)") }
            }
            if let max = options.maxVersion, swiftlb_SSL_CTX_set_max_proto_version(ctx, max.openSSL) != 1 {
                throw fail("cannot set ssl-max-ver \(max.rawValue)")
            }
            if let ciphers = options.ciphers, SSL_CTX_set_cipher_list(ctx, ciphers) != 1 { throw fail("invalid 'ciphers' list '\(ciphers)'") }
            if let suites = options.ciphersuites, SSL_CTX_set_ciphersuites(ctx, suites) != 1 { throw fail("invalid 'ciphersuites' list '\(suites)'") }
            if options.noTickets { _ = swiftlb_SSL_CTX_set_options(ctx, swiftlb_SSL_OP_NO_TICKET()) }
            if let certificate = options.certificate {
                var ok = SSL_CTX_use_certificate(ctx, certificate.leaf) == 1
                for cert in certificate.chain {
                    X509_up_ref(cert)  // the context takes ownership of extra chain certificates
                    ok = ok && swiftlb_SSL_CTX_add_extra_chain_cert(ctx, cert) == 1
                }
                ok = ok && SSL_CTX_use_PrivateKey(ctx, certificate.key) == 1 && SSL_CTX_check_private_key(ctx) == 1
                guard ok else { throw fail("cannot use client certificate \(certificate.path)") }
            }
            setTransportModes(ctx)
            var wire: [UInt8] = []
            for proto in options.alpn { wire.append(UInt8(proto.utf8.count)); wire += Array(proto.utf8) }
            self.alpnWire = wire
            if options.reuseSessions {
                guard let slot = swiftlb_session_slot_new() else { throw fail("cannot keep TLS sessions") }
                guard swiftlb_session_slot_attach(slot, ctx) == 1 else {
                    swiftlb_session_slot_free(slot); throw fail("cannot keep TLS sessions")
                }
                self.sessions = slot
            } else {
                self.sessions = nil
            }
            self.ctx = ctx
            ERR_clear_error()
        }

        deinit {
            SSL_CTX_free(ctx)
            retiredStores.forEach { X509_STORE_free($0) }
            swiftlb_session_slot_free(sessions)
        }
    }

    /// The context new connections use; `replaceCertificate` swaps it (`commit ssl cert` on the
    /// server's `crt`). Replaced ones stay alive: a handshake begun on one may still store its
    /// session into its slot. A commit is rare; each keeps one small context.
    private let current: NIOLockedValueBox<(now: Built, retired: [Built])>
    public var options: TLSClientOptions { current.withLockedValue { $0.now.options } }

    /// - Parameters:
    ///   - caFile: verify the server against these CAs (nil: no verification, `verify none`).
    ///   - reuseSessions: offer the server's last session to the next connection.
    public convenience init(caFile: String? = nil, alpn: [String] = [], reuseSessions: Bool = true) throws {
        var options = TLSClientOptions()
        options.caFile = caFile
        options.alpn = alpn
        options.reuseSessions = reuseSessions
        try self.init(options: options)
    }

    /// Where the CA and CRL files come from (committed over the runtime API).
    private let caFileStore: CAFileStore

    public init(options: TLSClientOptions, caFileStore: CAFileStore = .shared) throws {
        self.caFileStore = caFileStore
        let built = try Built(options: options, caFileStore: caFileStore)
        current = NIOLockedValueBox((built, []))
        if !built.verifyFiles.isEmpty { caFileStore.register(self, names: built.verifyFiles.names) }
    }

    /// New connections present `certificate` from now on (and start without a kept session,
    /// which would carry the old certificate); open ones keep theirs.
    public func replaceCertificate(_ certificate: TLSCertificate) throws {
        var options = self.options
        options.certificate = certificate
        let built = try Built(options: options, caFileStore: caFileStore)
        current.withLockedValue { $0 = (built, $0.retired + [$0.now]) }
    }

    func makeSSL(serverName: String?) -> OpaquePointer? {
        let built = current.withLockedValue { $0.now }
        let options = built.options
        guard let ssl = SSL_new(built.ctx) else { return nil }
        if let serverName {
            _ = swiftlb_SSL_set_tlsext_host_name(ssl, serverName)
            if options.caFile != nil { _ = SSL_set1_host(ssl, serverName) }  // checked against the certificate when verifying
        }
        if !built.alpnWire.isEmpty { _ = SSL_set_alpn_protos(ssl, built.alpnWire, UInt32(built.alpnWire.count)) }
        if let sessions = built.sessions { swiftlb_session_slot_offer(sessions, ssl) }
        return ssl
    }
}

extension TLSClientContext: CAFileUser {
    func verifyFilesChanged(_ name: String, _ build: (_ caFiles: [String], _ crlFile: String?) -> OpaquePointer?) -> (rebuilt: Int, failure: String?) {
        current.withLockedValue { state in
            let built = state.now
            guard let store = build(built.verifyFiles.caFiles, built.verifyFiles.crlFile) else {
                return (0, "cannot rebuild the verification store of a server using \(built.verifyFiles.names)")
            }
            built.retiredStores.append(swiftlb_ctx_swap_store(built.ctx, store))
            X509_STORE_free(store)
            if let sessions = built.sessions { swiftlb_session_slot_forget(sessions) }  // a kept session would skip the new verification
            return (1, nil)
        }
    }
}
