/// A request in absolute form (`GET http://host:port/path HTTP/1.1`, RFC 9112 §3.2.2) as HAProxy
/// 2.6 takes it: the Host field must name the authority (a scheme's default port on one side and
/// none on the other still agree — h1.c's `h1_validate_mismatch_authority`), and a default or
/// empty port is dropped from both (`http_scheme_based_normalize`). The target then goes on to
/// the server as it is, absolute (RFC 9112 §3.2.2: a server MUST accept it). Pure; only ever
/// called for a target that does not start with `/`, so origin-form requests pay nothing.
enum AbsoluteForm {
    /// `host[:port]` split as HAProxy's `http_get_host_port`: the digits after the last `:`
    /// (possibly none: `host:`), or nil when there is no port (a bracketed IPv6 literal alone).
    static func splitPort(_ authority: Substring) -> (host: Substring, port: Substring?) {
        var i = authority.endIndex
        while i > authority.startIndex {
            let before = authority.index(before: i)
            guard authority[before].isASCII, authority[before].isNumber else { break }
            i = before
        }
        guard i > authority.startIndex else { return (authority, nil) }
        let colon = authority.index(before: i)
        guard authority[colon] == ":" else { return (authority, nil) }
        return (authority[..<colon], authority[i...])
    }

    /// An empty port, or 80 for http, 443 for https (HAProxy's `http_is_default_port`).
    static func isDefaultPort(_ port: Substring, https: Bool) -> Bool {
        port.isEmpty || port == (https ? "443" : "80")
    }

    /// Whether `host` (the Host field) names the same origin as `authority`.
    static func hostAgrees(authority: Substring, host: Substring, https: Bool) -> Bool {
        if authority.lowercased() == host.lowercased() { return true }
        let (uriHost, uriPort) = splitPort(authority)
        let (hostName, hostPort) = splitPort(host)
        if uriPort == nil && hostPort == nil { return false }
        if let uriPort, !isDefaultPort(uriPort, https: https) { return false }
        if let hostPort, !isDefaultPort(hostPort, https: https) { return false }
        return uriHost.lowercased() == hostName.lowercased()
    }

    /// The scheme of an absolute-form target: true for https, false for http, nil otherwise.
    static func isHTTPS(_ target: String) -> Bool? {
        let lower = target.prefix(8).lowercased()
        if lower.hasPrefix("https://") { return true }
        if lower.hasPrefix("http://") { return false }
        return nil
    }

    /// The target without a default (or empty) port in its authority, and the Host value every
    /// Host field then gets; nil when there is nothing to normalise.
    static func normalised(_ target: String) -> (target: String, host: String)? {
        guard let https = isHTTPS(target), let authority = RequestValidator.absoluteFormAuthority(target) else { return nil }
        let (host, port) = splitPort(authority)
        guard let port, isDefaultPort(port, https: https) else { return nil }
        return (String(target[..<authority.startIndex]) + host + target[authority.endIndex...], String(host))
    }

    /// Makes Host and the target's authority agree before the head goes to the server, the way
    /// HAProxy keeps them in step: a rule that set Host (`set-header Host …`) while the target
    /// still has the authority it arrived with moves the authority to it
    /// (`http_update_authority`); otherwise — a rule moved the authority (`set-uri`), or an
    /// HTTP/1.0 client sent no Host — Host follows the authority (`http_update_host`). A Host
    /// value that is no valid `host[:port]` never reaches the request line: Host follows the
    /// authority then too.
    static func keepHost(_ head: inout MessageHead, agreeingWith authority: Substring, https: Bool) {
        let edited = head.added.last { $0.name.lowercased() == "host" }.map { Substring($0.value) }
        let current = edited ?? head.firstIndex(of: "host").map { Substring(head.value($0)) }
        if let current, hostAgrees(authority: authority, host: current, https: https) { return }
        if let edited, !edited.isEmpty, RequestValidator.isValidHost(edited),
           let received = RequestValidator.absoluteFormAuthority(head.target), hostAgrees(authority: authority, host: received, https: https) {
            let target = head.currentTarget
            if let now = RequestValidator.absoluteFormAuthority(target) {
                TargetRewrite.apply(String(target[..<now.startIndex]) + edited + target[now.endIndex...], to: &head)
                return
            }
        }
        head.set("Host", String(authority))
    }

    /// Normalises an absolute-form request head in place (start line and Host): before the log
    /// line, captures and rules see it, as HAProxy's parser does it.
    static func normalise(_ head: inout MessageHead) {
        guard let (target, host) = normalised(head.target) else { return }
        TargetRewrite.apply(target, to: &head)
        if head.contains("host") { head.set("Host", host) }
    }
}
