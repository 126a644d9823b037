import CLibSSL
import CSwiftLBTLSShim
#if canImport(Glibc)
import Glibc
#endif

/// How a `bind … ssl` listener (or one entry of its `crt-list`) speaks TLS.
public struct TLSSettings: Sendable, Equatable {
    /// Mozilla's "intermediate" TLS 1.2 ciphers (TLS 1.3 suites are OpenSSL's defaults).
    public static let intermediateCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

    /// HAProxy's version names (`ssl-min-ver`, `ssl-max-ver`, `force-*`, `no-*`).
    public enum Version: String, Sendable, CaseIterable, Comparable {
        case ssl3 = "SSLv3", tls10 = "TLSv1.0", tls11 = "TLSv1.1", tls12 = "TLSv1.2", tls13 = "TLSv1.3"
        var openSSL: Int32 {
            switch self {
            case .ssl3: SSL3_VERSION
            case .tls10: TLS1_VERSION
            case .tls11: TLS1_1_VERSION
            case .tls12: TLS1_2_VERSION
            case .tls13: TLS1_3_VERSION
            }
        }
        /// The suffix of HAProxy's `force-tlsv12` / `no-tlsv12` words.
        public var keywordSuffix: String {
            switch self {
            case .ssl3: "sslv3"
            case .tls10: "tlsv10"
            case .tls11: "tlsv11"
            case .tls12: "tlsv12"
            case .tls13: "tlsv13"
            }
        }
        public static func < (a: Version, b: Version) -> Bool { a.openSSL < b.openSSL }
    }

    /// `verify none|optional|required` on a bind: whether a client certificate is asked for.
    public enum ClientVerify: String, Sendable { case none, optional, required }

    public var minVersion: Version = .tls12
    public var maxVersion: Version?
    public var ciphers: String = TLSSettings.intermediateCiphers
    public var ciphersuites: String?
    /// Protocols offered by ALPN, in preference order (`alpn http/1.1`); empty: no ALPN.
    public var alpn: [String] = []
    public var tickets = true
    public var sessionCache = true
    /// Seconds a session or ticket may be resumed (`tune.ssl.lifetime`; nil: OpenSSL 3's 7200 s).
    public var sessionLifetime: Int?
    /// `curves LIST` (key-exchange groups, `:`-separated) or `ecdhe NAME` (one curve).
    public var curves: String?
    /// `verify`, `ca-file` (verifies, and its names go to the client as acceptable CAs),
    /// `ca-verify-file` (verifies only), `crl-file`.
    public var verify: ClientVerify = .none
    public var caFile: String?
    public var caVerifyFile: String?
    public var crlFile: String?
    /// `crt-ignore-err` / `ca-ignore-err`: one bit per X509_V_ERR code (below 64) that does not
    /// fail the handshake; all bits for `all`.
    public var ignoredCertificateErrors: UInt64 = 0
    public var ignoredCAErrors: UInt64 = 0
    /// `strict-sni`: a client whose SNI names no certificate (or who sends none) is refused.
    public var strictSNI = false
    /// `ssl-dh-param-file`: DH parameters (PEM) for the DHE suites; nil: automatic ones of the
    /// certificate key's size.
    public var dhParameters: String?
    /// `tune.ssl.maxrecord`: plaintext bytes per record sent (OpenSSL's max_send_fragment,
    /// which takes 512 to 16384); nil: 16384.
    public var maxRecord: Int?

    public init() {}
}

/// One certificate of a listener with the names it answers (a `crt-list` line: `[!]NAME`,
/// wildcards `*.domain`; none: the certificate's own names) and its TLS settings.
public struct TLSServerEntry: Sendable {
    public let certificate: TLSCertificate
    public let sniFilters: [String]
    public let settings: TLSSettings
    /// Only the listener's default (no SNI match): its crt-list line was deleted over the stats
    /// socket on a `strict-sni` bind, where HAProxy keeps the default context.
    public let defaultOnly: Bool
    public init(certificate: TLSCertificate, sniFilters: [String] = [], settings: TLSSettings, defaultOnly: Bool = false) {
        self.certificate = certificate
        self.sniFilters = sniFilters
        self.settings = settings
        self.defaultOnly = defaultOnly
    }

