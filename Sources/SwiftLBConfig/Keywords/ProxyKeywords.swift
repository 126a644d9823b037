/// What a proxy is and where its requests go: `mode`, `maxconn`, `retries`, `retry-on`,
/// `default_backend`, `use_backend`, connection handling options.
extension KeywordRegistry {
    static let proxyKeywords: [Keyword] = [
        Keyword("mode", SectionKind.proxies, usage: "mode http") { _, c in
            let mode = try c.one("'http'")
            if mode != "http" {
                throw ParseFailure(mode == "tcp" ? "mode tcp is not supported yet; only 'mode http'" : "unknown mode '\(mode)'; expected 'http'")
            }
        },
        Keyword("maxconn", SectionKind.frontSide, usage: "maxconn N") { p, c in
            let n = try c.positiveInt()
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
            if case .defaults = p.section {
                p.defaultBackendName = (name, c.line.number)
            } else {
                p.withFrontend { $0.defaultBackend = name }
                p.referenceBackend(name, line: c.line)
            }
        },
        Keyword("use_backend", [.frontend, .listen], usage: "use_backend NAME if|unless CONDITION") { p, c in
            guard c.args.count >= 3 else { throw ParseFailure("expects 'use_backend NAME if|unless CONDITION'") }
            let condition = try ACLParser.condition(c.args.dropFirst()[...], acls: p.acls)
            p.withFrontend { $0.switchingRules.append(BackendSwitchingRule(backend: c.args[0], condition: condition, line: c.line.number)) }
            p.referenceBackend(c.args[0], line: c.line)
        },
        Keyword("option forwardfor", SectionKind.proxies, usage: "option forwardfor [header NAME]") { p, c in
            var forwardFor = ForwardFor()
            var rest = c.args[...]
            while let word = rest.first {
                rest = rest.dropFirst()
                guard word == "header", let header = rest.first else {
                    throw ParseFailure("option forwardfor: only 'header NAME' is supported after it")
                }
                forwardFor.header = header
                rest = rest.dropFirst()
            }
            p.withOptions { $0.forwardFor = forwardFor }
        },
        connectionMode(.keepAlive, status: .active),
        connectionMode(.serverClose, status: httpServerCloseStatus),
        connectionMode(.close, status: httpCloseStatus),
        Keyword("option redispatch", SectionKind.backSide, usage: "option redispatch") { p, c in
            guard c.args.isEmpty else { throw ParseFailure("option redispatch takes no argument (an interval is not supported)") }
            p.withOptions { $0.redispatch = true }
        },
        Keyword("hash-type", SectionKind.backSide, status: .pending("the source hash is always consistent; hash-type is not configurable"), parse: nil),
        Keyword("http-reuse", SectionKind.backSide, status: .pending("connection reuse is always 'safe'-like and not configurable"), parse: nil),
        Keyword("compression", SectionKind.proxies, status: .unsupported("compression is not supported"), parse: nil),
    ]

    static let httpServerCloseStatus = KeywordStatus.pending("server connections are always kept alive and pooled until the data path closes them per response")
    static let httpCloseStatus = KeywordStatus.pending("connections are always kept alive on both sides until the data path closes them per response")

    /// `option http-keep-alive|http-server-close|httpclose`; `no option …` goes back to
    /// keep-alive, HAProxy's default.
    private static func connectionMode(_ mode: HTTPConnectionMode, status: KeywordStatus) -> Keyword {
        Keyword("option \(mode.rawValue)", SectionKind.proxies, usage: "[no] option \(mode.rawValue)", status: status, negatable: true) { p, c in
            try c.noArguments()
            p.withOptions { $0.httpConnectionMode = c.negated ? .keepAlive : mode }
        }
    }
}
