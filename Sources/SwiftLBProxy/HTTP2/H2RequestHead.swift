import NIOCore
import NIOHPACK

/// An HTTP/2 request's header block as the HTTP/1.1 head `HTTPClientConnection` reads (HAProxy's
/// HTX idea: h2 is converted at the edge, one engine behind it). Pure: no channel, no I/O.
///
/// RFC 9113 §8.3 and HAProxy 2.6's h2 mux are the rules: the four pseudo-headers (`:method`,
/// `:scheme`, `:path`, `:authority`; `:authority` becomes Host and wins over a Host header),
/// connection-specific fields and `te` other than `trailers` are a stream error, and so are
/// uppercase names and a Content-Length that is not one number; split `cookie` fields are joined
/// with "; ". A scheme's default port is dropped from the authority (RFC 3986 §6.2.3, HAProxy's
/// scheme-based normalisation). A body of unknown length goes to the server chunked.
enum H2RequestHead {
    /// What the stream becomes.
    enum Outcome: Equatable {
        /// The HTTP/1.1 head to feed the engine, and how the body that follows is framed.
        case head(ByteBuffer, Converted)
        /// A malformed request (RFC 9113 §8.1.1): RST_STREAM(PROTOCOL_ERROR), nothing answered.
        case streamError(String)
        /// A request HAProxy answers with 400 (a scheme that is no scheme): the engine answers it.
        case badRequest(String)
    }

    /// The facts the stream keeps about its request.
    struct Converted: Equatable {
        var method: String
        var scheme: String?
        /// The authority as the Host header carries it (default port removed), if any.
        var authority: String?
        /// Content-Length announced by the client, which the DATA frames must add up to.
        var contentLength: Int?
        /// No length and more to come: the body goes out chunked.
        var chunked: Bool
    }

    /// A request line HeadParser refuses: how a request HAProxy answers with 400 reaches the
    /// one engine that answers, logs and counts (`<BADREQ>` in the log, as HAProxy's).
    static let refusedHead = "BADREQ\r\n\r\n"

