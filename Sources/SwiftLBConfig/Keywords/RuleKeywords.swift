import SwiftLBRegex

/// Request and response rules: `acl`, `redirect`, and the header actions of `http-request`,
/// `http-response` and `http-after-response` (the other actions are in HTTPActionKeywords).
/// Conditions are parsed by ACLParser.
extension KeywordRegistry {
    static let headerActions = ["set-header", "add-header", "del-header"]

    /// Rules that run on responses SwiftLB makes itself (errors, redirects) wait for the
    /// after-response phase of the data path.
    static let afterResponseStatus = KeywordStatus.active
    /// `del-header NAME -m METHOD`
    static let deleteHeaderMatchingStatus = KeywordStatus.active

    static let ruleKeywords: [Keyword] = [
        Keyword("acl", SectionKind.rules, usage: "acl NAME FETCH [FLAGS] PATTERN…") { p, c in
            guard c.args.count >= 2 else { throw ParseFailure("expects 'acl NAME FETCH [flags] PATTERN…'") }
            let name = c.args[0]
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || "_-.:".contains($0) }) else {
                throw ParseFailure("invalid ACL name '\(name)': letters, digits, '_', '-', '.', ':' only")
            }
            let criterion = try ACLParser.criterion(c.args.dropFirst()[...], sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy)
            try p.gateFetch(criterion)
            p.acls[name, default: ACL(name: name, criteria: [])].criteria.append(criterion)
        },
        Keyword("redirect", [.frontend, .listen, .backend], haproxy: SectionKind.rules, usage: "redirect scheme|location|prefix TARGET [code N] [drop-query] [append-slash] [if|unless COND]") { p, c in
            let rule = try redirectRule(c.args[...], acls: p.acls, line: c.line.number, sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy)
            try p.gateFetches(rule.condition)
            if case .backend = p.section { p.withBackend { $0.redirects.append(rule) } } else { p.withFrontend { $0.redirects.append(rule) } }
        },
    ] + headerActions.flatMap { action in
        HTTPRulePhase.allCases.map { headerRule($0, action) }
    }

    private static func headerRule(_ phase: HTTPRulePhase, _ action: String) -> Keyword {
        Keyword("\(phase.rawValue) \(action)", SectionKind.proxies,
                usage: "\(phase.rawValue) \(action) NAME\(action == "del-header" ? " [-m str|beg|end|sub|reg]" : " VALUE") [if|unless COND]",
                status: phase == .afterResponse ? afterResponseStatus : .active) { p, c in
            var (words, condition) = try p.splitCondition(c.args)
            // Responses are not re-validated on the data path, so what lb.conf puts into a
            // header must be valid here: a token for the name, no control bytes in the value.
            if let name = words.first, !isHeaderToken(name) {
                throw ParseFailure("invalid header name '\(name)': letters, digits and !#$%&'*+-.^_`|~ only")
            }
            if words.count == 2, words.last!.unicodeScalars.contains(where: { ($0.value < 0x20 && $0 != "\t") || $0.value == 0x7F }) {
                throw ParseFailure("control characters are not allowed in a header value")
            }
            let rule: HeaderRule.Action
            switch action {
            case "del-header":
                if words.count == 3, words[1] == "-m" {
                    guard let method = ACLCriterion.MatchMethod(rawValue: words[2]), method != .found, method != .domain else {
                        throw ParseFailure("'-m' expects str, beg, end, sub or reg")
                    }
                    if method == .regex {
                        do { _ = try PCRE2Regex(words[0]) } catch { throw ParseFailure("invalid regular expression '\(words[0])': \(error)") }
                    }
                    try p.gate(deleteHeaderMatchingStatus, "'del-header … -m \(words[2])'")
                    try p.addHTTPRule(.deleteHeaders(name: words[0], method: method), condition: condition, line: c.line.number, phase: phase)
                    return
                }
                guard words.count == 1 else { throw ParseFailure("'del-header' expects one header name (and optionally -m METHOD)") }
                rule = .delete(name: words.removeFirst())
            default:
                guard words.count == 2 else { throw ParseFailure("'\(action)' expects NAME VALUE (quote a value with spaces)") }
                let value = try ValueFormatParser.parse(words.last!)
                rule = action == "set-header" ? .set(name: words.first!, value: value) : .add(name: words.first!, value: value)
            }
            let headerRule = HeaderRule(action: rule, condition: condition, line: c.line.number)
            if phase == .afterResponse {
                try p.addHTTPRule(.header(rule), condition: condition, line: c.line.number, phase: phase)
            } else {
                try p.addHeaderRule(headerRule, response: phase == .response)
            }
        }
    }

    /// `redirect location|prefix|scheme TARGET [code N] [drop-query] [append-slash]
    /// [ignore-empty]`, its words in any order as HAProxy reads them. The `redirect` keyword
    /// of a frontend (`formats` false) takes only `location`/`scheme` and `code`; `http-request
    /// redirect` takes them all, its target a log-format.
    static func redirectRule(_ args: ArraySlice<String>, acls: [String: ACL], line: Int, formats: Bool = false,
                             sampleCompiler: ACLSampleCompiler? = nil, ruleProxy: String?) throws(ParseFailure) -> RedirectRule {
        var words = args
        var target: RedirectRule.Target?
        // HAProxy's default for every kind of redirect.
        var code = 302
        var condition: Condition?
        var options: Set<String> = []
        while let word = words.first {
            if word == "if" || word == "unless" {
                condition = try ACLParser.condition(words, acls: acls, sampleCompiler: sampleCompiler, ruleProxy: ruleProxy)
                break
            }
            words = words.dropFirst()
            switch word {
            case "location", "scheme", "prefix":
                guard let value = words.first else { throw ParseFailure("'\(word)' expects a value") }
                words = words.dropFirst()
                target = word == "location" ? .location(value) : word == "scheme" ? .scheme(value) : .prefix(value)
            case "code":
                guard let v = words.first, let c = Int(v), [301, 302, 303, 307, 308].contains(c) else {
                    throw ParseFailure("'code' must be 301, 302, 303, 307 or 308")
                }
                code = c
                words = words.dropFirst()
            case "drop-query", "append-slash", "ignore-empty":
                options.insert(word)
            case "set-cookie", "clear-cookie":
                throw ParseFailure("redirect option '\(word)' is not supported")
            default:
                throw ParseFailure("unexpected '\(word)' in redirect (expects location, prefix, scheme, code, drop-query, append-slash or ignore-empty)")
            }
        }
        guard let target else { throw ParseFailure("expects 'redirect location URL …', 'redirect prefix PREFIX …' or 'redirect scheme https …'") }
        if !formats, case .scheme(let s) = target, !["http", "https"].contains(s) { throw ParseFailure("scheme must be http or https") }
        if case .location(let url) = target, url.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) {
            throw ParseFailure("the location may not contain blanks or control characters")
        }
        var rule = RedirectRule(target: target, code: code, condition: condition, line: line)
        rule.dropQuery = options.contains("drop-query")
        rule.appendSlash = options.contains("append-slash")
        rule.ignoreEmpty = options.contains("ignore-empty")
        return rule
    }
}

