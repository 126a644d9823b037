import FoundationEssentials
import Glibc
import SwiftLBConfig
import SwiftLBTLS

/// From lb.conf's TLS settings to OpenSSL contexts: a `bind … ssl`'s certificates (`crt` files
/// or directories, `crt-list` entries with their SNI filters and options) and settings, and a
/// `server … ssl`'s client context. Errors name the keyword and the file at fault; the caller
/// adds lb.conf's file, line and the `bind`/`server` keyword.
/// The TLS session cache of every listener: on or off (`tune.ssl.cachesize 0`) and how long
/// a session (or ticket) may be resumed (`tune.ssl.lifetime`; nil: OpenSSL 3's 7200 s, HAProxy's
/// default too).
struct TLSSessions {
    var cache = true
    var lifetime: Int?
    /// `ssl-dh-param-file`'s parameters (PEM).
    var dhParameters: String?
    /// `tune.ssl.maxrecord` (0: no cap).
    var maxRecord: Int?

    init(cache: Bool, lifetime: Int? = nil, dhParameters: String? = nil, maxRecord: Int? = nil) {
        self.cache = cache
        self.lifetime = lifetime
        self.dhParameters = dhParameters
        self.maxRecord = maxRecord
    }

    init(_ global: GlobalSettings) {
        self.init(cache: global.sslSessionCache, lifetime: global.sslLifetime, dhParameters: global.sslDHParameters,
                  maxRecord: global.sslMaxRecord.flatMap { $0 > 0 ? $0 : nil })
    }
}

