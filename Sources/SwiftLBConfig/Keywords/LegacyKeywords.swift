/// Keywords HAProxy 1.x had and 2.x removed. Where a modern rule means exactly the same, the
/// line is accepted with a warning that prints that rule, and the model holds the rule (so an
/// old haproxy.cfg runs as it is); where none does, the line is refused with the modern line
/// to write. HAProxy 2.6 refuses them all (`The 'reqadd' directive is not supported anymore
/// since HAProxy 2.1…`).
extension KeywordRegistry {
    static let legacyKeywords: [Keyword] = [
        legacyHeaderAdd("reqadd", response: false),
        legacyHeaderAdd("rspadd", response: true),
        legacyHeaderDelete("reqdel", response: false),
        legacyHeaderDelete("reqidel", response: false),
        legacyHeaderDelete("rspdel", response: true),
        legacyHeaderDelete("rspidel", response: true),
        legacyTimeout("clitimeout", "client", SectionKind.frontSide),
        legacyTimeout("contimeout", "connect", SectionKind.backSide),
        legacyTimeout("srvtimeout", "server", SectionKind.backSide),
        legacyRedispatch("redispatch"),
        legacyRedispatch("redisp"),
        Keyword("block", SectionKind.rules, usage: "block if|unless COND") { p, c in
            let condition = try ACLParser.condition(c.args[...], acls: p.acls, sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy)
            p.warn(removed("block", "2.1", modern: ["http-request", "deny"] + c.args))
            try p.addHTTPRule(.deny(HTTPReturn(status: 403)), condition: condition, line: c.line.number, phase: .request)
            try p.gate(httpRequestDenyStatus, "'http-request deny' (what 'block' means)")
        },
        Keyword("option forceclose", SectionKind.proxies, usage: "option forceclose") { p, c in
            try c.noArguments()
            p.warn(removed("option forceclose", "2.0", modern: ["option", "httpclose"]))
            p.withOptions { $0.httpConnectionMode = .close }
            try p.gate(httpCloseStatus, "'option httpclose' (what 'option forceclose' means)")
        },
        Keyword("option http-tunnel", SectionKind.proxies, usage: "option http-tunnel") { p, c in
            try c.noArguments()
            p.warn("'option http-tunnel' was removed in HAProxy 2.1: SwiftLB, like HAProxy 2.x, processes every request of a connection; remove the line")
        },
        Keyword("nbproc", [.global], usage: "nbproc 1") { p, c in
            let n = try c.positiveInt()
            guard n == 1 else { throw ParseFailure("nbproc was removed in HAProxy 2.5: SwiftLB is one process with threads; write 'nbthread \(n)'") }
            p.warn("nbproc was removed in HAProxy 2.5: SwiftLB is one process with threads; remove the line")
        },
        Keyword("monitor-net", SectionKind.frontSide, usage: "monitor-net NET") { _, c in
            let net = try c.one("a network")
            throw ParseFailure("'monitor-net' was removed in HAProxy 2.4; write: http-request return status 200 if { src \(net) }")
        },
        Keyword("appsession", SectionKind.backSide, usage: "appsession") { _, _ in
            throw ParseFailure("'appsession' was removed in HAProxy 1.6; write 'cookie NAME insert indirect nocache' (stateless stickiness both VIP instances share)")
        },
    ] + [("reqrep", false), ("reqirep", false), ("cliexp", false), ("rsprep", true), ("rspirep", true), ("srvexp", true)].map { legacyReplace($0.0, response: $0.1) }
      + ["reqdeny", "reqideny", "reqallow", "reqiallow", "reqtarpit", "reqitarpit", "reqpass", "reqipass", "rspdeny", "rspideny",
         "reqsetbe", "reqisetbe"].map(legacyRegexMatch)

    /// "'reqadd' was removed in HAProxy 2.1; SwiftLB reads this line as: http-request …".
    static func removed(_ keyword: String, _ version: String, modern: [String]) -> String {
        "'\(keyword)' was removed in HAProxy \(version); SwiftLB reads this line as: \(configLine(modern))"
    }

