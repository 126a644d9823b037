import NIOCore
import SwiftLBConfig
import SwiftLBTLS

/// `tcp-request connection|content accept|reject [if|unless COND]`, as HAProxy evaluates
/// them: in order, the first rule whose condition holds decides (accept ends the list, reject
/// refuses); when none applies the connection is accepted.
///
/// Call sites: `connection` rules when a connection is accepted, before any byte is read (a
/// reject closes it at once, nothing answered — HAProxy's "silent" refusal counted as a denied
/// connection); `content` rules once the request head is parsed (HTTP mode, where HAProxy
/// evaluates them on the first request: a reject closes the connection without an answer).
/// Connection rules should only look at the connection (`src`, `dst`, `src_conn_cur`); the
/// request they see is empty.
///
/// `track-scN SAMPLE [table NAME]` rules track the sample's entry for the rest of the
/// connection (through the input's `StickSession`) and go on to the next rule.
struct TCPRules: Sendable {
    private struct Compiled: Sendable {
        let rule: TCPRule
        /// A track rule's sample (checked while the runtime is built: `StickTracking.validate`).
        let sample: SampleExpression?
        /// A `sc-inc-gpc0(N)`… rule's action (checked likewise).
        let counter: StickCounterRule?
    }

    private let connection: [Compiled]
    private let content: [Compiled]

    init(_ rules: [TCPRule]) {
        let compiled = rules.map {
            Compiled(rule: $0, sample: $0.tracking.flatMap { try? SampleExpression(parsing: $0.sample) },
                     counter: $0.counterAction.flatMap { try? StickCounterRule($0) })
        }
        // `session` rules run right after the `connection` ones (see TCPRule.Layer).
        connection = compiled.filter { $0.rule.layer == .connection } + compiled.filter { $0.rule.layer == .session }
        content = compiled.filter { $0.rule.layer == .content }
    }

    /// The content rules read the client's first bytes (`req.len`, `req.payload`…): in tcp
    /// mode the session waits for them, up to `tcp-request inspect-delay`.
    var contentReadsPayload: Bool {
        content.contains { c in
            (c.rule.condition?.alternatives ?? []).joined().contains { $0.acl.criteria.contains { $0.fetch.readsPayload } }
        }
    }

    var isEmpty: Bool { connection.isEmpty && content.isEmpty }
    var hasConnectionRules: Bool { !connection.isEmpty }
    var hasContentRules: Bool { !content.isEmpty }

    /// Whether the connection is accepted by the `tcp-request connection` rules.
    func acceptsConnection(_ input: SampleInput) -> Bool { Self.decide(connection, input) }

    /// Whether the request is accepted by the `tcp-request content` rules.
    func acceptsContent(_ input: SampleInput) -> Bool { Self.decide(content, input) }

    /// What the content rules decide for a `mode tcp` session.
    enum ContentVerdict: Equatable { case accept, reject, switchToHTTP }

    /// The content rules while inspecting: accept, reject, switch to HTTP, or nil when a rule
    /// must wait for bytes that have not arrived yet (`mustWait`, asked with each condition's
    /// result) — the caller waits for more and asks again from `start` (track rules already run
    /// are not run twice).
    func decideContent(_ input: SampleInput, mustWait: (Bool) -> Bool, from start: inout Int) -> ContentVerdict? {
        while start < content.count {
            let c = content[start]
            let holds = c.rule.condition?.evaluate(input) ?? true
            if mustWait(holds) { return nil }
            start += 1
            guard holds else { continue }
            switch c.rule.action {
            case .track: Self.track(c, input)
            case .stickCounter: c.counter?.run(input)
            case .accept: return .accept
            case .reject: return .reject
            case .switchMode: return .switchToHTTP
            }
        }
        return .accept
    }

    private static func decide(_ rules: [Compiled], _ input: SampleInput) -> Bool {
        for c in rules where c.rule.condition?.evaluate(input) ?? true {
            switch c.rule.action {
            case .track: track(c, input)
            case .stickCounter: c.counter?.run(input)
            // In an HTTP stream the session is HTTP already: `switch-mode http` ends the list.
            case .accept, .switchMode: return true
            case .reject: return false
            }
        }
        return true
    }

    private static func track(_ c: Compiled, _ input: SampleInput) {
        guard let t = c.rule.tracking, let sample = c.sample else { return }
        input.stick?.track(t.counter, value: sample.evaluate(input), tableName: t.table, connectionLevel: true)
    }
}

extension SampleInput {
    /// What a rule reads before any request: the connection's ends only (the request is a
    /// placeholder, `- -`, that no HTTP fetch should be asked about).
    static func connectionLevel(source: SocketAddress?, destination: SocketAddress?, isTLS: Bool = false, tls: TLSHandler? = nil,
                                stick: StickSession? = nil) -> SampleInput {
        var input = SampleInput(facts: RequestFacts(head: placeholderHead, source: source, destination: destination, isTLS: isTLS))
        input.facts.tls = tls
        input.stick = stick
        return input
    }

    private static let placeholderHead: MessageHead = {
        var parser = HeadParser(kind: .request)
        var bytes = ByteBuffer(string: "- - HTTP/1.1\r\n\r\n")
        guard case .head(let head) = parser.parse(&bytes) else { preconditionFailure("the placeholder head does not parse") }
        return head
    }()
}
