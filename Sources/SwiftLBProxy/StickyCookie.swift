#if canImport(Glibc)
import Glibc
#endif
import SwiftLBConfig
import SwiftLBLog

/// Sticky sessions with HAProxy's `cookie` modes. Stateless on purpose: the cookie names the
/// server, so any SwiftLB instance (both VIP holders) sends the client to the same server
/// without sharing a table.
///
/// * `insert`: SwiftLB sets `NAME=VALUE` in responses; with `indirect` it is not re-sent to a
///   client that already has it, and it is removed from requests before they reach the server.
///   With `maxidle`/`maxlife` the value carries two dates, `VALUE|LASTSEEN|FIRSTSET` (seconds,
///   base 36), so an idle or old cookie is ignored by every instance alike.
/// * `rewrite`: the server sets `NAME=…`; SwiftLB rewrites the value to the server's.
/// * `prefix`: the server's own cookie `NAME=x` becomes `NAME=VALUE~x` towards the client and
///   back to `NAME=x` towards the server.
enum StickyCookie {
    /// What the client presented: the server value, and when the cookie was first set.
    struct Presented {
        var value: String
        var firstSet: Int?
        var lastSeen: Int?
    }

    /// The server value the client presents, if any and not expired.
    static func clientValue(in head: MessageHead, settings: CookieSettings, now: Int = wallSeconds()) -> Presented? {
        classify(head, settings: settings, now: now).presented
    }

