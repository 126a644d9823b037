/// HAProxy 2.6's built-in answers (src/http.c `http_err_msgs` and `http_get_reason`), word for
/// word: a client, a monitoring probe or a test written against HAProxy sees the same status
/// line, headers and body from SwiftLB's rules, monitor URI and default error pages.
enum HAProxyMessages {
    /// Status → the HTML body's sentence, for the statuses HAProxy has a page for.
    private static let explanations: [Int: String] = [
        200: "Service ready.",
        400: "Your browser sent an invalid request.",
        401: "You need a valid user and password to access this content.",
        403: "Request forbidden by administrative rules.",
        404: "The resource could not be found.",
        405: "A request was made of a resource using a request method not supported by that resource",
        407: "You need a valid user and password to access this content.",
        408: "Your browser didn't send a complete request in time.",
        410: "The resource is no longer available and will not be available again.",
        413: "The request entity exceeds the maximum allowed.",
        421: "Request sent to a non-authoritative server.",
        422: "The server cannot process the contained instructions.",
        425: "Your browser sent early data.",
        429: "You have sent too many requests in a given amount of time.",
        500: "An internal server error occurred.",
        501: ".The server does not support the functionality required to fulfill the request.",
        502: "The server returned an invalid or incomplete response.",
        503: "No server is available to handle this request.",
        504: "The server didn't respond in time.",
    ]

    /// The reason phrases of the built-in pages where they differ from `reason(for:)`.
    private static let pageReasons: [Int: String] = [400: "Bad request", 407: "Unauthorized", 413: "Payload Too Large", 502: "Bad Gateway"]

    /// The statuses HAProxy has a built-in page for.
    static var pageStatuses: [Int] { explanations.keys.sorted() }

    /// HAProxy's built-in page for `status` (as `http_err_msgs`, before the H1 output lowercases
    /// the names), or nil when it has none. 400 and 408 carry `Connection: close`: HAProxy
    /// closes after them.
    static func page(for status: Int) -> String? {
        guard let explanation = explanations[status] else { return nil }
        let reason = pageReasons[status] ?? reason(for: status)
        let body = "<html><body><h1>\(status) \(reason)</h1>\n\(explanation)\n</body></html>\n"
        let close = status == 400 || status == 408 ? "Connection: close\r\n" : ""
        return "HTTP/1.1 \(status) \(reason)\r\nContent-length: \(body.utf8.count)\r\nCache-Control: no-cache\r\n\(close)Content-Type: text/html\r\n\r\n\(body)"
    }

    /// `http_get_reason`: the reason phrase HAProxy writes for a status it generates.
    static func reason(for status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 102: "Processing"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 203: "Non-Authoritative Information"
        case 204: "No Content"
        case 205: "Reset Content"
        case 206: "Partial Content"
        case 207: "Multi-Status"
        case 210: "Content Different"
        case 226: "IM Used"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Moved Temporarily"
        case 303: "See Other"
        case 304: "Not Modified"
        case 305: "Use Proxy"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 310: "Too many Redirects"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Time-out"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Request Entity Too Large"
        case 414: "Request-URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Requested range unsatisfiable"
        case 417: "Expectation failed"
        case 418: "I'm a teapot"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Content"
        case 423: "Locked"
        case 424: "Method failure"
        case 425: "Too Early"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 449: "Retry With"
        case 450: "Blocked by Windows Parental Controls"
        case 451: "Unavailable For Legal Reasons"
        case 456: "Unrecoverable Error"
        case 499: "client has closed connection"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway or Proxy Error"
        case 503: "Service Unavailable"
        case 504: "Gateway Time-out"
        case 505: "HTTP Version not supported"
        case 506: "Variant also negotiate"
        case 507: "Insufficient storage"
        case 508: "Loop detected"
        case 509: "Bandwidth Limit Exceeded"
        case 510: "Not extended"
        case 511: "Network authentication required"
        case 520: "Web server is returning an unknown error"
        default:
            switch status {
            case 100..<200: "Informational"
            case 200..<300: "Success"
            case 300..<400: "Redirection"
            case 400..<500: "Client Error"
            case 500..<600: "Server Error"
            default: "Other"
            }
        }
    }
}
