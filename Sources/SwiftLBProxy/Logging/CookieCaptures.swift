import SwiftLBConfig

/// `capture cookie NAME len N`, as HAProxy 2.6's cookie parsers capture (http_ana.c): the
/// first cookie of the request's `Cookie` lines, and the first cookie a response's
/// `Set-Cookie` lines set, whose name begins with NAME — `name=value` with the blanks around it
/// and around its `=` trimmed (a response's attributes left out), cut to N bytes — for the log's `%CC` and `%CS`.
enum CookieCaptures {
    static func request(_ capture: CookieCapture, _ head: MessageHead) -> String? {
        for line in head.values(of: "cookie") {
            for pair in line.split(separator: ";") {
                if let captured = match(capture, pair) { return captured }
            }
        }
        return nil
    }

    static func response(_ capture: CookieCapture, _ head: MessageHead) -> String? {
        for line in head.values(of: "set-cookie") {
            // Only the cookie itself: the attributes after its first `;` are never captured.
            if let captured = match(capture, line.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "") {
                return captured
            }
        }
        return nil
    }

    private static func match(_ capture: CookieCapture, _ pair: Substring) -> String? {
        var trimmed = pair.trimmingBlanks()
        // The name is matched first, on the pair as it is: no String is built for the pairs
        // of other names (blanks before `=` come after the name, so they cannot change it).
        guard trimmed.utf8.starts(with: capture.name.utf8) else { return nil }
        // HAProxy squeezes the blanks around `=` out of the header before it captures
        // (`SESSID = 01` is logged `SESSID=01`), so they take no room in the N bytes.
        if let equal = trimmed.firstIndex(of: "=") {
            trimmed = trimmed[..<equal].trimmingBlanks() + "=" + trimmed[trimmed.index(after: equal)...].trimmingBlanks()
            // A name that only matched with its blanks (`SES =…` for `SES X`) is no match.
            guard trimmed.utf8.starts(with: capture.name.utf8) else { return nil }
        }
        return String(decoding: trimmed.utf8.prefix(max(capture.length, 0)), as: UTF8.self)
    }
}
