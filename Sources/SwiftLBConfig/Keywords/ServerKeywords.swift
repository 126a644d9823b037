/// `server NAME ADDRESS [PARAMETER…]` and `default-server PARAMETER…`: the servers of a backend,
/// with the parameters the balancers, the checker and the upstream TLS client read.
extension KeywordRegistry {
    static let serverKeywords: [Keyword] = [
        Keyword("server", SectionKind.backSide.subtracting([.defaults]), usage: "server NAME ADDRESS [PARAMETER…]") { p, c in
            guard c.args.count >= 2 else { throw ParseFailure("expects 'server NAME HOST:PORT [weight N]'") }
            try addServer(c.args[0], address: c.args[1], parameters: c.args.dropFirst(2), p, c)
        },
        // HAProxy's `server-template PREFIX NUM|LOW-HIGH ADDRESS [PARAMETER…]`: servers PREFIXLOW…
        // PREFIXHIGH (NUM alone: 1…NUM), all on ADDRESS with the same parameters. Without
        // `resolvers` (SwiftLB has none) each is resolved once at start, as HAProxy's libc
        // `init-addr` does.
        Keyword("server-template", SectionKind.backSide.subtracting([.defaults]),
                usage: "server-template PREFIX NUM|LOW-HIGH ADDRESS [PARAMETER…]") { p, c in
            guard c.args.count >= 3 else { throw ParseFailure("expects 'server-template PREFIX NUM|LOW-HIGH ADDRESS [PARAMETER…]'") }
            guard let range = templateRange(c.args[1]) else { throw ParseFailure("Wrong server-template number or range arg '\(c.args[1])'") }
            for n in range { try addServer("\(c.args[0])\(n)", address: c.args[2], parameters: c.args.dropFirst(3), p, c) }
        },
        Keyword("default-server", SectionKind.backSide, usage: "default-server PARAMETER…") { p, c in
            var params = p.options.defaultServer
            try serverParameters.parse(c.args[...], into: &params, parser: p)
            // A number names one server (HAProxy refuses it here too).
            guard params.id == p.options.defaultServer.id else { throw ParseFailure("'id' is not supported on default-server: it names one server") }
            p.withOptions { $0.defaultServer = params }
        },
    ]

    /// `NUM` (1…NUM) or `LOW-HIGH` of `server-template`, as HAProxy's _srv_parse_tmpl_range
    /// reads them (nil: a negative bound, or HIGH below LOW). Bounded so a typo cannot make
    /// millions of servers.
    static func templateRange(_ text: String) -> ClosedRange<Int>? {
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = Int(parts[0]) else { return nil }
        let (low, high) = parts.count == 2 ? (first, Int(parts[1])) : (1, first)
        guard let high, low >= 0, high >= low, high - low < 10_000 else { return nil }
        return low...high
    }

