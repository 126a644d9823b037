/// The sample expressions a rule evaluates (its fetches, not its log-formats), each with the
/// words HAProxy's "referenced in … in proxy" message names it by: what the parse notes state
/// fetches from (`nbsrv`, `be_conn`…) — the runtime then keeps the proxies' states and the names
/// are checked — whatever the action. Every case answers, so an action added later that holds
/// an expression cannot be left out.
struct RuleSampleExpression {
    /// Where HAProxy 2.6's message places it (what its parser had set last: a rule parsed
    /// after another may inherit the other's words there; SwiftLB names each as when alone).
    enum Context {
        /// "in http-request expression", after the line's keyword (a `set-var`'s).
        case keywordExpression
        /// As an ACL's: "in arg 1 of ACL keyword …" (the actions that set no context).
        case acl
        case named(String)
    }
    let text: String
    let context: Context
}

extension HTTPRule.Action {
    var sampleExpressions: [RuleSampleExpression] {
        switch self {
        case .setVariable(_, let text): [RuleSampleExpression(text: text, context: .keywordExpression)]
        case .setAddress(_, let text), .capture(let text, _, _): [RuleSampleExpression(text: text, context: .acl)]
        case .track(let tracking): [RuleSampleExpression(text: tracking.sample, context: .acl)]
        case .stickCounter(let action): action.sampleExpression.map { [$0] } ?? []
        // A header value's %[…] (log-format) is noted with the line's other formats.
        case .header, .deleteHeaders, .replaceHeader, .replaceTarget, .replacePathQuery, .setTarget, .deny, .tarpit,
             .allow, .redirect, .returnResponse, .auth, .useService, .setStatus, .setMethod, .reject, .waitForBody,
             .normalizeURI, .strictMode: []
        }
    }
}

extension TCPRule {
    var sampleExpressions: [RuleSampleExpression] {
        [tracking.map { RuleSampleExpression(text: $0.sample, context: .named("tracking rule")) }, counterAction?.sampleExpression,
         expression.map { RuleSampleExpression(text: $0, context: .named("tcp-request \(layer.rawValue) expression")) }].compactMap { $0 }
    }
}

extension StickCounterAction {
    /// `sc-set-gpt0(N) VALUE`'s value when it is an expression rather than an integer.
    var sampleExpression: RuleSampleExpression? {
        guard case .setGPT0(let value) = kind, Int(value) == nil else { return nil }
        return RuleSampleExpression(text: value, context: .acl)
    }
}

extension StickRule {
    var sampleExpression: RuleSampleExpression { RuleSampleExpression(text: sample, context: .named("stick rule")) }
}
