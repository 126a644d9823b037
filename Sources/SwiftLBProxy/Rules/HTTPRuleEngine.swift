import NIOCore
import SwiftLBConfig
import SwiftLBRegex

/// What a list of HTTP rules decided.
enum HTTPRuleVerdict {
    /// Every rule ran (or none applied): go on.
    case `continue`
    /// `allow`: the rest of this list is skipped; the next list (the backend's, the
    /// frontend's after-response…) still runs, as in HAProxy.
    case allow
    /// A final answer: send `response` (after the after-response rules) instead of going on.
    case respond(LocalResponse, Kind)
    /// `use-service NAME` (prometheus-exporter): the stream serves it.
    case useService(String)
    /// `reject`: the client connection is closed at once, nothing answered.
    case reject

    enum Kind: Equatable {
        case deny, returned, redirect, auth
        /// A rule found the request invalid (`normalize-uri … strict`): 400, HAProxy's bad
        /// request.
        case invalid
        /// A rewrite did not fit the message's buffer in strict mode: 500.
        case internalError
        /// `tarpit`: the deny answer, held back for `timeout tarpit`.
        case tarpit

        /// The access log's termination flags (HAProxy: deny and an invalid request are proxy
        /// conditions, the others local answers, all during the request).
        var terminationFlags: String {
            switch self {
            case .deny, .invalid: "PR--"
            case .internalError: "IR--"
            case .tarpit: "PT--"
            case .returned, .redirect, .auth: "LR--"
            }
        }
    }
}

/// One proxy's `http-request`, `http-response` or `http-after-response` rules, compiled once
/// per configuration (formats and expressions parsed, files read, regexes built) and evaluated
/// per message in the written order: header edits applied to the head in place, variables
/// set, and the first final action (deny, return, redirect, auth, allow) ending the list.
///
/// Pure: no I/O and no clock; everything a rule reads comes in through `SampleInput`, and
/// terminal answers come back as `LocalResponse`s the stream writes.
struct HTTPRuleSet: Sendable {
    let phase: HTTPRulePhase
    /// The proxy the rules belong to (the default realm of `auth`).
    let proxyName: String
    private let rules: [Compiled]

    var isEmpty: Bool { rules.isEmpty }

    private struct Compiled: Sendable {
        let action: Action
        let condition: Condition?
        let line: Int
    }

    private enum Action: Sendable {
        case setHeader(String, LogFormat)
        case addHeader(String, LogFormat)
        case deleteHeader(String)
        case deleteHeaders(String, ACLCriterion.MatchMethod, PCRE2Regex?)
        case replaceHeader(String, PCRE2Regex, LogFormat, eachValue: Bool)
        case replaceTarget(PCRE2Regex, LogFormat, TargetRewrite.Scope)
        case setTarget(HTTPRule.TargetPart, LogFormat)
        case setVariable(String, SampleExpression)
        case setStatus(Int, String?)
        case reply(RuleReply, HTTPRuleVerdict.Kind)
        case redirect(RedirectReply)
        case allow
        case useService(String)
        /// `track-scN SAMPLE [table NAME]`, the table resolved to a name (the proxy's own).
        case track(Int, SampleExpression, table: String)
        case setMethod(LogFormat)
        case setAddress(destination: Bool, SampleExpression)
        case capture(SampleExpression, length: Int, slot: Int)
        case reject
        case waitForBody(BodyWait)
        case stickCounter(StickCounterRule)
        case normalizeURI(HTTPRule.URINormalizer)
        case strictMode(Bool)

        /// Actions that change the message's size, and so may not fit its buffer
        /// (`tune.bufsize`): HAProxy's rewrites.
        var rewrites: Bool {
            switch self {
            case .setHeader, .addHeader, .deleteHeader, .deleteHeaders, .replaceHeader, .replaceTarget, .setTarget, .setStatus,
                 .setMethod, .normalizeURI: true
            default: false
            }
        }
    }

