import SwiftLBRegex

/// The actions of `http-request`, `http-response` and `http-after-response` beyond header
/// edits: deny/allow/return/redirect/auth, rewrites of the target, variables, services.
/// Each is parsed into `HTTPRule.Action`, which the data path's rule engine runs; an action
/// marked pending below is refused with its reason.
extension KeywordRegistry {
    static let httpRequestDenyStatus = KeywordStatus.active
    static let httpReturnStatus = KeywordStatus.active
    static let httpRewriteStatus = KeywordStatus.active
    static let httpReplaceHeaderStatus = KeywordStatus.active

    /// One action: the phases it exists in, its status, and how its words (before the
    /// condition) become an `HTTPRule.Action`.
    private struct Action {
        let name: String
        let phases: [HTTPRulePhase]
        let status: KeywordStatus
        let usage: String
        let parse: @Sendable (SectionParser, [String], KeywordCall) throws -> HTTPRule.Action
    }

    private static let denyUsage =
        "[status|deny_status CODE] [content-type T] [string S|lf-string S|file F|lf-file F|errorfile F|errorfiles NAME|default-errorfiles] [hdr N V]…"

    private static let actions: [Action] = [
        Action(name: "deny", phases: [.request], status: httpRequestDenyStatus, usage: denyUsage) { _, words, _ in
            .deny(try httpReturn(words, defaultStatus: 403, statusWords: ["status", "deny_status"]))
        },
        // HAProxy: a denied response is a bad gateway (502) unless told otherwise.
        Action(name: "deny", phases: [.response], status: httpRequestDenyStatus, usage: denyUsage) { _, words, _ in
            .deny(try httpReturn(words, defaultStatus: 502, statusWords: ["status", "deny_status"]))
        },
        // `tarpit`: the deny answer (500 unless told otherwise), sent once `timeout tarpit`
        // has passed (HAProxy holds the client that long to slow an attacker down).
        Action(name: "tarpit", phases: [.request], status: httpRequestDenyStatus, usage: denyUsage) { _, words, _ in
            .tarpit(try httpReturn(words, defaultStatus: 500, statusWords: ["status", "deny_status"]))
        },
        Action(name: "allow", phases: [.request, .response, .afterResponse], status: httpRequestDenyStatus, usage: "") { _, words, _ in
            guard words.isEmpty else { throw ParseFailure("'allow' takes no argument before the condition") }
            return .allow
        },
        Action(name: "return", phases: [.request, .response], status: httpReturnStatus,
               usage: "[status CODE] [content-type T] [string S|lf-string S|file F|lf-file F|errorfile F|errorfiles NAME] [hdr N V]…") { _, words, _ in
            .returnResponse(try httpReturn(words, defaultStatus: 200, statusWords: ["status"]))
        },
        Action(name: "redirect", phases: [.request, .response], status: httpRequestDenyStatus,
               usage: "location|prefix|scheme FORMAT [code N] [drop-query] [append-slash] [ignore-empty]") { p, words, c in
            .redirect(try redirectRule(words[...], acls: p.acls, line: c.line.number, formats: true, sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy))
        },
        Action(name: "auth", phases: [.request], status: .active, usage: "[realm REALM]") { _, words, _ in
            if words.isEmpty { return .auth(realm: nil) }
            guard words.count == 2, words[0] == "realm" else { throw ParseFailure("expects 'auth [realm REALM]'") }
            return .auth(realm: words[1])
        },
        target("set-path", .path), target("set-uri", .uri), target("set-query", .query), target("set-pathq", .pathq),
        replaceTarget("replace-path", wholeURI: false), replaceTarget("replace-uri", wholeURI: true),
        Action(name: "replace-pathq", phases: [.request], status: httpRewriteStatus, usage: "REGEX REPLACEMENT") { _, words, _ in
            guard words.count == 2 else { throw ParseFailure("'replace-pathq' expects REGEX REPLACEMENT") }
            try validRegex(words[0])
            return .replacePathQuery(regex: words[0], replacement: words[1])
        },
        replaceHeader("replace-header", eachValue: false), replaceHeader("replace-value", eachValue: true),
        Action(name: "set-var", phases: [.request, .response, .afterResponse], status: ACLParser.variableStatus,
               usage: "(SCOPE.NAME) EXPRESSION") { _, words, c in
            guard let word = c.words.first(where: { $0.hasPrefix("set-var(") }), word.hasSuffix(")"), word.count > 9 else {
                throw ParseFailure("expects 'set-var(SCOPE.NAME) EXPRESSION', e.g. set-var(txn.host) req.hdr(host)")
            }
            let name = String(word.dropFirst(8).dropLast())
            guard ["proc.", "sess.", "txn.", "req.", "res.", "check."].contains(where: name.hasPrefix) else {
                throw ParseFailure("variable '\(name)' needs a scope: proc., sess., txn., req. or res.")
            }
            guard !words.isEmpty else { throw ParseFailure("'set-var(\(name))' expects an expression") }
            return .setVariable(name: name, expression: words.joined(separator: " "))
        },
        Action(name: "use-service", phases: [.request], status: .active,
               usage: "prometheus-exporter") { _, words, _ in
            guard words == ["prometheus-exporter"] else {
                throw ParseFailure("only 'use-service prometheus-exporter' exists in SwiftLB (Lua services are not supported)")
            }
            return .useService(words[0])
        },
        Action(name: "set-method", phases: [.request], status: .active, usage: "METHOD") { _, words, _ in
            guard words.count == 1 else { throw ParseFailure("'set-method' expects one method (or a format)") }
            return .setMethod(format: words[0])
        },
        Action(name: "set-src", phases: [.request], status: .active, usage: "EXPRESSION") { _, words, _ in
            guard words.count == 1 else { throw ParseFailure("'set-src' expects one sample expression") }
            return .setAddress(destination: false, expression: words[0])
        },
        Action(name: "set-dst", phases: [.request], status: .active, usage: "EXPRESSION") { _, words, _ in
            guard words.count == 1 else { throw ParseFailure("'set-dst' expects one sample expression") }
            return .setAddress(destination: true, expression: words[0])
        },
        Action(name: "reject", phases: [.request], status: .active, usage: "") { _, words, _ in
            guard words.isEmpty else { throw ParseFailure("'reject' takes no argument before the condition") }
            return .reject
        },
        Action(name: "capture", phases: [.request], status: .active, usage: "SAMPLE len LENGTH | SAMPLE id SLOT") { p, words, c in
            if words.count == 3, words[1] == "id" { return try declaredSlot(p, words[0], words[2]) }
            guard words.count == 3, words[1] == "len", let length = Int(words[2]), (1...65535).contains(length) else {
                throw ParseFailure("expects 'capture SAMPLE len LENGTH' or 'capture SAMPLE id SLOT'")
            }
            switch p.section {
            case .frontend, .listen, .defaults: return try captureSlot(p, words[0], length, c)
            default: throw ParseFailure("'http-request capture … len N' belongs in a frontend or listen section (its slot is the frontend's)")
            }
        },
        Action(name: "wait-for-body", phases: [.request, .response], status: .active, usage: "time TIME [at-least SIZE]") { _, words, _ in
            guard (words.count == 2 || words.count == 4), words[0] == "time", let time = ConfigDuration(parsing: words[1]), time.nanoseconds > 0 else {
                throw ParseFailure("expects 'wait-for-body time TIME [at-least SIZE]'")
            }
            guard words.count == 4 else { return .waitForBody(time: time, atLeast: nil) }
            guard words[2] == "at-least", let size = parseSize(words[3]), size > 0 else { throw ParseFailure("'at-least' expects a size in bytes (k, m, g suffixes)") }
            return .waitForBody(time: time, atLeast: size)
        },
        Action(name: "normalize-uri", phases: [.request], status: .active, usage: "NORMALIZER [full|strict]") { p, words, _ in
            // HAProxy 2.6 marks the action experimental.
            guard p.config.global.exposeExperimentalDirectives else {
                throw ParseFailure("'normalize-uri' action is experimental, must be allowed via a global 'expose-experimental-directives'")
            }
            return .normalizeURI(try uriNormalizer(words))
        },
        Action(name: "strict-mode", phases: [.request, .response, .afterResponse], status: .active, usage: "on|off") { _, words, _ in
            guard words.count == 1, words[0] == "on" || words[0] == "off" else { throw ParseFailure("expects 'strict-mode on' or 'strict-mode off'") }
            return .strictMode(words[0] == "on")
        },
        Action(name: "set-status", phases: [.response, .afterResponse], status: .active,
               usage: "CODE [reason TEXT]") { _, words, _ in
            guard let first = words.first, let code = Int(first), (100...999).contains(code) else { throw ParseFailure("expects a status code") }
            if words.count == 1 { return .setStatus(code, reason: nil) }
            guard words.count == 3, words[1] == "reason" else { throw ParseFailure("expects 'set-status CODE [reason TEXT]'") }
            return .setStatus(code, reason: words[2])
        },
    ]

