import CPCRE2

/// Matching with capture groups, for the rules that rewrite what they match: HAProxy's
/// `replace-header`/`replace-value`/`replace-path` (the whole subject becomes the replacement,
/// `\1`…`\9` naming the groups) and the `regsub` converter (each match replaced in place).
extension PCRE2Regex {
    /// The first match in `subject` starting at byte `offset`: element 0 is the whole match,
    /// element N group N (nil when the group did not take part). nil when nothing matches.
    public func firstMatch(in subject: [UInt8], from offset: Int = 0) -> [Range<Int>?]? {
        guard offset <= subject.count, let matchData = pcre2_match_data_create_from_pattern_8(code, nil) else { return nil }
        defer { pcre2_match_data_free_8(matchData) }
        var empty: UInt8 = 0
        let rc: Int32 = subject.withUnsafeBufferPointer { buf in
            withUnsafePointer(to: &empty) { emptyPtr in
                pcre2_match_8(code, buf.baseAddress ?? emptyPtr, buf.count, offset, 0, matchData, nil)
            }
        }
        guard rc >= 0 else { return nil }
        let pairs = Int(pcre2_get_ovector_count_8(matchData))
        guard let ovector = pcre2_get_ovector_pointer_8(matchData) else { return nil }
        var groups: [Range<Int>?] = []
        groups.reserveCapacity(pairs)
        for i in 0..<pairs {
            // PCRE2_UNSET (all bits set) marks a group that did not take part.
            let start = ovector[2 * i], end = ovector[2 * i + 1]
            groups.append(start == ~0 || end == ~0 ? nil : Int(start)..<Int(end))
        }
        return groups
    }

    /// HAProxy's `exp_replace`: `template` with `\0`…`\9` replaced by the groups of `match` in
    /// `subject` and `\xHH` by that byte; nil when the template ends in a lone backslash.
    public static func expand(_ template: String, subject: [UInt8], match: [Range<Int>?]) -> [UInt8]? {
        var out: [UInt8] = []
        let t = Array(template.utf8)
        var i = 0
        func hexValue(_ b: UInt8) -> UInt8 {
            // As HAProxy: upper-cased, then digits and letters folded without validation.
            var v = (b >= 0x61 && b <= 0x7A ? b - 0x20 : b) &- 0x30
            if v > 9 { v = v &- 7 }
            return v & 0x0F
        }
        while i < t.count {
            let b = t[i]
            guard b == 0x5C else {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < t.count else { return nil }
            let c = t[i]
            if c >= 0x30 && c <= 0x39 {
                let n = Int(c - 0x30)
                if n < match.count, let r = match[n] { out.append(contentsOf: subject[r]) }
                i += 1
            } else if c == 0x78 {  // \xHH
                guard i + 2 < t.count else { return nil }
                out.append(hexValue(t[i + 1]) << 4 | hexValue(t[i + 2]))
                i += 3
            } else {
                out.append(c)
                i += 1
            }
        }
        return out
    }
}
