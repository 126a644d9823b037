/// Limits on how fast new clients are taken in: `maxconnrate`, `maxsessrate`, `maxsslrate`
/// (global) and `rate-limit sessions` (a frontend). The listeners apply them
/// (SwiftLBProxy/AcceptRate.swift).
extension KeywordRegistry {
    static let rateLimitKeywords: [Keyword] = [
        ("maxconnrate", \GlobalSettings.maxConnRate), ("maxsessrate", \GlobalSettings.maxSessRate), ("maxsslrate", \GlobalSettings.maxSSLRate),
    ].map { name, field in
        Keyword(name, [.global], usage: "\(name) N") { p, c in
            // haproxy: a second line is an alert that does not stop the start; the first stays.
            guard p.config.global[keyPath: field] == nil else { p.alertAlreadySpecified("'\(name)'"); return }
            guard c.args.count == 1, let n = Int(c.args[0]), n >= 0 else { throw ParseFailure("'\(name)' expects an integer argument (per second)") }
            // 0 is no limit, as in haproxy.
            p.config.global[keyPath: field] = n == 0 ? nil : n
        }
    } + [
        Keyword("rate-limit sessions", SectionKind.frontSide, usage: "rate-limit sessions N") { p, c in
            guard let text = c.args.first else { throw ParseFailure("'rate-limit sessions' expects an integer value (in sessions/second)") }
            guard c.args.count == 1, let n = Int(text), n >= 0 else {
                throw ParseFailure("'rate-limit sessions' expects an integer value (in sessions/second), not '\(text)'")
            }
            p.withOptions { $0.rateLimitSessions = n == 0 ? nil : n }
        },
    ]
}