    /// How this entry matches `host`: 2 an exact name, 1 a wildcard, 0 not at all (or excluded
    /// by a `!NAME` filter).
    func match(_ host: String) -> Int {
        if defaultOnly { return 0 }
        let host = host.lowercased()
        var positive = false
        for filter in sniFilters {
            if filter.hasPrefix("!") {
                if Self.matches(String(filter.dropFirst()).lowercased(), host) > 0 { return 0 }
            } else {
                positive = true
            }
        }
        if !positive {
            // HAProxy indexes a certificate by its SAN names and its CNs, even when it has SANs
            // (OpenSSL's host check ignores the CN then).
            if X509_check_host(certificate.leaf, host, host.utf8.count, UInt32(X509_CHECK_FLAG_NO_WILDCARDS), nil) == 1 { return 2 }
            let byName = certificate.commonNames.map { Self.matches($0, host) }.max() ?? 0
            if byName == 2 { return 2 }
            return certificate.matches(host: host) ? 1 : byName
        }
        return sniFilters.filter { !$0.hasPrefix("!") }.map { Self.matches($0.lowercased(), host) }.max() ?? 0
    }

    /// Which entry serves `host`, HAProxy's way (ssl_sock_switchctx_cbk): among the entries
    /// whose names match — exact names looked at before wildcards — the first ECDSA one if the
    /// client can use ECDSA, else the first RSA one if it can use RSA, else the first of another
    /// key type, else whatever matched. nil: no entry has the name.
    static func choose(_ entries: [TLSServerEntry], host: String, ecdsa: Bool, rsa: Bool) -> Int? {
        let scores = entries.map { $0.match(host) }
        var firstECDSA: Int?, firstRSA: Int?, firstOther: Int?
        for level in [2, 1] {
            for (index, entry) in entries.enumerated() where scores[index] == level {
                switch entry.certificate.keyType {
                case .ecdsa: firstECDSA = firstECDSA ?? index
                case .rsa: firstRSA = firstRSA ?? index
                case .other: firstOther = firstOther ?? index
                }
            }
        }
        if ecdsa, let index = firstECDSA { return index }
        if rsa, let index = firstRSA { return index }
        return firstOther ?? firstECDSA ?? firstRSA
    }

    /// 2: `filter` is `host`; 1: `filter` is `*.REST` and `host` is one label then `.REST`.
    static func matches(_ filter: String, _ host: String) -> Int {
        if filter == host { return 2 }
        guard filter.hasPrefix("*."), let dot = host.firstIndex(of: "."), dot != host.startIndex else { return 0 }
        return host[dot...] == filter.dropFirst() ? 1 : 0
    }
}

/// The OpenSSL server side of one `bind … ssl crt …|crt-list …`: one SSL_CTX per certificate
/// entry, the first being the default (no SNI, or no certificate matches). SNI picks an entry by
/// its filters (exact names before wildcards, `!NAME` excluded) or, without filters, by
/// OpenSSL's own host matching (SAN, CN, wildcards); `strict-sni` refuses a client that names
/// none. All contexts share one ring of ticket keys and a session-id context, so a resumed
/// session works whichever certificate the client reached. Ticket keys rotate in memory
/// (`rotateTicketKeys`): the newest encrypts, the previous `keptTicketKeys - 1` still decrypt,
/// so a ticket lives at most that many rotations.
public final class TLSServerContext: @unchecked Sendable {
    public let entries: [TLSServerEntry]
    public var certificates: [TLSCertificate] { entries.map(\.certificate) }
    /// The listener's settings (those of the first entry).
    public var settings: TLSSettings { entries[0].settings }
    private var contexts: [OpaquePointer] = []   // SSL_CTX*
    /// Each context's ALPN protocols in wire format (length-prefixed), read by `selectALPN`.
    fileprivate var alpnWires: [OpaquePointer: [UInt8]] = [:]
    private let ticketRing: OpaquePointer
    public static let keptTicketKeys: Int32 = 3
    private let strictSNI: Bool
    /// The CA/CRL files each context verifies client certificates against (`ca-file`,
    /// `ca-verify-file`, `crl-file`), kept in `caFileStore`; a commit there swaps the stores.
    private var verifyFiles: [VerifyFiles] = []
    private let caFileStore: CAFileStore
    /// Stores swapped out by commits: a handshake may still read one; freed with the contexts.
    private var retiredStores: [OpaquePointer] = []
    /// How many commits changed this listener's trust: its session-id context after one.
    private var trustGeneration = 0