    /// Compiles `rules`; every rule SwiftLB cannot run is an error naming `file`, its line and
    /// its keyword (`swiftlb check` shows them all at once).
    init(_ rules: [HTTPRule], phase: HTTPRulePhase, proxyName: String, file: String,
         httpErrors: [String: [Int: String]] = [:], cache: inout [String: ErrorPages.Page]) throws(ConfigErrors) {
        self.phase = phase
        self.proxyName = proxyName
        var compiled: [Compiled] = []
        var errors: [ConfigError] = []
        for rule in rules {
            do {
                compiled.append(Compiled(action: try Self.compile(rule.action, phase: phase, proxyName: proxyName, httpErrors: httpErrors, cache: &cache),
                                         condition: rule.condition, line: rule.line))
            } catch {
                errors.append(ConfigError(file: file, line: rule.line, keyword: "\(phase.rawValue) \(Self.keyword(rule.action))", message: error.message))
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        self.rules = compiled
    }

    init(_ rules: [HTTPRule], phase: HTTPRulePhase, proxyName: String, file: String, httpErrors: [String: [Int: String]] = [:]) throws(ConfigErrors) {
        var cache: [String: ErrorPages.Page] = [:]
        try self.init(rules, phase: phase, proxyName: proxyName, file: file, httpErrors: httpErrors, cache: &cache)
    }

    private static func compile(_ action: HTTPRule.Action, phase: HTTPRulePhase, proxyName: String, httpErrors: [String: [Int: String]],
                                cache: inout [String: ErrorPages.Page]) throws(SampleExpression.Failure) -> Action {
        func regex(_ pattern: String) throws(SampleExpression.Failure) -> PCRE2Regex {
            do { return try PCRE2Regex(pattern) } catch { throw SampleExpression.Failure(message: "invalid regular expression '\(pattern)': \(error)") }
        }
        switch action {
        case .header(.set(let name, let value)): return .setHeader(name, try LogFormat(value, owner: proxyName))
        case .header(.add(let name, let value)): return .addHeader(name, try LogFormat(value, owner: proxyName))
        case .header(.delete(let name)): return .deleteHeader(name.lowercased())
        case .deleteHeaders(let name, let method):
            return .deleteHeaders(name, method, method == .regex ? try regex(name) : nil)
        case .replaceHeader(let name, let pattern, let replacement, let eachValue):
            return .replaceHeader(name, try regex(pattern), try LogFormat(parsing: replacement), eachValue: eachValue)
        case .replaceTarget(let pattern, let replacement, let wholeURI):
            return .replaceTarget(try regex(pattern), try LogFormat(parsing: replacement), wholeURI ? .uri : .path)
        case .replacePathQuery(let pattern, let replacement):
            return .replaceTarget(try regex(pattern), try LogFormat(parsing: replacement), .pathQuery)
        case .setTarget(let part, let format): return .setTarget(part, try LogFormat(parsing: format))
        case .setVariable(let name, let expression):
            guard VariableScope.split(name) != nil else { throw SampleExpression.Failure(message: "variable '\(name)' has no stream scope (proc, sess, txn, req, res)") }
            return .setVariable(name, try SampleExpression(parsing: expression, owner: proxyName))
        case .setStatus(let code, let reason): return .setStatus(code, reason)
        case .deny(let r):
            return .reply(try RuleReply.compile(r, isDeny: true, httpErrors: httpErrors, cache: &cache), .deny)
        case .tarpit(let r):
            return .reply(try RuleReply.compile(r, isDeny: true, httpErrors: httpErrors, cache: &cache), .tarpit)
        case .returnResponse(let r):
            return .reply(try RuleReply.compile(r, isDeny: false, httpErrors: httpErrors, cache: &cache), .returned)
        case .redirect(let rule): return .redirect(try RedirectReply(rule))
        case .auth(let realm): return .reply(.auth(realm: realm ?? proxyName), .auth)
        case .allow: return .allow
        case .useService(let name): return .useService(name)
        case .track(let t): return .track(t.counter, try SampleExpression(parsing: t.sample), table: t.table ?? proxyName)
        case .setMethod(let format): return .setMethod(try LogFormat(parsing: format))
        case .setAddress(let destination, let expression): return .setAddress(destination: destination, try SampleExpression(parsing: expression))
        case .capture(let expression, let length, let slot): return .capture(try SampleExpression(parsing: expression), length: length, slot: slot)
        case .reject: return .reject
        case .waitForBody(let time, let atLeast): return .waitForBody(BodyWait(nanoseconds: time.nanoseconds, atLeast: atLeast))
        case .stickCounter(let a): return .stickCounter(try StickCounterRule(a))
        case .normalizeURI(let normalizer): return .normalizeURI(normalizer)
        case .strictMode(let on): return .strictMode(on)
        }
    }

    private static func keyword(_ action: HTTPRule.Action) -> String {
        switch action {
        case .header(.set): "set-header"
        case .header(.add): "add-header"
        case .header(.delete), .deleteHeaders: "del-header"
        case .replaceHeader(_, _, _, let each): each ? "replace-value" : "replace-header"
        case .replaceTarget(_, _, let whole): whole ? "replace-uri" : "replace-path"
        case .replacePathQuery: "replace-pathq"
        case .setTarget(let part, _): "set-\(part.rawValue)"
        case .setVariable(let name, _): "set-var(\(name))"
        case .setStatus: "set-status"
        case .deny: "deny"
        case .tarpit: "tarpit"
        case .returnResponse: "return"
        case .redirect: "redirect"
        case .auth: "auth"
        case .allow: "allow"
        case .useService: "use-service"
        case .track(let t): "track-sc\(t.counter)"
        case .setMethod: "set-method"
        case .setAddress(let destination, _): destination ? "set-dst" : "set-src"
        case .capture: "capture"
        case .reject: "reject"
        case .waitForBody: "wait-for-body"
        case .stickCounter(let a): a.name
        case .normalizeURI: "normalize-uri"
        case .strictMode: "strict-mode"
        }
    }

    // MARK: evaluating

    /// Runs the rules on `head` — the request (request phase) or the response (the other two)
    /// — in order. `input` is what the rules read; its `request`/`response` follow the edits
    /// (the caller may pass it with them unset). `pages` gives deny and auth their error page.
    func evaluate(_ head: inout MessageHead, _ input: inout SampleInput, pages: ErrorPageChain = ErrorPageChain()) -> HTTPRuleVerdict {
        for rule in rules {
            sync(head, into: &input)
            if let condition = rule.condition, !condition.evaluate(input) { continue }
            // Under `tune.bufsize`, a rewrite must fit the room the message leaves in its buffer
            // (HAProxy's rule); the head before it is kept to undo one that does not.
            let before = input.rewriteRoom != nil && rule.action.rewrites ? head : nil
            switch rule.action {
            // HAProxy stores a header value without the blanks around it: `set-header X "a: "`
            // sends `X: a:` (reg-test http-rules/http_after_response checks it).
            case .setHeader(let name, let format): head.set(name, Substring(format.render(input)).trimmingBlanks())
            case .addHeader(let name, let format): head.add(name, Substring(format.render(input)).trimmingBlanks())
            case .deleteHeader(let name): head.removeAll(name)
            case .deleteHeaders(let name, let method, let regex): head.removeHeaders(matching: name, method: method, regex: regex)
            case .replaceHeader(let name, let regex, let format, let eachValue):
                head.replaceValues(of: name, regex: regex, template: format.render(input), eachValue: eachValue)
            case .replaceTarget(let regex, let format, let scope):
                if let target = TargetRewrite.replacing(head.currentTarget, regex: regex, template: format.render(input), scope) {
                    TargetRewrite.apply(target, to: &head)
                }
            case .setTarget(let part, let format):
                let value = format.render(input)
                let current = head.currentTarget
                let target: String = switch part {
                case .path: TargetRewrite.settingPath(current, to: value)
                case .pathq: TargetRewrite.settingPathQuery(current, to: value)
                case .query: TargetRewrite.settingQuery(current, to: value)
                case .uri: value
                }
                TargetRewrite.apply(target, to: &head)
                if part == .uri { head.uriSetWhole = true }
            case .setVariable(let name, let expression):
                // A fetch that finds nothing leaves the variable as it was (HAProxy).
                if let value = expression.evaluate(input) { input.variables?.set(name, value) }
            case .setStatus(let code, let reason):
                head.startLineOverride = "\(head.versionText) \(code) \(reason ?? HAProxyMessages.reason(for: code))"
            case .reply(let reply, let kind):
                return .respond(reply.response(input, pages: pages), kind)
            case .redirect(let redirect):
                // `ignore-empty`: a location that renders empty skips the rule.
                if let response = redirect.response(input) { return .respond(response, .redirect) }
            case .allow:
                return .allow
            case .useService(let name):
                return .useService(name)
            case .track(let counter, let sample, let table):
                input.stick?.track(counter, value: sample.evaluate(input), tableName: table, connectionLevel: false)
            case .setAddress(let destination, let expression):
                // An address the sample is not leaves it as it was (HAProxy's failed cast).
                guard let text = expression.evaluate(input)?.text, IPNetwork.bytes(text) != nil else { break }
                let old = destination ? input.facts.destination : input.facts.source
                guard let address = try? SocketAddress(ipAddress: text, port: old?.port ?? 0) else { break }
                if destination { input.facts.destination = address } else { input.facts.source = address }
            case .setMethod(let format):
                head.startLineOverride = "\(format.render(input)) \(head.currentTarget) \(head.versionText)"
            case .capture(let expression, let length, let slot):
                // HAProxy's capture: the sample as text, cut to the slot's length; nothing
                // found leaves the slot empty.
                if let value = expression.evaluate(input)?.text {
                    if input.captures.count <= slot { input.captures += Array(repeating: nil, count: slot + 1 - input.captures.count) }
                    input.captures[slot] = String(decoding: value.utf8.prefix(length), as: UTF8.self)
                }
            case .reject:
                return .reject
            case .waitForBody(let wait):
                // The stream waits once the rules are done (as for `option http-buffer-request`).
                input.bodyWait = wait
            case .stickCounter(let rule):
                rule.run(input)
            case .normalizeURI(let normalizer):
                switch URINormalizer.apply(normalizer, to: head.currentTarget) {
                case .success(let target): if target != head.currentTarget { TargetRewrite.apply(target, to: &head) }
                case .failure: return .respond(pages.page(for: 400, input: input), .invalid)
                }
            case .strictMode(let on):
                if phase == .request { input.lenientRequestRewrites = !on } else { input.lenientResponseRewrites = !on }
            }
            if let before, let room = input.rewriteRoom {
                let growth = head.serialisedSize - before.serialisedSize
                if growth <= room {
                    input.rewriteRoom = room - growth
                } else {
                    // HAProxy: a failed rewrite is an internal error in strict mode (the
                    // default), and is skipped, the message unchanged, with `strict-mode off`.
                    head = before
                    if !(phase == .request ? input.lenientRequestRewrites : input.lenientResponseRewrites) {
                        return .respond(pages.page(for: 500, input: input), .internalError)
                    }
                }
            }
        }
        sync(head, into: &input)
        return .continue
    }

    private func sync(_ head: MessageHead, into input: inout SampleInput) {
        if phase == .request { input.request = head } else { input.response = head }
    }

    /// The after-response rules on one of SwiftLB's own answers.
    func evaluate(_ response: inout LocalResponse, _ input: inout SampleInput) {
        _ = evaluate(&response.head, &input)
    }
}
