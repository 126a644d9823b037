import Foundation
import SwiftLBRegex

/// Turns lb.conf text into a validated `Configuration`, or into every error it contains.
///
/// Sections and keywords follow haproxy.cfg: a `defaults` section presets the proxies that follow
/// it; `listen` is a frontend and a backend of the same name. All errors carry file and line.
public enum ConfigParser {
    public static func parse(contentsOf path: String) throws(ConfigErrors) -> Configuration {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigErrors([ConfigError(file: path, line: 0, keyword: "", message: "cannot read file: \(error.localizedDescription)")])
        }
        return try parse(text: text, file: path)
    }

    public static func parse(text: String, file: String) throws(ConfigErrors) -> Configuration {
        let parser = SectionParser(file: file)
        for line in try ConfigLexer.lines(of: text, file: file) {
            parser.handle(line)
        }
        parser.finish()
        if !parser.errors.isEmpty { throw ConfigErrors(parser.errors) }
        var config = parser.config
        config.warnings = parser.warnings
        return config
    }
}

/// The stateful half of the parser: which section we are in and what it has collected so far.
final class SectionParser {
    private enum Section {
        case none, global, defaults, skipped, vrrp
        case frontend(index: Int)
        case backend(name: String)
        case listen(index: Int, backend: String)

        var kind: SectionKind? {
            switch self {
            case .none, .skipped, .vrrp: nil
            case .global: .global
            case .defaults: .defaults
            case .frontend: .frontend
            case .backend: .backend
            case .listen: .listen
            }
        }
    }

    let file: String
    var config: Configuration
    var errors: [ConfigError] = []
    var warnings: [ConfigError] = []
    private var section: Section = .none
    private var defaults = ProxyOptions()
    /// ACLs of the current proxy section; HAProxy scopes them to the section that declares them.
    private var acls: [String: ACL] = [:]
    /// Where each backend is referenced, so an unknown name is reported at the referring line.
    private var backendReferences: [(name: String, line: Int, keyword: String)] = []
    /// Frontends with at least one `bind` line, valid or not (a bad one is reported once).
    private var frontendsWithBindLines: Set<String> = []
    /// Where `auth none` was written: an unauthenticated heartbeat must be asked for.
    var authNoneLine: Int?

    init(file: String) {
        self.file = file
        self.config = Configuration(file: file)
    }

    func fail(_ line: ConfigLine, _ message: String, keyword: String? = nil) {
        errors.append(ConfigError(file: file, line: line.number, keyword: keyword ?? line.words[0], message: message))
    }

    func warn(_ line: Int, _ keyword: String, _ message: String) {
        warnings.append(ConfigError(file: file, line: line, keyword: keyword, message: message))
    }

    func handle(_ line: ConfigLine) {
        let keyword = line.words[0]
        if Keywords.sections.contains(keyword) || Keywords.pendingSections[keyword] != nil {
            startSection(line)
            return
        }
        switch section {
        case .skipped:
            return  // the section header was already reported
        case .none:
            let near = didYouMean(keyword, in: Keywords.sections)
            fail(line, "keyword outside of any section; expected a section such as 'global', 'defaults', 'frontend', 'backend' or 'listen'\(near)")
        case .global:
            globalKeyword(line)
        case .vrrp:
            vrrpKeyword(line)
        case .defaults, .frontend, .backend, .listen:
            proxyKeyword(line, in: section.kind!)
        }
    }

    // MARK: sections

    private func startSection(_ line: ConfigLine) {
        let keyword = line.words[0]
        acls = [:]
        if let reason = Keywords.pendingSections[keyword] {
            fail(line, "section not supported: \(reason)")
            section = .skipped
            return
        }
        switch keyword {
        case "global":
            section = .global
        case "vrrp":
            startVRRP(line)
            section = config.vrrp?.line == line.number ? .vrrp : .skipped
        case "defaults":
            // `defaults [name]`: a new defaults section starts from scratch, as in HAProxy.
            if line.words.count > 2 { fail(line, "named defaults with 'from' are not supported") }
            defaults = ProxyOptions()
            section = .defaults
        default:
            guard line.words.count == 2 else {
                fail(line, line.words.count < 2 ? "missing name: '\(keyword) NAME'" : "unexpected words after the name: \(line.words.dropFirst(2).joined(separator: " "))")
                section = .skipped
                return
            }
            let name = line.words[1]
            let isFront = keyword == "frontend" || keyword == "listen"
            let isBack = keyword == "backend" || keyword == "listen"
            if isFront, config.frontends.contains(where: { $0.name == name }) {
                fail(line, "a frontend named '\(name)' already exists"); section = .skipped; return
            }
            if isBack, let other = config.backends[name] {
                fail(line, "a backend named '\(name)' already exists (line \(other.line))"); section = .skipped; return
            }
            var frontIndex = 0
            if isFront {
                var frontend = Frontend(name: name, line: line.number, options: defaults)
                if keyword == "listen" { frontend.defaultBackend = name }
                config.frontends.append(frontend)
                frontIndex = config.frontends.count - 1
            }
            if isBack { config.backends[name] = Backend(name: name, line: line.number, options: defaults) }
            switch keyword {
            case "frontend": section = .frontend(index: frontIndex)
            case "backend": section = .backend(name: name)
            default: section = .listen(index: frontIndex, backend: name)
            }
            if keyword == "frontend", let backend = defaultBackendName {
                config.frontends[frontIndex].defaultBackend = backend.name
                backendReferences.append((backend.name, backend.line, "default_backend"))
            }
        }
    }

