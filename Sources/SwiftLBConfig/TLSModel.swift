/// TLS keywords of `bind` beyond certificates, ALPN and ciphers (which live in `BindTLS`):
/// versions, client-certificate verification, curves, SNI strictness and `crt-list` entries.
public struct BindTLSOptions: Sendable, Equatable {
    /// `ssl-max-ver`.
    public var maxVersion: String?
    /// `no-sslv3`, `no-tlsv10`… : versions taken out of the range (HAProxy keeps the widest
    /// contiguous range left).
    public var disabledVersions: Set<String> = []
    /// `curves LIST` / `ecdhe NAME`.
    public var curves: String?
    public var crlFile: String?
    public var caVerifyFile: String?
    /// `crt-ignore-err all|ID,…` / `ca-ignore-err all|ID,…`: one bit per X509_V_ERR code.
    public var ignoredCertificateErrors: UInt64 = 0
    public var ignoredCAErrors: UInt64 = 0
    public var strictSNI = false
    /// `crt-list FILE`: certificates with their SNI filters and options, in file order.
    public var certificateList: [CertificateListEntry] = []
    public init() {}
}

/// One line of a `crt-list` file: `CERT [[OPTION …]] [[!]FILTER …]`.
public struct CertificateListEntry: Sendable, Equatable {
    public var path: String
    /// SNI names (`*.domain` wildcards, `!name` exclusions); empty: the certificate's names.
    public var filters: [String]
    /// The words between the brackets, applied over the bind line's TLS settings.
    public var options: [String]
    /// The file and line, for messages.
    public var file: String
    public var line: Int
    /// The bind line's settings with `options` applied (set once the bind line is parsed);
    /// nil: the bind line's.
    public var settings: BindTLS?
    public init(path: String, filters: [String], options: [String], file: String, line: Int) {
        self.path = path
        self.filters = filters
        self.options = options
        self.file = file
        self.line = line
    }
}

/// TLS keywords of `server`/`default-server` beyond `ssl`, `verify`, `ca-file` and `sni`.
public struct ServerTLSOptions: Sendable, Equatable {
    /// `ssl`: traffic goes over TLS (the other keywords only set how; `no-ssl` undoes it).
    public var ssl = false
    /// `check-ssl` (true) / `no-check-ssl` (false); nil: checks use TLS when traffic does and
    /// no `port` sends them elsewhere (HAProxy's rule).
    public var checkSSL: Bool?
    /// `check-sni NAME`: the SNI of TLS health checks (default: `sni`'s constant).
    public var checkSNI: String?
    /// `alpn LIST`: the protocols offered to the server (nil: `http/1.1` alone).
    public var alpn: [String]?
    /// `check-alpn LIST`: the protocols TLS health checks offer (nil: `alpn`'s).
    public var checkALPN: [String]?
    /// `crt FILE`: the client certificate (key and chain) shown to the server.
    public var certificate: String?
    public var crlFile: String?
    public var minVersion: String?
    public var maxVersion: String?
    public var disabledVersions: Set<String> = []
    public var ciphers: String?
    public var ciphersuites: String?
    /// `no-ssl-reuse`: every connection makes a full handshake.
    public var noSessionReuse = false
    public var noTickets = false
    public init() {}
}

/// HAProxy's TLS version names, oldest first, and the `force-*`/`no-*` keyword suffixes.
public enum TLSVersionNames {
    public static let all = ["SSLv3", "TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
    public static let suffixes = ["sslv3", "tlsv10", "tlsv11", "tlsv12", "tlsv13"]

    static func check(_ keyword: String, _ value: String) throws(ParseFailure) -> String {
        guard all.contains(value) else { throw ParseFailure("'\(keyword)' expects one of \(all.joined(separator: ", ")), not '\(value)'") }
        return value
    }

    /// The range HAProxy negotiates from `min`/`max` (defaults: TLSv1.2 and TLSv1.3) less the
    /// disabled versions: the lowest enabled version from `min` and the contiguous ones after
    /// it. nil when nothing is left.
    public static func range(min: String?, max: String?, disabled: Set<String>) -> (min: String, max: String)? {
        let low = all.firstIndex(of: min ?? "TLSv1.2") ?? 3
        let high = all.firstIndex(of: max ?? "TLSv1.3") ?? 4
        guard low <= high else { return nil }
        guard let first = (low...high).first(where: { !disabled.contains(all[$0]) }) else { return nil }
        var last = first
        while last + 1 <= high && !disabled.contains(all[last + 1]) { last += 1 }
        return (all[first], all[last])
    }

    /// `crt-ignore-err` / `ca-ignore-err`: `all`, or error numbers separated by commas.
    static func errorMask(_ keyword: String, _ value: String) throws(ParseFailure) -> UInt64 {
        if value == "all" { return ~0 }
        var mask: UInt64 = 0
        for part in value.split(separator: ",") {
            guard let n = Int(part), (0..<64).contains(n) else {
                throw ParseFailure("'\(keyword)' expects 'all' or X509 error numbers below 64 separated by commas, not '\(part)'")
            }
            mask |= 1 << UInt64(n)
        }
        return mask
    }
}
