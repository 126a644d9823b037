import FoundationEssentials

/// The TLS parameters of `bind` that also make sense on a `crt-list` line (HAProxy's
/// `ssl_bind_kw`), and `crt-list` itself.
extension KeywordRegistry {
    /// Parameters that shape one certificate's TLS (a bind line's or a crt-list entry's).
    static let tlsBindSettings: [Parameter<BindTLS>] = [
        Parameter("ssl-min-ver", values: 1) { t, v, _ in t.minVersion = try TLSVersionNames.check("ssl-min-ver", v[0]) },
        Parameter("ssl-max-ver", values: 1) { t, v, _ in t.more.maxVersion = try TLSVersionNames.check("ssl-max-ver", v[0]) },
        Parameter("ciphers", values: 1) { t, v, _ in t.ciphers = v[0] },
        Parameter("ciphersuites", values: 1) { t, v, _ in t.ciphersuites = v[0] },
        Parameter("curves", values: 1) { t, v, _ in t.more.curves = v[0] },
        Parameter("ecdhe", values: 1) { t, v, _ in t.more.curves = v[0] },
        Parameter("ca-file", values: 1) { t, v, p in t.caFile = p.based(v[0], on: p.config.global.caBase) },
        Parameter("ca-verify-file", values: 1) { t, v, p in t.more.caVerifyFile = p.based(v[0], on: p.config.global.caBase) },
        Parameter("crl-file", values: 1) { t, v, p in t.more.crlFile = p.based(v[0], on: p.config.global.caBase) },
        Parameter("verify", values: 1) { t, v, _ in
            guard ["none", "optional", "required"].contains(v[0]) else { throw ParseFailure("'verify' expects none, optional or required") }
            t.verify = v[0]
        },
        Parameter("no-tls-tickets") { t, _, _ in t.noTickets = true },
    ] + zip(TLSVersionNames.suffixes, TLSVersionNames.all).flatMap { suffix, version in
        [Parameter<BindTLS>("no-" + suffix) { t, _, _ in t.more.disabledVersions.insert(version) },
         Parameter<BindTLS>("force-" + suffix) { t, _, _ in t.minVersion = version; t.more.maxVersion = version }]
    }

    /// Parameters of the bind line only.
    static let tlsBindOnly: [Parameter<BindTLS>] = [
        Parameter("crt-ignore-err", values: 1) { t, v, _ in t.more.ignoredCertificateErrors = try TLSVersionNames.errorMask("crt-ignore-err", v[0]) },
        Parameter("ca-ignore-err", values: 1) { t, v, _ in t.more.ignoredCAErrors = try TLSVersionNames.errorMask("ca-ignore-err", v[0]) },
        Parameter("strict-sni") { t, _, _ in t.more.strictSNI = true },
        Parameter("crt-list", values: 1) { t, v, p in
            t.more.certificateList += try certificateList(p.based(v[0], on: p.config.global.crtBase), crtBase: p.config.global.crtBase)
        },
    ]

    /// The same, acting on a bind line's TLS settings (created from the global defaults).
    static var tlsBindLineParameters: [Parameter<BindLine>] {
        (tlsBindSettings + tlsBindOnly).map { parameter in
            Parameter<BindLine>(parameter.name, values: parameter.values, status: parameter.status) { b, v, p in
                try parameter.apply?(&b.withTLS, v, p)
            }
        }
    }