    /// The cookie the client presents, with what the access log says of it (HAProxy's third
    /// termination letter): N none, E idle past `maxidle`, O older than `maxlife`, I one we
    /// cannot read (no dates, forged dates, a prefix without `~`). A readable one is V here;
    /// the caller makes it I (names no server) or D (names a server that is down).
    static func classify(_ head: MessageHead, settings: CookieSettings, now: Int = wallSeconds()) -> (presented: Presented?, state: CookieState.Request) {
        for i in head.fields.indices where !head.isRemoved(i) && head.name(i, is: "cookie") {
            for pair in head.value(i).split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                guard let eq = trimmed.firstIndex(of: "="), trimmed[..<eq] == settings.name else { continue }
                let value = trimmed[trimmed.index(after: eq)...]
                if settings.mode == .prefix {
                    guard let tilde = value.firstIndex(of: "~") else { return (nil, .invalid) }
                    return (Presented(value: String(value[..<tilde])), .valid)
                }
                guard settings.maxidle != nil || settings.maxlife != nil else { return (Presented(value: String(value)), .valid) }
                let parts = value.split(separator: "|", omittingEmptySubsequences: false)
                guard parts.count == 3, let seen = cookieDate(parts[1], now: now), let first = cookieDate(parts[2], now: now),
                      first <= seen else {
                    return (nil, .invalid)  // no dates, dates we never wrote, or forged: as if there were no cookie
                }
                if let maxidle = settings.maxidle, now - seen > Int(maxidle.nanoseconds / 1_000_000_000) { return (nil, .expired) }
                if let maxlife = settings.maxlife, now - first > Int(maxlife.nanoseconds / 1_000_000_000) { return (nil, .old) }
                return (Presented(value: String(parts[0]), firstSet: first, lastSeen: seen), .valid)
            }
        }
        return (nil, .none)
    }

    /// How far ahead of our clock a cookie date may be (the other VIP instance's clock may run
    /// ahead of ours).
    static let clockSkewAllowance = 86_400

    /// A date this process (or its VIP sibling) could have written: base 36, at most 8 digits,
    /// not negative, not past `now` + skew. Anything else is the client's invention, and the
    /// arithmetic on it must never overflow.
    static func cookieDate(_ text: Substring, now: Int) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 8, text.utf8.allSatisfy({ $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: "+") }),
              let date = Int(text, radix: 36), date >= 0, date <= now + clockSkewAllowance else { return nil }
        return date
    }

    /// Removes (insert + indirect) or un-prefixes (prefix) our cookie in the request.
    static func rewriteRequest(_ head: inout MessageHead, settings: CookieSettings) {
        guard (settings.mode == .insert && settings.indirect) || settings.mode == .prefix else { return }
        for i in head.fields.indices where !head.isRemoved(i) && head.name(i, is: "cookie") {
            let line = head.value(i)
            guard line.contains(settings.name + "=") else { continue }
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
            head.remove(i)
            if !kept.isEmpty { head.add("Cookie", kept.joined(separator: "; ")) }
        }
    }

    /// Adds or rewrites the cookie in a response from the server whose cookie value is `value`.
    /// `presented` is what the client sent if it named this same server.
    /// `precomputed`: the undated Set-Cookie value of this server, built once at start.
    /// Returns what it did, for the access log's fourth termination letter: I inserted, U
    /// updated (a `maxidle` refresh of the client's cookie), R rewritten (`rewrite`/`prefix`),
    /// N nothing.
    @discardableResult
    static func rewriteResponse(_ head: inout MessageHead, settings: CookieSettings, value: String,
                                presented: Presented?, method: HTTPMethodName, precomputed: String? = nil,
                                now: @autoclosure () -> Int = wallSeconds()) -> CookieState.Response {
        switch settings.mode {
        case .insert:
            let dated = settings.maxidle != nil || settings.maxlife != nil
            // With maxidle the last-seen date must move: the cookie is re-sent once a quarter
            // of maxidle has passed since it was last set, indirect or not.
            var refresh = false
            if let maxidle = settings.maxidle, let seen = presented?.lastSeen {
                refresh = now() - seen >= Int(maxidle.nanoseconds / 4_000_000_000)
            }
            // A client whose cookie names this server gets none (HAProxy's `!SF_DIRECT`),
            // `indirect` or not: `indirect` only keeps the cookie from the server.
            if presented != nil && !refresh { return .none }
            if settings.postonly && method != .post { return .none }
            var cookieValue = value
            if dated {
                let t = now()
                let first = presented?.firstSet ?? t
                cookieValue += "|\(String(t, radix: 36))|\(String(first, radix: 36))"
            }
            head.add("Set-Cookie", dated ? setCookieValue(settings: settings, value: cookieValue) : (precomputed ?? setCookieValue(settings: settings, value: cookieValue)))
            markPrivate(&head, settings: settings, method: method)
            return presented != nil && refresh ? .updated : .inserted
        case .rewrite, .prefix:
            var rewritten = false
            for i in head.fields.indices where !head.isRemoved(i) && head.name(i, is: "set-cookie") {
                let line = head.value(i)
                guard line.hasPrefix(settings.name + "=") else { continue }
                let rest = line.dropFirst(settings.name.count + 1)
                head.remove(i)
                if settings.mode == .prefix {
                    head.add("Set-Cookie", "\(settings.name)=\(value)~\(rest)")
                } else {
                    let attributes = rest.firstIndex(of: ";").map { String(rest[$0...]) } ?? ""
                    head.add("Set-Cookie", "\(settings.name)=\(value)\(attributes)")
                }
                rewritten = true
            }
            return rewritten ? .replaced : .none
        }
    }

    /// `cookie … insert` and a server without a `cookie` value: HAProxy answers every response
    /// it gives with the cookie's removal (`precomputed`, see `setCookieValue`), so that a
    /// client pinned elsewhere before (a backup server, a server added since) forgets it;
    /// `postonly` holds here too. Logged as inserted, as HAProxy's flags say.
    static func expireCookie(_ head: inout MessageHead, settings: CookieSettings, method: HTTPMethodName, precomputed: String?) -> CookieState.Response {
        guard settings.mode == .insert, !(settings.postonly && method != .post) else { return .none }
        head.add("Set-Cookie", precomputed ?? setCookieValue(settings: settings, value: nil))
        markPrivate(&head, settings: settings, method: method)
        return .inserted
    }

    /// `nocache`: a response that sets the cookie and that a cache would keep is marked
    /// `Cache-Control: private`, so that no shared cache hands one client's cookie to others.
    private static func markPrivate(_ head: inout MessageHead, settings: CookieSettings, method: HTTPMethodName) {
        if settings.nocache && ResponseCacheability.isCacheable(method: method, status: head.currentStatus, head: head) {
            head.add("Cache-Control", "private")
        }
    }

    /// `NAME=VALUE; path=/` with the configured attributes; for no value (a server without a
    /// `cookie`), HAProxy's removal `NAME=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/`.
    static func setCookieValue(settings: CookieSettings, value: String?) -> String {
        var cookie = value.map { "\(settings.name)=\($0); path=/" } ?? "\(settings.name)=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/"
        for domain in settings.domains { cookie += "; domain=\(domain)" }
        if settings.httponly { cookie += "; HttpOnly" }
        if settings.secure { cookie += "; Secure" }
        return cookie
    }

    static func wallSeconds() -> Int {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int(ts.tv_sec)
    }
}
