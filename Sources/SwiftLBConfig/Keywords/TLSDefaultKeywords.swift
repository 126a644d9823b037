/// `global` keywords that preset every `bind … ssl` and tune the TLS session cache.
extension KeywordRegistry {
    static let tlsDefaultKeywords: [Keyword] = [
        Keyword("ssl-default-bind-ciphers", [.global], usage: "ssl-default-bind-ciphers LIST") { p, c in
            p.config.global.defaultBindTLS.ciphers = try c.one("one cipher list")
        },
        Keyword("ssl-default-bind-ciphersuites", [.global], usage: "ssl-default-bind-ciphersuites LIST") { p, c in
            p.config.global.defaultBindTLS.ciphersuites = try c.one("one ciphersuite list")
        },
        Keyword("ssl-default-bind-options", [.global], usage: "ssl-default-bind-options OPTION…") { p, c in
            try defaultBindOptions.parse(c.args[...], into: &p.config.global.defaultBindTLS, parser: p)
        },
        Keyword("ssl-load-extra-del-ext", [.global], usage: "ssl-load-extra-del-ext") { p, c in
            guard c.args.isEmpty else { throw ParseFailure("takes no argument") }
            p.config.global.sslLoadExtraDeleteExtension = true
        },
        Keyword("tune.ssl.cachesize", [.global], usage: "tune.ssl.cachesize N") { p, c in
            guard c.args.count == 1, let n = Int(c.args[0]), n >= 0 else { throw ParseFailure("expects a number (0 turns the session cache off)") }
            p.config.global.sslSessionCache = n > 0
        },
        // HAProxy's default is OpenSSL's, 300 s; a bare number counts seconds.
        Keyword("tune.ssl.lifetime", [.global], usage: "tune.ssl.lifetime TIME") { p, c in
            guard let text = c.args.first else { throw ParseFailure("'tune.ssl.lifetime' expects ssl sessions <lifetime> in seconds as argument") }
            guard let d = ConfigDuration(parsing: text, bareNumberUnit: 1_000_000_000), d.nanoseconds >= 0, d.nanoseconds / 1_000_000_000 <= Int64(Int32.max) else {
                throw ParseFailure("'tune.ssl.lifetime' expects a time in seconds (e.g. 300 or 5m), not '\(text)'")
            }
            p.config.global.sslLifetime = Int(d.nanoseconds / 1_000_000_000)
        },
        // SwiftLB's listeners negotiate ECDHE only (no DH parameters are loaded, so OpenSSL
        // never selects a DHE suite): no key exchange is ever weaker than this asks.
        Keyword("tune.ssl.default-dh-param", [.global], usage: "tune.ssl.default-dh-param BITS") { p, c in
            p.config.global.sslDefaultDHParam = try c.int(in: 1024...16384)
        },
        // haproxy reads it with atoi: only a negative number is refused (a word counts 0).
        Keyword("tune.ssl.maxrecord", [.global], usage: "tune.ssl.maxrecord N") { p, c in
            guard c.args.count == 1 else { throw ParseFailure("'tune.ssl.maxrecord' expects a positive numeric value.") }
            let n = Int(c.args[0].prefix { $0.isNumber || $0 == "-" }) ?? 0
            guard n >= 0 else { throw ParseFailure("'tune.ssl.maxrecord' expects a positive numeric value.") }
            p.config.global.sslMaxRecord = n
        },
        // Read while parsing, as HAProxy loads it there (and refuses the line if it cannot);
        // OpenSSL decodes it when the listeners' contexts are built.
        Keyword("ssl-dh-param-file", [.global], usage: "ssl-dh-param-file FILE") { p, c in
            let path = try c.one("a file of DH parameters")
            guard let text = try? String(contentsOfFile: path, encoding: .utf8),
                  text.contains("-----BEGIN DH PARAMETERS-----") || text.contains("-----BEGIN X9.42 DH PARAMETERS-----") else {
                throw ParseFailure("'ssl-dh-param-file': unable to load DH parameters from file <\(path)>.")
            }
            p.config.global.sslDHParameters = text
        },
    ]

    /// HAProxy's `ssl-default-bind-options`: versions and tickets.
    static let defaultBindOptions = ParameterTable<BindTLS>("ssl-default-bind-options option", tlsBindSettings.filter {
        $0.name.hasPrefix("no-") || $0.name.hasPrefix("force-") || $0.name.hasPrefix("ssl-m")
    })
}
