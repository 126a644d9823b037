import SwiftLBConfig

/// HAProxy 2.6's rules for HTTP compression (flt_http_comp.c), as pure functions on message
/// heads: which algorithm a request allows, whether a response may be compressed, and how its
/// head changes when it is. The I/O (the zlib stream, chunking) is `Deflater` and
/// HTTPClientConnection+Response.
enum CompressionRules {
    /// What applies to one exchange: the backend's algorithms and types when it has any,
    /// otherwise the frontend's; `offload` when either says so.
    struct Policy: Equatable {
        let algorithms: [HTTPCompression.Algorithm]
        let types: [String]
        let offload: Bool

        /// nil when neither proxy has an algorithm (nothing is ever compressed).
        init?(frontend: HTTPCompression?, backend: HTTPCompression?) {
            let algorithms = backend.map(\.algorithms).flatMap { $0.isEmpty ? nil : $0 } ?? frontend?.algorithms ?? []
            guard !algorithms.isEmpty else { return nil }
            self.algorithms = algorithms
            types = backend.map(\.types).flatMap { $0.isEmpty ? nil : $0 } ?? frontend?.types ?? []
            offload = backend?.offload == true || frontend?.offload == true
        }
    }

    // MARK: request

    /// The algorithm the request allows (select_compression_request_header): the
    /// Accept-Encoding entry with the highest q-value (the first of equals) that names a
    /// configured algorithm (`*` names the first of the list); else `identity` when it is
    /// configured. Old "Mozilla/4" agents other than MSIE 6 SP2 and later get none. With
    /// `offload`, a request that chose an encoding loses its Accept-Encoding lines.
    static func choose(_ head: inout MessageHead, policy: Policy) -> HTTPCompression.Algorithm? {
        if let agent = head.values(of: "user-agent").first, isOldMozilla(Array(agent.utf8)) { return nil }
        var chosen: HTTPCompression.Algorithm?
        var best = 0
        for line in head.values(of: "accept-encoding") {
            for entry in line.split(separator: ",") {
                let value = Array(entry.utf8.drop { $0 == 0x20 || $0 == 0x09 })
                guard !value.isEmpty else { continue }
                let tokenLength = value.prefix(while: isTokenByte).count
                let q = qValue(value[tokenLength...])
                if q <= best { continue }
                let token = String(decoding: value[..<tokenLength], as: UTF8.self).lowercased()
                if let algorithm = policy.algorithms.first(where: { value[0] == UInt8(ascii: "*") || $0.token == token }) {
                    chosen = algorithm
                    best = q
                }
            }
        }
        if let chosen {
            if policy.offload { head.removeAll("accept-encoding") }
            return chosen
        }
        return policy.algorithms.contains(.identity) ? .identity : nil
    }

    /// `Mozilla/4…` unless `Mozilla/4.0 (compatible; MSIE 6…SV1` or MSIE 7 and later, at
    /// HAProxy's fixed offsets.
    private static func isOldMozilla(_ ua: [UInt8]) -> Bool {
        guard ua.count >= 9, ua.starts(with: "Mozilla/4".utf8) else { return false }
        if ua.count < 31 || !ua[25..<30].elementsEqual("MSIE ".utf8) || ua[30] < UInt8(ascii: "6") { return true }
        return ua[30] == UInt8(ascii: "6") && (ua.count < 54 || !ua[51..<54].elementsEqual("SV1".utf8))
    }

    /// RFC 9110 tchar.
    private static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    /// The first `q=` parameter after the token, in thousandths (1000 when absent), read as
    /// http_parse_qvalue reads it: `0.5` is 500, `1` is 1000, garbage after a digit is ignored.
    private static func qValue(_ rest: ArraySlice<UInt8>) -> Int {
        var p = rest.startIndex
        let end = rest.endIndex
        func skipSpace() { while p < end && (rest[p] == 0x20 || rest[p] == 0x09) { p += 1 } }
        while true {
            skipSpace()
            guard p < end, rest[p] == UInt8(ascii: ";") else { return 1000 }
            p += 1
            skipSpace()
            guard p < end else { return 1000 }
            if rest[p...].starts(with: "q=".utf8) { p += 2; break }
            while p < end && rest[p] != UInt8(ascii: ";") { p += 1 }
        }
        func digit() -> Int? {
            guard p < end, rest[p] >= UInt8(ascii: "0"), rest[p] <= UInt8(ascii: "9") else { return nil }
            defer { p += 1 }
            return Int(rest[p] - UInt8(ascii: "0"))
        }
        guard let units = digit() else { return 1000 }
        var q = units * 1000
        if p < end, rest[p] == UInt8(ascii: ".") {
            p += 1
            for scale in [100, 10, 1] {
                guard let d = digit() else { break }
                q += d * scale
            }
        }
        return min(q, 1000)
    }