    public convenience init(certificates: [TLSCertificate], settings: TLSSettings) throws {
        try self.init(entries: certificates.map { TLSServerEntry(certificate: $0, settings: settings) })
    }

    public init(entries: [TLSServerEntry], caFileStore: CAFileStore = .shared) throws {
        precondition(!entries.isEmpty, "a TLS listener needs a certificate")
        self.entries = entries
        self.strictSNI = entries[0].settings.strictSNI
        self.caFileStore = caFileStore
        guard let ring = swiftlb_ticket_ring_new(Self.keptTicketKeys) else { throw TLSError.drain("cannot draw ticket keys") }
        self.ticketRing = ring
        for entry in entries {
            let ctx = try makeContext(entry)
            contexts.append(ctx)
        }
        let names = verifyFiles.flatMap(\.names)
        if !names.isEmpty { caFileStore.register(self, names: names) }
    }

    deinit {
        contexts.forEach { swiftlb_verify_detach($0); SSL_CTX_free($0) }
        retiredStores.forEach { X509_STORE_free($0) }
        swiftlb_ticket_ring_free(ticketRing)
    }

    /// A new context took this one's place: the connections open on it keep it, but it no
    /// longer uses its CA/CRL files (they may be deleted) nor follows their commits.
    public func retire() { caFileStore.unregister(self) }

    /// A new key encrypts tickets from now on; the oldest one is forgotten.
    public func rotateTicketKeys() {
        _ = swiftlb_ticket_ring_rotate(ticketRing)
    }