    /// HAProxy 2.6's other actions, recognised and refused.
    private static let knownActions: [HTTPRulePhase: [String]] = [
        .request: ["add-acl", "cache-use", "del-acl", "del-map", "disable-l7-retry", "do-resolve", "early-hint",
                   "sc-inc-gpc",
                   "send-spoe-group", "set-dst-port", "set-log-level", "set-map", "set-mark", "set-nice",
                   "set-priority-class", "set-priority-offset", "set-src-port", "set-timeout", "set-tos",
                   "silent-drop", "unset-var", "wait-for-handshake", "lua"],
        .response: ["add-acl", "cache-store", "capture", "del-acl", "del-map", "sc-inc-gpc",
                    "send-spoe-group", "set-log-level", "set-map", "set-mark", "set-nice", "set-tos", "silent-drop",
                    "track-sc0", "track-sc1", "track-sc2", "unset-var", "lua"],
        .afterResponse: ["unset-var"],
    ]

    static let httpActionKeywords: [Keyword] = actions.flatMap { action in
        action.phases.map { phase in
            Keyword("\(phase.rawValue) \(action.name)", SectionKind.proxies,
                    usage: "\(phase.rawValue) \(action.name) \(action.usage) [if|unless COND]".replacing("  ", with: " "),
                    status: phase == .afterResponse ? afterResponseStatus : action.status) { p, c in
                let (words, condition) = try p.splitCondition(c.args)
                try p.addHTTPRule(try action.parse(p, words, c), condition: condition, line: c.line.number, phase: phase)
            }
        }
    } + knownActions.flatMap { phase, names in
        names.map { Keyword.unsupported("\(phase.rawValue) \($0)", SectionKind.rules, "SwiftLB does not implement this action") }
    }