extension SectionParser {
    /// The words before the first `if`/`unless`, and the condition after it.
    func splitCondition(_ args: [String]) throws -> ([String], Condition?) {
        guard let at = args.firstIndex(where: { $0 == "if" || $0 == "unless" }) else { return (args, nil) }
        let condition = try ACLParser.condition(args[at...], acls: acls, sampleCompiler: facts.sampleCompiler, ruleProxy: ruleProxy)
        try gateFetches(condition)
        return (Array(args[..<at]), condition)
    }

    /// A header rule of the current section: in the list the data path reads and, in order,
    /// among every HTTP rule of the section.
    func addHeaderRule(_ rule: HeaderRule, response: Bool) throws {
        try gateFetches(rule.condition)
        switch (section, response) {
        case (.frontend, false), (.listen, false): withFrontend { $0.requestRules.append(rule) }
        case (.frontend, true), (.listen, true): withFrontend { $0.responseRules.append(rule) }
        case (.backend, false): withBackend { $0.requestRules.append(rule) }
        case (.backend, true): withBackend { $0.responseRules.append(rule) }
        case (.defaults, false): try withDefaultsRules(currentLine.words[0]) { $0.requestRules.append(rule) }
        case (.defaults, true): try withDefaultsRules(currentLine.words[0]) { $0.responseRules.append(rule) }
        default: break
        }
        try addHTTPRule(.header(rule.action), condition: rule.condition, line: rule.line, phase: response ? .response : .request)
    }

    /// Any HTTP rule of the current section, in order.
    func addHTTPRule(_ action: HTTPRule.Action, condition: Condition?, line: Int, phase: HTTPRulePhase) throws {
        let rule = HTTPRule(action: action, condition: condition, line: line)
        for expression in action.sampleExpressions { try noteProxyStates(in: expression) }
        if case .header(.set(_, let value)) = action { try noteProxyStates(inFormat: value) }
        if case .header(.add(_, let value)) = action { try noteProxyStates(inFormat: value) }
        func append(_ rules: inout [HTTPRule], _ after: inout [HTTPRule], _ response: inout [HTTPRule]) {
            switch phase {
            case .request: rules.append(rule)
            case .response: response.append(rule)
            case .afterResponse: after.append(rule)
            }
        }
        switch section {
        case .frontend, .listen: withFrontend { append(&$0.httpRequestRules, &$0.httpAfterResponseRules, &$0.httpResponseRules) }
        case .backend: withBackend { append(&$0.httpRequestRules, &$0.httpAfterResponseRules, &$0.httpResponseRules) }
        case .defaults: try withDefaultsRules(currentLine.words[0]) { append(&$0.httpRequestRules, &$0.httpAfterResponseRules, &$0.httpResponseRules) }
        default: break
        }
    }

