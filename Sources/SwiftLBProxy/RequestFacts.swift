import NIOCore
import SwiftLBConfig
import SwiftLBTLS

/// What ACLs and `%[fetch]` values read from one request: its head (as received, before any
/// edit) and the two socket ends. Built only when a frontend or backend has rules that look at
/// the request, so the common path pays nothing for it. A TCP-mode session has no head: its
/// rules see the socket ends only (HAProxy's layer-4 fetches), and every layer-7 fetch is empty.
struct RequestFacts {
    let head: MessageHead?
    /// `http-request set-src|set-dst` may change them (the rules' input carries the change).
    var source: SocketAddress?
    var destination: SocketAddress?
    /// The client connection's own ends (`fc_src`, `fc_dst`…) when they differ from the
    /// session's or the stream's (`tcp-request session|content set-src`, `http-request
    /// set-src`); nil: the same as `source`/`destination`.
    var connectionSource: SocketAddress?
    var connectionDestination: SocketAddress?
    var isTLS = false
    /// The client connection's TLS side, for the `ssl_*` fetches.
    var tls: TLSHandler?
    /// The request target, read once.
    let uri: String
    /// The runtime's proxies, for `nbsrv`, `be_conn`, `srv_is_up`…: nil unless an ACL or an
    /// expression reads them.
    var proxyStates: ProxyStates?

    init(head: MessageHead?, source: SocketAddress?, destination: SocketAddress?, isTLS: Bool) {
        self.head = head
        self.source = source
        self.destination = destination
        self.isTLS = isTLS
        self.uri = head?.target ?? ""
    }

    var path: Substring {
        let u = uri[...]
        return u.firstIndex(of: "?").map { u[..<$0] } ?? u
    }

    var query: Substring {
        let u = uri[...]
        return u.firstIndex(of: "?").map { u[u.index(after: $0)...] } ?? ""
    }

    /// Every value of a sample; headers may have several lines, each is a separate value.
    func samples(_ fetch: SampleFetch) -> [Substring] {
        switch fetch {
        case .method: return head.map { [Substring($0.string($0.part1))] } ?? []
        case .path: return head == nil ? [] : [path]
        case .query: return head == nil ? [] : [query]
        case .url: return head == nil ? [] : [uri[...]]
        case .header(let name): return head?.values(of: name.lowercased()).map { $0[...] } ?? []
        case .src: return [(source?.ipAddress ?? "")[...]]
        case .srcPort: return [source?.port.map(String.init)?[...] ?? ""]
        case .dst: return [(destination?.ipAddress ?? "")[...]]
        case .dstPort: return [destination?.port.map(String.init)?[...] ?? ""]
        case .sslFC: return isTLS ? ["1"] : []
        case .capturedURI: return head == nil ? [] : [uri[...]]
        case .sslFCSNI, .srcConnCur, .variable, .status, .httpAuth, .tls, .expression, .proxyState: return []  // pending fetches, or the rules' (SampleInput)
        case .requestProtoHTTP: return head == nil ? [] : ["1"]  // an HTTP request is HTTP
        case .waitEnd: return ["1"]  // a whole HTTP request: nothing more to wait for
        case .stickCounter, .requestLength, .payload, .payloadLV, .sslHelloType, .requestSSLSNI, .requestSSLALPN, .rdpCookie, .rdpCookieCount:
            return []  // read by SampleInput
        }
    }
}

extension Condition {
    /// OR of ANDs, inverted for `unless`: the rule engine's evaluation (`SampleInput`), so an
    /// ACL means the same in `use_backend`, `redirect` and `http-request` rules.
    func evaluate(_ facts: RequestFacts) -> Bool {
        evaluate(SampleInput(facts: facts))
    }
}
