import NIOCore

/// How a message's body is delimited, decided once from its head (RFC 9112 §6.3) and used both
/// to read it and to write it on: the two sides of SwiftLB never disagree about where a message
/// ends, which is what request smuggling needs.
enum MessageFraming {
    /// The request's body framing. `Transfer-Encoding` must be exactly one `chunked` coding (any
    /// case, one token across all its lines), never with Content-Length, and only from an
    /// HTTP/1.1 client; Content-Length must be one decimal number (repeated identically at most)
    /// that fits in an Int. Anything else is refused: a proxy that guesses here is how requests
    /// get smuggled.
    static func request(_ head: MessageHead) -> Result<BodyFramer.Mode?, HeadParser.Failure> {
        switch scan(head) {
        case .failure(let failure):
            return .failure(failure)
        case .success((let chunked, let length)):
            if chunked {
                if length != nil { return .failure(.malformed("Content-Length with Transfer-Encoding")) }
                if head.minorVersion == 0 { return .failure(.malformed("Transfer-Encoding from an HTTP/1.0 client")) }
                return .success(.chunked)
            }
            if let length, length > 0 { return .success(.length(length)) }
            return .success(nil)
        }
    }

    /// The framing fields of a head: whether it says `Transfer-Encoding: chunked` (exactly
    /// that, once) and its Content-Length (one number, repeated identically at most).
    private static func scan(_ head: MessageHead) -> Result<(chunked: Bool, length: Int?), HeadParser.Failure> {
        var chunked = false
        var length: Int?
        for i in head.fields.indices where !head.isRemoved(i) {
            if head.name(i, is: "transfer-encoding") {
                if chunked { return .failure(.malformed("several transfer codings")) }
                guard head.value(i, equals: "chunked") else { return .failure(.malformed("unsupported transfer coding")) }
                chunked = true
            } else if head.name(i, is: "content-length") {
                guard let n = head.decimalValue(i) else { return .failure(.malformed("invalid Content-Length")) }
                if let length, length != n { return .failure(.malformed("conflicting Content-Length")) }
                length = n
            }
        }
        return .success((chunked, length))
    }

    /// What a response's head says about its body.
    enum ResponseBody: Equatable {
        /// No body: HEAD, 1xx, 204, 304.
        case none
        case framed(BodyFramer.Mode)
    }

    /// The response's body framing. Ambiguous framing (Content-Length with Transfer-Encoding,
    /// conflicting lengths, a coding other than `chunked` alone) is refused: the client gets a
    /// 502 and the server connection is not reused.
    static func response(_ head: MessageHead, requestMethod: HTTPMethodName) -> Result<ResponseBody, HeadParser.Failure> {
        let status = head.status
        guard case .success((let chunked, let length)) = scan(head) else { return .failure(.malformed("response framing")) }
        if chunked && length != nil { return .failure(.malformed("Content-Length with Transfer-Encoding")) }
        // 1xx only: a status below 100 (`099`) is final and has a body, as HAProxy reads it.
        if requestMethod == .head || (100..<200).contains(status) || status == 204 || status == 304 { return .success(.none) }
        if chunked { return .success(.framed(.chunked)) }
        if let length { return .success(.framed(.length(length))) }
        return .success(.framed(.untilClose))
    }
}
