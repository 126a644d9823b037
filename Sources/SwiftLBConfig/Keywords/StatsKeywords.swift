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
