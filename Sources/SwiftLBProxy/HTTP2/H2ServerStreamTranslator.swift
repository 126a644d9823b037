import NIOCore
import NIOHPACK
import NIOHTTP2

/// `server … proto h2`: one HTTP/2 stream towards a server seen as an HTTP/1.1 connection
/// carrying one exchange — the handler between NIOHTTP2's stream channel and the
/// `ServerConnection` on it, so that the engine, the dispatcher and the exchange code speak
/// HTTP/1.1 bytes to an h2 server as to any other (the mirror of `H2StreamTranslator`).
///
/// Outbound, the request bytes the engine writes are parsed with our `HeadParser` and
/// `BodyFramer`: the head becomes HEADERS (`H2ServerMessages.request`), the body DATA (decoded
/// from chunks), its end END_STREAM. Inbound, HEADERS become an HTTP/1.1 head, DATA the body
/// (chunked when no length came), END_STREAM its end. A malformed response, or DATA that does
/// not add up to the Content-Length, resets the stream (RST_STREAM(PROTOCOL_ERROR)) and closes
/// it: the engine sees its server close, a 502 before the head, a truncated response after.
final class H2ServerStreamTranslator: ChannelDuplexHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// What the engine has written.
    private enum RequestPhase {
        /// Bytes of the request head arriving.
        case head
        /// The body, framed as the engine framed it.
        case body(BodyFramer)
        /// END_STREAM sent.
        case complete
    }

    /// What the server has sent.
    private enum ResponsePhase {
        /// Waiting for the (final) HEADERS; 1xx heads may come first.
        case head
        /// DATA flows: `remaining` bytes announced, or chunked towards the engine (nil).
        case body(remaining: Int?)
        /// END_STREAM seen, or the stream was reset.
        case complete
    }

    private let tls: Bool
    private var request = RequestPhase.head
    private var response = ResponsePhase.head
    private var requestParser = HeadParser(kind: .request, limits: HeadParser.Limits(maxHead: 262_144, maxStored: nil, maxFields: 1000))
    /// Request bytes not consumed yet (a head split over writes).
    private var pending = ByteBuffer()
    /// HEAD: the response announces a body it does not carry.
    private var bodyless = false

    /// `tls`: the server connection is TLS (the request's `:scheme` is `https`).
    init(tls: Bool) { self.tls = tls }

    /// The exchange is complete on our side (`ServerConnection.endStream`): the stream closes
    /// once the server has ended it too — at once if it has — or after `LoopState.poolPurgeDelay`.
    struct StreamDone {}
    private var closeAtEnd = false
    /// The deadline of a stream the server has not ended yet (cancelled once it closes, so it
    /// does not hold the stream's pipeline for the delay).
    private var closeTimer: Scheduled<Void>?

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard event is StreamDone else { return context.triggerUserOutboundEvent(event, promise: promise) }
        promise?.succeed(())
        if case .complete = response { return context.close(promise: nil) }
        closeAtEnd = true
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        closeTimer = context.eventLoop.scheduleTask(in: LoopState.poolPurgeDelay) { bound.value.close(promise: nil) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if closeAtEnd, case .complete = response {
            closeAtEnd = false
            context.close(promise: nil)
        }
        context.fireChannelReadComplete()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = nil
    }

    // MARK: engine → server

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        var bytes = unwrapOutboundIn(data)
        if pending.readableBytes > 0 {
            pending.writeBuffer(&bytes)
            bytes = pending
            pending = ByteBuffer()
        }
        var last: EventLoopFuture<Void>?
        func emit(_ payload: HTTP2Frame.FramePayload) {
            last = context.write(wrapOutboundOut(payload))
        }
        loop: while bytes.readableBytes > 0 {
            switch request {
            case .complete:
                // Nothing follows a request on its stream.
                bytes.moveReaderIndex(forwardBy: bytes.readableBytes)
            case .head:
                switch requestParser.parse(&bytes) {
                case .incomplete:
                    pending = bytes
                    break loop
                case .failure:
                    request = .complete
                    emit(.rstStream(.internalError))
                case .head(let head):
                    bodyless = head.method == .head
                    let headers = H2ServerMessages.request(head, tls: tls)
                    switch MessageFraming.request(head) {
                    case .success(.none), .success(.length(0)):
                        request = .complete
                        emit(.headers(.init(headers: headers, endStream: true)))
                    case .success(.some(let mode)):
                        request = .body(BodyFramer(mode))
                        emit(.headers(.init(headers: headers, endStream: false)))
                    case .failure:
                        request = .complete
                        emit(.rstStream(.internalError))
                    }
                }
            case .body(var framer):
                guard let done = H2BodyFrames.take(&framer, from: &bytes, emit: emit) else {
                    request = .complete
                    emit(.rstStream(.internalError))
                    continue loop
                }
                request = done ? .complete : .body(framer)
                if !done && bytes.readableBytes > 0 {
                    pending = bytes
                    break loop
                }
            }
        }
        if let promise {
            if let last { last.cascade(to: promise) } else { promise.succeed(()) }
        }
    }

    // MARK: server → engine

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (response, unwrapInboundIn(data)) {
        case (.complete, _):
            return
        case (.head, .headers(let frame)):
            switch H2ServerMessages.response(frame.headers, endStream: frame.endStream, bodyless: bodyless) {
            case .malformed:
                resetStream(context: context)
            case .interim(let head):
                context.fireChannelRead(wrapInboundOut(context.channel.allocator.buffer(string: head)))
            case .final(let head, let remaining, let complete):
                response = complete ? .complete : .body(remaining: remaining)
                let bytes = context.channel.allocator.buffer(string: head)
                // Nothing to come but the stream's end (HEAD, 204, 304, length 0): the head waits
                // for it, so the exchange ends when the server's stream does, as in HAProxy (the
                // client's next request must not overtake what the server still does).
                if remaining == 0 && !complete { heldHead = bytes } else { context.fireChannelRead(wrapInboundOut(bytes)) }
            }
        case (.body(let remaining), .data(let frame)):
            guard case .byteBuffer(var bytes) = frame.data else { return resetStream(context: context) }
            if let remaining {
                let left = remaining - bytes.readableBytes
                if left < 0 || (frame.endStream && left != 0) { return resetStream(context: context) }
                response = frame.endStream ? .complete : .body(remaining: left)
                if frame.endStream { releaseHead(context: context) }
                if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
            } else {
                response = frame.endStream ? .complete : .body(remaining: nil)
                if let framed = H2BodyFrames.chunk(&bytes, last: frame.endStream, allocator: context.channel.allocator) {
                    context.fireChannelRead(wrapInboundOut(framed))
                }
            }
        case (.body(let remaining), .headers(let trailers)):
            // Trailers end the stream; after a chunked body they go to the engine.
            guard trailers.endStream else { return resetStream(context: context) }
            if let remaining {
                guard remaining == 0 else { return resetStream(context: context) }
                response = .complete
                releaseHead(context: context)
            } else {
                guard let last = H2ServerMessages.trailers(trailers.headers) else { return resetStream(context: context) }
                response = .complete
                context.fireChannelRead(wrapInboundOut(last))
            }
        case (.head, .data):
            resetStream(context: context)
        default:
            // WINDOW_UPDATE, PRIORITY, RST_STREAM (NIOHTTP2 closes the stream channel)…
            return
        }
    }

    /// A final head with no body to follow, held until the server's END_STREAM.
    private var heldHead: ByteBuffer?

    private func releaseHead(context: ChannelHandlerContext) {
        guard let head = heldHead else { return }
        heldHead = nil
        context.fireChannelRead(wrapInboundOut(head))
    }

    /// RST_STREAM(PROTOCOL_ERROR) and the stream's end: the engine sees its server close.
    private func resetStream(context: ChannelHandlerContext) {
        response = .complete
        request = .complete
        context.writeAndFlush(wrapOutboundOut(.rstStream(.protocolError)), promise: nil)
        context.close(promise: nil)
    }
}