    // MARK: response

    /// Whether the server's response may be compressed (select_compression_response_header),
    /// judged on the head as the server sent it, before any http-response rule: HTTP/1.1 on
    /// both sides, not HEAD, status 200–203, a body with a known end (a length above 0 or
    /// chunks: not one that ends at close, not 204/304), not already Content-Encoded, no
    /// `Cache-Control: no-transform`, at most one ETag and a well-formed one, a Content-Type
    /// that is not multipart and starts with a listed type (one is required when types are
    /// listed).
    static func mayCompress(_ head: MessageHead, body: MessageFraming.ResponseBody, clientMinor: Int, method: HTTPMethodName, policy: Policy) -> Bool {
        guard clientMinor == 1, head.minorVersion == 1, method != .head, (200...203).contains(head.status) else { return false }
        switch body {
        case .framed(.length(let n)) where n > 0: break  // `Content-Length: 0` is bodyless to HAProxy
        case .framed(.chunked): break
        case .framed(.length), .framed(.untilClose), .none: return false
        }
        if !head.values(of: "content-encoding").isEmpty { return false }
        for line in head.values(of: "cache-control") {
            for entry in line.split(separator: ",") where entry.trimmingSpaces.lowercased() == "no-transform" { return false }
        }
        let etags = head.values(of: "etag")
        if etags.count > 1 || etags.first.map({ !isWellFormedETag(Array($0.utf8)) }) == true { return false }
        if let type = head.values(of: "content-type").first {
            let bytes = Array(type.utf8)
            if hasPrefixIgnoringCase(bytes, "multipart") { return false }
            if !policy.types.isEmpty && !policy.types.contains(where: { hasPrefixIgnoringCase(bytes, $0) }) { return false }
        } else if !policy.types.isEmpty {
            return false
        }
        return true
    }

    /// `"…"` or `W/"…"` (http_get_etag_type).
    private static func isWellFormedETag(_ v: [UInt8]) -> Bool {
        guard v.count >= 2, v.last == UInt8(ascii: "\"") else { return false }
        return v[0] == UInt8(ascii: "\"") || v.starts(with: "W/\"".utf8)
    }

    private static func hasPrefixIgnoringCase(_ value: [UInt8], _ prefix: String) -> Bool {
        let p = Array(prefix.utf8)
        guard value.count >= p.count else { return false }
        return zip(value, p).allSatisfy { asciiLower($0) == asciiLower($1) }
    }

    /// The head the client receives once compression is on (set_compression_response_header),
    /// applied after the http-response and http-after-response rules, as HAProxy applies it:
    /// chunked instead of Content-Length, a strong ETag made weak, `Vary: Accept-Encoding`,
    /// and `Content-Encoding` unless the algorithm is identity.
    static func rewrite(_ head: inout MessageHead, algorithm: HTTPCompression.Algorithm) {
        if !head.values(of: "transfer-encoding").contains(where: { $0.lowercased().hasSuffix("chunked") }) {
            head.add("Transfer-Encoding", "chunked")
        }
        head.removeAll("content-length")
        if let etag = head.values(of: "etag").first, etag.hasPrefix("\"") {
            head.set("ETag", "W/" + etag)
        }
        head.add("Vary", "Accept-Encoding")
        if algorithm != .identity { head.add("Content-Encoding", algorithm.token) }
    }
}

extension Substring {
    /// Without the spaces and tabs around it (a header list element's OWS, RFC 9110 §5.6.1).
    var trimmingSpaces: Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s.removeFirst() }
        while let c = s.last, c == " " || c == "\t" { s.removeLast() }
        return s
    }
}