    /// The DH parameters of a PEM text (an EVP_PKEY the context takes ownership of), or nil.
    private static func dhParameters(_ pem: String) -> OpaquePointer? {
        var bytes = Array(pem.utf8)
        return bytes.withUnsafeMutableBytes { raw -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return nil }
            defer { BIO_free(bio) }
            return PEM_read_bio_Parameters(bio, nil)
        }
    }

    private func makeContext(_ entry: TLSServerEntry) throws -> OpaquePointer {
        let certificate = entry.certificate
        let settings = entry.settings
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError.drain("SSL_CTX_new failed") }
        func fail(_ message: String) -> TLSError { swiftlb_verify_detach(ctx); SSL_CTX_free(ctx); return TLSError.drain(message) }
        var ok = true
        ok = ok && swiftlb_SSL_CTX_set_min_proto_version_any(ctx, settings.minVersion.openSSL) == 1
        if let max = settings.maxVersion { ok = ok && swiftlb_SSL_CTX_set_max_proto_version(ctx, max.openSSL) == 1 }
        // Server cipher order, as HAProxy does by default: our list is ordered strongest first.
        var options = swiftlb_SSL_OP_NO_COMPRESSION() | swiftlb_SSL_OP_NO_RENEGOTIATION() | swiftlb_SSL_OP_CIPHER_SERVER_PREFERENCE()
        if !settings.tickets { options |= swiftlb_SSL_OP_NO_TICKET() }
        _ = swiftlb_SSL_CTX_set_options(ctx, options)
        if settings.minVersion < .tls12 { SSL_CTX_set_security_level(ctx, 0) }  // OpenSSL 3 refuses TLS < 1.2 at level 1
        guard SSL_CTX_set_cipher_list(ctx, settings.ciphers) == 1 else { throw fail("invalid 'ciphers' list '\(settings.ciphers)'") }
        if let suites = settings.ciphersuites, SSL_CTX_set_ciphersuites(ctx, suites) != 1 {
            throw fail("invalid 'ciphersuites' list '\(suites)'")
        }
        if let curves = settings.curves, swiftlb_SSL_CTX_set1_groups_list(ctx, curves) != 1 {
            throw fail("invalid 'curves'/'ecdhe' list '\(curves)'")
        }
        if let n = entry.settings.maxRecord { _ = swiftlb_SSL_CTX_set_max_send_fragment(ctx, min(max(n, 512), 16384)) }
        if let pem = entry.settings.dhParameters {
            guard let parameters = Self.dhParameters(pem), SSL_CTX_set0_tmp_dh_pkey(ctx, parameters) == 1 else {
                throw fail("unable to load DH parameters ('ssl-dh-param-file')")
            }
        } else {
            _ = swiftlb_SSL_CTX_set_dh_auto(ctx)  // DHE suites get parameters of the key's size
        }
        ok = ok && SSL_CTX_use_certificate(ctx, certificate.leaf) == 1
        for cert in certificate.chain {
            X509_up_ref(cert)  // the context takes ownership of extra chain certificates
            ok = ok && swiftlb_SSL_CTX_add_extra_chain_cert(ctx, cert) == 1
        }
        ok = ok && SSL_CTX_use_PrivateKey(ctx, certificate.key) == 1
        ok = ok && SSL_CTX_check_private_key(ctx) == 1
        guard ok else { throw fail("cannot use \(certificate.path)") }
        try configureClientVerification(ctx, settings, fail: fail)
        let sessionContext = Array("swiftlb".utf8)
        _ = SSL_CTX_set_session_id_context(ctx, sessionContext, UInt32(sessionContext.count))
        // No automatic expiry: OpenSSL would scan the whole cache under its lock every 255
        // handshakes. The cache stays bounded by its size (oldest out first), as HAProxy's does.
        let cacheMode = settings.sessionCache ? Int(SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR) : Int(SSL_SESS_CACHE_OFF)
        _ = swiftlb_SSL_CTX_set_session_cache_mode(ctx, cacheMode)
        _ = swiftlb_SSL_CTX_sess_set_cache_size(ctx, 20_000)
        if let lifetime = settings.sessionLifetime { _ = SSL_CTX_set_timeout(ctx, lifetime) }
        guard swiftlb_ticket_ring_attach(ticketRing, ctx) == 1 else { throw fail("cannot install the ticket key callback") }
        let me = Unmanaged.passUnretained(self).toOpaque()
        // One certificate and no strict-sni: nothing to choose, no lookup per handshake.
        if entries.count > 1 || settings.strictSNI { SSL_CTX_set_client_hello_cb(ctx, selectCertificate, me) }
        setTransportModes(ctx)
        var wire: [UInt8] = []
        for proto in settings.alpn { wire.append(UInt8(proto.utf8.count)); wire += Array(proto.utf8) }
        if !wire.isEmpty {
            alpnWires[ctx] = wire
            SSL_CTX_set_alpn_select_cb(ctx, selectALPN, me)
        }
        return ctx
    }

    /// `verify optional|required` with `ca-file`/`ca-verify-file`/`crl-file`: a client
    /// certificate is asked for and checked, errors recorded for `ssl_c_*err` and the ignored
    /// ones let through (HAProxy's `ssl_sock_bind_verifycbk`).
    private func configureClientVerification(_ ctx: OpaquePointer, _ settings: TLSSettings, fail: (String) -> TLSError) throws {
        let files = VerifyFiles(caFiles: [settings.caFile, settings.caVerifyFile].compactMap { $0 }, crlFile: settings.crlFile)
        verifyFiles.append(files)
        if !files.isEmpty, let bad = files.install(on: ctx, from: caFileStore) {
            throw fail(bad == settings.crlFile ? "unable to configure CRL file '\(bad)'" : "unable to load CA file '\(bad)'")
        }
        // The names sent as acceptable CAs are those of the file when the context is built.
        if let caFile = settings.caFile, settings.verify != .none, let names = SSL_load_client_CA_file(caFile) {
            SSL_CTX_set_client_CA_list(ctx, names)
        }
        let mode: Int32
        switch settings.verify {
        case .none: mode = SSL_VERIFY_NONE
        case .optional: mode = SSL_VERIFY_PEER
        case .required: mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        }
        guard swiftlb_verify_attach(ctx, mode, settings.ignoredCertificateErrors, settings.ignoredCAErrors) == 1 else {
            throw fail("cannot install the certificate verification callback")
        }
        ERR_clear_error()
    }

    /// A new server-side SSL object on the default context.
    func makeSSL() -> OpaquePointer? { SSL_new(contexts[0]) }

    /// The context for `host` and a client that can (or not) use ECDSA and RSA certificates;
    /// nil when no entry has the name.
    fileprivate func entry(for host: String, ecdsa: Bool, rsa: Bool) -> (OpaquePointer, TLSSettings)? {
        TLSServerEntry.choose(entries, host: host, ecdsa: ecdsa, rsa: rsa).map { (contexts[$0], entries[$0].settings) }
    }

    fileprivate var refusesUnknownNames: Bool { strictSNI }
}

