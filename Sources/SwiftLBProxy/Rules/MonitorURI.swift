import SwiftLBConfig

/// `monitor-uri PATH` with `monitor fail if|unless COND`: the URI an external checker (another
/// load balancer, a probe) polls, answered by SwiftLB itself — 200 while no fail condition
/// holds, 503 once one does — before any `http-request` rule runs, as in HAProxy. The answers
/// are the frontend's `errorfile 200`/`errorfile 503` pages when it has them, else HAProxy's
/// built-in ones; the after-response rules apply to them.
struct MonitorURI: Sendable {
    let uri: String
    let failConditions: [Condition]

    init?(_ frontend: Frontend) {
        guard let uri = frontend.options.monitorURI else { return nil }
        self.uri = uri
        failConditions = frontend.monitorFail
    }

    init(uri: String, failConditions: [Condition] = []) {
        self.uri = uri
        self.failConditions = failConditions
    }

    /// Whether `target` (as received) asks for the monitor URI: the whole target equals it,
    /// or — for a monitor URI starting with `/` — the target's path with its query does
    /// (an absolute-form target's authority is skipped).
    func matches(_ target: String) -> Bool {
        if target == uri { return true }
        guard uri.hasPrefix("/"), let start = TargetRewrite.pathStart(target) else { return false }
        return target[start...] == uri[...]
    }

    /// The status to answer for this request, or nil when it is not a monitor request.
    /// (`monitor fail` conditions are evaluated in order; `unless` is folded into the
    /// condition by the parser.)
    func status(for input: SampleInput) -> Int? {
        guard matches(input.facts.uri) else { return nil }
        return failConditions.contains { $0.evaluate(input) } ? 503 : 200
    }

    /// The answer for this request, or nil when it is not a monitor request.
    func response(for input: SampleInput, pages: ErrorPages) -> LocalResponse? {
        status(for: input).map { pages.pageOrDefault(for: $0, input: input) }
    }
}
