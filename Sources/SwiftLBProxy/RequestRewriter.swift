import Foundation
import NIOCore
import NIOHTTP1
import SwiftLBConfig

/// Builds the request head a backend receives from the one the client sent.
///
/// Hop-by-hop headers (RFC 9110 §7.6.1) describe the client's connection, not the message, so
/// they are removed along with every header the client's `Connection` names. Framing headers
/// (Content-Length, Transfer-Encoding) stay: the encoder re-frames the body from them. The
/// upstream connection is always HTTP/1.1 keep-alive, whatever the client speaks.
enum RequestRewriter {
    static let hopByHop: Set<String> = ["connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"]

    static func upstreamHead(_ head: HTTPRequestHead, facts: RequestFacts, frontend: Frontend, backend: Backend) -> HTTPRequestHead {
        var headers = head.headers
        var uri = head.uri
        removeHopByHop(&headers)
        // Absolute-form (RFC 9112 §3.2.2): the authority replaces Host, the server gets origin-form.
        if let schemeEnd = uri.range(of: "://"), !uri.hasPrefix("/") {
            let rest = uri[schemeEnd.upperBound...]
            let slash = rest.firstIndex(of: "/") ?? rest.endIndex
            headers.replaceOrAdd(name: "host", value: String(rest[..<slash]))
            uri = slash == rest.endIndex ? "/" : String(rest[slash...])
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
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers)
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
                        if !t.isEmpty && t != "close" && t != "keep-alive" && !hopByHop.contains(t) { listed.append(t) }
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
