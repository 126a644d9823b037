/// `stats socket` (the control socket, in `global`) and the stats page keywords of proxies.
extension KeywordRegistry {
    static let statsKeywords: [Keyword] = [
        Keyword("stats socket", [.global], usage: "stats socket PATH [mode OCTAL] [level user|operator|admin]") { p, c in
            guard let path = c.args.first else { throw ParseFailure("expects a path: 'stats socket PATH [mode OCTAL] [level user|operator|admin]'") }
            var socket = StatsSocket(path: path)
            try statsSocketParameters.parse(c.args.dropFirst(), into: &socket, parser: p)
            p.config.global.statsSocket = socket
        },
    ]

    static let statsSocketParameters = ParameterTable<StatsSocket>("stats socket parameter", [
        Parameter("mode", values: 1) { s, v, _ in
            guard let m = UInt16(v[0], radix: 8), m <= 0o777 else { throw ParseFailure("'mode' expects an octal mode such as 600") }
            s.mode = m
        },
        Parameter("level", values: 1) { s, v, _ in
            guard let l = StatsSocket.Level(rawValue: v[0]) else { throw ParseFailure("'level' expects user, operator or admin") }
            s.level = l
        },
    ])
}