    /// Refuses the fetches of an ACL line that the data path does not evaluate yet.
    func gateFetch(_ criterion: ACLCriterion) throws(ParseFailure) {
        if case .variable = criterion.fetch { try gate(ACLParser.variableStatus, "the 'var()' fetch") }
        // A userlist may be declared after its first use: checked at the end of the file
        // (each list once, at its first use).
        if case .httpAuth(let list) = criterion.fetch, !userlistReferences.contains(where: { $0.name == list }) {
            userlistReferences.append((list, currentLine.number, currentLine.words.first ?? "acl", file))
        }
        // The proxy or server it names may be declared later in the file: checked at the end.
        if case .proxyState(let fetch) = criterion.fetch { noteProxyState(fetch, expression: nil) }
        // One with converters (`be_conn(app),add(1) gt 3`): HAProxy names it as an ACL's too.
        if case .expression(let text) = criterion.fetch, let fetch = try ProxyStateFetch(leadingFetchOf: text, owner: ruleProxy) {
            noteProxyState(fetch, expression: nil)
        }
        if let reason = ACLParser.pendingFetches[criterion.fetch] {
            try gate(.pending(reason), "the '\(fetchName(criterion.fetch))' fetch")
        }
    }

    /// A sample expression that starts with a state fetch (`set-var(txn.n) nbsrv(app)`,
    /// `%[be_conn,add(1)]`): the runtime then keeps the proxies' states, and the proxy or
    /// server it names is checked once the file is read, as an ACL's.
    func noteProxyStates(inExpression text: String, context: String? = nil) throws(ParseFailure) {
        guard let fetch = try ProxyStateFetch(leadingFetchOf: text, owner: ruleProxy) else { return }
        noteProxyState(fetch, expression: context ?? "\(currentLine.words.first ?? "http-request") expression")
    }

    /// A rule's sample expression (RuleSampleExpressions.swift).
    func noteProxyStates(in expression: RuleSampleExpression) throws(ParseFailure) {
        guard let fetch = try ProxyStateFetch(leadingFetchOf: expression.text, owner: ruleProxy) else { return }
        switch expression.context {
        case .keywordExpression: noteProxyState(fetch, expression: "\(currentLine.words.first ?? "http-request") expression")
        case .acl: noteProxyState(fetch, expression: nil)
        case .named(let words): noteProxyState(fetch, expression: words)
        }
    }

    /// A set-header/add-header value's `%[…]`.
    private func noteProxyStates(inFormat value: ValueFormat) throws(ParseFailure) {
        for case .expression(let text) in value.parts { try noteProxyStates(inExpression: text) }
    }

    /// The runtime keeps the proxies' states, and the name is checked once the file is read.
    /// `expression`: where HAProxy's message says the fetch is; nil: an ACL's.
    private func noteProxyState(_ fetch: ProxyStateFetch, expression: String?) {
        config.readsProxyStates = true
        if fetch.kind.isRate { config.readsProxyRates = true }
        proxyStateReferences.append((fetch, currentLine.number, currentLine.words.first ?? "acl", file, section, expression))
    }

    /// Any other `%[…]` of a proxy's line (a `return` header, `redirect location`, `use_backend
    /// %[…]`…) that starts with a state fetch: noted as well, once (set-header and log-format
    /// noted theirs while parsing).
    func noteProxyStatesInFormats(_ words: [String]) throws(ParseFailure) {
        guard words.contains(where: { $0.contains("%[") }) else { return }
        for expression in Self.formatWords(words).flatMap(sampleExpressions(inLogFormat:)) {
            guard let fetch = try ProxyStateFetch(leadingFetchOf: expression, owner: ruleProxy),
                  !proxyStateReferences.contains(where: { $0.fetch == fetch && $0.line == currentLine.number && $0.file == file }) else { continue }
            try noteProxyStates(inExpression: expression)
        }
    }

    /// The words of a line that may be log-formats: not an `acl` line's patterns nor a
    /// condition's (from `if`/`unless` on), nor a `return`'s plain body (after `string`, `file`,
    /// `errorfile`, `errorfiles`) — HAProxy takes those as written, `%[…]` and all.
    static func formatWords(_ words: [String]) -> [String] {
        if words.first == "acl" { return [] }
        var kept: [String] = []
        var plainNext = false
        for word in words {
            if word == "if" || word == "unless" { break }
            if plainNext {
                plainNext = false
                continue
            }
            plainNext = ["string", "file", "errorfile", "errorfiles"].contains(word)
            if !plainNext { kept.append(word) }
        }
        return kept
    }

    func gateFetches(_ condition: Condition?) throws(ParseFailure) {
        for term in (condition?.alternatives ?? []).flatMap({ $0 }) {
            for criterion in term.acl.criteria { try gateFetch(criterion) }
        }
    }

    private func fetchName(_ fetch: SampleFetch) -> String {
        switch fetch {
        case .src: "src"
        case .sslFCSNI: "ssl_fc_sni"
        case .srcConnCur: "src_conn_cur"
        default: "\(fetch)"
        }
    }
}