    /// `default_backend` written in a `defaults` section, inherited by the frontends after it.
    private var defaultBackendName: (name: String, line: Int)?

    // MARK: global

    private func globalKeyword(_ line: ConfigLine) {
        let keyword = line.words[0]
        let args = line.words.dropFirst()
        switch keyword {
        case "maxconn":
            if let n = positiveInt(line, args) { config.global.maxconn = n }
        case "nbthread":
            if let n = positiveInt(line, args) {
                if n > 64 { fail(line, "at most 64 threads") } else { config.global.nbthread = n }
            }
        case "pidfile":
            guard args.count == 1 else { fail(line, "expects one file name"); return }
            config.global.pidfile = args.first
        case "stats":
            guard args.first == "socket", let path = args.dropFirst().first else {
                fail(line, "only 'stats socket PATH [mode OCTAL] [level user|operator|admin]' is supported"); return
            }
            var socket = StatsSocket(path: path)
            var rest = args.dropFirst(2)
            while let word = rest.first {
                rest = rest.dropFirst()
                guard let value = rest.first else { fail(line, "'\(word)' expects a value"); return }
                rest = rest.dropFirst()
                switch word {
                case "mode":
                    guard let m = UInt16(value, radix: 8), m <= 0o777 else { fail(line, "'mode' expects an octal mode such as 600"); return }
                    socket.mode = m
                case "level":
                    guard let l = StatsSocket.Level(rawValue: value) else { fail(line, "'level' expects user, operator or admin"); return }
                    socket.level = l
                default:
                    fail(line, "unsupported stats socket parameter '\(word)' (supported: mode, level)"); return
                }
            }
            config.global.statsSocket = socket
        case "ssl-default-bind-ciphers":
            guard args.count == 1 else { fail(line, "expects one cipher list"); return }
            config.global.defaultBindTLS.ciphers = args.first
        case "ssl-default-bind-ciphersuites":
            guard args.count == 1 else { fail(line, "expects one ciphersuite list"); return }
            config.global.defaultBindTLS.ciphersuites = args.first
        case "ssl-default-bind-options":
            var rest = args
            while let word = rest.first {
                rest = rest.dropFirst()
                switch word {
                case "no-tls-tickets": config.global.defaultBindTLS.noTickets = true
                case "ssl-min-ver":
                    guard let v = rest.first, v == "TLSv1.2" || v == "TLSv1.3" else { fail(line, "ssl-min-ver must be TLSv1.2 or TLSv1.3"); return }
                    config.global.defaultBindTLS.minVersion = v
                    rest = rest.dropFirst()
                case "no-sslv3", "no-tlsv10", "no-tlsv11":
                    continue  // already never offered
                default:
                    fail(line, "unsupported option '\(word)' (supported: ssl-min-ver V, no-tls-tickets)"); return
                }
            }
        case "tune.ssl.cachesize":
            guard args.count == 1, let n = Int(args.first!), n >= 0 else { fail(line, "expects a number (0 turns the session cache off)"); return }
            config.global.sslSessionCache = n > 0
        case "hard-stop-after":
            guard args.count == 1, let d = ConfigDuration(parsing: args.first!) else { fail(line, "expects a time, e.g. '30s'"); return }
            config.global.hardStopAfter = d
        case "log":
            guard let target = args.first, let t = LogTarget(rawValue: target) else {
                fail(line, "only 'log stdout' and 'log stderr' are supported (syslog targets are not)")
                return
            }
            config.global.logTarget = t
        default:
            if let reason = Keywords.pendingGlobal[keyword] {
                fail(line, "not supported: \(reason)")
            } else {
                unknown(line, candidates: Keywords.global, section: "global")
            }
        }
    }

    private func unknown(_ line: ConfigLine, candidates: [String], section: String) {
        let keyword = line.words[0]
        let near = didYouMean(keyword, in: candidates + Keywords.sections)
        fail(line, "unknown keyword in '\(section)' section\(near)")
    }

    // MARK: proxies

    /// Applies a change to the options of whatever the current section configures.
    private func withOptions(_ change: (inout ProxyOptions) -> Void) {
        switch section {
        case .defaults: change(&defaults)
        case .frontend(let i): change(&config.frontends[i].options)
        case .backend(let name): change(&config.backends[name]!.options)
        case .listen(let i, let name):
            change(&config.frontends[i].options)
            change(&config.backends[name]!.options)
        default: break
        }
    }

