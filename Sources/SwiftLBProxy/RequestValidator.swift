/// The checks on a parsed request head that the parser leaves to the stream: each a "MUST
/// respond with 400" of RFC 9112 §3.2, or a request a reverse proxy has no business forwarding.
/// (The parser already refuses bad bytes, bad versions, folding; `MessageFraming` refuses
/// ambiguous framing.)
enum RequestValidator {
    /// `hostOptional`: an HTTP/2 request may carry neither `:authority` nor Host (RFC 9113
    /// §8.3.1), and HAProxy forwards it so.
    static func problem(in head: MessageHead, hostOptional: Bool = false) -> String? {
        var hosts = 0
        var hostIndex: Int?
        for i in head.fields.indices where head.name(i, is: "host") {
            hosts += 1
            hostIndex = i
        }
        if hosts > 1 { return "repeated Host header" }
        if head.minorVersion >= 1 && hosts == 0 && !hostOptional { return "missing Host header" }
        if let hostIndex, !head.bytes.withUnsafeReadableBytes({ isValidHost(UnsafeRawBufferPointer(rebasing: $0[Int(head.fields[hostIndex].valueStart)..<Int(head.fields[hostIndex].valueEnd)])) }) {
            return "invalid Host header"
        }
        let method = head.method
        if method == .connect { return "CONNECT is not proxied" }
        if method == .other && head.isPrefaceMethod { return "PRI is the HTTP/2 preface's method" }
        let first = head.bytes.getInteger(at: Int(head.part2.lowerBound), as: UInt8.self)
        if first == UInt8(ascii: "/") { return nil }
        let target = head.target
        if target == "*" && method == .options { return nil }
        if let authority = absoluteFormAuthority(target) {
            // The authority becomes the Host the server sees: it must be a plain host[:port],
            // without userinfo, encoded or not (`user%40evil`: HAProxy and nginx refuse it too).
            if authority.isEmpty || !isValidHost(authority) || authority.contains("@") || authority.contains("%") { return "invalid authority in request target" }
            // Host must name the same origin (HAProxy 2.6 refuses a mismatch with 400; RFC 9112
            // §3.2.2 lets a proxy replace Host, which would hide the disagreement instead).
            if let hostIndex, !AbsoluteForm.hostAgrees(authority: authority, host: Substring(head.value(hostIndex)), https: AbsoluteForm.isHTTPS(target) == true) {
                return "Host does not match the authority of the request target"
            }
            return nil
        }
        return "invalid request target"
    }

    /// A Content-Length value: 1*DIGIT, no sign, no spaces inside, no overflow.
    static func parseContentLength(_ text: String) -> Int? { parseDecimal(text.trimmingASCIISpaces().utf8) }

    /// The authority of an absolute-form target (`http://host:port/path`), or nil when the
    /// target is not in absolute form.
    static func absoluteFormAuthority(_ uri: String) -> Substring? {
        let lower = uri.prefix(8).lowercased()
        let rest: Substring
        if lower.hasPrefix("http://") { rest = uri.dropFirst(7) } else if lower.hasPrefix("https://") { rest = uri.dropFirst(8) } else { return nil }
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        return rest[..<end]
    }

    /// RFC 3986 host [":" port]: reg-name, IPv4 or a bracketed IP literal; no userinfo, path
    /// or whitespace.
    static func isValidHost<S: StringProtocol>(_ host: S) -> Bool { isValidHost(host.utf8) }

    static func isValidHost<C: Collection<UInt8>>(_ host: C) -> Bool {
        for byte in host {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"):
                continue
            default:
                if !"-._~!$&'()*+,;=:[]%".utf8.contains(byte) { return false }
            }
        }
        return true
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's OWS).
    func trimmingASCIISpaces() -> Substring {
        let s = Substring(self)
        guard let start = s.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return s[s.endIndex...] }
        let end = s.lastIndex(where: { $0 != " " && $0 != "\t" })!
        return s[start...end]
    }
}
