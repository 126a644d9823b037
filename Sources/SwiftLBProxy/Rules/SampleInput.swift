import NIOCore
import SwiftLBConfig
import SwiftLBTLS

/// What a rule's condition, a sample expression or a `%[…]` reads at the point the rule runs:
/// the connection's ends (from `RequestFacts`), the request head as the rules before this one
/// left it (HAProxy's fetches see earlier edits: `set-header` then `hdr()` reads the new value),
/// the response head in the response phases, the stream's variables, and the few per-connection
/// facts the stream knows (SNI, connections from this source).
struct SampleInput {
    /// The request as received and the socket ends.
    var facts: RequestFacts
    /// The request head with the edits so far; nil means `facts.head`.
    var request: MessageHead?
    /// The response head (response and after-response phases).
    var response: MessageHead?
    var variables: StreamVariables?
    var frontendName = ""
    var backendName = ""
    /// `ssl_fc_sni`: the name the TLS client sent.
    var sni: String?
    /// `ssl_s_*`: the TLS side of the exchange's server connection.
    var serverTLS: TLSHandler?
    /// `src_conn_cur`: connections open from the client's address (the stick table's count).
    var sourceConnections: Int?
    /// The connection's stick-table tracking (`track-sc`, `sc0_*`, `src_*`); nil when no table
    /// is declared.
    var stick: StickSession?
    /// `tcp-request content` inspection: the client's bytes buffered so far (`req.len`,
    /// `req.payload`…); nil outside of it.
    var inspected: InspectedPayload?
    /// `http_first_req`: the first request of its client connection.
    var firstRequest = false
    /// `http-request wait-for-body`: how long, and for how many bytes, the request waits for
    /// its body before it goes on (the last rule that ran says).
    var bodyWait: BodyWait?
    /// The configuration's `userlist` sections, for `http_auth(NAME)`.
    var userlists: [String: Userlist] = [:]
    /// The frontend's request capture slots (`capture request header`, `http-request
    /// capture`), in slot order; nil: empty.
    var captures: [String?] = []
    /// The PROXY v2 TLVs the client connection came with (`fc_pp_unique_id`, `fc_pp_authority`).
    var proxyTLVs: [ProxyHeader.TLV] = []
    /// Under `tune.bufsize`: the bytes rewrites may still add to the message in its buffer
    /// (`HeadParser.Limits.rewriteRoom`); nil: no limit.
    var rewriteRoom: Int?
    /// `strict-mode off` ran for the request, or for the response: a rewrite that does not fit
    /// is skipped instead of failing the message.
    var lenientRequestRewrites = false
    var lenientResponseRewrites = false

    init(facts: RequestFacts, request: MessageHead? = nil, response: MessageHead? = nil, variables: StreamVariables? = nil) {
        self.facts = facts
        self.request = request
        self.response = response
        self.variables = variables
    }

    /// The request head (none for a TCP-mode session: layer-7 fetches are then empty).
    var requestHead: MessageHead? { request ?? facts.head }

    /// The request target now: the rewritten one when a rule changed the start line.
    var target: String { requestHead?.currentTarget ?? "" }

    /// The path: from the target's path on (an absolute-form target's too, as HAProxy's
    /// `http_parse_path`), without the query.
    var path: Substring {
        let whole = target[...]
        let t = whole.first == "/" ? whole : TargetRewrite.pathStart(target).map { whole[$0...] } ?? whole
        return t.firstIndex(of: "?").map { t[..<$0] } ?? t
    }

    var query: Substring {
        let t = target[...]
        return t.firstIndex(of: "?").map { t[t.index(after: $0)...] } ?? ""
    }

    /// The values an ACL on `fetch` compares, each separately (any one matching is enough).
    /// Header fetches split values at commas, as HAProxy's `hdr()` does.
    func samples(_ fetch: SampleFetch) -> [String] {
        switch fetch {
        case .method: return requestHead.map { [$0.currentMethod] } ?? []
        case .path: return [String(path)]
        case .query: return [String(query)]
        case .url: return [target]
        case .header(let name): return requestHead?.values(of: name.lowercased()).flatMap(Self.commaSplit) ?? []
        case .sslFCSNI: return (sni ?? facts.tls?.sentServerName).map { [$0] } ?? []
        case .tls(let fetch): return tlsSamples(fetch)
        case .srcConnCur: return sourceConnections.map { [String($0)] } ?? []
        case .variable(let name): return (variables?.get(name)).map { [$0.text] } ?? []
        case .status: return (response?.currentStatus).map { [String($0)] } ?? []
        case .httpAuth(let list): return BasicAuth.authenticatedUser(requestHead, list: userlists[list]) == nil ? [] : ["1"]
        case .src, .srcPort, .dst, .dstPort, .sslFC, .capturedURI: return facts.samples(fetch).map(String.init)
        case .stickCounter(let f): return (stick?.value(f, source: facts.source?.ipAddress)).map { [String($0)] } ?? []
        case .proxyState(let f):
            // `srv_is_up` too is its 0/1: its ACL without `-m` compares it with 1.
            return facts.proxyStates?.value(f, backend: backendName).map { [String($0)] } ?? []
        case .requestLength, .payload, .payloadLV, .sslHelloType, .requestSSLSNI, .requestSSLALPN, .requestProtoHTTP, .waitEnd, .rdpCookie, .rdpCookieCount:
            return payloadSamples(fetch)
        // Evaluated from the criterion's compiled expression (ConditionEvaluation.swift).
        case .expression: return []
        }
    }

    /// HAProxy's header value splitting: at commas, blanks around each value trimmed.
    static func commaSplit(_ value: String) -> [String] {
        value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingBlanks() }
    }
}

extension Substring {
    func trimmingBlanks() -> String {
        var s = self[...]
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// `http-request wait-for-body time T [at-least N]`.
struct BodyWait: Sendable, Equatable {
    let nanoseconds: Int64
    let atLeast: Int?
}

extension HTTPMethodName {
    /// The method a `set-method` rule wrote.
    init(text: String) {
        let bytes = ByteBuffer(string: text)
        self.init(bytes: bytes, range: 0..<Int32(bytes.readableBytes))
    }
}

extension MessageHead {
    /// The target the head will be sent with: the start line's override when a rule rewrote
    /// it, else the target as received.
    var currentTarget: String {
        guard let line = startLineOverride else { return target }
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        return parts.count >= 2 ? String(parts[1]) : target
    }

    var currentMethod: String {
        guard let line = startLineOverride else { return string(part1) }
        return String(line.prefix { $0 != " " })
    }

    /// `HTTP/1.1` as the start line has it (requests: the third part; responses: the first).
    var versionText: String { string(kind == .request ? part3 : part1) }

    /// The status now: the override's when `set-status` rewrote the status line.
    var currentStatus: Int {
        guard let line = startLineOverride else { return status }
        let parts = line.split(separator: " ", maxSplits: 2)
        return parts.count >= 2 ? Int(parts[1]) ?? status : status
    }
}
