import CLibSSL
import CSwiftLBTLSShim
#if canImport(Glibc)
import Glibc
#endif

/// How a `bind … ssl` listener speaks TLS.
public struct TLSSettings: Sendable, Equatable {
    /// Mozilla's "intermediate" TLS 1.2 ciphers (TLS 1.3 suites are OpenSSL's defaults).
    public static let intermediateCiphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"

    public enum Version: String, Sendable {
        case tls12 = "TLSv1.2", tls13 = "TLSv1.3"
        var openSSL: Int32 { self == .tls12 ? TLS1_2_VERSION : TLS1_3_VERSION }
    }

    public var minVersion: Version = .tls12
    public var ciphers: String = TLSSettings.intermediateCiphers
    public var ciphersuites: String?
    /// Protocols offered by ALPN, in preference order (`alpn http/1.1`); empty: no ALPN.
    public var alpn: [String] = []
    public var tickets = true
    public var sessionCache = true

    public init() {}
}

/// The OpenSSL server side of one `bind … ssl crt …`: one SSL_CTX per certificate, the first
/// being the default (no SNI, or no certificate matches). SNI picks a context by OpenSSL's own
/// host matching (SAN, CN, wildcards). All contexts share one ring of ticket keys and a
/// session-id context, so a resumed session works whichever certificate the client reached.
/// Ticket keys rotate in memory (`rotateTicketKeys`): the newest encrypts, the previous
/// `keptTicketKeys - 1` still decrypt, so a ticket lives at most that many rotations.
public final class TLSServerContext: @unchecked Sendable {
    public let certificates: [TLSCertificate]
    public let settings: TLSSettings
    private var contexts: [OpaquePointer] = []   // SSL_CTX*
    private let ticketRing: OpaquePointer
    public static let keptTicketKeys: Int32 = 3
    /// ALPN protocols in wire format (length-prefixed).
    fileprivate let alpnWire: [UInt8]

    public init(certificates: [TLSCertificate], settings: TLSSettings) throws {
        precondition(!certificates.isEmpty, "a TLS listener needs a certificate")
        self.certificates = certificates
        self.settings = settings
        var wire: [UInt8] = []
        for proto in settings.alpn { wire.append(UInt8(proto.utf8.count)); wire += Array(proto.utf8) }
        self.alpnWire = wire
        guard let ring = swiftlb_ticket_ring_new(Self.keptTicketKeys) else { throw TLSError.drain("cannot draw ticket keys") }
        self.ticketRing = ring
        for certificate in certificates {
            contexts.append(try makeContext(certificate))
        }
    }

    deinit {
        contexts.forEach { SSL_CTX_free($0) }
        swiftlb_ticket_ring_free(ticketRing)
    }

    /// A new key encrypts tickets from now on; the oldest one is forgotten.
    public func rotateTicketKeys() {
        _ = swiftlb_ticket_ring_rotate(ticketRing)
    }

