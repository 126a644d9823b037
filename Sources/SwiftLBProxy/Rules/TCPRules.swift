import NIOCore
import SwiftLBConfig
import SwiftLBTLS

/// `tcp-request connection|session|content …` rules, as HAProxy evaluates them: in order, the
/// first accept or reject whose condition holds decides (accept ends the list, reject refuses);
/// when none applies the connection is accepted.
///
/// Call sites: `connection` rules when a connection is accepted, before any byte is read (a
/// reject closes it at once, nothing answered — HAProxy's "silent" refusal counted as a denied
/// connection); `session` rules once the connection's handshakes are done — the PROXY header
/// (`accept-proxy`) and TLS, see `SessionGate` — so that `src` is the header's (a reject closes
/// silently too, counted as a denied session); `content` rules once the request head is parsed
/// (HTTP mode, where HAProxy evaluates them on each request: a reject closes the connection
/// without an answer), or on the client's first bytes (TCP mode). Connection rules should only
/// look at the connection (`src`, `dst`, `src_conn_cur`); the request they see is empty.
///
/// The other actions go on to the next rule: `track-scN SAMPLE [table NAME]` tracks the
/// sample's entry for the rest of the connection (through the input's `StickSession`),
/// `sc-inc-gpc0(N)`… change it, `set-var(…)` sets a variable (in the input's variables),
/// `set-src|set-dst[-port]` change the input's addresses — the caller reads them back: after
/// the connection rules they are the connection's (`fc_src`…), after the session rules the
/// session's (`src`…), after content rules the stream's.
struct TCPRules: Sendable {
    private struct Compiled: Sendable {
        let rule: TCPRule
        /// A track rule's sample (checked while the runtime is built: `StickTracking.validate`).
        let sample: SampleExpression?
        /// A `sc-inc-gpc0(N)`… rule's action (checked likewise).
        let counter: StickCounterRule?
        /// A `set-var`/`set-src`… rule's expression (checked likewise).
        let expression: SampleExpression?
    }

    private let connection: [Compiled]
    private let session: [Compiled]
    private let content: [Compiled]
    /// Some rule sets a variable: the caller passes its variables in.
    let setsVariables: Bool

    init(_ rules: [TCPRule]) {
        let compiled = rules.map {
            Compiled(rule: $0, sample: $0.tracking.flatMap { try? SampleExpression(parsing: $0.sample) },
                     counter: $0.counterAction.flatMap { try? StickCounterRule($0) },
                     expression: $0.expression.flatMap { try? SampleExpression(parsing: $0) })
        }
        connection = compiled.filter { $0.rule.layer == .connection }
        session = compiled.filter { $0.rule.layer == .session }
        content = compiled.filter { $0.rule.layer == .content }
        setsVariables = rules.contains { $0.action == .setVariable }
    }

    /// The content rules read the client's first bytes (`req.len`, `req.payload`…): in tcp
    /// mode the session waits for them, up to `tcp-request inspect-delay`.
    var contentReadsPayload: Bool {
        content.contains { c in
            (c.rule.condition?.alternatives ?? []).joined().contains { $0.acl.criteria.contains { $0.fetch.readsPayload } }
        }
    }

    var isEmpty: Bool { connection.isEmpty && session.isEmpty && content.isEmpty }
    /// `tcp-request connection` rules (run when a connection is accepted).
    var hasConnectionRules: Bool { !connection.isEmpty }
    /// `tcp-request session` rules (run once the connection's handshakes are done).
    var hasSessionRules: Bool { !session.isEmpty }
    var hasContentRules: Bool { !content.isEmpty }

    /// Whether the connection is accepted by the `tcp-request connection` rules. The input's
    /// addresses as they leave them become `facts.connectionSource|Destination` too: the
    /// connection's (what `fc_src`… read), which the session starts from.
    func acceptsConnection(_ input: inout SampleInput) -> Bool {
        guard Self.decide(connection, &input) else { return false }
        input.facts.connectionSource = input.facts.source
        input.facts.connectionDestination = input.facts.destination
        return true
    }

    /// Whether the session is accepted by the `tcp-request session` rules, on an input whose
    /// addresses are the session's (the PROXY header's behind `accept-proxy`) and whose
    /// `facts.connectionSource|Destination` are the connection's. The input's addresses become
    /// the session's (`set-src`…).
    func acceptsSession(_ input: inout SampleInput) -> Bool { Self.decide(session, &input) }

    /// Whether the request is accepted by the `tcp-request content` rules (HTTP streams).
    func acceptsContent(_ input: inout SampleInput) -> Bool { Self.decide(content, &input) }

    /// What the content rules decide for a `mode tcp` session.
    enum ContentVerdict: Equatable { case accept, reject, switchToHTTP }

    /// The content rules while inspecting: accept, reject, switch to HTTP, or nil when a rule
    /// must wait for bytes that have not arrived yet (`mustWait`, asked with each condition's
    /// result) — the caller waits for more and asks again from `start` (the rules already run
    /// are not run twice: the caller keeps the addresses they set).
    func decideContent(_ input: inout SampleInput, mustWait: (Bool) -> Bool, from start: inout Int) -> ContentVerdict? {
        while start < content.count {
            let c = content[start]
            let holds = c.rule.condition?.evaluate(input) ?? true
            if mustWait(holds) { return nil }
            start += 1
            guard holds else { continue }
            switch c.rule.action {
            case .accept: return .accept
            case .reject: return .reject
            case .switchMode: return .switchToHTTP
            default: Self.run(c, &input)
            }
        }
        return .accept
    }

