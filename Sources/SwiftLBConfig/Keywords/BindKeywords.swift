/// `bind ADDRESS[,ADDRESS…] [PARAMETER…]`: where a frontend listens, and TLS termination there.
extension KeywordRegistry {
    static let bindKeywords: [Keyword] = [
        Keyword("bind", SectionKind.frontSide.subtracting([.defaults]), usage: "bind ADDRESS[,ADDRESS…] [ssl crt FILE …]") { p, c in
            guard let addresses = c.args.first else { throw ParseFailure("expects an address such as ':80' or '127.0.0.1:8080'") }
            p.withFrontend { p.frontendsWithBindLines.insert($0.name) }
            var spec = BindLine(defaults: p.config.global.defaultBindTLS)
            try bindParameters.parse(c.args.dropFirst(), into: &spec, parser: p)
            if let tls = spec.tls {
                guard spec.ssl else { throw ParseFailure("TLS parameters without 'ssl': write 'bind … ssl crt FILE'") }
                guard !tls.certificates.isEmpty else { throw ParseFailure("'ssl' needs a certificate: 'ssl crt /path/site.pem' (key + chain)") }
            }
            // `bind :80,:8080` lists several addresses, as in HAProxy.
            var binds: [BindAddress] = []
            for text in addresses.split(separator: ",") {
                guard let (host, port) = parseAddress(String(text)) else {
                    throw ParseFailure("invalid address '\(text)': expected [HOST]:PORT, e.g. ':80', '127.0.0.1:8080', '[::1]:80'")
                }
                binds.append(BindAddress(host: host.isEmpty || host == "*" ? "0.0.0.0" : host, port: port, line: c.line.number, tls: spec.tls))
            }
            p.withFrontend { $0.binds += binds }
        },
    ]

    /// What a `bind` line's parameters build: TLS settings that start from the global defaults
    /// as soon as a TLS parameter appears.
    struct BindLine {
        let defaults: BindTLS
        var ssl = false
        var tls: BindTLS?
        init(defaults: BindTLS) { self.defaults = defaults }
        /// The TLS settings of the line, created from the defaults on first use.
        var withTLS: BindTLS {
            get { tls ?? defaults }
            set { tls = newValue }
        }
    }

    /// A client that negotiates h2 would get answers it cannot read: refused until HTTP/2 is
    /// served (then this becomes `.active`).
    static let alpnH2 = KeywordStatus.pending("HTTP/2 is not served yet, and a client that negotiates h2 gets nothing it can read; offer 'alpn http/1.1'")

    static let bindParameters = ParameterTable<BindLine>("bind parameter", [
        Parameter("ssl") { b, _, _ in b.ssl = true; b.tls = b.withTLS },
        Parameter("crt", values: 1) { b, v, p in b.withTLS.certificates.append(p.based(v[0], on: p.config.global.crtBase)) },
        Parameter("alpn", values: 1) { b, v, p in
            let protocols = v[0].split(separator: ",").map(String.init)
            if protocols.contains("h2") { try p.gate(alpnH2, "'alpn h2'") }
            b.withTLS.alpn = protocols
        },
        Parameter("ssl-min-ver", values: 1) { b, v, _ in
            guard v[0] == "TLSv1.2" || v[0] == "TLSv1.3" else { throw ParseFailure("ssl-min-ver must be TLSv1.2 or TLSv1.3 (older versions are not offered)") }
            b.withTLS.minVersion = v[0]
        },
        Parameter("ciphers", values: 1) { b, v, _ in b.withTLS.ciphers = v[0] },
        Parameter("ciphersuites", values: 1) { b, v, _ in b.withTLS.ciphersuites = v[0] },
        Parameter("no-tls-tickets") { b, _, _ in b.withTLS.noTickets = true },
        .unsupported("ca-file", values: 1, "client certificates are not supported"),
        .unsupported("verify", values: 1, "client certificates are not supported"),
        .unsupported("crt-list", values: 1, "use a directory of PEM files with 'crt DIR'"),
        .unsupported("npn", values: 1, "NPN is obsolete; use alpn"),
        .unsupported("ssl-max-ver", values: 1, "not supported"),
        .unsupported("accept-proxy", "the PROXY protocol is not supported"),
    ])
}