    private func proxyKeyword(_ line: ConfigLine, in kind: SectionKind) {
        let keyword = line.words[0]
        let args = line.words.dropFirst()
        guard let allowed = Keywords.proxy[keyword] else {
            if let reason = Keywords.pendingProxy[keyword] {
                fail(line, "not supported: \(reason)")
            } else {
                unknown(line, candidates: Keywords.proxy.keys.sorted(), section: kind.rawValue)
            }
            return
        }
        guard allowed.contains(kind) else {
            let places = SectionKind.allCases.filter { allowed.contains($0) }.map(\.rawValue).joined(separator: ", ")
            fail(line, "not allowed in a '\(kind.rawValue)' section (allowed in: \(places))")
            return
        }
        switch keyword {
        case "mode":
            guard args.count == 1 else { fail(line, "expects 'http'"); return }
            if args.first != "http" {
                fail(line, args.first == "tcp" ? "mode tcp is not supported yet; only 'mode http'" : "unknown mode '\(args.first!)'; expected 'http'")
            }
        case "bind": bind(line)
        case "default_backend":
            guard args.count == 1 else { fail(line, "expects one backend name"); return }
            let name = args.first!
            switch section {
            case .defaults: defaultBackendName = (name, line.number)
            case .frontend(let i), .listen(let i, _):
                config.frontends[i].defaultBackend = name
                backendReferences.append((name, line.number, keyword))
            default: break
            }
        case "use_backend":
            guard args.count >= 3 else { fail(line, "expects 'use_backend NAME if|unless CONDITION'"); return }
            do {
                let condition = try ACLParser.condition(args.dropFirst(), acls: acls)
                let rule = BackendSwitchingRule(backend: args.first!, condition: condition, line: line.number)
                if case .frontend(let i) = section { config.frontends[i].switchingRules.append(rule) }
                if case .listen(let i, _) = section { config.frontends[i].switchingRules.append(rule) }
                backendReferences.append((args.first!, line.number, keyword))
            } catch { fail(line, error.message) }
        case "acl":
            guard args.count >= 2 else { fail(line, "expects 'acl NAME FETCH [flags] PATTERN…'"); return }
            let name = args.first!
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || "_-.:".contains($0) }) else {
                fail(line, "invalid ACL name '\(name)': letters, digits, '_', '-', '.', ':' only"); return
            }
            do {
                let criterion = try ACLParser.criterion(args.dropFirst())
                acls[name, default: ACL(name: name, criteria: [])].criteria.append(criterion)
            } catch { fail(line, error.message) }
        case "balance":
            guard let word = args.first, args.count == 1 else { fail(line, "expects one algorithm: \(Keywords.balanceAlgorithms.joined(separator: ", "))"); return }
            if let algorithm = parseBalance(word) {
                withOptions { $0.balance = algorithm }
            } else if let reason = Keywords.pendingBalance[word.split(separator: "(").first.map(String.init) ?? word] {
                fail(line, "algorithm '\(word)': \(reason)")
            } else {
                let near = didYouMean(word, in: Keywords.balanceAlgorithms)
                fail(line, "unknown algorithm '\(word)'\(near); supported: \(Keywords.balanceAlgorithms.joined(separator: ", "))")
            }
        case "cookie": cookie(line)
        case "retry-on":
            var conditions = Set<RetryCondition>()
            for word in args {
                if word == "all-retryable-errors" { conditions.formUnion(RetryCondition.allCases); continue }
                guard let c = RetryCondition(rawValue: word) else {
                    let known = RetryCondition.allCases.map(\.rawValue) + ["all-retryable-errors"]
                    let near = didYouMean(word, in: known)
                    fail(line, "unsupported retry-on condition '\(word)'\(near); supported: \(known.joined(separator: ", "))"); return
                }
                conditions.insert(c)
            }
            guard !conditions.isEmpty else { fail(line, "expects one or more conditions, e.g. 'retry-on conn-failure empty-response'"); return }
            withOptions { $0.retryOn = conditions }
        case "http-check": httpCheck(line)
        case "tcp-check": tcpCheck(line)
        case "redirect": redirect(line)
        case "http-response": httpRequest(line, response: true)
        case "server": server(line)
        case "default-server":
            var params = ServerParameters()
            withOptions { params = $0.defaultServer }
            if serverParameters(line, args[...], into: &params) { withOptions { $0.defaultServer = params } }
        case "timeout": timeout(line)
        case "option": option(line)
        case "http-request": httpRequest(line, response: false)
        case "maxconn":
            if let n = positiveInt(line, args) { withOptions { $0.maxconn = n } }
        case "retries":
            guard args.count == 1, let n = Int(args.first!), n >= 0, n <= 100 else { fail(line, "expects a number of retries from 0 to 100"); return }
            withOptions { $0.retries = n }
        case "log":
            guard args.count == 1, args.first == "global" else {
                fail(line, "only 'log global' is supported in proxies (targets are set in 'global')"); return
            }
        default:
            preconditionFailure("keyword '\(keyword)' is in Keywords.proxy but has no handler")
        }
    }

    private func positiveInt(_ line: ConfigLine, _ args: ArraySlice<String>) -> Int? {
        guard args.count == 1, let n = Int(args.first!), n > 0 else {
            fail(line, "expects one positive number"); return nil
        }
        return n
    }

    private func bind(_ line: ConfigLine) {
        guard line.words.count >= 2 else { fail(line, "expects an address such as ':80' or '127.0.0.1:8080'"); return }
        guard case .frontend(let i) = section, true else {
            if case .listen(let i, _) = section { bindInto(i, line) }
            return
        }
        bindInto(i, line)
    }

    private func bindInto(_ index: Int, _ line: ConfigLine) {
        frontendsWithBindLines.insert(config.frontends[index].name)
        var tls: BindTLS?
        var rest = line.words.dropFirst(2)
        var sawSSL = false
        func value(_ name: String) -> String? {
            guard let v = rest.first else { fail(line, "bind parameter '\(name)' expects a value", keyword: "bind"); return nil }
            rest = rest.dropFirst()
            return v
        }
        while let param = rest.first {
            rest = rest.dropFirst()
            if tls == nil && Keywords.bindParameters.contains(param) { tls = config.global.defaultBindTLS }
            switch param {
            case "ssl": sawSSL = true
            case "crt": guard let v = value(param) else { return }; tls!.certificates.append(v)
            case "alpn": guard let v = value(param) else { return }; tls!.alpn = v.split(separator: ",").map(String.init)
            case "ssl-min-ver":
                guard let v = value(param) else { return }
                guard v == "TLSv1.2" || v == "TLSv1.3" else {
                    fail(line, "ssl-min-ver must be TLSv1.2 or TLSv1.3 (older versions are not offered)", keyword: "bind"); return
                }
                tls!.minVersion = v
            case "ciphers": guard let v = value(param) else { return }; tls!.ciphers = v
            case "ciphersuites": guard let v = value(param) else { return }; tls!.ciphersuites = v
            case "no-tls-tickets": tls!.noTickets = true
            default:
                if let reason = Keywords.pendingBindParameters[param] {
                    fail(line, "bind parameter '\(param)': \(reason)", keyword: "bind")
                } else {
                    let near = didYouMean(param, in: Keywords.bindParameters)
                    fail(line, "unknown bind parameter '\(param)'\(near)", keyword: "bind")
                }
                return
            }
        }
        if let t = tls {
            guard sawSSL else { fail(line, "TLS parameters without 'ssl': write 'bind … ssl crt FILE'", keyword: "bind"); return }
            guard !t.certificates.isEmpty else { fail(line, "'ssl' needs a certificate: 'ssl crt /path/site.pem' (key + chain)", keyword: "bind"); return }
        }
        // `bind :80,:8080` lists several addresses, as in HAProxy.
        for spec in line.words[1].split(separator: ",") {
            guard let (host, port) = parseAddress(String(spec)) else {
                fail(line, "invalid address '\(spec)': expected [HOST]:PORT, e.g. ':80', '127.0.0.1:8080', '[::1]:80'"); continue
            }
            config.frontends[index].binds.append(BindAddress(host: host.isEmpty || host == "*" ? "0.0.0.0" : host, port: port, line: line.number, tls: tls))
        }
    }

    private func server(_ line: ConfigLine) {
        guard line.words.count >= 3 else { fail(line, "expects 'server NAME HOST:PORT [weight N]'"); return }
        let name = line.words[1]
        let backendName: String
        switch section {
        case .backend(let n), .listen(_, let n): backendName = n
        default: return
        }
        var backend = config.backends[backendName]!
        if let other = backend.servers.first(where: { $0.name == name }) {
            fail(line, "a server named '\(name)' already exists in backend '\(backendName)' (line \(other.line))"); return
        }
        guard let (host, port) = parseAddress(line.words[2]), !host.isEmpty, host != "*" else {
            fail(line, "invalid address '\(line.words[2])': expected HOST:PORT"); return
        }
        var params = backend.options.defaultServer
        guard serverParameters(line, line.words.dropFirst(3), into: &params) else { return }
        if let tls = params.tls, tls.verify && tls.caFile == nil {
            fail(line, "'verify required' needs 'ca-file FILE' to verify against"); return
        }
        if params.observe != nil && !params.check {
            fail(line, "'observe' needs 'check': passive checks act through the active checker"); return
        }
        backend.servers.append(Server(name: name, host: host, port: port, parameters: params, line: line.number))
        config.backends[backendName] = backend
    }

    /// Parses `weight N check inter 2s …`; returns false (after reporting) on any error.
    private func serverParameters(_ line: ConfigLine, _ words: ArraySlice<String>, into params: inout ServerParameters) -> Bool {
        var rest = words
        func value(_ name: String) -> String? {
            guard let v = rest.first else { fail(line, "'\(name)' expects a value"); return nil }
            rest = rest.dropFirst()
            return v
        }
        func number(_ name: String, _ range: ClosedRange<Int>) -> Int? {
            guard let v = value(name) else { return nil }
            guard let n = Int(v), range.contains(n) else { fail(line, "'\(name)' expects a number from \(range.lowerBound) to \(range.upperBound)"); return nil }
            return n
        }
        func time(_ name: String) -> ConfigDuration? {
            guard let v = value(name) else { return nil }
            guard let d = ConfigDuration(parsing: v), d.nanoseconds > 0 else { fail(line, "'\(name)' expects a time such as 2s, got '\(v)'"); return nil }
            return d
        }
        while let word = rest.first {
            rest = rest.dropFirst()
            switch word {
            case "weight": guard let n = number(word, 0...256) else { return false }; params.weight = n
            case "check": params.check = true
            case "inter": guard let d = time(word) else { return false }; params.inter = d
            case "fastinter": guard let d = time(word) else { return false }; params.fastinter = d
            case "downinter": guard let d = time(word) else { return false }; params.downinter = d
            case "rise": guard let n = number(word, 1...1000) else { return false }; params.rise = n
            case "fall": guard let n = number(word, 1...1000) else { return false }; params.fall = n
            case "port": guard let n = number(word, 1...65535) else { return false }; params.checkPort = n
            case "addr": guard let v = value(word) else { return false }; params.checkAddress = v
            case "cookie":
                guard let v = value(word) else { return false }
                guard v.allSatisfy({ $0.isASCII && !$0.isWhitespace && !";,=~\"".contains($0) }) else {
                    fail(line, "'cookie' value '\(v)' may not contain blanks or ; , = ~ \""); return false
                }
                params.cookie = v
            case "backup": params.backup = true
            case "disabled": params.disabled = true
            case "maxconn": guard let n = number(word, 1...1_000_000) else { return false }; params.maxconn = n
            case "slowstart": guard let d = time(word) else { return false }; params.slowstart = d
            case "ssl": if params.tls == nil { params.tls = ServerTLS() }
            case "verify":
                guard let v = value(word) else { return false }
                guard v == "none" || v == "required" else { fail(line, "'verify' expects none or required"); return false }
                if params.tls == nil { params.tls = ServerTLS() }
                params.tls!.verify = v == "required"
            case "ca-file":
                guard let v = value(word) else { return false }
                if params.tls == nil { params.tls = ServerTLS() }
                params.tls!.caFile = v
            case "sni":
                guard var v = value(word) else { return false }
                // HAProxy takes an expression; a constant is written str(NAME).
                if v.hasPrefix("str("), v.hasSuffix(")") { v = String(v.dropFirst(4).dropLast()) }
                guard !v.contains("("), isHeaderToken(v) else { fail(line, "'sni' expects a host name or str(NAME) (expressions are not supported)"); return false }
                if params.tls == nil { params.tls = ServerTLS() }
                params.tls!.sni = v
            case "error-limit": guard let n = number(word, 1...1000) else { return false }; params.errorLimit = n
            case "observe":
                guard let v = value(word) else { return false }
                guard let layer = ObserveLayer(rawValue: v) else { fail(line, "'observe' expects layer4 or layer7"); return false }
                params.observe = layer
            case "on-error":
                guard let v = value(word) else { return false }
                guard let action = OnError(rawValue: v) else { fail(line, "'on-error' expects fastinter, fail-check, sudden-death or mark-down"); return false }
                params.onError = action
            default:
                if let reason = Keywords.pendingServerParameters[word] {
                    fail(line, "server parameter '\(word)': \(reason)")
                } else {
                    let near = didYouMean(word, in: Keywords.serverParameters + Keywords.pendingServerParameters.keys.sorted())
                    fail(line, "unknown server parameter '\(word)'\(near)")
                }
                return false
            }
        }
        return true
    }

    private func parseBalance(_ word: String) -> BalanceAlgorithm? {
        switch word {
        case "roundrobin": return .roundRobin
        case "leastconn": return .leastConn
        case "source": return .source
        case "first": return .first
        case "random": return .random(draws: 2)
        default:
            if word.hasPrefix("random("), word.hasSuffix(")"), let n = Int(word.dropFirst(7).dropLast()), (1...16).contains(n) {
                return .random(draws: n)
            }
            return nil
        }
    }

    /// `cookie NAME insert|rewrite|prefix [indirect] [nocache] [postonly] [httponly] [secure] [domain D]…`
    private func cookie(_ line: ConfigLine) {
        let words = line.words.dropFirst()
        guard let name = words.first, isHeaderToken(name) else { fail(line, "expects a cookie name: 'cookie SERVERID insert indirect nocache'"); return }
        guard let modeWord = words.dropFirst().first, let mode = CookieSettings.Mode(rawValue: modeWord) else {
            fail(line, "expects a mode after the name: insert, rewrite or prefix"); return
        }
        var settings = CookieSettings(name: name, mode: mode)
        var rest = words.dropFirst(2)
        while let word = rest.first {
            rest = rest.dropFirst()
            switch word {
            case "indirect": settings.indirect = true
            case "nocache": settings.nocache = true
            case "postonly": settings.postonly = true
            case "httponly": settings.httponly = true
            case "secure": settings.secure = true
            case "domain":
                guard let d = rest.first else { fail(line, "'domain' expects a domain"); return }
                settings.domains.append(d)
                rest = rest.dropFirst()
            case "maxidle", "maxlife":
                guard let v = rest.first, let d = ConfigDuration(parsing: v), d.nanoseconds >= 1_000_000_000 else {
                    fail(line, "'\(word)' expects a time of at least 1s, e.g. 30m"); return
                }
                rest = rest.dropFirst()
                if word == "maxidle" { settings.maxidle = d } else { settings.maxlife = d }
            case "dynamic", "attr", "preserve":
                fail(line, "cookie option '\(word)' is not supported yet"); return
            default:
                let near = didYouMean(word, in: ["indirect", "nocache", "postonly", "httponly", "secure", "domain"])
                fail(line, "unknown cookie option '\(word)'\(near)"); return
            }
        }
        if settings.postonly && mode != .insert { fail(line, "'postonly' only applies to 'insert'"); return }
        if (settings.maxidle != nil || settings.maxlife != nil) && mode != .insert { fail(line, "'maxidle' and 'maxlife' only apply to 'insert'"); return }
        withOptions { $0.cookie = settings }
    }

    /// `tcp-check connect [port N] | send TEXT | send-binary HEX | expect [!] string|rstring|binary V`.
    private func tcpCheck(_ line: ConfigLine) {
        let words = Array(line.words.dropFirst())
        guard let verb = words.first else { fail(line, "expects connect, send, send-binary or expect"); return }
        var steps: [TCPCheckStep] = []
        withOptions { steps = $0.tcpCheck ?? [] }
        func hex(_ text: String) -> [UInt8]? {
            let chars = Array(text.utf8)
            guard !chars.isEmpty, chars.count % 2 == 0 else { return nil }
            var out: [UInt8] = []
            for i in stride(from: 0, to: chars.count, by: 2) {
                guard let b = UInt8(String(decoding: chars[i...i + 1], as: UTF8.self), radix: 16) else { return nil }
                out.append(b)
            }
            return out
        }
        switch verb {
        case "connect":
            guard steps.isEmpty else { fail(line, "'tcp-check connect' must be the first step (one connection per check)"); return }
            if words.count == 1 {
                steps.append(.connect(port: nil))
            } else if words.count == 3, words[1] == "port", let p = Int(words[2]), (1...65535).contains(p) {
                steps.append(.connect(port: p))
            } else {
                fail(line, "'tcp-check connect' takes only 'port N' (ssl, send-proxy… are not supported)"); return
            }
        case "send":
            guard words.count == 2 else { fail(line, "'tcp-check send' expects one string (quote it if it has blanks)"); return }
            steps.append(.send(Array(words[1].utf8)))
        case "send-binary":
            guard words.count == 2, let bytes = hex(words[1]) else { fail(line, "'tcp-check send-binary' expects hex digits, e.g. 50494e470d0a"); return }
            steps.append(.send(bytes))
        case "expect":
            var rest = Array(words.dropFirst())
            var negated = false
            if rest.first == "!" { negated = true; rest.removeFirst() }
            guard rest.count == 2 else { fail(line, "expects 'tcp-check expect [!] string|rstring|binary VALUE'"); return }
            let match: TCPCheckMatch
            switch rest[0] {
            case "string": match = .string(Array(rest[1].utf8))
            case "rstring":
                do { _ = try PCRE2Regex(rest[1]) } catch { fail(line, "invalid regular expression '\(rest[1])': \(error)"); return }
                match = .rstring(rest[1])
            case "binary":
                guard let bytes = hex(rest[1]) else { fail(line, "'binary' expects hex digits"); return }
                match = .binary(bytes)
            default:
                fail(line, "unsupported 'tcp-check expect' match '\(rest[0])' (supported: string, rstring, binary)"); return
            }
            steps.append(.expect(negated: negated, match: match))
        case "comment", "set-var", "unset-var", "send-lf", "send-binary-lf", "action":
            fail(line, "'tcp-check \(verb)' is not supported"); return
        default:
            let near = didYouMean(verb, in: ["connect", "send", "send-binary", "expect"])
            fail(line, "unknown 'tcp-check' action '\(verb)'\(near)"); return
        }
        withOptions { $0.tcpCheck = steps }
    }

    /// `http-check send hdr NAME VALUE…` and `http-check expect [!]status|string|rstring …`.
    private func httpCheck(_ line: ConfigLine) {
        let words = Array(line.words.dropFirst())
        guard let verb = words.first else { fail(line, "expects 'send' or 'expect'"); return }
        var check = HTTPCheck()
        withOptions { check = $0.httpCheck ?? HTTPCheck() }
        switch verb {
        case "send":
            var i = 1
            while i < words.count {
                switch words[i] {
                case "hdr":
                    guard i + 2 < words.count, isHeaderToken(words[i + 1]) else { fail(line, "'hdr' expects NAME VALUE"); return }
                    check.headers.append((words[i + 1], words[i + 2]))
                    i += 3
                case "meth": guard i + 1 < words.count else { fail(line, "'meth' expects a method"); return }; check.method = words[i + 1]; i += 2
                case "uri": guard i + 1 < words.count else { fail(line, "'uri' expects a path"); return }; check.uri = words[i + 1]; i += 2
                case "ver": guard i + 1 < words.count else { fail(line, "'ver' expects a version"); return }; check.version = words[i + 1]; i += 2
                default: fail(line, "unsupported 'http-check send' argument '\(words[i])' (supported: hdr, meth, uri, ver)"); return
                }
            }
        case "expect":
            guard words.count == 3 else { fail(line, "expects 'http-check expect status|string|rstring VALUE'"); return }
            switch words[1] {
            case "status":
                let spec = words[2]
                if let dash = spec.firstIndex(of: "-"), let lo = Int(spec[..<dash]), let hi = Int(spec[spec.index(after: dash)...]), lo <= hi, (100...599).contains(lo), (100...599).contains(hi) {
                    check.expect = .statusRange(lo, hi)
                } else {
                    let codes = spec.split(separator: ",").compactMap { Int($0) }
                    guard !codes.isEmpty, codes.count == spec.split(separator: ",").count, codes.allSatisfy({ (100...599).contains($0) }) else {
                        fail(line, "'status' expects a code, a list (200,204) or a range (200-399)"); return
                    }
                    check.expect = .statusList(codes)
                }
            case "string": check.expect = .string(words[2])
            case "rstring":
                do { _ = try PCRE2Regex(words[2]) } catch { fail(line, "invalid regular expression '\(words[2])': \(error)"); return }
                check.expect = .rstring(words[2])
            default:
                fail(line, "unsupported 'http-check expect' match '\(words[1])' (supported: status, string, rstring)"); return
            }
        case "connect", "disable-on-404", "send-state", "set-var", "unset-var", "comment":
            fail(line, "'http-check \(verb)' is not supported yet"); return
        default:
            let near = didYouMean(verb, in: ["send", "expect"])
            fail(line, "unknown 'http-check' action '\(verb)'\(near)"); return
        }
        withOptions { $0.httpCheck = check }
    }

    private func timeout(_ line: ConfigLine) {
        guard line.words.count == 3 else { fail(line, "expects 'timeout NAME VALUE', e.g. 'timeout connect 5s'"); return }
        let name = line.words[1]
        guard let value = ConfigDuration(parsing: line.words[2]) else {
            fail(line, "invalid time '\(line.words[2])': a number with an optional unit us, ms, s, m, h, d"); return
        }
        switch name {
        case "connect": withOptions { $0.timeouts.connect = value }
        case "client": withOptions { $0.timeouts.client = value }
        case "server": withOptions { $0.timeouts.server = value }
        case "http-request": withOptions { $0.timeouts.httpRequest = value }
        case "http-keep-alive": withOptions { $0.timeouts.httpKeepAlive = value }
        case "check": withOptions { $0.timeouts.check = value }
        case "queue": withOptions { $0.timeouts.queue = value }
        default:
            if let reason = Keywords.pendingTimeouts[name] {
                fail(line, "timeout '\(name)': \(reason)")
            } else {
                let near = didYouMean(name, in: Keywords.timeouts)
                fail(line, "unknown timeout '\(name)'\(near)")
            }
        }
    }

    private func option(_ line: ConfigLine) {
        guard line.words.count >= 2 else { fail(line, "expects an option name, e.g. 'option forwardfor'"); return }
        let name = line.words[1]
        let args = line.words.dropFirst(2)
        switch name {
        case "forwardfor":
            var ff = ForwardFor()
            var rest = args
            while let word = rest.first {
                rest = rest.dropFirst()
                guard word == "header", let header = rest.first else {
                    fail(line, "option forwardfor: only 'header NAME' is supported after it"); return
                }
                ff.header = header
                rest = rest.dropFirst()
            }
            withOptions { $0.forwardFor = ff }
        case "httpchk":
            // option httpchk [METHOD] [URI] [VERSION] — HAProxy's order; one word is the URI.
            var check = HTTPCheck()
            withOptions { check = $0.httpCheck ?? HTTPCheck() }
            let a = Array(args)
            switch a.count {
            case 0: break
            case 1: check.uri = a[0]
            case 2: check.method = a[0]; check.uri = a[1]
            case 3: check.method = a[0]; check.uri = a[1]; check.version = a[2]
            default: fail(line, "option httpchk takes at most METHOD URI VERSION"); return
            }
            guard check.uri.hasPrefix("/") || check.uri == "*" else { fail(line, "option httpchk: the URI must start with '/'"); return }
            withOptions { $0.httpCheck = check }
        case "tcp-check":
            guard args.isEmpty else { fail(line, "option tcp-check takes no argument"); return }
            withOptions { if $0.tcpCheck == nil { $0.tcpCheck = [] } }
        case "redispatch":
            guard args.isEmpty else { fail(line, "option redispatch takes no argument (an interval is not supported)"); return }
            withOptions { $0.redispatch = true }
        case "httplog", "dontlognull", "http-keep-alive":
            guard args.isEmpty else { fail(line, "option \(name) takes no argument"); return }
            if name == "httplog" { withOptions { $0.httpLog = true } }
            if name == "dontlognull" { withOptions { $0.dontLogNull = true } }
        default:
            if let reason = Keywords.pendingOptions[name] {
                fail(line, "option '\(name)': \(reason)")
            } else {
                let near = didYouMean(name, in: Keywords.options)
                fail(line, "unknown option '\(name)'\(near)")
            }
        }
    }

    /// `redirect scheme https [code N] [if|unless COND]` / `redirect location URL …`.
    private func redirect(_ line: ConfigLine) {
        var words = line.words.dropFirst()
        guard words.count >= 2, let kind = words.first, kind == "scheme" || kind == "location" else {
            fail(line, "expects 'redirect scheme https …' or 'redirect location URL …' (prefix is not supported)"); return
        }
        let target = words.dropFirst().first!
        words = words.dropFirst(2)
        // A scheme redirect is permanent unless told otherwise (HAProxy defaults to 302;
        // sending HTTP clients to HTTPS is meant to stick).
        var code = kind == "scheme" ? 301 : 302
        var condition: Condition?
        while let word = words.first {
            if word == "if" || word == "unless" {
                do { condition = try ACLParser.condition(words, acls: acls) } catch { fail(line, error.message); return }
                break
            }
            words = words.dropFirst()
            switch word {
            case "code":
                guard let v = words.first, let c = Int(v), [301, 302, 303, 307, 308].contains(c) else {
                    fail(line, "'code' must be 301, 302, 303, 307 or 308"); return
                }
                code = c
                words = words.dropFirst()
            case "drop-query", "append-slash", "set-cookie", "clear-cookie":
                fail(line, "redirect option '\(word)' is not supported"); return
            default:
                fail(line, "unexpected '\(word)' in redirect"); return
            }
        }
        if kind == "scheme" && !["http", "https"].contains(target) { fail(line, "scheme must be http or https"); return }
        if kind == "location" && target.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) {
            fail(line, "the location may not contain blanks or control characters"); return
        }
        let rule = RedirectRule(target: kind == "scheme" ? .scheme(target) : .location(target), code: code, condition: condition, line: line.number)
        switch section {
        case .frontend(let i), .listen(let i, _): config.frontends[i].redirects.append(rule)
        default: break
        }
    }

    private func httpRequest(_ line: ConfigLine, response: Bool) {
        guard line.words.count >= 2 else { fail(line, "expects an action: set-header, add-header or del-header"); return }
        let action = line.words[1]
        guard Keywords.httpRequestActions.contains(action) else {
            let near = didYouMean(action, in: Keywords.httpRequestActions)
            fail(line, "unsupported \(response ? "http-response" : "http-request") action '\(action)'\(near)"); return
        }
        var words = line.words.dropFirst(2)
        // The condition starts at the first `if`/`unless`.
        var condition: Condition?
        if let at = words.firstIndex(where: { $0 == "if" || $0 == "unless" }) {
            do { condition = try ACLParser.condition(words[at...], acls: acls) } catch { fail(line, error.message); return }
            words = words[..<at]
        }
        // Responses are not re-validated on the data path, so what lb.conf puts into a
        // header must be valid here: a token for the name, no control bytes in the value.
        if let name = words.first, !isHeaderToken(name) {
            fail(line, "invalid header name '\(name)': letters, digits and !#$%&'*+-.^_`|~ only"); return
        }
        if words.count == 2, words.last!.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
            fail(line, "control characters are not allowed in a header value"); return
        }
        let rule: HeaderRule.Action
        switch action {
        case "set-header", "add-header":
            guard words.count == 2 else { fail(line, "'\(action)' expects NAME VALUE (quote a value with spaces)"); return }
            do {
                let value = try ValueFormatParser.parse(words.last!)
                rule = action == "set-header" ? .set(name: words.first!, value: value) : .add(name: words.first!, value: value)
            } catch { fail(line, error.message); return }
        case "del-header":
            guard words.count == 1 else { fail(line, "'del-header' expects one header name"); return }
            rule = .delete(name: words.first!)
        default:
            let near = didYouMean(action, in: Keywords.httpRequestActions)
            fail(line, "unsupported http-request action '\(action)'\(near)"); return
        }
        let headerRule = HeaderRule(action: rule, condition: condition, line: line.number)
        switch section {
        case .frontend(let i), .listen(let i, _):
            if response { config.frontends[i].responseRules.append(headerRule) } else { config.frontends[i].requestRules.append(headerRule) }
        case .backend(let n):
            if response { config.backends[n]!.responseRules.append(headerRule) } else { config.backends[n]!.requestRules.append(headerRule) }
        default: break
        }
    }

    // MARK: validation

    /// Cross-section checks that need the whole file: referenced backends exist, frontends
    /// listen somewhere, no two frontends bind the same address, timeouts are set.
    func finish() {
        finishVRRP()
        for ref in backendReferences where config.backends[ref.name] == nil {
            let near = didYouMean(ref.name, in: Array(config.backends.keys))
            errors.append(ConfigError(file: file, line: ref.line, keyword: ref.keyword, message: "no backend named '\(ref.name)'\(near)"))
        }
        var seen: [String: String] = [:]
        for frontend in config.frontends {
            if frontend.binds.isEmpty && !frontendsWithBindLines.contains(frontend.name) {
                errors.append(ConfigError(file: file, line: frontend.line, keyword: "frontend", message: "frontend '\(frontend.name)' has no 'bind' line"))
            }
            for bind in frontend.binds {
                let key = "\(bind.host):\(bind.port)"
                if let other = seen[key] {
                    errors.append(ConfigError(file: file, line: bind.line, keyword: "bind", message: "\(key) is already bound by frontend '\(other)'"))
                }
                seen[key] = frontend.name
            }
            let t = frontend.options.timeouts
            if t.client == nil { warn(frontend.line, "timeout", "frontend '\(frontend.name)' has no 'timeout client': idle clients are never closed") }
        }
        for backend in config.backends.values.sorted(by: { $0.line < $1.line }) {
            if backend.options.httpCheck != nil && backend.options.tcpCheck != nil {
                errors.append(ConfigError(file: file, line: backend.line, keyword: "option",
                                          message: "backend '\(backend.name)' has both 'option httpchk' and 'option tcp-check'; choose one"))
            }
            if backend.options.timeouts.connect == nil { warn(backend.line, "timeout", "backend '\(backend.name)' has no 'timeout connect'") }
            if backend.options.timeouts.server == nil { warn(backend.line, "timeout", "backend '\(backend.name)' has no 'timeout server': a stuck server holds requests forever") }
            if backend.servers.isEmpty { warn(backend.line, "backend", "backend '\(backend.name)' has no server: every request gets 503") }
        }
    }
}

/// `HOST:PORT`, `:PORT`, `*:PORT`, `[V6]:PORT`. Returns nil when the port is missing or invalid.
func parseAddress(_ text: String) -> (String, Int)? {
    var host: Substring
    var portText: Substring
    if text.hasPrefix("[") {
        guard let close = text.firstIndex(of: "]") else { return nil }
        host = text[text.index(after: text.startIndex)..<close]
        let after = text[text.index(after: close)...]
        guard after.hasPrefix(":") else { return nil }
        portText = after.dropFirst()
    } else {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        host = text[..<colon]
        portText = text[text.index(after: colon)...]
        if host.contains(":") { return nil }  // bare IPv6 needs brackets
    }
    guard let port = Int(portText), (1...65535).contains(port) else { return nil }
    guard host.allSatisfy({ $0.isLetter || $0.isNumber || ".-_:*".contains($0) }) else { return nil }
    return (String(host), port)
}

/// RFC 9110 §5.6.2 token characters.
func isHeaderToken(_ name: String) -> Bool {
    !name.isEmpty && name.utf8.allSatisfy { b in
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || "!#$%&'*+-.^_`|~".utf8.contains(b)
    }
}
