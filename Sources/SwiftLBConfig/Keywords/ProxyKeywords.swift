/// What a proxy is and where its requests go: `mode`, `maxconn`, `retries`, `retry-on`,
/// `default_backend`, `use_backend`, connection handling options.
extension KeywordRegistry {
    static let proxyKeywords: [Keyword] = [
        // The proxy's number in the stats (`iid`) and the server-state file (`be_id`);
        // two proxies may not share one (HAProxy: "reuses same custom id").
        Keyword("id", SectionKind.rules, usage: "id N") { p, c in
            let id = try c.positiveInt()
            let name = p.sectionName
            let holders = p.config.frontends.filter { $0.explicitID == id }.map(\.name)
                + p.config.backends.values.filter { $0.explicitID == id }.map(\.name)
            if let other = holders.first(where: { $0 != name }) {
                throw ParseFailure("id \(id) is already proxy '\(other)''s")
            }
            p.withFrontend { $0.explicitID = id }
            p.withBackend { $0.explicitID = id }
        },
        Keyword("mode", SectionKind.proxies, usage: "mode http|tcp") { p, c in
            let word = try c.one("'http' or 'tcp'")
            guard let mode = ProxyMode(rawValue: word) else { throw ParseFailure("unknown mode '\(word)'; expected 'http' or 'tcp'\(didYouMean(word, in: ["http", "tcp"]))") }
            if mode == .tcp { try p.gate(modeTCPStatus, "'mode tcp'") }
            p.withOptions { $0.mode = mode }
        },
        Keyword("disabled", SectionKind.proxies, usage: "disabled") { p, c in
            try c.noArguments()
            p.withOptions { $0.disabled = true }
        },
        Keyword("enabled", SectionKind.proxies, usage: "enabled") { p, c in
            try c.noArguments()
            p.withOptions { $0.disabled = false }
        },
        Keyword("maxconn", SectionKind.frontSide, usage: "maxconn N") { p, c in
            let n = try c.int(in: 1...Int(Int32.max))
            p.withOptions { $0.maxconn = n }
        },
        Keyword("retries", SectionKind.backSide, usage: "retries N") { p, c in
            guard c.args.count == 1, let n = Int(c.args[0]), n >= 0, n <= 100 else { throw ParseFailure("expects a number of retries from 0 to 100") }
            p.withOptions { $0.retries = n }
        },
        Keyword("retry-on", SectionKind.backSide, usage: "retry-on CONDITION…") { p, c in
            var conditions = Set<RetryCondition>()
            for word in c.args {
                if word == "all-retryable-errors" { conditions.formUnion(RetryCondition.allCases); continue }
                guard let condition = RetryCondition(rawValue: word) else {
                    let known = RetryCondition.allCases.map(\.rawValue) + ["all-retryable-errors"]
                    throw ParseFailure("unsupported retry-on condition '\(word)'\(didYouMean(word, in: known)); supported: \(known.joined(separator: ", "))")
                }
                conditions.insert(condition)
            }
            guard !conditions.isEmpty else { throw ParseFailure("expects one or more conditions, e.g. 'retry-on conn-failure empty-response'") }
            p.withOptions { $0.retryOn = conditions }
        },
        Keyword("default_backend", SectionKind.frontSide, usage: "default_backend NAME") { p, c in
            let name = try c.one("one backend name")
            // HAProxy 2.6 resolves it once, at startup ("unable to find default backend").
            if name.contains("%[") { throw ParseFailure("'\(name)': default_backend names one backend; a log-format name (%[…]) is a 'use_backend' rule's") }
            if case .defaults = p.section {
                p.defaultBackendName = (name, c.line.number)
            } else {
                p.withFrontend { $0.defaultBackend = name }
                p.referenceBackend(name, line: c.line)
            }
        },
        Keyword("use_backend", [.frontend, .listen], usage: "use_backend NAME [if|unless CONDITION]") { p, c in
            guard let name = c.args.first, c.args.count != 2 else { throw ParseFailure("expects 'use_backend NAME [if|unless CONDITION]'") }
            // Without a condition, a rule whose condition always holds (HAProxy's semantics).
            let condition = c.args.count == 1
                ? Condition(inverted: false, alternatives: [[Condition.Term(negated: false, acl: ACLParser.predefined["TRUE"]!)]])
                : try ACLParser.condition(c.args.dropFirst()[...], acls: p.acls, sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy)
            try p.gateFetches(condition)
            let rule = BackendSwitchingRule(backend: name, condition: condition, line: c.line.number)
            p.withFrontend { $0.switchingRules.append(rule) }
            if !rule.isDynamic { p.referenceBackend(name, line: c.line) }
        },
        Keyword("option forwardfor", SectionKind.proxies, usage: "option forwardfor [except NET] [header NAME] [if-none]") { p, c in
            var forwardFor = ForwardFor()
            try forwardForParameters.parse(c.args[...], into: &forwardFor, parser: p)
            p.withOptions { $0.forwardFor = forwardFor }
        },
        Keyword("option originalto", SectionKind.proxies, usage: "option originalto [except NET] [header NAME]") { p, c in
            var originalTo = ForwardFor(header: "X-Original-To")
            try forwardForParameters.parse(c.args[...], into: &originalTo, parser: p)
            if originalTo.ifNone { throw ParseFailure("'if-none' is an 'option forwardfor' parameter, not an 'option originalto' one") }
            p.withOptions { $0.originalTo = originalTo }
        },
        Keyword("fullconn", SectionKind.backSide, usage: "fullconn N") { p, c in
            let n = try c.positiveInt()
            p.withOptions { $0.fullconn = n }
        },
        Keyword("option http-restrict-req-hdr-names", SectionKind.proxies, usage: "option http-restrict-req-hdr-names preserve|delete|reject") { p, c in
            guard c.args.count == 1, let policy = HeaderNamePolicy(rawValue: c.args[0]) else {
                throw ParseFailure("expects 'preserve', 'reject' or 'delete'")
            }
            p.withOptions { $0.restrictRequestHeaderNames = policy }
        },
        flagOption("accept-invalid-http-request", SectionKind.frontSide, \.acceptInvalidRequest),
        flagOption("accept-invalid-http-response", SectionKind.backSide, \.acceptInvalidResponse),
        flagOption("http-pretend-keepalive", SectionKind.backSide, \.pretendKeepAlive),
        flagOption("disable-h2-upgrade", SectionKind.frontSide, \.disableH2Upgrade),
        flagOption("http-buffer-request", SectionKind.proxies, \.httpBufferRequest),
        flagOption("checkcache", SectionKind.backSide, \.checkCache),
        // HAProxy stops delaying parts of a message it could merge (MSG_MORE); SwiftLB never
        // delays them (TCP_NODELAY on both sockets, each part written at once): nothing to do.
        Keyword("option http-no-delay", SectionKind.proxies, usage: "[no] option http-no-delay", negatable: true) { _, c in try c.noArguments() },
        // SwiftLB always does what this asks: a client that closes its connection (a half-close
        // too) abandons its request, queued, connecting or waiting for the response.
        Keyword("option abortonclose", SectionKind.backSide, usage: "option abortonclose", negatable: true) { p, c in
            try c.noArguments()
            p.withOptions { $0.abortOnClose = !c.negated }
        },
        // HAProxy's kernel splice(2) between the two sockets is an optimisation with no visible
        // behaviour: SwiftLB forwards through its buffers, and says so.
    ] + ["splice-request", "splice-response", "splice-auto"].map { name in
        Keyword("option \(name)", SectionKind.proxies, usage: "[no] option \(name)", negatable: true) { p, c in
            try c.noArguments()
            if !c.negated { p.remark("'option \(name)' is inert in SwiftLB: data is forwarded through user-space buffers, not spliced by the kernel") }
        }
    } + [
        // SwiftLB always spreads over every backup server when no primary is up.
        Keyword("option allbackups", SectionKind.backSide, usage: "option allbackups") { _, c in try c.noArguments() },
        // HAProxy 2.6's syntax and defaults (cfgparse-listen.c): sdbm unless a function is
        // named, with the avalanche mix added by `consistent` alone or asked for by name.
        Keyword("hash-type", SectionKind.backSide, usage: "hash-type map-based|consistent [sdbm|djb2|wt6|crc32 [avalanche]]") { p, c in
            let word = c.args.first ?? ""
            if word == "avalanche" { throw ParseFailure("'hash-type avalanche' is not supported anymore (nor by HAProxy 2.6): write 'hash-type map-based sdbm avalanche'") }
            guard let method = HashType.Method(rawValue: word) else { throw ParseFailure("expects 'consistent' or 'map-based'") }
            var hashType = HashType(method: method)
            if c.args.count > 1 {
                guard let function = HashType.Function(rawValue: c.args[1]) else {
                    throw ParseFailure("unknown hash function '\(c.args[1])': sdbm, djb2, wt6 or crc32")
                }
                hashType.function = function
                if c.args.count > 2 {
                    guard c.args[2] == "avalanche" else { throw ParseFailure("'\(c.args[2])': 'avalanche' is the only modifier of a hash function") }
                    // HAProxy reads no further and says nothing; SwiftLB says it.
                    if c.args.count > 3 { p.remark("'hash-type': '\(c.args[3...].joined(separator: " "))' after 'avalanche' is ignored") }
                    hashType.avalanche = true
                }
            } else {
                hashType.avalanche = method == .consistent
            }
            p.withOptions { $0.hashType = hashType }
        },
        Keyword("hash-balance-factor", SectionKind.backSide, usage: "hash-balance-factor 0|N (N > 100)") { p, c in
            let text = try c.one("a percentage above 100, or 0")
            guard let n = Int(text), n >= 0 else { throw ParseFailure("expects an integer, not '\(text)'") }
            // HAProxy's `int`: a factor it could not hold is refused (it would overflow the bound).
            guard (n == 0 || n > 100) && n <= Int(Int32.max) else { throw ParseFailure("must be 0 or greater than 100 (at most \(Int32.max)), not \(n)") }
            p.withOptions { $0.hashBalanceFactor = n }
        },
        connectionMode(.keepAlive, status: .active),
        connectionMode(.serverClose, status: httpServerCloseStatus),
        connectionMode(.close, status: httpCloseStatus),
        Keyword("option redispatch", SectionKind.backSide, usage: "option redispatch") { p, c in
            guard c.args.isEmpty else { throw ParseFailure("option redispatch takes no argument (an interval is not supported)") }
            p.withOptions { $0.redispatch = true }
        },
        Keyword("http-reuse", SectionKind.backSide, usage: "http-reuse never|safe|aggressive|always") { p, c in
            let word = try c.one("never, safe, aggressive or always")
            guard let reuse = HTTPReuse(rawValue: word) else {
                throw ParseFailure("unknown mode '\(word)'\(didYouMean(word, in: HTTPReuse.allCases.map(\.rawValue))); expected never, safe, aggressive or always")
            }
            p.withOptions { $0.httpReuse = reuse }
        },
        // HAProxy's legacy single destination: one server, not checked, whose connections are
        // private to their client connection (HAProxy never shares them either).
        Keyword("dispatch", [.listen, .backend], usage: "dispatch HOST:PORT") { p, c in
            let text = try c.one("HOST:PORT")
            guard let (host, port) = parseAddress(text), !host.isEmpty, host != "*" else {
                throw ParseFailure("invalid address '\(text)': expected HOST:PORT")
            }
            var backend: Backend?
            p.withBackend { backend = $0 }
            guard var backend else { return }
            guard backend.servers.isEmpty else {
                throw ParseFailure("'dispatch' in a proxy with 'server' lines is not supported: use servers only")
            }
            // HAProxy's dispatch is an address, not a server: no `default-server` setting (check,
            // ssl, send-proxy, maxconn, …) applies to it.
            backend.servers.append(Server(name: "dispatch", host: host, port: port, parameters: ServerParameters(), line: c.line.number))
            backend.options.httpReuse = .never
            p.withBackend { $0 = backend }
        },
    ]


