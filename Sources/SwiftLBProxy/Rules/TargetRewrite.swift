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

    /// `set-pathq`: the path and the query replaced (an absolute-form target keeps its scheme
    /// and authority).
    static func settingPathQuery(_ target: String, to pathQuery: String) -> String {
        String(target[..<(pathStart(target) ?? target.startIndex)]) + pathQuery
    }

    /// `set-query`: the query replaced (an empty one leaves `?`; no `?` is added for an empty
    /// one — HAProxy's `http_replace_req_query`).
    static func settingQuery(_ target: String, to query: String) -> String {
        if let q = target.firstIndex(of: "?") { return String(target[...q]) + query }
        return query.isEmpty ? target : target + "?" + query
    }

    /// What `replace-path` (the path without the query), `replace-pathq` (the path and the
    /// query) and `replace-uri` (the whole target) rewrite.
    enum Scope: Sendable { case path, pathQuery, uri }

    /// When `regex` matches the part, it becomes the expanded template; nil when it does not match.
    static func replacing(_ target: String, regex: PCRE2Regex, template: String, _ scope: Scope) -> String? {
        if scope == .uri { return MessageHead.replace(target, regex, template) }
        let start = pathStart(target) ?? target.startIndex
        let rest = target[start...]
        let pathEnd = scope == .pathQuery ? target.endIndex : rest.firstIndex(of: "?") ?? target.endIndex
        guard let path = MessageHead.replace(String(target[start..<pathEnd]), regex, template) else { return nil }
        return String(target[..<start]) + path + target[pathEnd...]
    }

    /// Writes `target` into the head's start line.
    static func apply(_ target: String, to head: inout MessageHead) {
        head.startLineOverride = "\(head.currentMethod) \(target) \(head.versionText)"
    }
}
