/// The TLS parameters of `server` / `default-server` (what HAProxy's `srv_kw` SSL keywords
/// set), and `ssl-default-server-*`. Each creates the server's TLS settings on first use; only
/// `ssl` sends traffic over TLS and only `check-ssl` (or `ssl` without a check `port`) the checks.
extension KeywordRegistry {
    static let tlsServerParameters: [Parameter<ServerParameters>] = [
        Parameter("ssl") { s, _, p in p.ensureTLS(&s); s.tls!.more.ssl = true },
        Parameter("no-ssl") { s, _, _ in s.tls?.more.ssl = false },
        Parameter("check-ssl") { s, _, p in p.ensureTLS(&s); s.tls!.more.checkSSL = true },
        Parameter("no-check-ssl") { s, _, _ in s.tls?.more.checkSSL = false },
        Parameter("check-sni", values: 1) { s, v, p in p.ensureTLS(&s); s.tls!.more.checkSNI = v[0] },
        Parameter("alpn", values: 1) { s, v, p in p.ensureTLS(&s); s.tls!.more.alpn = try alpnList("alpn", v[0]) },
        Parameter("check-alpn", values: 1) { s, v, p in p.ensureTLS(&s); s.tls!.more.checkALPN = try alpnList("check-alpn", v[0]) },
        Parameter("crt", values: 1) { s, v, p in p.ensureTLS(&s); s.tls!.more.certificate = p.based(v[0], on: p.config.global.crtBase) },
        Parameter("crl-file", values: 1) { s, v, p in p.ensureTLS(&s); s.tls!.more.crlFile = p.based(v[0], on: p.config.global.caBase) },
        Parameter("ssl-reuse") { s, _, p in p.ensureTLS(&s); s.tls!.more.noSessionReuse = false },
    ] + tlsServerOptions.parameters.map { option in
        Parameter<ServerParameters>(option.name, values: option.values, status: option.status) { s, v, p in
            p.ensureTLS(&s)
            try option.apply?(&s.tls!.more, v, p)
        }
    }

    /// What `ssl-default-server-options` may also say.
    static let tlsServerOptions = ParameterTable<ServerTLSOptions>("ssl-default-server-options option", [
        Parameter("ssl-min-ver", values: 1) { t, v, _ in t.minVersion = try TLSVersionNames.check("ssl-min-ver", v[0]) },
        Parameter("ssl-max-ver", values: 1) { t, v, _ in t.maxVersion = try TLSVersionNames.check("ssl-max-ver", v[0]) },
        Parameter("ciphers", values: 1) { t, v, _ in t.ciphers = v[0] },
        Parameter("ciphersuites", values: 1) { t, v, _ in t.ciphersuites = v[0] },
        Parameter("no-ssl-reuse") { t, _, _ in t.noSessionReuse = true },
        Parameter("no-tls-tickets") { t, _, _ in t.noTickets = true },
    ] + zip(TLSVersionNames.suffixes, TLSVersionNames.all).flatMap { suffix, version in
        [Parameter<ServerTLSOptions>("no-" + suffix) { t, _, _ in t.disabledVersions.insert(version) },
         Parameter<ServerTLSOptions>("force-" + suffix) { t, _, _ in t.minVersion = version; t.maxVersion = version }]
    })

    static let tlsServerDefaultKeywords: [Keyword] = [
        Keyword("ssl-default-server-ciphers", [.global], usage: "ssl-default-server-ciphers LIST") { p, c in
            p.config.global.defaultServerTLS.ciphers = try c.one("one cipher list")
        },
        Keyword("ssl-default-server-ciphersuites", [.global], usage: "ssl-default-server-ciphersuites LIST") { p, c in
            p.config.global.defaultServerTLS.ciphersuites = try c.one("one ciphersuite list")
        },
        Keyword("ssl-default-server-options", [.global], usage: "ssl-default-server-options OPTION…") { p, c in
            try tlsServerOptions.parse(c.args[...], into: &p.config.global.defaultServerTLS, parser: p)
        },
        Keyword("ssl-default-bind-curves", [.global], usage: "ssl-default-bind-curves LIST") { p, c in
            p.config.global.defaultBindTLS.more.curves = try c.one("one curve list")
        },
    ]

    /// An ALPN list as HAProxy's `ssl_sock_parse_alpn` takes it: comma-separated names of 1 to
    /// 255 bytes.
    static func alpnList(_ keyword: String, _ value: String) throws(ParseFailure) -> [String] {
        let names = value.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard names.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 255 }) else {
            throw ParseFailure("'\(keyword)' expects a comma-separated list of protocol names of 1 to 255 bytes, not '\(value)'")
        }
        return names
    }

    /// A server line's TLS once its parameters are read: settings without `ssl` or `check-ssl`
    /// do nothing for traffic and checks (as in HAProxy) but say how a `connect ssl` check step
    /// connects, and the version range must leave a version.
    static func finishServerTLS(_ params: inout ServerParameters) throws(ParseFailure) {
        guard let tls = params.tls else { return }
        if !tls.more.ssl && tls.more.checkSSL != true {
            params.checkRuleTLS = tls  // for `connect ssl` check steps only
            params.tls = nil
            return
        }
        guard TLSVersionNames.range(min: tls.more.minVersion, max: tls.more.maxVersion, disabled: tls.more.disabledVersions) != nil else {
            throw ParseFailure("no TLS version left between ssl-min-ver and ssl-max-ver once the no-* versions are taken out")
        }
    }
}
