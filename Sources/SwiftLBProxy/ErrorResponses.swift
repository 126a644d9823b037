import NIOCore

/// The responses SwiftLB generates itself, with a short HTML body as HAProxy sends, and
/// `Connection: close` because after any of them the connection is closed.
enum ErrorResponse: Int {
    case badRequest = 400
    case forbidden = 403
    case requestTimeout = 408
    case uriTooLong = 414
    case headersTooLarge = 431
    case internalError = 500
    case notImplemented = 501
    case badGateway = 502
    case serviceUnavailable = 503
    case gatewayTimeout = 504

    var reason: String {
        switch self {
        case .badRequest: "Bad Request"
        case .forbidden: "Forbidden"
        case .requestTimeout: "Request Timeout"
        case .uriTooLong: "URI Too Long"
        case .headersTooLarge: "Request Header Fields Too Large"
        case .internalError: "Internal Server Error"
        case .notImplemented: "Not Implemented"
        case .badGateway: "Bad Gateway"
        case .serviceUnavailable: "Service Unavailable"
        case .gatewayTimeout: "Gateway Timeout"
        }
    }

    private var explanation: String {
        switch self {
        case .badRequest: "The request was malformed and was not forwarded."
        case .forbidden: "Request forbidden by administrative rules."
        case .requestTimeout: "The request was not received completely in time."
        case .uriTooLong: "The request line is longer than this server accepts."
        case .headersTooLarge: "The request headers are larger than this server accepts."
        case .internalError: "An internal error occurred."
        case .notImplemented: "The request uses a feature this server does not implement."
        case .badGateway: "The server returned an invalid or incomplete response, or refused the connection."
        case .serviceUnavailable: "No server is available to handle this request."
        case .gatewayTimeout: "The server did not respond in time."
        }
    }

    var body: String {
        "<html><body><h1>\(rawValue) \(reason)</h1>\n\(explanation)\n</body></html>\n"
    }

    /// The whole response as bytes. Its status line says HTTP/1.1 whatever the client's version
    /// (`minorVersion` is kept for callers): HAProxy answers its own responses so, and RFC 9110
    /// has a server name the highest version it supports.
    func bytes(minorVersion: Int = 1, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        let body = self.body
        var out = allocator.buffer(capacity: 160 + body.utf8.count)
        out.writeString("HTTP/1.1 \(rawValue) \(reason)\r\ncontent-length: \(body.utf8.count)\r\ncache-control: no-cache\r\ncontent-type: text/html\r\nconnection: close\r\n\r\n")
        out.writeString(body)
        return out
    }
}