    /// One server of the current backend (a `server` line, or one of a `server-template`).
    static func addServer(_ name: String, address: String, parameters: ArraySlice<String>, _ p: SectionParser, _ c: KeywordCall) throws {
        var backend: Backend?
        p.withBackend { backend = $0 }
        guard var backend else { return }
        if let other = backend.servers.first(where: { $0.name == name }) {
            throw ParseFailure("a server named '\(name)' already exists in backend '\(backend.name)' (line \(other.line))")
        }
        // As HAProxy's address parser, `$VAR`/`${VAR}` are expanded even outside quotes.
        let written = expandAddressVariables(address, p.environment)
        let unix = try unixSocketName(written)
        var (host, port) = ("", 0)
        var portFromClient = false
        if unix == nil {
            var text = Substring(written)
            for prefix in ["ipv4@", "ipv6@"] where text.hasPrefix(prefix) { text = text.dropFirst(prefix.count) }
            if text == ":" && address.contains("$") {
                // Every variable unset (`${S_addr}:${S_port}` of a server nobody started):
                // HAProxy keeps such a server, on no address; it is never reachable.
                p.warn("server '\(name)' has no address ('\(address)' expands to ':'): it is kept, and never reachable")
                (host, port) = ("0.0.0.0", 0)
            } else if let address = parseAddress(String(text)), !address.0.isEmpty, address.0 != "*" {
                (host, port) = address
            } else if !text.contains(":"), !text.isEmpty, Self.startsWithoutAddress(parameters) {
                // A name without a port, with `init-addr none`: the server starts without an
                // address (in maintenance) and never gets one here.
                (host, port) = (String(text), 0)
            } else if case let bare = text.hasSuffix(":") && text.count > 1 ? text.dropLast() : text,
                      !bare.isEmpty, !bare.contains(":") || (bare.hasPrefix("[") && bare.hasSuffix("]")), bare != "*" {
                // HAProxy's port-less server (`HOST` or `HOST:`): the port the client connected to.
                (host, port) = (bare.hasPrefix("[") ? String(bare.dropFirst().dropLast()) : String(bare), 0)
                portFromClient = true
            } else {
                throw ParseFailure("invalid address '\(address)': expected HOST:PORT")
            }
        }
        var params = backend.options.defaultServer
        try serverParameters.parse(parameters, into: &params, parser: p)
        params.verifyWithoutCA = p.verificationWithoutCA(params)
        try finishServerTLS(&params)
        params.portFromClient = portFromClient
        // A port-less server's checks need a port: `port N`, or a leading `tcp-check|http-check
        // connect port N` of its backend (checked once the backend is read, Validation).
        // HAProxy prepares (and checks) the TLS of a server whose default-server says `ssl`
        // even when the line says `no-ssl`.
        if params.tls != nil || backend.options.defaultServer.tls?.more.ssl == true, let refusal = params.verifyWithoutCA {
            throw ParseFailure(refusal)
        }
        if params.observe != nil && !params.check { throw ParseFailure("'observe' needs 'check': passive checks act through the active checker") }
        if params.check { warnAboutFastChecks(params, p) }
        if let mode = params.webSocketMode, params.http2 {
            throw ParseFailure("'proto h2 ws \(mode)' is not supported by SwiftLB: it relays WebSockets as HTTP/1.1 Upgrade only, and not beside an HTTP/2 server connection")
        }
        if let id = params.id, let other = backend.servers.first(where: { $0.parameters.id == id }) {
            throw ParseFailure("server '\(name)': id \(id) is already server '\(other.name)''s (line \(other.line))")
        }
        var server = Server(name: name, host: host, port: port, parameters: params, line: c.line.number)
        server.unixPath = unix?.path
        server.unixAbstract = unix?.abstract ?? false
        backend.servers.append(server)
        p.withBackend { $0 = backend }
    }