    /// Checks a bind line's TLS settings once all its parameters are read, and gives each
    /// crt-list entry with options its own settings (the line's, with the options over them).
    static func finishBindTLS(_ tls: inout BindTLS, parser p: SectionParser) throws {
        guard !tls.certificates.isEmpty || !tls.more.certificateList.isEmpty else {
            throw ParseFailure("'ssl' needs a certificate: 'ssl crt /path/site.pem' (key + chain) or 'crt-list FILE'")
        }
        for index in tls.more.certificateList.indices where !tls.more.certificateList[index].options.isEmpty {
            let entry = tls.more.certificateList[index]
            var settings = tls
            settings.certificates = []
            settings.more.certificateList = []
            do {
                try crtListOptions.parse(entry.options[...], into: &settings, parser: p)
                try checkVerify(settings)
            } catch let error as ParseFailure {
                throw ParseFailure("'crt-list' \(entry.file):\(entry.line): \(error.message)")
            }
            tls.more.certificateList[index].settings = settings
        }
        try checkVerify(tls)
        guard TLSVersionNames.range(min: tls.minVersion, max: tls.more.maxVersion, disabled: tls.more.disabledVersions) != nil else {
            throw ParseFailure("no TLS version left between ssl-min-ver and ssl-max-ver once the no-* versions are taken out")
        }
    }

    /// Whether `tls` says nothing beyond `defaults` but versions.
    static func onlyVersions(_ tls: BindTLS, differFrom defaults: BindTLS) -> Bool {
        var probe = tls
        probe.minVersion = defaults.minVersion
        probe.more.maxVersion = defaults.more.maxVersion
        probe.more.disabledVersions = defaults.more.disabledVersions
        return probe == defaults
    }

    private static func checkVerify(_ tls: BindTLS) throws(ParseFailure) {
        if let verify = tls.verify, verify != "none", tls.caFile == nil, tls.more.caVerifyFile == nil {
            throw ParseFailure("'verify \(verify)' needs 'ca-file FILE' (or 'ca-verify-file FILE') to verify client certificates against")
        }
    }

    /// What a crt-list line's `[…]` may hold.
    static let crtListOptions = ParameterTable<BindTLS>("crt-list option", tlsBindSettings + [
        Parameter("alpn", values: 1) { t, v, p in
            t.alpn = v[0].split(separator: ",").map(String.init)
        },
        Parameter("allow-0rtt") { _, _, _ in },  // early data is never taken: clients make a full handshake
    ])

    /// Reads a crt-list file: `CERT [[OPTION …]] [FILTER …]` per line, `#` comments, blank
    /// lines skipped; a relative CERT is under `crt-base`. Errors name the list's file and line.
    static func certificateList(_ path: String, crtBase: String?) throws(ParseFailure) -> [CertificateListEntry] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ParseFailure("'crt-list': cannot read '\(path)'")
        }
        var entries: [CertificateListEntry] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            do throws(ParseFailure) {
                if let entry = try certificateListLine(String(raw), crtBase: crtBase, file: path, line: index + 1) { entries.append(entry) }
            } catch {
                throw ParseFailure("'crt-list' \(path):\(index + 1): \(error.message)")
            }
        }
        guard !entries.isEmpty else { throw ParseFailure("'crt-list' \(path): no certificate listed") }
        return entries
    }

    /// One crt-list line, nil for a blank or comment line.
    static func certificateListLine(_ raw: String, crtBase: String?, file: String, line: Int) throws(ParseFailure) -> CertificateListEntry? {
        var text = Substring(raw.filter { $0 != "\r" })
        if let hash = text.firstIndex(of: "#") { text = text[..<hash] }
        var options: [String] = []
        if let open = text.firstIndex(of: "[") {
            guard let close = text[open...].firstIndex(of: "]") else { throw ParseFailure("'[' without ']'") }
            options = text[text.index(after: open)..<close].split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            text = text[..<open] + " " + text[text.index(after: close)...]
        }
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let certificate = words.first else {
            if !options.isEmpty { throw ParseFailure("options without a certificate") }
            return nil
        }
        let path = certificate.hasPrefix("/") || crtBase == nil ? certificate
            : (crtBase!.hasSuffix("/") ? crtBase! + certificate : crtBase! + "/" + certificate)
        return CertificateListEntry(path: path, filters: Array(words.dropFirst()), options: options, file: file, line: line)
    }
}