    /// Words as they would be written in lb.conf (quoted when they hold blanks or quotes).
    static func configLine(_ words: [String]) -> String {
        words.map { word in
            word.isEmpty || word.contains(where: { " \t\"'#\\".contains($0) })
                ? "\"" + word.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"") + "\"" : word
        }.joined(separator: " ")
    }

    /// The condition part of a legacy line (after the regex/header words).
    private static func legacyCondition(_ words: ArraySlice<String>, _ p: SectionParser) throws -> (words: [String], condition: Condition?) {
        guard let first = words.first else { return ([], nil) }
        guard first == "if" || first == "unless" else { throw ParseFailure("unexpected '\(first)': a condition starts with 'if' or 'unless'") }
        return (Array(words), try ACLParser.condition(words, acls: p.acls, sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy))
    }

    /// `reqadd Name:\ value [if|unless COND]` → `http-request add-header Name value …`.
    private static func legacyHeaderAdd(_ keyword: String, response: Bool) -> Keyword {
        let family = response ? "http-response" : "http-request"
        return Keyword(keyword, SectionKind.rules, usage: "\(keyword) NAME:\\ VALUE [if|unless COND]") { p, c in
            guard let header = c.args.first, let colon = header.firstIndex(of: ":") else {
                throw ParseFailure("expects 'NAME:\\ VALUE' (the header line to add)")
            }
            let name = String(header[..<colon])
            let value = String(header[header.index(after: colon)...].drop { $0 == " " || $0 == "\t" })
            guard isHeaderToken(name) else { throw ParseFailure("invalid header name '\(name)'") }
            guard !value.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) else {
                throw ParseFailure("control characters are not allowed in a header value")
            }
            let (conditionWords, condition) = try legacyCondition(c.args.dropFirst(), p)
            p.warn(removed(keyword, "2.1", modern: [family, "add-header", name, value] + conditionWords))
            // The old value was literal text: no %[…] in it.
            let rule = HeaderRule(action: .add(name: name, value: ValueFormat(parts: value.isEmpty ? [] : [.literal(value)])), condition: condition, line: c.line.number)
            try p.addHeaderRule(rule, response: response)
        }
    }

    /// `reqidel ^Name:.*` → `http-request del-header Name`, when the regex names one header.
    private static func legacyHeaderDelete(_ keyword: String, response: Bool) -> Keyword {
        let family = response ? "http-response" : "http-request"
        return Keyword(keyword, SectionKind.rules, usage: "\(keyword) ^NAME: [if|unless COND]") { p, c in
            guard let regex = c.args.first else { throw ParseFailure("expects a regular expression such as '^X-Forwarded-For:'") }
            let (conditionWords, condition) = try legacyCondition(c.args.dropFirst(), p)
            guard let name = headerNamed(byLineRegex: regex) else {
                throw ParseFailure("'\(keyword)' was removed in HAProxy 2.1 and '\(regex)' does not name one header ('^Name:'), so it has no exact modern form; write: \(family) del-header NAME [-m reg PATTERN]")
            }
            p.warn(removed(keyword, "2.1", modern: [family, "del-header", name] + conditionWords))
            try p.addHeaderRule(HeaderRule(action: .delete(name: name), condition: condition, line: c.line.number), response: response)
        }
    }

    /// `reqrep`/`rsprep`: a regex over the whole header line; refused with the modern rule.
    private static func legacyReplace(_ keyword: String, response: Bool) -> Keyword {
        let family = response ? "http-response" : "http-request"
        return Keyword(keyword, SectionKind.rules, usage: "\(keyword) REGEX REPLACEMENT") { _, c in
            guard c.args.count >= 2 else { throw ParseFailure("expects REGEX REPLACEMENT") }
            let regex = c.args[0]
            let modern: String
            if let name = headerNamed(byLineRegex: regex, allowingValuePattern: true) {
                let valuePattern = String(regex.drop { $0 != ":" }.dropFirst().drop { $0 == " " || $0 == "\t" })
                modern = configLine([family, "replace-header", name, valuePattern.isEmpty ? "(.*)" : valuePattern, c.args[1]])
            } else if response {
                modern = "http-response replace-header NAME REGEX REPLACEMENT"
            } else {
                modern = "http-request replace-path REGEX REPLACEMENT (the request line), or http-request replace-header NAME REGEX REPLACEMENT"
            }
            throw ParseFailure("'\(keyword)' was removed in HAProxy 2.1 and has no exact modern form (it rewrote whole header lines); write: \(modern)")
        }
    }

    /// `reqdeny`, `reqallow`, `reqtarpit`, … : a regex over header lines deciding the request.
    private static func legacyRegexMatch(_ keyword: String) -> Keyword {
        let response = keyword.hasPrefix("rsp")
        let action: String = switch keyword {
        case "reqallow", "reqiallow": "allow"
        case "reqtarpit", "reqitarpit": "tarpit"
        case "reqsetbe", "reqisetbe": "use_backend"
        case "reqpass", "reqipass": ""
        default: "deny"
        }
        return Keyword(keyword, SectionKind.rules, usage: "\(keyword) REGEX") { _, c in
            let regex = c.args.first ?? "REGEX"
            let flag = keyword.dropFirst(3).hasPrefix("i") ? " -i" : ""
            let modern: String
            if action.isEmpty {
                modern = "nothing: remove the line (it never changed the request)"
            } else if action == "use_backend" {
                modern = "use_backend \(c.args.dropFirst().first ?? "BACKEND") if { req.hdr(NAME)\(flag) -m reg \(regex) }"
            } else {
                modern = "\(response ? "http-response" : "http-request") \(action) if { \(response ? "res" : "req").hdr(NAME)\(flag) -m reg \(regex) }"
            }
            throw ParseFailure("'\(keyword)' was removed in HAProxy 2.1 and matched whole header lines, which has no exact modern form; write: \(modern)")
        }
    }

    private static func legacyTimeout(_ keyword: String, _ name: String, _ sections: Set<SectionKind>) -> Keyword {
        Keyword(keyword, sections, usage: "\(keyword) TIME") { p, c in
            let value = try c.time()
            p.warn(removed(keyword, "2.1", modern: ["timeout", name] + c.args))
            p.withOptions { options in
                let kept: ConfigDuration? = value.nanoseconds == 0 ? nil : value
                switch name {
                case "client": options.timeouts.client = kept
                case "connect": options.timeouts.connect = kept
                default: options.timeouts.server = kept
                }
            }
        }
    }

    private static func legacyRedispatch(_ keyword: String) -> Keyword {
        Keyword(keyword, SectionKind.backSide, usage: keyword) { p, c in
            try c.noArguments()
            p.warn(removed(keyword, "2.1", modern: ["option", "redispatch"]))
            p.withOptions { $0.redispatch = true }
        }
    }

    /// `^X-Forwarded-For:`, `^X-Forwarded-For:.*`, `^Proxy:\ .*` → the header name; nil for
    /// anything else (a regex that matches more than one header's lines).
    static func headerNamed(byLineRegex regex: String, allowingValuePattern: Bool = false) -> String? {
        guard regex.hasPrefix("^"), let colon = regex.firstIndex(of: ":") else { return nil }
        let name = String(regex[regex.index(after: regex.startIndex)..<colon])
        guard isHeaderToken(name), !name.contains(where: { ".*+?[](){}|\\^$".contains($0) }) else { return nil }
        let rest = regex[regex.index(after: colon)...]
        if allowingValuePattern { return name }
        return ["", ".*", " .*", "\t.*", "[ \t]*.*"].contains(String(rest)) ? name : nil
    }
}
