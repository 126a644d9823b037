import SwiftLBConfig

/// `http-request redirect location|prefix|scheme FMT [code N] [drop-query] [append-slash]
/// [ignore-empty]`, compiled: the target is a log-format (`%[path,map_str(FILE)]`), rendered
/// per request, and the 30x built as HAProxy's `http_apply_redirect_rule` builds it.
struct RedirectReply: Sendable {
    let rule: RedirectRule
    /// The location, prefix or scheme as a format (a prefix of `/` is empty: HAProxy's
    /// self-redirection).
    private let format: LogFormat

    init(_ rule: RedirectRule) throws(SampleExpression.Failure) {
        self.rule = rule
        switch rule.target {
        case .location(let text), .scheme(let text): format = try LogFormat(parsing: text)
        case .prefix(let text): format = text == "/" ? LogFormat(parts: []) : try LogFormat(parsing: text)
        }
    }

    /// The redirect for this request; nil when `ignore-empty` and the location renders empty
    /// (the rule is then skipped).
    func response(_ input: SampleInput) -> LocalResponse? {
        let location = Self.location(rule, rendered: format.render(input), target: input.target,
                                     host: input.requestHead?.values(of: "host").first)
        return location.map { Self.response(code: rule.code, location: $0) }
    }

    /// Where `rule` sends a request for `target` (with `host`): `rendered` is its location,
    /// prefix or scheme (a format rendered, or the plain `redirect` keyword's text); nil when
    /// `ignore-empty` skips it. HAProxy's `http_apply_redirect_rule`.
    static func location(_ rule: RedirectRule, rendered: String, target: String, host: String?) -> String? {
        var location = rendered
        switch rule.target {
        case .location:
            if location.isEmpty && rule.ignoreEmpty { return nil }
            return location
        case .prefix:
            location += path(rule, target)
        case .scheme:
            location += "://" + (host ?? "") + path(rule, target)
        }
        if rule.appendSlash, let last = location.last, last != "/" { location.append("/") }
        return location
    }

    /// The request's path with its query (without it for `drop-query`), `/` when the target
    /// has none (`*`, authority-form).
    private static func path(_ rule: RedirectRule, _ target: String) -> String {
        guard let start = TargetRewrite.pathStart(target), start < target.endIndex else { return "/" }
        let path = target[start...]
        return String(rule.dropQuery ? path.prefix { $0 != "?" } : path)
    }

    /// HAProxy's 30x: `content-length: 0`, `location`, and `cache-control: no-cache` for 302,
    /// 303 and 307.
    static func response(code: Int, location: String) -> LocalResponse {
        let (status, reason) = statusLine(code: code)
        var headers = [("content-length", "0"), ("location", location)]
        if forbidsCaching(code: code) { headers.append(("cache-control", "no-cache")) }
        return .make(status: status, reason: reason, headers: headers)
    }

    /// The status and reason of a redirect with `code` (302 for anything but 301/303/307/308).
    static func statusLine(code: Int) -> (Int, String) {
        switch code {
        case 301: (301, "Moved Permanently")
        case 303: (303, "See Other")
        case 307: (307, "Temporary Redirect")
        case 308: (308, "Permanent Redirect")
        default: (302, "Found")
        }
    }

    /// HAProxy adds `cache-control: no-cache` to the temporary redirects.
    static func forbidsCaching(code: Int) -> Bool { [302, 303, 307].contains(code) }
}
