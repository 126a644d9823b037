import NIOHTTP1
import SwiftLBConfig

/// Sticky sessions with HAProxy's `cookie` modes. Stateless on purpose: the cookie names the
/// server, so any SwiftLB instance (both VIP holders) sends the client to the same server
/// without sharing a table.
///
/// * `insert`: SwiftLB sets `NAME=VALUE` in responses; with `indirect` it is not re-sent to a
///   client that already has it, and it is removed from requests before they reach the server.
/// * `rewrite`: the server sets `NAME=…`; SwiftLB rewrites the value to the server's.
/// * `prefix`: the server's own cookie `NAME=x` becomes `NAME=VALUE~x` towards the client and
///   back to `NAME=x` towards the server.
enum StickyCookie {
    /// The server value the client presents, if any.
    static func clientValue(in headers: HTTPHeaders, settings: CookieSettings) -> String? {
        for line in headers["cookie"] {
            for pair in line.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let eq = trimmed.firstIndex(of: "="), trimmed[..<eq] == settings.name else { continue }
                let value = trimmed[trimmed.index(after: eq)...]
                if settings.mode == .prefix {
                    return value.firstIndex(of: "~").map { String(value[..<$0]) }
                }
                return String(value)
            }
        }
        return nil
    }

    /// Removes (insert + indirect) or un-prefixes (prefix) our cookie in the request.
    static func rewriteRequest(_ headers: inout HTTPHeaders, settings: CookieSettings) {
        guard (settings.mode == .insert && settings.indirect) || settings.mode == .prefix,
              headers.contains(name: "cookie") else { return }
        var lines: [String] = []
        for line in headers["cookie"] {
            var kept: [Substring] = []
            for pair in line.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                if let eq = trimmed.firstIndex(of: "="), trimmed[..<eq] == settings.name {
                    if settings.mode == .prefix, let tilde = trimmed.firstIndex(of: "~") {
                        kept.append(trimmed[..<trimmed.index(after: eq)] + trimmed[trimmed.index(after: tilde)...])
                    }
                    continue
                }
                kept.append(trimmed)
            }
            if !kept.isEmpty { lines.append(kept.joined(separator: "; ")) }
        }
        headers.remove(name: "cookie")
        for line in lines { headers.add(name: "cookie", value: line) }
    }

    /// Adds or rewrites the cookie in a response from the server whose cookie value is `value`.
    static func rewriteResponse(_ headers: inout HTTPHeaders, settings: CookieSettings, value: String,
                                clientHadIt: Bool, method: HTTPMethod) {
        switch settings.mode {
        case .insert:
            if settings.indirect && clientHadIt { return }
            if settings.postonly && method != .POST { return }
            var cookie = "\(settings.name)=\(value); path=/"
            for domain in settings.domains { cookie += "; domain=\(domain)" }
            if settings.httponly { cookie += "; HttpOnly" }
            if settings.secure { cookie += "; Secure" }
            headers.add(name: "set-cookie", value: cookie)
            if settings.nocache { headers.add(name: "cache-control", value: "private") }
        case .rewrite, .prefix:
            guard headers.contains(name: "set-cookie") else { return }
            let lines = headers["set-cookie"].map { line -> String in
                guard line.hasPrefix(settings.name + "=") else { return line }
                let rest = line.dropFirst(settings.name.count + 1)
                if settings.mode == .prefix { return "\(settings.name)=\(value)~\(rest)" }
                let attributes = rest.firstIndex(of: ";").map { String(rest[$0...]) } ?? ""
                return "\(settings.name)=\(value)\(attributes)"
            }
            headers.remove(name: "set-cookie")
            for line in lines { headers.add(name: "set-cookie", value: line) }
        }
    }
}