extension TLSServerContext: CAFileUser {
    func verifyFilesChanged(_ name: String, _ build: (_ caFiles: [String], _ crlFile: String?) -> OpaquePointer?) -> (rebuilt: Int, failure: String?) {
        var rebuilt = 0
        for (ctx, files) in zip(contexts, verifyFiles) where files.names.contains(name) {
            guard let store = build(files.caFiles, files.crlFile) else {
                return (rebuilt, "cannot rebuild the verification store of a bind using \(files.names)")
            }
            rebuilt += 1
            retiredStores.append(swiftlb_ctx_swap_store(ctx, store))
            X509_STORE_free(store)
            // A client verified under the old files must not come back by resuming.
            trustGeneration += 1
            swiftlb_ctx_forget_sessions(ctx, "swiftlb/\(trustGeneration)")
        }
        return (rebuilt, nil)
    }
}

/// At the ClientHello (before OpenSSL looks at versions and ciphers): switch the connection to
/// the certificate for the SNI name and what the client can verify, taking the entry's versions,
/// options and client-certificate verification along; with `strict-sni`, refuse a name no
/// certificate has, or no name at all (alert unrecognized_name).
private func selectCertificate(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg else { return SSL_CLIENT_HELLO_SUCCESS }
    let context = Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue()
    let (ecdsa, rsa) = ClientHello.signatureKinds(ssl)
    guard let name = ClientHello.serverName(ssl), let (ctx, settings) = context.entry(for: name, ecdsa: ecdsa, rsa: rsa) else {
        guard context.refusesUnknownNames else { return SSL_CLIENT_HELLO_SUCCESS }
        alert?.pointee = SSL_AD_UNRECOGNIZED_NAME
        return SSL_CLIENT_HELLO_ERROR
    }
    if ctx != SSL_get_SSL_CTX(ssl) {
        SSL_set_SSL_CTX(ssl, ctx)
        swiftlb_verify_adopt(ssl, ctx)
        // The SSL object copied these from the default context when it was made.
        if settings != context.settings {
            _ = SSL_set_cipher_list(ssl, settings.ciphers)
            if let suites = settings.ciphersuites { _ = SSL_set_ciphersuites(ssl, suites) }
            if let curves = settings.curves { _ = swiftlb_SSL_set1_groups_list(ssl, curves) }
        }
    }
    return SSL_CLIENT_HELLO_SUCCESS
}

