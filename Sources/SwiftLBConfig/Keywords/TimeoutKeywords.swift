/// `timeout NAME TIME`: one keyword per timeout, in the sections HAProxy allows it.
extension KeywordRegistry {
    static let timeoutKeywords: [Keyword] = [
        timeout("connect", SectionKind.backSide, \.connect),
        timeout("client", SectionKind.frontSide, \.client),
        timeout("server", SectionKind.backSide, \.server),
        timeout("http-request", SectionKind.proxies, \.httpRequest),
        timeout("http-keep-alive", SectionKind.proxies, \.httpKeepAlive),
        timeout("check", SectionKind.backSide, \.check),
        timeout("queue", SectionKind.backSide, \.queue),
        timeout("tunnel", SectionKind.backSide, \.tunnel),
        timeout("client-fin", SectionKind.frontSide, \.clientFin),
        timeout("server-fin", SectionKind.backSide, \.serverFin),
        timeout("tarpit", SectionKind.proxies, \.tarpit),
    ]

    private static func timeout(_ name: String, _ sections: Set<SectionKind>, _ field: WritableKeyPath<Timeouts, ConfigDuration?> & Sendable,
                                status: KeywordStatus = .active) -> Keyword {
        Keyword("timeout \(name)", sections, usage: "timeout \(name) TIME", status: status) { p, c in
            guard c.args.count == 1 else { throw ParseFailure("expects 'timeout NAME VALUE', e.g. 'timeout connect 5s'") }
            guard let value = ConfigDuration(parsing: c.args[0]) else {
                throw ParseFailure("invalid time '\(c.args[0])': a number with an optional unit us, ms, s, m, h, d")
            }
            // `0` is no timeout, as in HAProxy (which then warns, as `finish()` does).
            p.withOptions { $0.timeouts[keyPath: field] = value.nanoseconds == 0 ? nil : value }
        }
    }
}
