import NIOCore

/// A response SwiftLB makes itself — a rule's deny, return, redirect or auth, the monitor URI,
/// an error page — kept as a parsed head plus a body until it is written, so that the
/// `http-after-response` rules edit it exactly as they edit a server's response.
///
/// Written as HAProxy 2.6 writes its own responses (its H1 output): header names in lower case,
/// `Connection` decided by the connection and appended last (`close` when it ends, unless the
/// status line is HTTP/1.0; `keep-alive` to an HTTP/1.0 client that keeps it), no body for HEAD.
struct LocalResponse {
    /// The head; after-response rules edit it in place.
    var head: MessageHead
    var body: ByteBuffer
    /// The body has no length (an error file without Content-Length): the connection must
    /// close after it.
    var closeDelimited: Bool
    /// HAProxy's 400 and 408 pages say `Connection: close`: the connection ends after them.
    var closes: Bool
    /// An empty error file: nothing is sent, the connection is closed (`errorfile 503
    /// /dev/null`, HAProxy's way to drop a client silently).
    var silent = false

    /// The status sent (after any `set-status`).
    var status: Int { head.currentStatus }

    /// Whether the connection must end with this response, whatever the client asked.
    var requiresClose: Bool { closeDelimited || closes || silent }

    /// A response from HAProxy-shaped text: `HTTP/1.x CODE REASON`, header lines, empty line,
    /// body. The text is SwiftLB's own or a validated error file, so a parse failure is a bug.
    init(text: String) {
        var bytes = ByteBuffer(string: text)
        guard let parsed = LocalResponse.parse(&bytes) else { preconditionFailure("unparsable built-in response: \(text.debugDescription)") }
        self = parsed
    }

    private init(head: MessageHead, body: ByteBuffer, closeDelimited: Bool, closes: Bool) {
        self.head = head
        self.body = body
        self.closeDelimited = closeDelimited
        self.closes = closes
    }

    /// Parses a full response (head and body) the way HAProxy reads an error file: `Connection`
    /// lines are the connection's business and are dropped (noting a `close`), names are kept
    /// for lower-casing on output. nil when the head does not parse.
    static func parse(_ bytes: inout ByteBuffer) -> LocalResponse? {
        var parser = HeadParser(kind: .response, limits: .init(maxHead: 65536, maxStored: nil, maxFields: 128))
        guard case .head(var head) = parser.parse(&bytes) else { return nil }
        var closes = false
        for i in head.indices(of: "connection") {
            if head.value(i, hasToken: "close") { closes = true }
            head.remove(i)
        }
        let hasLength = head.contains("content-length") || head.status == 204 || head.status == 304
        return LocalResponse(head: head, body: bytes, closeDelimited: !hasLength && !head.contains("transfer-encoding"), closes: closes)
    }

    /// A generated response: status line `HTTP/1.1 CODE REASON`, `headers` in order, body.
    static func make(status: Int, reason: String? = nil, headers: [(String, String)], body: String = "") -> LocalResponse {
        var text = "HTTP/1.1 \(status) \(reason ?? HAProxyMessages.reason(for: status))\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        return LocalResponse(text: text + "\r\n" + body)
    }

    /// HAProxy's built-in page for `status` (its 500 page for a status it has none for, as
    /// `http_get_status_idx` does).
    static func haproxyPage(_ status: Int) -> LocalResponse {
        LocalResponse(text: HAProxyMessages.page(for: status) ?? HAProxyMessages.page(for: 500)!)
    }

    /// The bytes to write. `close`: the connection ends after this response (the stream's
    /// decision, which must include `requiresClose`). `clientMinor`: the request's HTTP/1.x
    /// minor version. `headRequest`: a HEAD gets the head only.
    func bytes(close: Bool, clientMinor: Int, headRequest: Bool, allocator: ByteBufferAllocator = ByteBufferAllocator()) -> ByteBuffer {
        if silent { return allocator.buffer(capacity: 0) }
        var out = allocator.buffer(capacity: head.serialisedSizeEstimate + body.readableBytes + 32)
        if let line = head.startLineOverride {
            out.writeString(line)
            out.writeStaticString("\r\n")
        } else {
            out.writeString(head.string(0..<(head.startLineEnd - 2)))
            out.writeStaticString("\r\n")
        }
        for i in head.keptIndices {
            out.writeString(head.name(i).lowercased())
            out.writeStaticString(": ")
            out.writeString(head.value(i))
            out.writeStaticString("\r\n")
        }
        for (name, value) in head.added {
            out.writeString(name.lowercased())
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        let responseIs10 = head.versionText == "HTTP/1.0"
        if close || requiresClose {
            if !responseIs10 { out.writeStaticString("connection: close\r\n") }
        } else if clientMinor == 0 || responseIs10 {
            out.writeStaticString("connection: keep-alive\r\n")
        }
        out.writeStaticString("\r\n")
        if !headRequest {
            var body = self.body
            out.writeBuffer(&body)
        }
        return out
    }
}