/// Reading the raw ClientHello in the client-hello callback (OpenSSL has not parsed it yet).
enum ClientHello {
    /// The host_name of the server_name extension, lowercased; nil without one.
    static func serverName(_ ssl: OpaquePointer) -> String? {
        var data: UnsafePointer<UInt8>?
        var length = 0
        guard SSL_client_hello_get0_ext(ssl, UInt32(TLSEXT_TYPE_server_name), &data, &length) == 1, let data, length >= 5 else { return nil }
        let bytes = UnsafeBufferPointer(start: data, count: length)
        // list length (2), then entries: type (1), length (2), name.
        var offset = 2
        while offset + 3 <= bytes.count {
            let type = bytes[offset]
            let count = Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2])
            offset += 3
            guard offset + count <= bytes.count else { return nil }
            if type == 0 { return String(decoding: bytes[offset..<(offset + count)], as: UTF8.self).lowercased() }
            offset += count
        }
        return nil
    }

    /// Whether the client can verify ECDSA and RSA signatures (HAProxy's has_ecdsa_sig and
    /// has_rsa_sig): by the signature_algorithms extension (none: RSA only, TLS < 1.2), and for
    /// ECDSA also an ECDSA cipher suite among the offered ones.
    static func signatureKinds(_ ssl: OpaquePointer) -> (ecdsa: Bool, rsa: Bool) {
        var data: UnsafePointer<UInt8>?
        var length = 0
        guard SSL_client_hello_get0_ext(ssl, UInt32(TLSEXT_TYPE_signature_algorithms), &data, &length) == 1, let data, length >= 2 else {
            return (false, true)
        }
        let bytes = UnsafeBufferPointer(start: data, count: length)
        let listLength = min(Int(bytes[0]) << 8 | Int(bytes[1]), length - 2)
        var ecdsa = false, rsa = false
        var i = 2
        while i + 1 < 2 + listLength {
            switch bytes[i + 1] {  // the signature byte of each (hash, signature) pair
            case 1: rsa = true
            case 3: ecdsa = true
            default: break
            }
            i += 2
        }
        if ecdsa {
            ecdsa = false
            var ciphers: UnsafePointer<UInt8>?
            let count = SSL_client_hello_get0_ciphers(ssl, &ciphers)
            if let ciphers {
                var j = 0
                while j + 1 < count {
                    if let cipher = SSL_CIPHER_find(ssl, ciphers + j) {
                        if SSL_CIPHER_get_auth_nid(cipher) == NID_auth_ecdsa { ecdsa = true; break }
                    }
                    j += 2
                }
            }
        }
        return (ecdsa, rsa)
    }
}

/// ALPN: the first of our protocols the client offers; no overlap means no ALPN (not an error).
private func selectALPN(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                        _ outLength: UnsafeMutablePointer<UInt8>?, _ offered: UnsafePointer<UInt8>?,
                        _ offeredLength: UInt32, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let arg, let offered, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    let context = Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue()
    guard let ssl, let ctx = SSL_get_SSL_CTX(ssl), let ours = context.alpnWires[ctx] else { return SSL_TLSEXT_ERR_NOACK }
    let client = UnsafeBufferPointer(start: offered, count: Int(offeredLength))
    var i = 0
    var choices: [(Int, Int)] = []  // (offset, length) of each client protocol
    while i < client.count {
        let n = Int(client[i])
        guard i + 1 + n <= client.count else { return SSL_TLSEXT_ERR_NOACK }
        choices.append((i + 1, n))
        i += 1 + n
    }
    var j = 0
    while j < ours.count {
        let n = Int(ours[j])
        let proto = ours[(j + 1)..<(j + 1 + n)]
        for (offset, length) in choices where length == n && client[offset..<(offset + length)].elementsEqual(proto) {
            // Point into the client's list: it outlives the callback, our array may not.
            out.pointee = offered + offset
            outLength.pointee = UInt8(length)
            return SSL_TLSEXT_ERR_OK
        }
        j += 1 + n
    }
    return SSL_TLSEXT_ERR_NOACK
}

/// How both sides use OpenSSL's record buffers: released whenever they are empty, as HAProxy
/// does (an idle connection then holds none: 63 MB instead of 85 MB at 1000 TLS connections),
/// and filled with as much ciphertext as the ByteBuffer BIO has (one BIO read per record, not
/// one for the header and one for the rest).
func setTransportModes(_ ctx: OpaquePointer) {
    _ = swiftlb_SSL_CTX_set_mode(ctx, swiftlb_SSL_MODE_RELEASE_BUFFERS())
    _ = swiftlb_SSL_CTX_set_read_ahead(ctx, 1)
}
