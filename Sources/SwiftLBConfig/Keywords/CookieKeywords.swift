/// `cookie NAME insert|rewrite|prefix [OPTION…]`: sticky sessions (SwiftLBProxy/StickyCookie).
extension KeywordRegistry {
    static let cookieKeywords: [Keyword] = [
        Keyword("cookie", SectionKind.backSide, usage: "cookie NAME insert|rewrite|prefix [OPTION…]") { p, c in
            guard let name = c.args.first, isHeaderToken(name) else { throw ParseFailure("expects a cookie name: 'cookie SERVERID insert indirect nocache'") }
            guard c.args.count > 1, let mode = CookieSettings.Mode(rawValue: c.args[1]) else {
                throw ParseFailure("expects a mode after the name: insert, rewrite or prefix")
            }
            var settings = CookieSettings(name: name, mode: mode)
            try cookieOptions.parse(c.args.dropFirst(2), into: &settings, parser: p)
            if settings.postonly && mode != .insert { throw ParseFailure("'postonly' only applies to 'insert'") }
            if (settings.maxidle != nil || settings.maxlife != nil) && mode != .insert { throw ParseFailure("'maxidle' and 'maxlife' only apply to 'insert'") }
            p.withOptions { $0.cookie = settings }
        },
    ]

    static let cookieOptions = ParameterTable<CookieSettings>("cookie option", [
        Parameter("indirect") { s, _, _ in s.indirect = true },
        Parameter("nocache") { s, _, _ in s.nocache = true },
        Parameter("postonly") { s, _, _ in s.postonly = true },
        Parameter("httponly") { s, _, _ in s.httponly = true },
        Parameter("secure") { s, _, _ in s.secure = true },
        Parameter("domain", values: 1) { s, v, _ in s.domains.append(v[0]) },
        Parameter("maxidle", values: 1) { s, v, _ in s.maxidle = try cookieAge("maxidle", v[0]) },
        Parameter("maxlife", values: 1) { s, v, _ in s.maxlife = try cookieAge("maxlife", v[0]) },
        .unsupported("dynamic", "dynamic cookies are not supported; give each server a 'cookie VALUE'"),
        .unsupported("attr", values: 1, "extra cookie attributes are not supported"),
        .unsupported("preserve", "not supported"),
    ])

    /// HAProxy reads these in seconds: `maxlife 600` is ten minutes (a unit may be given).
    private static func cookieAge(_ name: String, _ text: String) throws(ParseFailure) -> ConfigDuration {
        guard let d = ConfigDuration(parsing: text, bareNumberUnit: 1_000_000_000), d.nanoseconds >= 1_000_000_000 else {
            throw ParseFailure("'\(name)' expects a time of at least 1s: seconds (600) or with a unit (30m)")
        }
        return d
    }
}
