import SwiftLBConfig

/// `capture request|response header NAME len N`: header values kept for the access log, as
/// HAProxy keeps them — the whole value of the last occurrence, cut to N bytes, empty when
/// absent — and printed as HAProxy's `%hr`/`%hs` print them: `{v1|v2}` in the order
/// declared, with `"`, `#`, `{`, `|`, `}` and bytes outside printable ASCII written `#XX`.
enum HeaderCaptures {
    /// The captured values of `head` for the captures of one direction.
    static func capture(_ captures: [HeaderCapture], response: Bool, from head: MessageHead) -> [String] {
        captures.filter { $0.response == response }.map { capture in
            guard let value = head.values(of: capture.name.lowercased()).last else { return "" }
            return String(decoding: value.utf8.prefix(capture.length), as: UTF8.self)
        }
    }

    /// The values for the access log's `%hr`/`%hs` (SwiftLBLog escapes and joins them): nil
    /// for an absent header, and nil for the whole when no capture has this direction.
    static func logValues(_ captures: [HeaderCapture], response: Bool, from head: MessageHead) -> [String?]? {
        let mine = captures.filter { $0.response == response }
        guard !mine.isEmpty else { return nil }
        return mine.map { capture in
            // A rule's slot (`http-request capture`) is filled when its rule runs.
            if capture.byRule { return nil }
            return head.values(of: capture.name.lowercased()).last.map { String(decoding: $0.utf8.prefix(capture.length), as: UTF8.self) }
        }
    }

    /// `{v1|v2}`, or "" when nothing is captured in this direction.
    static func logField(_ values: [String]) -> String {
        guard !values.isEmpty else { return "" }
        return "{" + values.map(escape).joined(separator: "|") + "}"
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for b in value.utf8 {
            if b < 0x20 || b >= 0x7F || b == 0x22 || b == 0x23 || b == 0x7B || b == 0x7C || b == 0x7D {
                out += "#" + SampleExpression.hexByte(b)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(b))
            }
        }
        return out
    }
}
