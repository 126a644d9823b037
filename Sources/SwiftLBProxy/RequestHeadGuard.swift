import NIOCore

/// Sits in front of the HTTP decoder and watches the bytes of each request head, for two
/// answers the decoder cannot give:
/// * 414 vs 431: a request line longer than `maxRequestLine` is "URI too long", a header block
///   longer than `maxHeaderBlock` is "header fields too large" (llhttp only says "overflow");
/// * 408 vs silent close: whether any byte of the next request has arrived when
///   `timeout http-request` fires.
///
/// It stops scanning once it has seen the end of a head and resumes when the proxy handler
/// says the request ended, so body bytes are never scanned. Bytes of a pipelined request that
/// arrive together with the previous body are not scanned; the decoder's own limit (same size)
/// still bounds them.
final class RequestHeadGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Violation: Error { case requestLineTooLong, headersTooLarge }

    private enum State {
        /// Scanning the request line; `length` bytes so far.
        case requestLine(length: Int)
        /// Scanning header lines; `length` bytes so far, `newlines` counts a trailing LF (CR skipped).
        case headers(length: Int, atLineStart: Bool)
        /// Head complete: body bytes pass unscanned until `requestEnded()`.
        case body
        case failed
    }

    let maxRequestLine: Int
    let maxHeaderBlock: Int
    private var state: State = .requestLine(length: 0)
    /// Bytes of the current request head received so far (0 = the client is idle).
    private(set) var headBytesSeen = 0
    /// Called once when the first byte of a request arrives (the idle timer becomes the
    /// request timer).
    var onFirstByte: (() -> Void)?

    init(maxRequestLine: Int = 8192, maxHeaderBlock: Int = 32768) {
        self.maxRequestLine = maxRequestLine
        self.maxHeaderBlock = maxHeaderBlock
    }

    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// Writes a complete response straight to the socket and closes: for errors found before a
    /// request head exists, which the HTTP pipeline has no request to pair with.
    func respondAndClose(_ text: String) {
        guard let context else { return }
        state = .failed
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count)
        buffer.writeString(text)
        context.writeAndFlush(wrapOutboundOut(buffer)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// The proxy handler saw the request's end: the next bytes start a new head.
    func requestEnded() {
        if case .failed = state { return }
        state = .requestLine(length: 0)
        headBytesSeen = 0
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        switch state {
        case .failed:
            return
        case .body:
            context.fireChannelRead(data)
            return
        case .requestLine, .headers:
            if headBytesSeen == 0, buffer.readableBytes > 0 { onFirstByte?() }
            headBytesSeen += buffer.readableBytes
            if let violation = scan(buffer) {
                state = .failed
                context.fireErrorCaught(violation)
                return
            }
            context.fireChannelRead(data)
        }
    }

    private func scan(_ buffer: ByteBuffer) -> Violation? {
        buffer.withUnsafeReadableBytes { bytes -> Violation? in
            var i = 0
            while i < bytes.count {
                switch state {
                case .requestLine(let length):
                    // Find the LF that ends the request line.
                    var j = i
                    while j < bytes.count && bytes[j] != 0x0A { j += 1 }
                    let total = length + (j - i)
                    if total > maxRequestLine { return .requestLineTooLong }
                    if j < bytes.count {
                        // A leading empty line before a request is tolerated (RFC 9112 §2.2).
                        state = total <= 1 ? .requestLine(length: 0) : .headers(length: 0, atLineStart: true)
                        i = j + 1
                    } else {
                        state = .requestLine(length: total)
                        i = j
                    }
                case .headers(var length, var atLineStart):
                    while i < bytes.count {
                        let b = bytes[i]
                        i += 1
                        length += 1
                        if b == 0x0A {
                            if atLineStart { state = .body; break }
                            atLineStart = true
                        } else if b != 0x0D {
                            atLineStart = false
                        }
                    }
                    if case .body = state { return nil }
                    if length > maxHeaderBlock { return .headersTooLarge }
                    state = .headers(length: length, atLineStart: atLineStart)
                case .body, .failed:
                    return nil
                }
            }
            return nil
        }
    }
}
