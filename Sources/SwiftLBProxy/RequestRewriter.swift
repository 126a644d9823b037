import Foundation
import NIOCore
import NIOHTTP1
import SwiftLBConfig

/// Builds the request head a backend receives from the one the client sent.
///
/// Hop-by-hop headers (RFC 9110 §7.6.1) describe the client's connection, not the message, so
/// they are removed along with every header the client's `Connection` names — except the
/// headers that frame the message or name its host, which `Connection` can never remove.
/// The body framing decided from the client's head (`RequestFraming`) is written last, after
/// every rule, as the one Content-Length or `Transfer-Encoding: chunked` line the server
/// sees. The upstream connection is always HTTP/1.1 keep-alive, whatever the client speaks.
enum RequestRewriter {
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]
    /// Named in `Connection`, these stay: removing them would reframe the message (request
    /// smuggling) or change its target.
    static let neverHopByHop: Set<String> = ["content-length", "transfer-encoding", "host"]

    static func upstreamHead(_ head: HTTPRequestHead, framing: RequestFraming, facts: RequestFacts, frontend: Frontend, backend: Backend) -> HTTPRequestHead {
        var headers = head.headers
        var uri = head.uri
        removeHopByHop(&headers)
        // Absolute-form (RFC 9112 §3.2.2): the authority replaces Host, the server gets origin-form.
        if let authority = RequestValidator.absoluteFormAuthority(uri) {
            headers.replaceOrAdd(name: "host", value: String(authority))
            let rest = uri[authority.endIndex...]
            uri = rest.first == "/" ? String(rest) : "/" + rest
        }
        // An HTTP/1.0 client may omit Host; the HTTP/1.1 server we talk to needs one.
        if !headers.contains(name: "host"), let dst = facts.destination, let ip = dst.ipAddress {
            headers.add(name: "host", value: dst.protocol == .inet6 ? "[\(ip)]:\(dst.port ?? 80)" : "\(ip):\(dst.port ?? 80)")
        }
        if let ff = backend.options.forwardFor ?? frontend.options.forwardFor {
            headers.add(name: ff.header, value: facts.source?.ipAddress ?? "")
        }
        apply(frontend.requestRules, to: &headers, facts: facts)
        apply(backend.requestRules, to: &headers, facts: facts)
        impose(framing, on: &headers)
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers)
    }

    /// Replaces whatever framing headers are there (the client's spelling, or a rule's) with
    /// the canonical form of `framing`. The request encoder frames by these headers alone.
    static func impose(_ framing: RequestFraming, on headers: inout HTTPHeaders) {
        headers.remove(name: "content-length")
        headers.remove(name: "transfer-encoding")
        switch framing {
        case .none: break
        case .length(let n): headers.add(name: "content-length", value: String(n))
        case .chunked: headers.add(name: "transfer-encoding", value: "chunked")
        }
    }

    /// One pass finds the hop-by-hop headers present (only names of a hop-by-hop length are
    /// looked at closely) and the extra names `Connection` lists; only those are removed.
    /// The common case — a lone `Connection: keep-alive` — costs one scan and one removal.
    static func removeHopByHop(_ headers: inout HTTPHeaders) {
        var present: [String] = []
        var listed: [String] = []
        for (name, value) in headers {
            switch name.utf8.count {
            case 2, 7, 10, 16:
                let lower = name.lowercased()
                guard hopByHop.contains(lower) else { continue }
                if !present.contains(lower) { present.append(lower) }
                if lower == "connection" {
                    for token in value.split(separator: ",") {
                        let t = token.trimmingCharacters(in: .whitespaces).lowercased()
                        if !t.isEmpty && t != "close" && t != "keep-alive" && !hopByHop.contains(t) && !neverHopByHop.contains(t) {
                            listed.append(t)
                        }
                    }
                }
            default:
                continue
            }
        }
        for name in present { headers.remove(name: name) }
        for name in listed where headers.contains(name: name) { headers.remove(name: name) }
    }

    static func apply(_ rules: [HeaderRule], to headers: inout HTTPHeaders, facts: RequestFacts) {
        for rule in rules {
            if let condition = rule.condition, !condition.evaluate(facts) { continue }
            switch rule.action {
            case .set(let name, let value): headers.replaceOrAdd(name: name, value: value.render(facts))
            case .add(let name, let value): headers.add(name: name, value: value.render(facts))
            case .delete(let name): headers.remove(name: name)
            }
        }
    }
}