    static let serverParameters = ParameterTable<ServerParameters>("server parameter", tlsServerParameters + [
        Parameter("weight", values: 1) { s, v, _ in s.weight = try number("weight", v[0], 0...256) },
        Parameter("check") { s, _, _ in s.check = true },
        Parameter("no-check") { s, _, _ in s.check = false },
        Parameter("enabled") { s, _, _ in s.disabled = false },
        Parameter("no-backup") { s, _, _ in s.backup = false },
        Parameter("inter", values: 1) { s, v, _ in s.inter = try positiveTime("inter", v[0]) },
        Parameter("fastinter", values: 1) { s, v, _ in s.fastinter = try positiveTime("fastinter", v[0]) },
        Parameter("downinter", values: 1) { s, v, _ in s.downinter = try positiveTime("downinter", v[0]) },
        Parameter("rise", values: 1) { s, v, _ in s.rise = try number("rise", v[0], 1...1000) },
        Parameter("fall", values: 1) { s, v, _ in s.fall = try number("fall", v[0], 1...1000) },
        Parameter("port", values: 1) { s, v, p in
            s.checkPort = try number("port", v[0], 1...65535)
            p.portParameters += 1
        },
        Parameter("init-addr", values: 1) { s, v, _ in
            let methods = v[0].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            for method in methods where !["last", "libc", "none"].contains(method) && IPNetwork.bytes(method) == nil {
                throw ParseFailure("'init-addr' expects a list of last, libc, none and IP addresses, not '\(method)'")
            }
            s.initAddr = methods
        },
        Parameter("addr", values: 1) { s, v, _ in
            // `addr IP:PORT`, as HAProxy takes it: the port counts unless `port` says otherwise.
            if v[0].contains("."), let (host, port) = parseAddress(v[0]), !host.isEmpty {
                s.checkAddress = host
                if s.checkPort == nil { s.checkPort = port }
            } else {
                s.checkAddress = v[0]
            }
        },
        Parameter("cookie", values: 1) { s, v, _ in
            guard v[0].allSatisfy({ $0.isASCII && !$0.isWhitespace && !";,=~\"".contains($0) }) else {
                throw ParseFailure("'cookie' value '\(v[0])' may not contain blanks or ; , = ~ \"")
            }
            s.cookie = v[0]
        },
        Parameter("backup") { s, _, _ in s.backup = true },
        Parameter("disabled") { s, _, _ in s.disabled = true },
        Parameter("maxconn", values: 1) { s, v, _ in s.maxconn = try number("maxconn", v[0], 1...1_000_000) },
        Parameter("minconn", values: 1) { s, v, _ in s.minconn = try number("minconn", v[0], 0...1_000_000) },
        Parameter("pool-max-conn", values: 1) { s, v, _ in s.poolMaxConn = try number("pool-max-conn", v[0], -1...1_000_000) },
        Parameter("slowstart", values: 1) { s, v, _ in s.slowstart = try positiveTime("slowstart", v[0]) },
        Parameter("verify", values: 1) { s, v, p in
            guard v[0] == "none" || v[0] == "required" else { throw ParseFailure("'verify' expects none or required") }
            p.ensureTLS(&s)
            s.tls!.verify = v[0] == "required"
        },
        Parameter("ca-file", values: 1) { s, v, p in
            p.ensureTLS(&s)
            s.tls!.caFile = p.based(v[0], on: p.config.global.caBase)
        },
        Parameter("sni", values: 1) { s, v, p in
            // HAProxy takes a sample expression; a constant is written str(NAME). SwiftLB also
            // takes a bare host name that is no fetch (`sni www.example.com`).
            let word = v[0]
            p.ensureTLS(&s)
            let quoted = word.hasPrefix("str(") && word.hasSuffix(")")
            let constant = quoted ? String(word.dropFirst(4).dropLast()) : word
            let isFetch = !quoted && p.facts.sampleCompiler.map { (try? $0(word)) != nil } == true
            if !constant.contains("("), !constant.contains(","), isHeaderToken(constant), !isFetch {
                (s.tls!.sni, s.tls!.sniExpression) = (constant, nil)
                return
            }
            if let compile = p.facts.sampleCompiler {
                do { _ = try compile(word) } catch { throw ParseFailure("'sni \(word)': \(error)") }
            }
            (s.tls!.sni, s.tls!.sniExpression) = (nil, word)
        },
        Parameter("error-limit", values: 1) { s, v, _ in s.errorLimit = try number("error-limit", v[0], 1...1000) },
        Parameter("observe", values: 1) { s, v, _ in
            guard let layer = ObserveLayer(rawValue: v[0]) else { throw ParseFailure("'observe' expects layer4 or layer7") }
            s.observe = layer
        },
        Parameter("on-error", values: 1) { s, v, _ in
            guard let action = OnError(rawValue: v[0]) else { throw ParseFailure("'on-error' expects fastinter, fail-check, sudden-death or mark-down") }
            s.onError = action
        },
        Parameter("send-proxy") { s, _, _ in s.sendProxy = .v1 },
        Parameter("check-send-proxy") { s, _, _ in s.checkSendProxy = true },
        Parameter("no-check-send-proxy") { s, _, _ in s.checkSendProxy = false },
        Parameter("send-proxy-v2") { s, _, _ in s.sendProxy = .v2 },
        Parameter("proxy-v2-options", values: 1) { s, v, _ in
            let options = v[0].split(separator: ",").map(String.init)
            let tls = ["ssl", "cert-cn", "ssl-cipher", "cert-sig", "cert-key"]
            for option in options where !["unique-id", "authority", "crc32c"].contains(option) {
                throw ParseFailure(tls.contains(option) ? "'proxy-v2-options \(option)': the TLS TLVs are not supported by SwiftLB"
                                                        : "'proxy-v2-options' expects unique-id, authority or crc32c, not '\(option)'")
            }
            s.proxyV2Options.formUnion(options)
        },
        // The streams pinned to a full server (cookie, stick table) that may wait for it; one
        // more is refused (503), or with `option redispatch` balanced (Dispatcher.swift).
        Parameter("maxqueue", values: 1) { s, v, _ in
            s.maxQueue = try number("maxqueue", v[0], 0...1_000_000)
        },
        Parameter("on-marked-down", values: 1) { s, v, _ in
            guard v[0] == "shutdown-sessions" else { throw ParseFailure("'on-marked-down' expects shutdown-sessions") }
            s.shutdownSessionsOnMarkedDown = true
        },
        Parameter("on-marked-up", values: 1) { s, v, _ in
            guard v[0] == "shutdown-backup-sessions" else { throw ParseFailure("'on-marked-up' expects shutdown-backup-sessions") }
            s.shutdownBackupSessionsOnMarkedUp = true
        },
        Parameter("proto", values: 1) { s, v, _ in
            guard v[0] == "h1" || v[0] == "h2" else { throw ParseFailure("'proto' expects h1 or h2 (the only protocols SwiftLB speaks to servers)") }
            s.http2 = v[0] == "h2"
        },
        Parameter("id", values: 1) { s, v, _ in
            guard let n = Int(v[0]), n > 0 else { throw ParseFailure("'id' expects a positive number, not '\(v[0])'") }
            s.id = n
        },
        // HAProxy's `ws`: how a WebSocket reaches the server. SwiftLB relays it as an HTTP/1.1
        // Upgrade on an HTTP/1 connection: `auto` and `h1` on an HTTP/1 server; RFC 8441
        // (WebSocket over HTTP/2) and a separate h1 connection beside `proto h2` it does not do.
        Parameter("ws", values: 1) { s, v, _ in
            guard ["auto", "h1", "h2"].contains(v[0]) else { throw ParseFailure("'ws' expects auto, h1 or h2") }
            guard v[0] != "h2" else {
                throw ParseFailure("'ws h2' is not supported by SwiftLB: it does not open WebSockets over HTTP/2 (RFC 8441); WebSockets go to servers as HTTP/1.1 Upgrade ('ws h1')")
            }
            s.webSocketMode = v[0]
        },
        Parameter("agent-check") { s, _, _ in s.agent.enabled = true },
        Parameter("no-agent-check") { s, _, _ in s.agent.enabled = false },
        Parameter("agent-port", values: 1) { s, v, p in
            s.agent.port = try number("agent-port", v[0], 1...65535)
            p.portParameters += 1
        },
        Parameter("agent-addr", values: 1) { s, v, _ in s.agent.address = v[0] },
        Parameter("agent-send", values: 1) { s, v, _ in s.agent.send = v[0] },
        Parameter("agent-inter", values: 1) { s, v, _ in s.agent.inter = try positiveTime("agent-inter", v[0]) },
        // `source ADDR[:PORT]`: this server's connections leave from ADDR (PersistKeywords.swift).
        Parameter("source", values: 1) { s, v, _ in s.source = try sourceAddress(v[0]) },
        Parameter("usesrc", values: 1) { _, v, _ in try refuseSourceOptions(["usesrc"] + v) },
        Parameter("interface", values: 1) { _, v, _ in try refuseSourceOptions(["interface"] + v) },
    ] + ["allow-0rtt",
         "check-proto", "check-via-socks4", "log-proto", "max-reuse", "namespace",
         "no-send-proxy", "no-send-proxy-v2", "no-send-proxy-v2-ssl", "no-send-proxy-v2-ssl-cn", "no-verifyhost",
         "no-tfo", "non-stick", "npn", "pool-low-conn", "pool-purge-delay", "redir", "resolve-opts",
         "resolve-prefer", "resolve-net", "resolvers", "send-proxy-v2-ssl", "send-proxy-v2-ssl-cn",
         "stick", "socks4", "tcp-ut", "tfo", "track", "verifyhost"].map {
        Parameter<ServerParameters>.unsupported($0, "a HAProxy server parameter SwiftLB does not implement")
    })

