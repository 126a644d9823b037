import NIOCore
import SwiftLBConfig
import SwiftLBRegex

/// The header edits of rules beyond set/add/del by exact name (those are `MessageHead`'s):
/// `del-header NAME -m str|beg|end|sub|reg` and `replace-header`/`replace-value`, which HAProxy
/// applies in place — a replaced line stays where it was.
extension MessageHead {
    /// Removes every header whose name matches `pattern` by `method` (names compared without
    /// case; a regex is matched on the lower-cased name, as HAProxy stores names).
    mutating func removeHeaders(matching pattern: String, method: ACLCriterion.MatchMethod, regex: PCRE2Regex?) {
        let wanted = pattern.lowercased()
        func matches(_ name: String) -> Bool {
            let n = name.lowercased()
            switch method {
            case .exact, .found, .binary, .integer, .domain: return n == wanted
            case .prefix: return n.hasPrefix(wanted)
            case .suffix: return n.hasSuffix(wanted)
            case .substring: return n.contains(wanted)
            case .regex: return regex?.matches(n) ?? false
            }
        }
        for i in keptIndices where matches(name(i)) { remove(i) }
        added.removeAll { matches($0.name) }
    }

    /// `option http-restrict-req-hdr-names delete|reject` (HAProxy's
    /// `http_req_restrict_header_names`): headers whose name holds anything but letters,
    /// digits and `-` are removed; false (nothing removed) when `policy` is `reject` and one
    /// is there — the request is then refused.
    mutating func restrictHeaderNames(_ policy: HeaderNamePolicy) -> Bool {
        guard policy != .preserve else { return true }
        func allowed(_ name: String) -> Bool {
            name.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == UInt8(ascii: "-") }
        }
        let bad = keptIndices.filter { !allowed(name($0)) }
        let badAdded = added.contains { !allowed($0.name) }
        if policy == .reject { return bad.isEmpty && !badAdded }
        for i in bad { remove(i) }
        added.removeAll { !allowed($0.name) }
        return true
    }

    /// `replace-header` (`eachValue` false: the whole value) / `replace-value` (each
    /// comma-separated value): a value `regex` matches anywhere is replaced by `template`
    /// expanded with its groups (`\1`…) — the whole value, not only the matched part, as
    /// HAProxy's `exp_replace` does. Lines keep their place.
    mutating func replaceValues(of name: String, regex: PCRE2Regex, template: String, eachValue: Bool) {
        let wanted = name.lowercased()
        func replaced(_ value: String) -> String? {
            guard eachValue else { return Self.replace(value, regex, template) }
            var changed = false
            let parts = value.split(separator: ",", omittingEmptySubsequences: false).map { part -> String in
                // A replaced value loses the blanks around it, as in HAProxy (which replaces the
                // value with its surrounding whitespace); the others stay as they came.
                let trimmed = part.trimmingBlanks()
                guard !trimmed.isEmpty, let new = Self.replace(trimmed, regex, template) else { return String(part) }
                changed = true
                return new
            }
            return changed ? parts.joined(separator: ",") : nil
        }
        var replacements: [Int: String] = [:]
        for i in keptIndices where self.name(i).lowercased() == wanted {
            if let new = replaced(value(i)) { replacements[i] = new }
        }
        for k in added.indices where added[k].name.lowercased() == wanted {
            if let new = replaced(added[k].value) { added[k].value = new }
        }
        if !replacements.isEmpty { self = rebuilt(replacing: replacements) }
    }

    /// The value after `replace-*`, or nil when the regex does not match it.
    static func replace(_ value: String, _ regex: PCRE2Regex, _ template: String) -> String? {
        let subject = Array(value.utf8)
        guard let match = regex.firstMatch(in: subject), let out = PCRE2Regex.expand(template, subject: subject, match: match) else { return nil }
        return String(decoding: out, as: UTF8.self)
    }

    /// The same head with the values of some kept fields replaced in place: serialised and
    /// parsed again (rare edits; the common ones stay on the edit list).
    func rebuilt(replacing values: [Int: String]) -> MessageHead {
        var out = ByteBuffer()
        out.writeString(startLineOverride ?? string(0..<(startLineEnd - 2)))
        out.writeStaticString("\r\n")
        for i in keptIndices {
            if let v = values[i] {
                out.writeString(name(i))
                out.writeStaticString(": ")
                out.writeString(v)
                out.writeStaticString("\r\n")
            } else {
                out.writeString(string(fields[i].lineStart..<fields[i].lineEnd))
            }
        }
        for (n, v) in added {
            out.writeString(n)
            out.writeStaticString(": ")
            out.writeString(v)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        var parser = HeadParser(kind: kind, limits: .init(maxHead: 1 << 20, maxStored: nil, maxFields: 128))
        // A replacement with a control byte would not parse: the edit is then not applied.
        guard case .head(let head) = parser.parse(&out) else { return self }
        return head
    }
}
