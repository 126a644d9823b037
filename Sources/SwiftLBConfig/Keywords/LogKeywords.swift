/// Where access-log lines go (`log`) and what a proxy logs (`option httplog`, …).
extension KeywordRegistry {
    static let logKeywords: [Keyword] = [
        Keyword("log", [.global], usage: "log stdout|stderr") { p, c in
            guard let target = c.args.first, let t = LogTarget(rawValue: target) else {
                throw ParseFailure("only 'log stdout' and 'log stderr' are supported (syslog targets are not)")
            }
            p.config.global.logTarget = t
        },
        Keyword("log", SectionKind.proxies, usage: "log global") { _, c in
            guard c.args == ["global"] else { throw ParseFailure("only 'log global' is supported in proxies (targets are set in 'global')") }
        },
        Keyword("option httplog", SectionKind.frontSide, usage: "option httplog") { p, c in
            try c.noArguments()
            p.withOptions { $0.httpLog = true }
        },
        Keyword("option dontlognull", SectionKind.frontSide, usage: "option dontlognull") { p, c in
            try c.noArguments()
            p.withOptions { $0.dontLogNull = true }
        },
        Keyword("option tcplog", SectionKind.proxies, status: .pending("mode tcp is not supported"), parse: nil),
        Keyword("option log-health-checks", SectionKind.backSide,
                status: .pending("state changes are always logged; per-check logging is not supported"), parse: nil),
    ]
}
