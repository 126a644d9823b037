import SwiftLBConfig

/// `http-request normalize-uri NORMALIZER`: HAProxy 2.6's URI normalizers (src/uri_normalizer.c),
/// pure functions from a request target to the normalized one. They exist so that rules and
/// servers that compare paths see one spelling of a path (`/a//b/./c` and `/a/b/c`), the way
/// HAProxy's own rules would. Checked byte for byte against haproxy 2.6.12 (the unit tests hold
/// the answers it gave, the reg-test `http-rules/normalize_uri.vtc` the rest).
///
/// The path normalizers work on the path (up to `?`), the query ones on what follows `?`, the
/// percent and fragment ones on the whole target from its path on. `*` (OPTIONS) and a target
/// without a path are left alone.
enum URINormalizer {
    /// Why a strict normalizer refused the target: the request is answered with 400.
    struct Invalid: Error, Equatable {}

    /// The normalized target, or `Invalid` for a bad percent-sequence under `strict`.
    static func apply(_ normalizer: HTTPRule.URINormalizer, to target: String) -> Result<String, Invalid> {
        guard let start = TargetRewrite.pathStart(target) else { return .success(target) }
        let prefix = String(target[..<start])
        let rest = target[start...]
        let queryMark = rest.firstIndex(of: "?")
        let path = queryMark.map { rest[..<$0] } ?? rest
        let query = queryMark.map { rest[$0...] } ?? ""
        if path.isEmpty, normalizer.readsPath { return .success(target) }
        switch normalizer {
        case .pathStripDot: return .success(prefix + stripDots(path) + query)
        case .pathStripDotDot(let full): return .success(prefix + stripDotDots(path, full: full) + query)
        case .pathMergeSlashes: return .success(prefix + mergeSlashes(path) + query)
        case .querySortByName:
            guard query.count > 1 else { return .success(target) }
            return .success(prefix + path + "?" + sortQuery(query.dropFirst()))
        case .percentDecodeUnreserved(let strict):
            return percent(rest, strict: strict, decodeUnreserved: true).map { prefix + $0 }
        case .percentToUppercase(let strict):
            return percent(rest, strict: strict, decodeUnreserved: false).map { prefix + $0 }
        case .fragmentStrip:
            return .success(prefix + (rest.firstIndex(of: "#").map { rest[..<$0] } ?? rest))
        case .fragmentEncode:
            return .success(prefix + rest.replacing("#", with: "%23"))
        }
    }

    /// The segments after the leading `/` (`/a//b/` → `a`, ``, `b`, ``).
    private static func segments(_ path: Substring) -> [Substring] {
        path.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
    }

    /// `path-strip-dot`: `.` segments removed; one that ended the path leaves its `/`.
    static func stripDots(_ path: Substring) -> String {
        var kept: [Substring] = []
        let all = segments(path)
        for (i, segment) in all.enumerated() {
            if segment == "." {
                if i == all.count - 1 { kept.append("") }
            } else {
                kept.append(segment)
            }
        }
        return "/" + kept.joined(separator: "/")
    }

    /// `path-strip-dotdot [full]`: each `..` removes the segment before it (an empty one
    /// too); a `..` with nothing left to remove stays (`/../a`) unless `full`. A `..` that
    /// ended the path leaves its `/` (`/a/b/..` → `/a/`).
    static func stripDotDots(_ path: Substring, full: Bool) -> String {
        var kept: [Substring] = []
        let all = segments(path)
        for (i, segment) in all.enumerated() {
            if segment == ".." {
                if let last = kept.last, last != ".." {
                    kept.removeLast()
                } else if !full {
                    kept.append("..")
                }
                if i == all.count - 1 { kept.append("") }
            } else {
                kept.append(segment)
            }
        }
        return "/" + kept.joined(separator: "/")
    }

    /// `path-merge-slashes`: runs of `/` become one.
    static func mergeSlashes(_ path: Substring) -> String {
        var out = ""
        out.reserveCapacity(path.utf8.count)
        var previousSlash = false
        for c in path {
            if c == "/" && previousSlash { continue }
            previousSlash = c == "/"
            out.append(c)
        }
        return out
    }

    /// `query-sort-by-name`: the `&`-separated parameters in the byte order of their names
    /// (up to `=`), parameters of one name in the order written.
    static func sortQuery(_ query: Substring) -> String {
        let parameters = query.split(separator: "&", omittingEmptySubsequences: false)
        let sorted = parameters.enumerated().sorted { a, b in
            let na = a.element.prefix { $0 != "=" }.utf8, nb = b.element.prefix { $0 != "=" }.utf8
            if na.elementsEqual(nb) { return a.offset < b.offset }
            return na.lexicographicallyPrecedes(nb)
        }
        return sorted.map(\.element).joined(separator: "&")
    }

    /// `percent-to-uppercase` (hex digits of every `%XX` upper-cased) or
    /// `percent-decode-unreserved` (a `%XX` naming a letter, digit, `-`, `.`, `_` or `~` becomes
    /// that character). A `%` without two hex digits stays as written, or makes the target
    /// invalid under `strict`.
    static func percent(_ text: Substring, strict: Bool, decodeUnreserved: Bool) -> Result<String, Invalid> {
        let bytes = Array(text.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            guard b == UInt8(ascii: "%") else { out.append(b); i += 1; continue }
            guard i + 2 < bytes.count, let hi = hexValue(bytes[i + 1]), let lo = hexValue(bytes[i + 2]) else {
                if strict { return .failure(Invalid()) }
                out.append(b)
                i += 1
                continue
            }
            let decoded = hi << 4 | lo
            if decodeUnreserved {
                if isUnreserved(decoded) { out.append(decoded) } else { out.append(contentsOf: bytes[i...(i + 2)]) }
            } else {
                out.append(b)
                out.append(upper(bytes[i + 1]))
                out.append(upper(bytes[i + 2]))
            }
            i += 3
        }
        return .success(String(decoding: out, as: UTF8.self))
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func upper(_ c: UInt8) -> UInt8 { c >= UInt8(ascii: "a") && c <= UInt8(ascii: "f") ? c - 0x20 : c }

    /// RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".
    private static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
            || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "-") || c == UInt8(ascii: ".")
            || c == UInt8(ascii: "_") || c == UInt8(ascii: "~")
    }
}