enum TLSPlan {
    /// Loads the certificates of one `bind … ssl` (files, or every *.pem of a directory in
    /// name order, then the crt-list entries) through the runtime's certificate store and
    /// builds its OpenSSL context. `crtLists` replaces the entries of a crt-list file by its
    /// current ones (edited over the stats socket); `defaultEntry` keeps a deleted default.
    static func serverContext(_ tls: BindTLS, sessions: TLSSessions, store: CertificateStore,
                              crtLists: [CertificateListEntry]? = nil, defaultEntry: CertificateListEntry? = nil) throws -> (TLSServerContext, [String]) {
        var entries: [TLSServerEntry] = []
        var warnings: [String] = []
        let settings = try serverSettings(tls, sessions: sessions)
        for path in tls.certificates {
            var info = stat()
            var files = [path]
            if stat(path, &info) == 0, info.st_mode & S_IFMT == S_IFDIR {
                let directory = path.hasSuffix("/") ? path : path + "/"
                files = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [])
                    .filter { $0.hasSuffix(".pem") }.sorted().map { directory + $0 }
                if files.isEmpty { throw TLSError("crt \(path): no .pem file in this directory") }
            } else if access(path, F_OK) != 0 {
                // HAProxy's multi-certificate bundle: `crt site.pem` loads site.pem.rsa,
                // site.pem.ecdsa and site.pem.dsa, each its own certificate.
                let bundle = [".rsa", ".ecdsa", ".dsa"].map { path + $0 }.filter { access($0, R_OK) == 0 }
                if !bundle.isEmpty { files = bundle }
            }
            for file in files {
                let certificate = try load(file, keyword: "crt", store: store, warnings: &warnings)
                entries.append(TLSServerEntry(certificate: certificate, settings: settings))
            }
        }
        if let entry = defaultEntry, entries.isEmpty {
            let certificate = try load(entry.path, keyword: "crt-list \(entry.file):\(entry.line): crt", store: store, warnings: &warnings)
            let own = try entry.settings.map { try serverSettings($0, sessions: sessions) } ?? settings
            entries.append(TLSServerEntry(certificate: certificate, settings: own, defaultOnly: true))
        }
        for entry in crtLists ?? tls.more.certificateList {
            let certificate = try load(entry.path, keyword: "crt-list \(entry.file):\(entry.line): crt", store: store, warnings: &warnings)
            let own = try entry.settings.map { try serverSettings($0, sessions: sessions) } ?? settings
            entries.append(TLSServerEntry(certificate: certificate, sniFilters: entry.filters, settings: own))
        }
        guard !entries.isEmpty else { throw TLSError("no certificate left") }
        do {
            return (try TLSServerContext(entries: entries), warnings)
        } catch {
            throw TLSError("ssl: \(error)")
        }
    }

    private static func load(_ file: String, keyword: String, store: CertificateStore, warnings: inout [String]) throws -> TLSCertificate {
        do {
            let certificate = try store.certificate(path: file)
            if let warning = certificate.validityWarning { warnings.append("\(keyword) \(file): \(warning)") }
            return certificate
        } catch {
            throw TLSError("\(keyword) \(file): \(error)")
        }
    }

    /// A bind line's (or crt-list entry's) settings as OpenSSL takes them.
    static func serverSettings(_ tls: BindTLS, sessions: TLSSessions) throws -> TLSSettings {
        var settings = TLSSettings()
        let range = TLSVersionNames.range(min: tls.minVersion, max: tls.more.maxVersion, disabled: tls.more.disabledVersions)
        if let range {
            settings.minVersion = TLSSettings.Version(rawValue: range.min) ?? .tls12
            settings.maxVersion = TLSSettings.Version(rawValue: range.max)
        }
        if let ciphers = tls.ciphers { settings.ciphers = ciphers }
        settings.ciphersuites = tls.ciphersuites
        settings.alpn = tls.alpn
        settings.tickets = !tls.noTickets
        settings.sessionCache = sessions.cache
        settings.sessionLifetime = sessions.lifetime
        settings.curves = tls.more.curves
        settings.verify = tls.verify.flatMap(TLSSettings.ClientVerify.init(rawValue:)) ?? .none
        settings.caFile = try checkedFile(tls.caFile, keyword: "ca-file")
        settings.caVerifyFile = try checkedFile(tls.more.caVerifyFile, keyword: "ca-verify-file")
        settings.crlFile = try checkedFile(tls.more.crlFile, keyword: "crl-file")
        settings.ignoredCertificateErrors = tls.more.ignoredCertificateErrors
        settings.ignoredCAErrors = tls.more.ignoredCAErrors
        settings.strictSNI = tls.more.strictSNI
        settings.dhParameters = sessions.dhParameters
        settings.maxRecord = sessions.maxRecord
        return settings
    }

    /// A `server … ssl`'s (or `check-ssl`'s) client context; `alpn` overrides the server's
    /// (`check-alpn`, `tcp-check connect alpn`, `h2` for the traffic of a `proto h2` server).
    static func clientContext(_ tls: ServerTLS, store: CertificateStore, alpn: [String]? = nil) throws -> TLSClientContext {
        var options = TLSClientOptions()
        let more = tls.more
        options.caFile = tls.verify ? try checkedFile(tls.caFile, keyword: "ca-file") : nil
        options.crlFile = tls.verify ? try checkedFile(more.crlFile, keyword: "crl-file") : nil
        if let path = more.certificate {
            do { options.certificate = try store.certificate(path: path) } catch { throw TLSError("crt \(path): \(error)") }
        }
        if let range = TLSVersionNames.range(min: more.minVersion, max: more.maxVersion, disabled: more.disabledVersions) {
            options.minVersion = TLSSettings.Version(rawValue: range.min)
            options.maxVersion = TLSSettings.Version(rawValue: range.max)
        }
        options.ciphers = more.ciphers
        options.ciphersuites = more.ciphersuites
        options.alpn = alpn ?? more.alpn ?? ["http/1.1"]
        options.reuseSessions = !more.noSessionReuse
        options.noTickets = more.noTickets
        do {
            return try TLSClientContext(options: options)
        } catch {
            throw TLSError("ssl: \(error)")
        }
    }

    /// The TLS of a server's checks: the traffic's context (another with `check-alpn`'s
    /// protocols) when checks use TLS, and one per `tcp-check connect ssl` step, with the
    /// step's ALPN (none unless it names some, or `default` takes `check-alpn`'s).
    static func checkContexts(_ parameters: ServerParameters, store: CertificateStore, traffic: TLSClientContext?,
                              steps: [TCPCheckStep]) throws -> (context: TLSClientContext?, steps: [Int: TLSClientContext]) {
        var context: TLSClientContext? = nil
        if checksUseTLS(parameters), let tls = parameters.tls {
            context = try tls.more.checkALPN.map { try clientContext(tls, store: store, alpn: $0) } ?? traffic
        }
        var byStep: [Int: TLSClientContext] = [:]
        for (offset, step) in steps.enumerated() {
            guard case .connect(let connect) = step, connect.ssl else { continue }
            let alpn = connect.alpn ?? (connect.useServerSettings ? parameters.tls?.more.checkALPN : nil) ?? []
            byStep[offset + 1] = try clientContext(parameters.tls ?? parameters.checkRuleTLS ?? ServerTLS(), store: store, alpn: alpn)
        }
        return (context, byStep)
    }

    /// HAProxy's rule: `check-ssl` sends checks over TLS, `no-check-ssl` in clear; otherwise
    /// they use TLS when the traffic does and no `port` sends them elsewhere.
    static func checksUseTLS(_ parameters: ServerParameters) -> Bool {
        guard let tls = parameters.tls else { return false }
        return tls.more.checkSSL ?? (tls.more.ssl && parameters.checkPort == nil)
    }

    /// A CA/CRL file must exist and hold PEM: checked here so the error names the keyword
    /// rather than OpenSSL's reason.
    private static func checkedFile(_ path: String?, keyword: String) throws -> String? {
        guard let path else { return nil }
        if CAFileStore.shared.isMadeOnCLI(path) { return path }
        guard let file = fopen(path, "r") else {
            throw TLSError("\(keyword) \(path): cannot read: \(String(cString: strerror(errno)))")
        }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 4096)
        var sawPEM = false
        while fgets(&buffer, Int32(buffer.count), file) != nil {
            if strncmp(buffer, "-----BEGIN ", 11) == 0 { sawPEM = true; break }
        }
        guard sawPEM else { throw TLSError("\(keyword) \(path): not a PEM file (no '-----BEGIN' line)") }
        return path
    }
}
