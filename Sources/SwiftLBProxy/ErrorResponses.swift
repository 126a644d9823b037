import NIOCore
import NIOHTTP1

/// The responses SwiftLB generates itself, with a short HTML body as HAProxy sends, and
/// `Connection: close` because after any of them the connection is closed.
enum ErrorResponse: Int {
    case badRequest = 400
    case requestTimeout = 408
    case uriTooLong = 414
    case headersTooLarge = 431
    case badGateway = 502
    case serviceUnavailable = 503
    case gatewayTimeout = 504

    var status: HTTPResponseStatus { HTTPResponseStatus(statusCode: rawValue) }

    private var explanation: String {
        switch self {
        case .badRequest: "The request was malformed and was not forwarded."
        case .requestTimeout: "The request was not received completely in time."
        case .uriTooLong: "The request line is longer than this server accepts."
        case .headersTooLarge: "The request headers are larger than this server accepts."
        case .badGateway: "The server returned an invalid or incomplete response, or refused the connection."
        case .serviceUnavailable: "No server is available to handle this request."
        case .gatewayTimeout: "The server did not respond in time."
        }
    }

    var body: String {
        "<html><body><h1>\(rawValue) \(status.reasonPhrase)</h1>\n\(explanation)\n</body></html>\n"
    }

    func head(version: HTTPVersion) -> HTTPResponseHead {
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: String(body.utf8.count))
        headers.add(name: "cache-control", value: "no-cache")
        headers.add(name: "content-type", value: "text/html")
        headers.add(name: "connection", value: "close")
        return HTTPResponseHead(version: version.minor == 0 ? .http1_0 : .http1_1, status: status, headers: headers)
    }

    /// The whole response as bytes, for answers given before any request head was parsed
    /// (408, 414, 431, 400 on a broken head): they bypass the HTTP pipeline, which only
    /// expects a response after a request.
    var wireBytes: String {
        var text = "HTTP/1.1 \(rawValue) \(status.reasonPhrase)\r\n"
        for (name, value) in head(version: .http1_1).headers { text += "\(name): \(value)\r\n" }
        return text + "\r\n" + body
    }
}