    /// A new request capture slot of the frontend for `http-request capture`, after the
    /// ones declared before it (HAProxy numbers them in the order of the configuration).
    private static func captureSlot(_ p: SectionParser, _ sample: String, _ length: Int, _ c: KeywordCall) throws(ParseFailure) -> HTTPRule.Action {
        var slot = 0
        func add(_ captures: inout [HeaderCapture]) {
            slot = captures.filter { !$0.response }.count
            captures.append(HeaderCapture(response: false, name: sample, length: length, line: c.line.number, byRule: true))
        }
        p.withFrontend { add(&$0.captures) }
        if case .defaults = p.section { try p.withDefaultsRules("http-request") { add(&$0.captures) } }
        return .capture(expression: sample, length: length, slot: slot)
    }

    /// `capture SAMPLE id N`: the request capture slot N of the frontend (a `declare capture`
    /// or an earlier capture rule), its length the slot's.
    private static func declaredSlot(_ p: SectionParser, _ sample: String, _ id: String) throws(ParseFailure) -> HTTPRule.Action {
        guard let slot = Int(id), slot >= 0 else { throw ParseFailure("'capture … id' expects a capture slot number, not '\(id)'") }
        var length: Int?
        var inFrontend = false
        p.withFrontend { frontend in
            inFrontend = true
            let slots = frontend.captures.filter { !$0.response }
            if slot < slots.count { length = slots[slot].length }
        }
        guard inFrontend else { throw ParseFailure("'http-request capture … id N' belongs in a frontend or listen section (its slot is the frontend's)") }
        guard let length else {
            throw ParseFailure("no request capture slot \(slot) is declared before this line ('declare capture request len N' declares one)")
        }
        return .capture(expression: sample, length: length, slot: slot)
    }

    /// `normalize-uri NAME [full|strict]`.
    private static func uriNormalizer(_ words: [String]) throws(ParseFailure) -> HTTPRule.URINormalizer {
        let names = ["fragment-encode", "fragment-strip", "path-merge-slashes", "path-strip-dot", "path-strip-dotdot",
                     "percent-decode-unreserved", "percent-to-uppercase", "query-sort-by-name"]
        guard let name = words.first else { throw ParseFailure("expects a normalizer: \(names.joined(separator: ", "))") }
        let option = words.count > 1 ? words[1] : nil
        guard words.count <= 2 else { throw ParseFailure("'normalize-uri \(name)' takes at most one option") }
        func only(_ allowed: String?) throws(ParseFailure) -> Bool {
            guard let option else { return false }
            guard option == allowed else {
                throw ParseFailure(allowed.map { "'normalize-uri \(name)' takes '\($0)' or nothing, not '\(option)'" }
                                   ?? "'normalize-uri \(name)' takes no option ('\(option)')")
            }
            return true
        }
        switch name {
        case "path-strip-dot": _ = try only(nil); return .pathStripDot
        case "path-strip-dotdot": return .pathStripDotDot(full: try only("full"))
        case "path-merge-slashes": _ = try only(nil); return .pathMergeSlashes
        case "percent-decode-unreserved": return .percentDecodeUnreserved(strict: try only("strict"))
        case "percent-to-uppercase": return .percentToUppercase(strict: try only("strict"))
        case "query-sort-by-name": _ = try only(nil); return .querySortByName
        case "fragment-strip": _ = try only(nil); return .fragmentStrip
        case "fragment-encode": _ = try only(nil); return .fragmentEncode
        default: throw ParseFailure("unknown normalizer '\(name)'\(didYouMean(name, in: names))")
        }
    }

