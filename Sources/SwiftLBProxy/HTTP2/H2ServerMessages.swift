import NIOCore
import NIOHPACK

/// The conversions of `server … proto h2`, the reverse of the frontend's: the HTTP/1.1 request
/// head the engine wrote becomes a request header block, and the server's response header
/// blocks become the HTTP/1.1 heads the engine parses. Pure: no channel, no I/O.
///
/// RFC 9113 §8.3 and HAProxy 2.6's h2 mux are the rules. The request's Host becomes
/// `:authority` (an absolute-form target gives scheme, authority and path), connection-specific
/// fields are dropped. A response must carry one `:status` first and nothing connection-specific
/// or uppercase (else it is malformed: the client gets a 502); without a Content-Length its body
/// is chunked towards the engine, and a response that ends with its HEADERS says
/// `content-length: 0` (HTTP/1.1 would read it until the close).
enum H2ServerMessages {
    /// The request header block for `head`; `tls`: the connection to the server is TLS
    /// (`:scheme https`).
    static func request(_ head: MessageHead, tls: Bool) -> HPACKHeaders {
        var out = HPACKHeaders()
        out.reserveCapacity(head.fields.count + 4)
        let method = head.string(head.part1)
        var scheme = tls ? "https" : "http"
        var target = head.target
        var authority = head.firstIndex(of: "host").map { head.value($0) }
        // Absolute form (`GET http://host/path`): its scheme and authority win. Only a target
        // that starts with a scheme is one (`/x?u=http://a/b` is an origin-form path).
        if !target.hasPrefix("/"), let colon = target.firstIndex(of: ":"), target[colon...].hasPrefix("://"),
           H2RequestHead.isScheme(String(target[..<colon])) {
            let rest = target[target.index(colon, offsetBy: 3)...]
            // The authority ends at the path or at the query (`http://a?x` is `/?x` on `a`).
            let slash = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            scheme = String(target[..<colon]).lowercased()
            authority = String(rest[..<slash])
            target = slash == rest.endIndex ? "/" : rest[slash] == "?" ? "/" + rest[slash...] : String(rest[slash...])
        }
        out.add(name: ":method", value: method)
        out.add(name: ":scheme", value: scheme)
        if let authority, !authority.isEmpty { out.add(name: ":authority", value: authority) }
        out.add(name: ":path", value: target)
        H2ResponseHead.appendFields(of: head, to: &out, keepTE: true, dropHost: true)
        return out
    }

    /// What a response header block becomes.
    enum Response: Equatable {
        /// An interim (1xx) head: more HEADERS follow.
        case interim(String)
        /// The final head, and how its body comes: `remaining` bytes announced by Content-Length,
        /// nil when chunked towards the engine; `complete` when the HEADERS ended the stream.
        case final(String, remaining: Int?, complete: Bool)
        /// Not a valid HTTP/2 response (RFC 9113 §8.1.1): the stream is reset, the client gets 502.
        case malformed(String)
    }

    /// `bodyless`: the request was HEAD (the response announces a body it does not carry).
    static func response(_ headers: HPACKHeaders, endStream: Bool, bodyless: Bool) -> Response {
        var status: Int?
        var regular = false
        var length: Int?
        var fields = ""
        for (name, value, _) in headers {
            if name.hasPrefix(":") {
                guard !regular, name == ":status", status == nil else { return .malformed("unexpected pseudo-header \(name)") }
                guard value.utf8.count == 3, let code = Int(value), code >= 100 else { return .malformed("invalid :status") }
                status = code
                continue
            }
            regular = true
            guard H2RequestHead.isToken(name), H2RequestHead.isFieldValue(value),
                  !name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
                return .malformed("invalid field \(name)")
            }
            switch name {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
                return .malformed("connection-specific field \(name)")
            case "content-length":
                guard let n = RequestValidator.parseContentLength(value), length == nil || length == n else { return .malformed("invalid content-length") }
                if length != nil { continue }
                length = n
            default:
                break
            }
            fields += "\(name): \(value)\r\n"
        }
        guard let status else { return .malformed("missing :status") }
        let line = "HTTP/1.1 \(status) \(HAProxyMessages.reason(for: status))\r\n"
        if status < 200 {
            // 101 has no place in HTTP/2 (RFC 9113 §8.6); an interim head never ends the stream.
            guard status != 101, !endStream else { return .malformed("interim status \(status)") }
            return .interim(line + fields + "\r\n")
        }
        if bodyless || status == 204 || status == 304 {
            return .final(line + fields + "\r\n", remaining: 0, complete: endStream)
        }
        if let length {
            if endStream && length != 0 { return .malformed("content-length without DATA") }
            return .final(line + fields + "\r\n", remaining: length, complete: endStream)
        }
        if endStream { return .final(line + fields + "content-length: 0\r\n\r\n", remaining: 0, complete: true) }
        return .final(line + fields + "transfer-encoding: chunked\r\n\r\n", remaining: nil, complete: false)
    }

    /// Trailers after a chunked body: the last chunk and the fields; nil if they are invalid.
    static func trailers(_ headers: HPACKHeaders) -> ByteBuffer? { H2RequestHead.trailers(headers) }
}
