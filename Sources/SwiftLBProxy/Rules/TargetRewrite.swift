import SwiftLBConfig
import SwiftLBRegex

/// `set-path`, `set-query`, `set-uri`, `replace-path`, `replace-uri`: new request targets,
/// computed as HAProxy's `http_replace_req_*` do, and written as the head's start-line
/// override (method and version as they came).
enum TargetRewrite {
    /// Where the path starts in `target`: after the authority of an absolute-form target, at
    /// the start of an origin-form one; nil for `*` and authority-form (HAProxy's
    /// `http_parse_path`).
    static func pathStart(_ target: String) -> String.Index? {
        if target.hasPrefix("/") { return target.startIndex }
        guard let scheme = target.firstRange(of: "://") else { return nil }
        let afterAuthority = target[scheme.upperBound...].firstIndex(where: { $0 == "/" || $0 == "?" })
        return afterAuthority ?? target.endIndex
    }

    /// `set-path`: the path replaced, the query kept.
    static func settingPath(_ target: String, to path: String) -> String {
        let start = pathStart(target) ?? target.startIndex
        let rest = target[start...]
        let query = rest.firstIndex(of: "?").map { rest[$0...] } ?? ""
        return String(target[..<start]) + path + query
    }

    /// `set-query`: the query replaced (an empty one leaves `?`; no `?` is added for an empty
    /// one — HAProxy's `http_replace_req_query`).
    static func settingQuery(_ target: String, to query: String) -> String {
        if let q = target.firstIndex(of: "?") { return String(target[...q]) + query }
        return query.isEmpty ? target : target + "?" + query
    }

    /// `replace-path` (the path without the query) / `replace-uri` (the whole target): when
    /// `regex` matches, the part becomes the expanded template; nil when it does not match.
    static func replacing(_ target: String, regex: PCRE2Regex, template: String, wholeURI: Bool) -> String? {
        if wholeURI { return MessageHead.replace(target, regex, template) }
        let start = pathStart(target) ?? target.startIndex
        let rest = target[start...]
        let pathEnd = rest.firstIndex(of: "?") ?? target.endIndex
        guard let path = MessageHead.replace(String(target[start..<pathEnd]), regex, template) else { return nil }
        return String(target[..<start]) + path + target[pathEnd...]
    }

    /// Writes `target` into the head's start line.
    static func apply(_ target: String, to head: inout MessageHead) {
        head.startLineOverride = "\(head.currentMethod) \(target) \(head.versionText)"
    }
}
