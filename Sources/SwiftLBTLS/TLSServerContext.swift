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

    public init() {}
}

/// One certificate of a listener with the names it answers (a `crt-list` line: `[!]NAME`,
/// wildcards `*.domain`; none: the certificate's own names) and its TLS settings.
public struct TLSServerEntry: Sendable {
    public let certificate: TLSCertificate
    public let sniFilters: [String]
    public let settings: TLSSettings
    public init(certificate: TLSCertificate, sniFilters: [String] = [], settings: TLSSettings) {
        self.certificate = certificate
        self.sniFilters = sniFilters
        self.settings = settings
    }

    /// How this entry matches `host`: 2 an exact name, 1 a wildcard, 0 not at all (or excluded
    /// by a `!NAME` filter).
    func match(_ host: String) -> Int {
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
            if X509_check_host(certificate.leaf, host, host.utf8.count, UInt32(X509_CHECK_FLAG_NO_WILDCARDS), nil) == 1 { return 2 }
            return certificate.matches(host: host) ? 1 : 0
        }
        return sniFilters.filter { !$0.hasPrefix("!") }.map { Self.matches($0.lowercased(), host) }.max() ?? 0
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

    public convenience init(certificates: [TLSCertificate], settings: TLSSettings) throws {
        try self.init(entries: certificates.map { TLSServerEntry(certificate: $0, settings: settings) })
    }

    public init(entries: [TLSServerEntry]) throws {
        precondition(!entries.isEmpty, "a TLS listener needs a certificate")
        self.entries = entries
        self.strictSNI = entries[0].settings.strictSNI
        guard let ring = swiftlb_ticket_ring_new(Self.keptTicketKeys) else { throw TLSError.drain("cannot draw ticket keys") }
        self.ticketRing = ring
        for entry in entries {
            let ctx = try makeContext(entry)
            contexts.append(ctx)
        }
    }

    deinit {
        contexts.forEach { swiftlb_verify_detach($0); SSL_CTX_free($0) }
        swiftlb_ticket_ring_free(ticketRing)
    }

    /// A new key encrypts tickets from now on; the oldest one is forgotten.
    public func rotateTicketKeys() {
        _ = swiftlb_ticket_ring_rotate(ticketRing)
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
        _ = swiftlb_SSL_CTX_set_dh_auto(ctx)  // DHE suites get parameters of the key's size
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
        guard swiftlb_ticket_ring_attach(ticketRing, ctx) == 1 else { throw fail("cannot install the ticket key callback") }
        let me = Unmanaged.passUnretained(self).toOpaque()
        // One certificate and no strict-sni: nothing to choose, no lookup per handshake.
        if entries.count > 1 || settings.strictSNI {
            _ = swiftlb_SSL_CTX_set_tlsext_servername_callback(ctx, selectCertificate)
            _ = swiftlb_SSL_CTX_set_tlsext_servername_arg(ctx, me)
        }
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
        if let caFile = settings.caFile {
            guard SSL_CTX_load_verify_locations(ctx, caFile, nil) == 1 else { throw fail("unable to load CA file '\(caFile)'") }
            if settings.verify != .none, let names = SSL_load_client_CA_file(caFile) { SSL_CTX_set_client_CA_list(ctx, names) }
        }
        if let file = settings.caVerifyFile, SSL_CTX_load_verify_locations(ctx, file, nil) != 1 {
            throw fail("unable to load CA file '\(file)'")
        }
        if let crl = settings.crlFile, swiftlb_load_crl_file(ctx, crl) == 0 {
            throw fail("unable to configure CRL file '\(crl)'")
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

    /// The context for `host`: the best match (an exact name before a wildcard, the first entry
    /// among equals); nil when none matches.
    fileprivate func context(for host: String) -> OpaquePointer? {
        var best = 0
        var chosen: OpaquePointer?
        for (index, entry) in entries.enumerated() {
            let score = entry.match(host)
            if score > best { best = score; chosen = contexts[index] }
            if best == 2 { break }
        }
        return chosen
    }

    fileprivate var refusesUnknownNames: Bool { strictSNI }
}

/// SNI: switch the connection to the certificate for the name the client asked for (taking
/// its client-certificate verification along); with `strict-sni`, refuse a name no certificate
/// has, or no name at all.
private func selectCertificate(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg else { return SSL_TLSEXT_ERR_OK }
    let context = Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue()
    guard let name = swiftlb_SSL_get_servername(ssl), let ctx = context.context(for: String(cString: name)) else {
        guard context.refusesUnknownNames else { return SSL_TLSEXT_ERR_OK }
        alert?.pointee = SSL_AD_UNRECOGNIZED_NAME
        return SSL_TLSEXT_ERR_ALERT_FATAL
    }
    if ctx != SSL_get_SSL_CTX(ssl) {
        SSL_set_SSL_CTX(ssl, ctx)
        swiftlb_verify_adopt(ssl, ctx)
    }
    return SSL_TLSEXT_ERR_OK
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