    /// The line says `init-addr none` (alone): its server never takes the address it names.
    static func startsWithoutAddress(_ words: ArraySlice<String>) -> Bool {
        guard let i = words.firstIndex(of: "init-addr"), i + 1 < words.endIndex else { return false }
        return words[i + 1] == "none"
    }

    static let expectProxyStatus = KeywordStatus.pending("a conditional PROXY header is not supported; 'bind … accept-proxy' requires one on every connection")

    /// `/PATH`, `unix@PATH` (a socket file) or `abns@NAME` (Linux's abstract namespace), as in
    /// HAProxy for `server` and `bind`; nil for anything else (an IP address).
    static func unixSocketName(_ text: String) throws -> (path: String, abstract: Bool)? {
        let (path, abstract): (String, Bool)
        if text.hasPrefix("/") { (path, abstract) = (text, false) }
        else if text.hasPrefix("unix@") { (path, abstract) = (String(text.dropFirst(5)), false) }
        else if text.hasPrefix("abns@") { (path, abstract) = (String(text.dropFirst(5)), true) }
        else { return nil }
        guard !path.isEmpty else { throw ParseFailure("'\(text)': empty unix socket path") }
        // sun_path holds 108 bytes: the path and its NUL, or the leading NUL and the name.
        guard path.utf8.count <= 103 else { throw ParseFailure("'\(text)': unix socket path longer than 103 bytes") }
        return (path, abstract)
    }

