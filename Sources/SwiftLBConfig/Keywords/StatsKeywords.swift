/// `stats socket` (the control socket, in `global`) and the stats page keywords of proxies.
extension KeywordRegistry {
    static let statsKeywords: [Keyword] = [
        Keyword("stats socket", [.global], usage: "stats socket PATH [mode OCTAL] [level user|operator|admin]") { p, c in
            guard let path = c.args.first else { throw ParseFailure("expects a path: 'stats socket PATH [mode OCTAL] [level user|operator|admin]'") }
            if ["ipv4@", "ipv6@", "fd@", "abns@", "sockpair@"].contains(where: path.hasPrefix) || parseAddress(path) != nil {
                try p.gate(statsSocketOnNetwork, "a 'stats socket' on '\(path)'")
            }
            var socket = StatsSocket(path: path)
            try statsSocketParameters.parse(c.args.dropFirst(), into: &socket, parser: p)
            p.config.global.statsSocket = socket
        },
        Keyword("stats timeout", [.global], usage: "stats timeout TIME",
                status: .pending("the control socket closes a connection after one command but has no idle timeout yet")) { p, c in
            p.config.global.statsTimeout = try c.time()
        },
    ]

    static let statsPageStatus = KeywordStatus.pending("the stats page is served by the operations work (issue 12)")

    /// `stats enable|uri|refresh|auth|realm|hide-version|admin` of a frontend or listen.
    static let statsPageKeywords: [Keyword] = [
        statsPage("enable", "stats enable") { s, c, _ in try c.noArguments(); s.enabled = true },
        statsPage("uri", "stats uri PATH") { s, c, _ in
            let uri = try c.one("a path")
            guard uri.hasPrefix("/") else { throw ParseFailure("the stats URI must start with '/'") }
            s.uri = uri
            s.enabled = true
        },
        statsPage("refresh", "stats refresh TIME") { s, c, _ in s.refresh = try c.time(); s.enabled = true },
        statsPage("realm", "stats realm REALM") { s, c, _ in s.realm = c.args.joined(separator: " "); s.enabled = true },
        statsPage("auth", "stats auth USER:PASSWORD") { s, c, _ in
            let pair = try c.one("USER:PASSWORD")
            guard let colon = pair.firstIndex(of: ":"), colon != pair.startIndex else { throw ParseFailure("expects USER:PASSWORD") }
            s.credentials.append((String(pair[..<colon]), String(pair[pair.index(after: colon)...])))
            s.enabled = true
        },
        statsPage("hide-version", "stats hide-version") { s, c, _ in try c.noArguments(); s.hideVersion = true },
        statsPage("admin", "stats admin if|unless COND") { s, c, p in
            guard !c.args.isEmpty else { throw ParseFailure("expects 'stats admin if|unless CONDITION'") }
            let condition = try ACLParser.condition(c.args[...], acls: p.acls)
            try p.gateFetches(condition)
            s.admin.append(condition)
        },
    ] + ["http-request", "scope", "show-desc", "show-legends", "show-node", "show-modules", "bind-process"].map {
        Keyword.unsupported("stats \($0)", SectionKind.proxies, "not part of SwiftLB's stats page")
    }

    /// A `stats …` line of the current frontend or listen.
    private static func statsPage(_ name: String, _ usage: String,
                                  _ apply: @escaping @Sendable (inout StatsPage, KeywordCall, SectionParser) throws -> Void) -> Keyword {
        Keyword("stats \(name)", [.frontend, .listen], haproxy: SectionKind.proxies, usage: usage, status: statsPageStatus) { p, c in
            var page: StatsPage?
            p.withFrontend { page = $0.stats ?? StatsPage(line: c.line.number) }
            guard var page else { return }
            try apply(&page, c, p)
            let done = page
            p.withFrontend { $0.stats = done }
        }
    }

    /// The control socket listens on a unix path; TCP addresses and inherited descriptors
    /// wait for the runtime API work.
    static let statsSocketOnNetwork = KeywordStatus.pending("the control socket listens on a unix socket path only")

    static let statsSocketParameters = ParameterTable<StatsSocket>("stats socket parameter", [
        Parameter("mode", values: 1) { s, v, _ in
            guard let m = UInt16(v[0], radix: 8), m <= 0o777 else { throw ParseFailure("'mode' expects an octal mode such as 600") }
            s.mode = m
        },
        Parameter("level", values: 1) { s, v, _ in
            guard let l = StatsSocket.Level(rawValue: v[0]) else { throw ParseFailure("'level' expects user, operator or admin") }
            s.level = l
        },
        Parameter("expose-fd", values: 1) { s, v, _ in
            guard v[0] == "listeners" else { throw ParseFailure("'expose-fd' expects 'listeners'") }
            s.exposeFDListeners = true
        },
    ])
}
