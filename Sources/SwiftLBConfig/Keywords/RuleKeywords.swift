/// Request and response rules: `acl`, `http-request`/`http-response` header actions and
/// `redirect` (conditions are parsed by ACLParser).
extension KeywordRegistry {
    static let headerActions = ["set-header", "add-header", "del-header"]

    static let ruleKeywords: [Keyword] = [
        Keyword("acl", SectionKind.rules, usage: "acl NAME FETCH [FLAGS] PATTERN…") { p, c in
            guard c.args.count >= 2 else { throw ParseFailure("expects 'acl NAME FETCH [flags] PATTERN…'") }
            let name = c.args[0]
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || "_-.:".contains($0) }) else {
                throw ParseFailure("invalid ACL name '\(name)': letters, digits, '_', '-', '.', ':' only")
            }
            let criterion = try ACLParser.criterion(c.args.dropFirst()[...])
            p.acls[name, default: ACL(name: name, criteria: [])].criteria.append(criterion)
        },
        Keyword("redirect", [.frontend, .listen], haproxy: SectionKind.rules, usage: "redirect scheme|location TARGET [code N] [if|unless COND]") { p, c in
            let rule = try redirectRule(c.args[...], acls: p.acls, line: c.line.number)
            p.withFrontend { $0.redirects.append(rule) }
        },
    ] + headerActions.flatMap { action in
        [headerRule("http-request", action, response: false), headerRule("http-response", action, response: true)]
    }

    private static func headerRule(_ family: String, _ action: String, response: Bool) -> Keyword {
        Keyword("\(family) \(action)", SectionKind.rules, usage: "\(family) \(action) NAME\(action == "del-header" ? "" : " VALUE") [if|unless COND]") { p, c in
            var words = c.args[...]
            // The condition starts at the first `if`/`unless`.
            var condition: Condition?
            if let at = words.firstIndex(where: { $0 == "if" || $0 == "unless" }) {
                condition = try ACLParser.condition(words[at...], acls: p.acls)
                words = words[..<at]
            }
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
                guard words.count == 1 else { throw ParseFailure("'del-header' expects one header name") }
                rule = .delete(name: words.first!)
            default:
                guard words.count == 2 else { throw ParseFailure("'\(action)' expects NAME VALUE (quote a value with spaces)") }
                let value = try ValueFormatParser.parse(words.last!)
                rule = action == "set-header" ? .set(name: words.first!, value: value) : .add(name: words.first!, value: value)
            }
            let headerRule = HeaderRule(action: rule, condition: condition, line: c.line.number)
            switch (p.section, response) {
            case (.frontend, false), (.listen, false): p.withFrontend { $0.requestRules.append(headerRule) }
            case (.frontend, true), (.listen, true): p.withFrontend { $0.responseRules.append(headerRule) }
            case (.backend, false): p.withBackend { $0.requestRules.append(headerRule) }
            case (.backend, true): p.withBackend { $0.responseRules.append(headerRule) }
            default: break
            }
        }
    }

    /// `scheme https|location URL [code N] [if|unless COND]`.
    static func redirectRule(_ args: ArraySlice<String>, acls: [String: ACL], line: Int) throws(ParseFailure) -> RedirectRule {
        var words = args
        guard words.count >= 2, let kind = words.first, kind == "scheme" || kind == "location" else {
            throw ParseFailure("expects 'redirect scheme https …' or 'redirect location URL …' (prefix is not supported)")
        }
        let target = words.dropFirst().first!
        words = words.dropFirst(2)
        // HAProxy's default for every kind of redirect.
        var code = 302
        var condition: Condition?
        while let word = words.first {
            if word == "if" || word == "unless" {
                condition = try ACLParser.condition(words, acls: acls)
                break
            }
            words = words.dropFirst()
            switch word {
            case "code":
                guard let v = words.first, let c = Int(v), [301, 302, 303, 307, 308].contains(c) else {
                    throw ParseFailure("'code' must be 301, 302, 303, 307 or 308")
                }
                code = c
                words = words.dropFirst()
            case "drop-query", "append-slash", "set-cookie", "clear-cookie":
                throw ParseFailure("redirect option '\(word)' is not supported")
            default:
                throw ParseFailure("unexpected '\(word)' in redirect")
            }
        }
        if kind == "scheme" && !["http", "https"].contains(target) { throw ParseFailure("scheme must be http or https") }
        if kind == "location" && target.unicodeScalars.contains(where: { $0.value < 0x21 || $0.value == 0x7F }) {
            throw ParseFailure("the location may not contain blanks or control characters")
        }
        return RedirectRule(target: kind == "scheme" ? .scheme(target) : .location(target), code: code, condition: condition, line: line)
    }
}
