import NIOCore

/// The errors SwiftLB answers itself, each with HAProxy 2.6's built-in page for its status
/// (`HAProxyMessages`), put on the wire as HAProxy puts it. HAProxy has two writers and
/// clients see both:
///
/// * a request its H1 layer refuses before any stream exists (a head that does not parse, does
///   not fit the buffer, or does not come in time: 400, 408) gets the page's text verbatim —
///   `Content-length`, `Cache-Control`, `Connection: close`, `Content-Type`, as written in
///   `http_err_msgs` — and the connection closes (`muxBytes`);
/// * an error a stream answers (no server 503, 502, 504, a body that breaks 400…) is the page
///   as a response (`page`): names in lower case, `Connection` as the client's request decides
///   (none to a keep-alive HTTP/1.1 client), the `http-after-response` rules run on it.
///
/// HAProxy has no 414 or 431 of its own: a head too large for its buffer is a 400 (see
/// `HeadParser.Limits`).
enum ErrorResponse: Int {
    /// HAProxy answers a response its `option checkcache` blocks with the page of the
    /// response's own status (`http_error_message` on the server's status): these cacheable
    /// statuses have one, the others get the 500 page.
    case ok = 200
    case notFound = 404, methodNotAllowed = 405, gone = 410, notImplemented = 501
    case badRequest = 400
    case forbidden = 403
    case requestTimeout = 408
    case internalError = 500
    case badGateway = 502
    case serviceUnavailable = 503
    case gatewayTimeout = 504

    /// HAProxy's page for this status as a response a stream sends (`errorfile` pages replace it).
    var page: LocalResponse { LocalResponse.haproxyPage(rawValue) }

    /// The page as HAProxy's H1 mux writes it for a request it refuses before any stream.
    func muxBytes(allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        // Every case has a built-in page (`HAProxyMessages.pageStatuses`).
        allocator.buffer(string: HAProxyMessages.page(for: rawValue)!)
    }
}
