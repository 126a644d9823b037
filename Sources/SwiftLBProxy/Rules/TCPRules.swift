import NIOCore
import SwiftLBConfig

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
struct TCPRules: Sendable {
    private let connection: [TCPRule]
    private let content: [TCPRule]

    init(_ rules: [TCPRule]) {
        connection = rules.filter { $0.layer == .connection }
        content = rules.filter { $0.layer == .content }
    }

    var isEmpty: Bool { connection.isEmpty && content.isEmpty }
    var hasConnectionRules: Bool { !connection.isEmpty }
    var hasContentRules: Bool { !content.isEmpty }

    /// Whether the connection is accepted by the `tcp-request connection` rules.
    func acceptsConnection(_ input: SampleInput) -> Bool { Self.decide(connection, input) }

    /// Whether the request is accepted by the `tcp-request content` rules.
    func acceptsContent(_ input: SampleInput) -> Bool { Self.decide(content, input) }

    private static func decide(_ rules: [TCPRule], _ input: SampleInput) -> Bool {
        for rule in rules where rule.condition?.evaluate(input) ?? true {
            return rule.action == .accept
        }
        return true
    }
}

extension SampleInput {
    /// What a rule reads before any request: the connection's ends only (the request is a
    /// placeholder, `- -`, that no HTTP fetch should be asked about).
    static func connectionLevel(source: SocketAddress?, destination: SocketAddress?, isTLS: Bool = false) -> SampleInput {
        SampleInput(facts: RequestFacts(head: placeholderHead, source: source, destination: destination, isTLS: isTLS))
    }

    private static let placeholderHead: MessageHead = {
        var parser = HeadParser(kind: .request)
        var bytes = ByteBuffer(string: "- - HTTP/1.1\r\n\r\n")
        guard case .head(let head) = parser.parse(&bytes) else { preconditionFailure("the placeholder head does not parse") }
        return head
    }()
}