    private static func decide(_ rules: [Compiled], _ input: inout SampleInput) -> Bool {
        for c in rules where c.rule.condition?.evaluate(input) ?? true {
            switch c.rule.action {
            // In an HTTP stream the session is HTTP already: `switch-mode http` ends the list.
            case .accept, .switchMode: return true
            case .reject: return false
            default: run(c, &input)
            }
        }
        return true
    }

    /// An action that goes on to the next rule.
    private static func run(_ c: Compiled, _ input: inout SampleInput) {
        switch c.rule.action {
        case .track:
            guard let t = c.rule.tracking, let sample = c.sample else { return }
            input.stick?.track(t.counter, value: sample.evaluate(input), tableName: t.table, connectionLevel: true)
        case .stickCounter:
            c.counter?.run(input)
        case .setVariable:
            // A fetch that finds nothing leaves the variable as it was (HAProxy).
            guard let name = c.rule.variable, let value = c.expression?.evaluate(input) else { return }
            input.variables?.set(name, value)
        case .setSource, .setDestination, .setSourcePort, .setDestinationPort:
            setAddress(c, &input)
        case .accept, .reject, .switchMode:
            return
        }
    }

    /// `set-src|set-dst EXPR` (the address, its port kept) and `set-src-port|set-dst-port EXPR`;
    /// a sample that is no address (or port) changes nothing, as HAProxy's failed cast.
    private static func setAddress(_ c: Compiled, _ input: inout SampleInput) {
        guard let value = c.expression?.evaluate(input) else { return }
        let action = c.rule.action
        let destination = action == .setDestination || action == .setDestinationPort
        let old = destination ? input.facts.destination : input.facts.source
        let new: SocketAddress?
        if action == .setSourcePort || action == .setDestinationPort {
            guard let port = value.integer, (0...65535).contains(port), let ip = old?.ipAddress else { return }
            new = try? SocketAddress(ipAddress: ip, port: port)
        } else {
            guard IPNetwork.bytes(value.text) != nil else { return }
            new = try? SocketAddress(ipAddress: value.text, port: old?.port ?? 0)
        }
        guard let new else { return }
        if destination { input.facts.destination = new } else { input.facts.source = new }
    }
}

extension TCPRules {
    /// A new connection through the connection rules: the ruled input (its addresses, and
    /// `facts.connectionSource|Destination`, the connection's), or nil when refused — counted in
    /// the frontend's connections and denied connections (HAProxy's `conn_tot` and `dcon`).
    func admit(source: SocketAddress?, destination: SocketAddress?, isTLS: Bool, stick: StickSession?,
               variables: () -> StreamVariables, frontend: RuntimeFrontend, loop: LoopState) -> SampleInput? {
        var ruled = SampleInput.connectionLevel(source: source, destination: destination, isTLS: isTLS, stick: stick,
                                                variables: setsVariables ? variables() : nil)
        // `nbsrv(be)`, `fe_conn`… read the runtime's proxies, as the later rules do.
        ruled.facts.proxyStates = frontend.proxyStates
        guard acceptsConnection(&ruled) else {
            loop.stats.frontend(frontend.counterID) { c in
                c.connectionsTotal += 1
                c.deniedConnections += 1
            }
            return nil
        }
        return ruled
    }

    /// A connection whose handshakes are done through the session rules: the session's ends
    /// (`source`, `destination`: the PROXY header's, or the connection's) and the connection's
    /// (`connection`, what `fc_src`… read); the ruled input, or nil when refused — counted as a
    /// denied session (HAProxy's `dses`; the caller counted the connection when it was accepted).
    func admitSession(source: SocketAddress?, destination: SocketAddress?, connection ends: (source: SocketAddress?, destination: SocketAddress?),
                      isTLS: Bool, tls: TLSHandler?, stick: StickSession?, variables: () -> StreamVariables,
                      frontend: RuntimeFrontend, loop: LoopState) -> SampleInput? {
        var ruled = SampleInput.connectionLevel(source: source, destination: destination, isTLS: isTLS, tls: tls, stick: stick,
                                                variables: setsVariables ? variables() : nil)
        ruled.facts.connectionSource = ends.source
        ruled.facts.connectionDestination = ends.destination
        ruled.facts.proxyStates = frontend.proxyStates
        guard acceptsSession(&ruled) else {
            loop.stats.frontend(frontend.counterID) { $0.deniedSessions += 1 }
            return nil
        }
        return ruled
    }
}

extension SampleInput {
    /// What a rule reads before any request: the connection's ends only (the request is a
    /// placeholder, `- -`, that no HTTP fetch should be asked about).
    static func connectionLevel(source: SocketAddress?, destination: SocketAddress?, isTLS: Bool = false, tls: TLSHandler? = nil,
                                stick: StickSession? = nil, variables: StreamVariables? = nil) -> SampleInput {
        var input = SampleInput(facts: RequestFacts(head: placeholderHead, source: source, destination: destination, isTLS: isTLS))
        input.facts.tls = tls
        input.stick = stick
        input.variables = variables
        return input
    }

    private static let placeholderHead: MessageHead = {
        var parser = HeadParser(kind: .request)
        var bytes = ByteBuffer(string: "- - HTTP/1.1\r\n\r\n")
        guard case .head(let head) = parser.parse(&bytes) else { preconditionFailure("the placeholder head does not parse") }
        return head
    }()
}