    private func makeContext(_ certificate: TLSCertificate) throws -> OpaquePointer {
        ERR_clear_error()
        guard let ctx = SSL_CTX_new(TLS_server_method()) else { throw TLSError.drain("SSL_CTX_new failed") }
        var ok = true
        ok = ok && swiftlb_SSL_CTX_set_min_proto_version(ctx, settings.minVersion.openSSL) == 1
        // Server cipher order, as HAProxy does by default: our list is ordered strongest first.
        var options = swiftlb_SSL_OP_NO_COMPRESSION() | swiftlb_SSL_OP_NO_RENEGOTIATION() | swiftlb_SSL_OP_CIPHER_SERVER_PREFERENCE()
        if !settings.tickets { options |= swiftlb_SSL_OP_NO_TICKET() }
        _ = swiftlb_SSL_CTX_set_options(ctx, options)
        guard SSL_CTX_set_cipher_list(ctx, settings.ciphers) == 1 else {
            SSL_CTX_free(ctx); throw TLSError.drain("invalid 'ciphers' list '\(settings.ciphers)'")
        }
        if let suites = settings.ciphersuites, SSL_CTX_set_ciphersuites(ctx, suites) != 1 {
            SSL_CTX_free(ctx); throw TLSError.drain("invalid 'ciphersuites' list '\(suites)'")
        }
        ok = ok && SSL_CTX_use_certificate(ctx, certificate.leaf) == 1
        for cert in certificate.chain {
            X509_up_ref(cert)  // the context takes ownership of extra chain certificates
            ok = ok && swiftlb_SSL_CTX_add_extra_chain_cert(ctx, cert) == 1
        }
        ok = ok && SSL_CTX_use_PrivateKey(ctx, certificate.key) == 1
        ok = ok && SSL_CTX_check_private_key(ctx) == 1
        guard ok else { SSL_CTX_free(ctx); throw TLSError.drain("cannot use \(certificate.path)") }
        let sessionContext = Array("swiftlb".utf8)
        _ = SSL_CTX_set_session_id_context(ctx, sessionContext, UInt32(sessionContext.count))
        // No automatic expiry: OpenSSL would scan the whole cache under its lock every 255
        // handshakes. The cache stays bounded by its size (oldest out first), as HAProxy's does.
        let cacheMode = settings.sessionCache ? Int(SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_AUTO_CLEAR) : Int(SSL_SESS_CACHE_OFF)
        _ = swiftlb_SSL_CTX_set_session_cache_mode(ctx, cacheMode)
        _ = swiftlb_SSL_CTX_sess_set_cache_size(ctx, 20_000)
        guard swiftlb_ticket_ring_attach(ticketRing, ctx) == 1 else {
            SSL_CTX_free(ctx); throw TLSError.drain("cannot install the ticket key callback")
        }
        let me = Unmanaged.passUnretained(self).toOpaque()
        if certificates.count > 1 {  // one certificate: nothing to choose, no lookup per handshake
            _ = swiftlb_SSL_CTX_set_tlsext_servername_callback(ctx, selectCertificate)
            _ = swiftlb_SSL_CTX_set_tlsext_servername_arg(ctx, me)
        }
        setTransportModes(ctx)
        if !alpnWire.isEmpty { SSL_CTX_set_alpn_select_cb(ctx, selectALPN, me) }
        return ctx
    }

    /// A new server-side SSL object on the default context.
    func makeSSL() -> OpaquePointer? { SSL_new(contexts[0]) }

    /// The context of the first certificate valid for `host`, if any.
    fileprivate func context(for host: String) -> OpaquePointer? {
        certificates.firstIndex { $0.matches(host: host) }.map { contexts[$0] }
    }
}

/// SNI: switch the connection to the certificate for the name the client asked for.
private func selectCertificate(_ ssl: OpaquePointer?, _ alert: UnsafeMutablePointer<Int32>?, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let ssl, let arg, let name = swiftlb_SSL_get_servername(ssl) else { return SSL_TLSEXT_ERR_OK }
    let context = Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue()
    if let ctx = context.context(for: String(cString: name)) { SSL_set_SSL_CTX(ssl, ctx) }
    return SSL_TLSEXT_ERR_OK
}

/// ALPN: the first of our protocols the client offers; no overlap means no ALPN (not an error).
private func selectALPN(_ ssl: OpaquePointer?, _ out: UnsafeMutablePointer<UnsafePointer<UInt8>?>?,
                        _ outLength: UnsafeMutablePointer<UInt8>?, _ offered: UnsafePointer<UInt8>?,
                        _ offeredLength: UInt32, _ arg: UnsafeMutableRawPointer?) -> Int32 {
    guard let arg, let offered, let out, let outLength else { return SSL_TLSEXT_ERR_NOACK }
    let context = Unmanaged<TLSServerContext>.fromOpaque(arg).takeUnretainedValue()
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
    let ours = context.alpnWire
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