    private static func target(_ name: String, _ part: HTTPRule.TargetPart) -> Action {
        Action(name: name, phases: [.request], status: httpRewriteStatus, usage: "FORMAT") { _, words, _ in
            guard words.count == 1 else { throw ParseFailure("'\(name)' expects one format (quote it if it has blanks)") }
            return .setTarget(part: part, format: words[0])
        }
    }

    private static func replaceTarget(_ name: String, wholeURI: Bool) -> Action {
        Action(name: name, phases: [.request], status: httpRewriteStatus, usage: "REGEX REPLACEMENT") { _, words, _ in
            guard words.count == 2 else { throw ParseFailure("'\(name)' expects REGEX REPLACEMENT") }
            try validRegex(words[0])
            return .replaceTarget(regex: words[0], replacement: words[1], wholeURI: wholeURI)
        }
    }

    private static func replaceHeader(_ name: String, eachValue: Bool) -> Action {
        Action(name: name, phases: [.request, .response, .afterResponse], status: httpReplaceHeaderStatus,
               usage: "NAME REGEX REPLACEMENT") { _, words, _ in
            guard words.count == 3 else { throw ParseFailure("'\(name)' expects NAME REGEX REPLACEMENT") }
            guard isHeaderToken(words[0]) else { throw ParseFailure("invalid header name '\(words[0])'") }
            try validRegex(words[1])
            return .replaceHeader(name: words[0], regex: words[1], replacement: words[2], eachValue: eachValue)
        }
    }

    private static func validRegex(_ pattern: String) throws(ParseFailure) {
        do { _ = try PCRE2Regex(pattern) } catch { throw ParseFailure("invalid regular expression '\(pattern)': \(error)") }
    }

    /// `[status|deny_status CODE] [content-type T] [string S|…] [hdr NAME VALUE]…`
    static func httpReturn(_ words: [String], defaultStatus: Int, statusWords: [String]) throws(ParseFailure) -> HTTPReturn {
        var result = HTTPReturn(status: defaultStatus)
        var rest = words[...]
        func value(_ word: String) throws(ParseFailure) -> String {
            guard let v = rest.first else { throw ParseFailure("'\(word)' expects a value") }
            rest = rest.dropFirst()
            return v
        }
        while let word = rest.first {
            rest = rest.dropFirst()
            switch word {
            case _ where statusWords.contains(word):
                let text = try value(word)
                guard let code = Int(text), (200...599).contains(code) else { throw ParseFailure("'\(word)' expects a status from 200 to 599") }
                result.status = code
            case "content-type": result.contentType = try value(word)
            case "string": result.body = .string(try value(word))
            case "lf-string": result.body = .logFormat(try value(word))
            case "file": result.body = .file(try value(word))
            case "lf-file": result.body = .logFormatFile(try value(word))
            case "errorfile": result.body = .errorfile(try value(word))
            case "errorfiles": result.body = .errorfiles(try value(word))
            case "default-errorfiles": result.body = .defaultErrorFiles
            case "hdr":
                let name = try value(word)
                guard isHeaderToken(name) else { throw ParseFailure("invalid header name '\(name)'") }
                result.headers.append(HTTPHeaderField(name: name, value: try value(word)))
            default:
                let known = statusWords + ["content-type", "string", "lf-string", "file", "lf-file", "errorfile", "errorfiles", "hdr"]
                throw ParseFailure("unknown argument '\(word)'\(didYouMean(word, in: known))")
            }
        }
        switch result.body {
        case .string, .logFormat, .file, .logFormatFile:
            if result.contentType == nil { throw ParseFailure("a body needs 'content-type TYPE'") }
        default: break
        }
        return result
    }
}
