#if canImport(Glibc)
import Glibc
#endif

/// `stats socket` (the control socket, in `global`) and the stats page keywords of proxies.
extension KeywordRegistry {
    static let statsKeywords: [Keyword] = [
        Keyword("stats socket", [.global], usage: "stats socket PATH [mode OCTAL] [level user|operator|admin] [user NAME|uid N] [group NAME|gid N]") { p, c in
            guard let path = c.args.first else { throw ParseFailure("expects a path: 'stats socket PATH [mode OCTAL] [level user|operator|admin]'") }
            // What the control socket cannot open is refused here, not when `swiftlb run` starts.
            for prefix in statsSocketUnsupported where path.hasPrefix(prefix) {
                throw ParseFailure("'\(path)': a control socket on '\(prefix)' is not supported by SwiftLB (use a unix path or ipv4@/ipv6@HOST:PORT)")
            }
            var socket = StatsSocket(path: path)
            try statsSocketParameters.parse(c.args.dropFirst(), into: &socket, parser: p)
            if p.config.global.statsSocket == nil { p.config.global.statsSocket = socket } else { p.config.global.moreStatsSockets.append(socket) }
        },
        Keyword("stats timeout", [.global], usage: "stats timeout TIME",
                status: .active) { p, c in
            p.config.global.statsTimeout = try c.time()
        },
    ]

    static let statsPageStatus = KeywordStatus.active

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
            let condition = try ACLParser.condition(c.args[...], acls: p.acls, sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy)
            try p.gateFetches(condition)
            s.admin.append(condition)
        },
        statsPage("scope", "stats scope NAME|.") { s, c, _ in s.scopes.append(try c.one("a proxy name, or '.' for this one")) },
        statsPage("show-node", "stats show-node [NAME]") { s, c, _ in
            guard c.args.count <= 1 else { throw ParseFailure("expects at most a node name") }
            s.showNode = c.args.first ?? ""
        },
        statsPage("show-desc", "stats show-desc [TEXT]") { s, c, _ in s.showDescription = c.args.joined(separator: " ") },
        statsPage("show-legends", "stats show-legends") { s, c, _ in try c.noArguments(); s.showLegends = true },
    ] + ["http-request", "show-modules", "bind-process"].map {
        Keyword.unsupported("stats \($0)", SectionKind.proxies, "not part of SwiftLB's stats page")
    } + [
        Keyword("description", SectionKind.rules, usage: "description TEXT", status: statsPageStatus) { p, c in
            guard !c.args.isEmpty else { throw ParseFailure("expects a text") }
            let text = c.args.joined(separator: " ")
            p.withFrontend { $0.description = text }
            p.withBackend { $0.description = text }
        },
        Keyword("description", [.global], usage: "description TEXT", status: statsPageStatus) { p, c in
            guard !c.args.isEmpty else { throw ParseFailure("expects a text") }
            p.config.global.description = c.args.joined(separator: " ")
        },
        Keyword("node", [.global], usage: "node NAME", status: statsPageStatus) { p, c in p.config.global.node = try c.one("a name") },
    ]

    /// A `stats …` line of the current proxy (in `defaults`, inherited by the proxies after it).
    private static func statsPage(_ name: String, _ usage: String,
                                  _ apply: @escaping @Sendable (inout StatsPage, KeywordCall, SectionParser) throws -> Void) -> Keyword {
        Keyword("stats \(name)", SectionKind.proxies, usage: usage, status: statsPageStatus) { p, c in
            var page = p.options.stats ?? StatsPage(line: c.line.number)
            try apply(&page, c, p)
            let done = page
            p.withOptions { $0.stats = done }
        }
    }

    /// `global` stats keywords SwiftLB has no use for.
    static let globalStatsUnsupported: [Keyword] = [
        Keyword.unsupported("stats maxconn", [.global], "the control socket holds at most 10 connections, a fixed limit"),
        Keyword.unsupported("stats bind-process", [.global], "SwiftLB is one process"),
    ]

    private static func socketOwnerID(_ name: String, _ text: String) throws(ParseFailure) -> UInt32 {
        guard let n = UInt32(text), n < UInt32.max else { throw ParseFailure("'\(name)' expects a numeric id") }
        return n
    }

    /// Address kinds HAProxy takes for `stats socket` that SwiftLB's control socket does not
    /// open (it listens on a unix path, a TCP address or an inherited descriptor, fd@N).
    static let statsSocketUnsupported = ["abns@", "sockpair@", "udp@", "udp4@", "udp6@", "quic4@", "quic6@"]

    static let statsSocketParameters = ParameterTable<StatsSocket>("stats socket parameter", [
        Parameter("mode", values: 1) { s, v, _ in
            guard let m = UInt16(v[0], radix: 8), m <= 0o777 else { throw ParseFailure("'mode' expects an octal mode such as 600") }
            s.mode = m
        },
        Parameter("level", values: 1) { s, v, _ in
            guard let l = StatsSocket.Level(rawValue: v[0]) else { throw ParseFailure("'level' expects user, operator or admin") }
            s.level = l
        },
        Parameter("user", values: 1) { s, v, _ in
            guard let entry = getpwnam(v[0]) else { throw ParseFailure("'user': no user named '\(v[0])' on this system") }
            s.uid = entry.pointee.pw_uid
        },
        Parameter("uid", values: 1) { s, v, _ in s.uid = try socketOwnerID("uid", v[0]) },
        Parameter("group", values: 1) { s, v, _ in
            guard let entry = getgrnam(v[0]) else { throw ParseFailure("'group': no group named '\(v[0])' on this system") }
            s.gid = entry.pointee.gr_gid
        },
        Parameter("gid", values: 1) { s, v, _ in s.gid = try socketOwnerID("gid", v[0]) },
        Parameter("expose-fd", values: 1) { s, v, _ in
            guard v[0] == "listeners" else { throw ParseFailure("'expose-fd' expects 'listeners'") }
            s.exposeFDListeners = true
        },
    ])
}
