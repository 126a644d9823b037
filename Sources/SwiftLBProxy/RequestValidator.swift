import NIOHTTP1

/// How a request body is delimited (RFC 9112 §6.3), decided once from the head the client
/// sent and imposed on the head the server receives: the two can never disagree.
enum RequestFraming: Equatable {
    case none
    case length(Int)
    case chunked
}

/// The checks llhttp leaves to us, each a "MUST respond with 400" of RFC 9112 §3.2 or a
/// request a reverse proxy has no business forwarding. llhttp (strict, as NIO builds it)
/// already refuses invalid bytes in names and values, Content-Length together with
/// Transfer-Encoding, repeated Content-Length and unknown transfer codings.
enum RequestValidator {
    static func problem(in head: HTTPRequestHead) -> String? {
        guard head.version.major == 1 else { return "unsupported HTTP version" }
        let hosts = head.headers["host"]
        if hosts.count > 1 { return "repeated Host header" }
        if head.version.minor >= 1 && hosts.isEmpty { return "missing Host header" }
        if let host = hosts.first, !isValidHost(host) { return "invalid Host header" }
        if head.method == .CONNECT { return "CONNECT is not proxied" }
        if case .failure(let problem) = framing(of: head) { return problem.reason }
        let uri = head.uri.utf8
        guard let first = uri.first else { return "empty request target" }
        if first == UInt8(ascii: "/") { return nil }
        if head.uri == "*" && head.method == .OPTIONS { return nil }
        if let authority = absoluteFormAuthority(head.uri) {
            // The authority becomes the Host the server sees: it must be a plain host[:port].
            return authority.isEmpty || !isValidHost(authority) || authority.contains("@") ? "invalid authority in request target" : nil
        }
        return "invalid request target"
    }

    struct FramingProblem: Error { let reason: String }

    /// The body framing of a request (RFC 9112 §6.1-6.3): `Transfer-Encoding` must be exactly
    /// one `chunked` coding (any case, any number of header lines, but one token), never with
    /// Content-Length, and only from an HTTP/1.1 client; `Content-Length` must be one decimal
    /// number that fits in an Int. Anything else is refused: a proxy that guesses here is
    /// how requests get smuggled.
    static func framing(of head: HTTPRequestHead) -> Result<RequestFraming, FramingProblem> {
        let codings = head.headers["transfer-encoding"]
        let lengths = head.headers["content-length"]
        if !codings.isEmpty {
            if !lengths.isEmpty { return .failure(.init(reason: "Content-Length with Transfer-Encoding")) }
            if head.version.minor == 0 { return .failure(.init(reason: "Transfer-Encoding from an HTTP/1.0 client")) }
            var tokens: [Substring] = []
            for line in codings {
                for token in line.split(separator: ",", omittingEmptySubsequences: false) {
                    tokens.append(token.trimmingASCIISpaces())
                }
            }
            guard tokens.count == 1, tokens[0].lowercased() == "chunked" else {
                return .failure(.init(reason: "unsupported transfer coding '\(codings.joined(separator: ", "))'"))
            }
            return .success(.chunked)
        }
        guard let first = lengths.first else { return .success(.none) }
        guard lengths.allSatisfy({ $0 == first }), let length = parseContentLength(first) else {
            return .failure(.init(reason: "invalid Content-Length"))
        }
        return .success(length == 0 ? .none : .length(length))
    }

    /// A Content-Length value: 1*DIGIT, no sign, no spaces inside, no overflow.
    static func parseContentLength(_ text: String) -> Int? {
        let trimmed = text.trimmingASCIISpaces()
        guard !trimmed.isEmpty, trimmed.utf8.count <= 19 else { return nil }
        var value = 0
        for byte in trimmed.utf8 {
            guard byte >= 0x30 && byte <= 0x39 else { return nil }
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int(byte - 0x30))
            if o1 || o2 { return nil }
            value = sum
        }
        return value
    }

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
    static func isValidHost<S: StringProtocol>(_ host: S) -> Bool {
        for byte in host.utf8 {
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