    /// A check more often than every 100 ms is a connection to the server every time: almost
    /// certainly a unit mistake (`inter 10` is 10 ms, not 10 s).
    private static func warnAboutFastChecks(_ params: ServerParameters, _ p: SectionParser) {
        let fast = [("inter", Optional(params.inter)), ("fastinter", params.fastinter), ("downinter", params.downinter)]
            .compactMap { name, value in value.flatMap { $0.nanoseconds < 100_000_000 ? "\(name) \($0)" : nil } }
        guard !fast.isEmpty else { return }
        p.remark("\(fast.joined(separator: ", ")): a health check more often than every 100ms opens a connection to the server each time; a bare number is milliseconds ('inter 2s' is two seconds)")
    }

    static func number(_ name: String, _ text: String, _ range: ClosedRange<Int>) throws(ParseFailure) -> Int {
        guard let n = Int(text), range.contains(n) else {
            throw ParseFailure("'\(name)' expects a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    static func positiveTime(_ name: String, _ text: String) throws(ParseFailure) -> ConfigDuration {
        guard let d = ConfigDuration(parsing: text), d.nanoseconds > 0 else { throw ParseFailure("'\(name)' expects a time such as 2s, got '\(text)'") }
        // HAProxy's timers are milliseconds in an int: a longer one is refused, as there.
        guard d.nanoseconds / 1_000_000 <= Int64(Int32.max) else {
            throw ParseFailure("timer overflow in argument '\(text)' to '\(name)' (maximum value is 2147483647 ms or ~24.8 days)")
        }
        return d
    }
}

extension SectionParser {
    /// The server's TLS settings, created on first use with `ssl-server-verify`'s default.
    func ensureTLS(_ params: inout ServerParameters) {
        guard params.tls == nil else { return }
        var tls = ServerTLS()
        tls.more = config.global.defaultServerTLS
        tls.verify = config.global.sslServerVerify ?? true
        params.tls = tls
    }
}