    static func convert(_ headers: HPACKHeaders, endStream: Bool, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> Outcome {
        var method: String?, scheme: String?, path: String?, authority: String?, proto: String?
        var regular = true  // still in the pseudo-header section?
        var host: String?
        var cookies: [String] = []
        var contentLength: Int?
        var fields: [(String, String)] = []
        fields.reserveCapacity(headers.count)
        for (name, value, _) in headers {
            if name.hasPrefix(":") {
                guard regular else { return .streamError("pseudo-header \(name) after a regular field") }
                func once(_ slot: inout String?) -> Bool {
                    guard slot == nil else { return false }
                    slot = value
                    return true
                }
                let fresh: Bool
                switch name {
                case ":method": fresh = once(&method)
                case ":scheme": fresh = once(&scheme)
                case ":path": fresh = once(&path)
                case ":authority": fresh = once(&authority)
                case ":protocol": fresh = once(&proto)
                default: return .streamError("unknown pseudo-header \(name)")
                }
                if !fresh { return .streamError("repeated \(name)") }
                continue
            }
            regular = false
            guard !name.isEmpty, !name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
                return .streamError("uppercase field name \(name)")
            }
            guard isToken(name), isFieldValue(value) else { return .streamError("invalid field \(name)") }
            switch name {
            case "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade":
                return .streamError("connection-specific field \(name)")
            case "te":
                guard value.lowercased() == "trailers" else { return .streamError("te other than trailers") }
                fields.append((name, value))
            case "host":
                if host == nil { host = value } else { return .streamError("repeated host") }
            case "cookie":
                cookies.append(value)
            case "content-length":
                // One number, possibly repeated identically ("0," or "" are stream errors).
                guard let n = RequestValidator.parseContentLength(value), contentLength == nil || contentLength == n else {
                    return .streamError("invalid content-length")
                }
                // Forwarded once, where it came (as HAProxy does).
                if contentLength == nil { fields.append((name, String(n))) }
                contentLength = n
            default:
                fields.append((name, value))
            }
        }
        guard let method, !method.isEmpty else { return .streamError("missing :method") }
        // A method that is no token (`GET?`): HAProxy's 400 (h2_desync_attacks.vtc).
        guard isToken(method) else { return .badRequest("invalid :method") }
        let isConnect = method == "CONNECT"
        if isConnect && proto == nil {
            // Plain CONNECT (a tunnel) carries only :method and :authority; SwiftLB proxies no
            // CONNECT (the engine answers 400 as for HTTP/1.1).
            guard scheme == nil, path == nil, authority != nil else { return .streamError("CONNECT with :scheme or :path, or without :authority") }
            return .badRequest("CONNECT is not proxied")
        }
        if proto != nil { return .badRequest("extended CONNECT is not proxied") }
        guard let scheme, let path, !path.isEmpty else { return .streamError("missing :scheme or :path") }
        guard path.hasPrefix("/") || (path == "*" && method == "OPTIONS"),
              !path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else { return .streamError("invalid :path") }
        guard isScheme(scheme) else { return .badRequest("invalid :scheme") }

        // :authority wins over Host (HAProxy 2.6; h2_desync_attacks.vtc); without it, Host stays.
        var hostValue = authority ?? host
        if let a = authority {
            guard !a.isEmpty, RequestValidator.isValidHost(a), !a.contains("@") else { return .streamError("invalid :authority") }
            hostValue = dropDefaultPort(a, scheme: scheme.lowercased())
        }

        var out = allocator.buffer(capacity: 256)
        out.writeString(method)
        out.writeStaticString(" ")
        out.writeString(path)
        out.writeStaticString(" HTTP/1.1\r\n")
        // A request without any authority still gets its Host line, empty, as RFC 9112 §3.2
        // has an HTTP/1.1 client send it (HAProxy passes such a stream on too).
        out.writeStaticString("host: ")
        if let hostValue { out.writeString(hostValue) }
        out.writeStaticString("\r\n")
        for (name, value) in fields {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        if !cookies.isEmpty {
            out.writeStaticString("cookie: ")
            out.writeString(cookies.joined(separator: "; "))
            out.writeStaticString("\r\n")
        }
        let chunked = contentLength == nil && !endStream
        if let contentLength {
            if endStream && contentLength != 0 { return .streamError("content-length without DATA") }
        } else if chunked {
            out.writeStaticString("transfer-encoding: chunked\r\n")
        }
        out.writeStaticString("\r\n")
        return .head(out, Converted(method: method, scheme: scheme.lowercased(), authority: authority == nil ? nil : hostValue,
                                    contentLength: contentLength, chunked: chunked))
    }

    /// Trailers after a chunked body: the last chunk and the fields (pseudo-headers, connection-
    /// specific fields refused as in the head).
    static func trailers(_ headers: HPACKHeaders) -> ByteBuffer? {
        var out = ByteBuffer(string: "0\r\n")
        for (name, value, _) in headers {
            if name.hasPrefix(":") || !isToken(name) || !isFieldValue(value) { return nil }
            if name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) { return nil }
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
        return out
    }

    /// `hostname:80` with `http` is `hostname`; `hostname:443` with `https` too.
    static func dropDefaultPort(_ authority: String, scheme: String) -> String {
        let suffix = scheme == "http" ? ":80" : scheme == "https" ? ":443" : nil
        guard let suffix, authority.hasSuffix(suffix) else { return authority }
        return String(authority.dropLast(suffix.count))
    }

    /// RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
    static func isScheme(_ s: String) -> Bool {
        guard let first = s.utf8.first, isAlpha(first) else { return false }
        return s.utf8.allSatisfy { isAlpha($0) || ($0 >= 0x30 && $0 <= 0x39) || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    private static func isAlpha(_ b: UInt8) -> Bool { (b | 0x20) >= UInt8(ascii: "a") && (b | 0x20) <= UInt8(ascii: "z") }

    /// RFC 9110 token (a field name).
    static func isToken(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.allSatisfy { b in
            isAlpha(b) || (b >= 0x30 && b <= 0x39) || "!#$%&'*+-.^_`|~".utf8.contains(b)
        }
    }

    /// No CR, LF or NUL (RFC 9113 §8.2.1): such a value would split the HTTP/1.1 head.
    static func isFieldValue(_ s: String) -> Bool {
        !s.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }
}