    /// `[no] option NAME`, without argument: sets (or, with `no`, clears) one flag.
    static func flagOption(_ name: String, _ sections: Set<SectionKind>, _ field: WritableKeyPath<ProxyOptions, Bool> & Sendable) -> Keyword {
        Keyword("option \(name)", sections, usage: "[no] option \(name)", negatable: true) { p, c in
            try c.noArguments()
            p.withOptions { $0[keyPath: field] = !c.negated }
        }
    }

    /// `option tcpka|clitcpka|srvtcpka`.
    static let tcpKeepAliveKeywords: [Keyword] = [
        ("tcpka", SectionKind.proxies, true, true), ("clitcpka", SectionKind.frontSide, true, false), ("srvtcpka", SectionKind.backSide, false, true),
    ].map { name, sections, client, server in
        Keyword("option \(name)", sections, usage: "[no] option \(name)", negatable: true) { p, c in
            try c.noArguments()
            p.withOptions {
                if client { $0.clientTCPKeepAlive = !c.negated }
                if server { $0.serverTCPKeepAlive = !c.negated }
            }
        }
    }

    static let modeTCPStatus = KeywordStatus.active

    static let forwardForParameters = ParameterTable<ForwardFor>("option forwardfor parameter", [
        Parameter("header", values: 1) { f, v, _ in
            guard isHeaderToken(v[0]) else { throw ParseFailure("invalid header name '\(v[0])'") }
            f.header = v[0]
        },
        Parameter("except", values: 1) { f, v, _ in
            guard isIPNetwork(v[0]) else { throw ParseFailure("'except' expects a network, e.g. 127.0.0.0/8") }
            f.except = v[0]
        },
        Parameter("if-none") { f, _, _ in f.ifNone = true },
    ])

    static let httpServerCloseStatus = KeywordStatus.active
    static let httpCloseStatus = KeywordStatus.active

    /// `option http-keep-alive|http-server-close|httpclose`; `no option …` goes back to
    /// keep-alive, HAProxy's default.
    private static func connectionMode(_ mode: HTTPConnectionMode, status: KeywordStatus) -> Keyword {
        Keyword("option \(mode.rawValue)", SectionKind.proxies, usage: "[no] option \(mode.rawValue)", status: status, negatable: true) { p, c in
            try c.noArguments()
            p.withOptions { $0.httpConnectionMode = c.negated ? .keepAlive : mode }
        }
    }
}
