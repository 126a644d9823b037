import NIOCore
import NIOHPACK
import NIOHTTP2

/// One HTTP/2 stream seen as an HTTP/1.1 connection carrying one request: the handler between
/// NIOHTTP2's stream channel and `HTTPClientConnection`, the one HTTP exchange engine (rules,
/// balancing, cookies, logs, errors). HAProxy's HTX idea: h2 is converted at the edge.
///
/// Inbound, HEADERS become the HTTP/1.1 head `H2RequestHead` builds and DATA the body (raw under
/// a Content-Length the DATA must add up to, chunked when no length was announced). Outbound,
/// the bytes the engine writes are parsed back with our own `HeadParser` and `BodyFramer` (no
/// NIOHTTP1 on the data path): each head becomes HEADERS, the body DATA, the end of the body
/// END_STREAM. A malformed request is a stream error: RST_STREAM(PROTOCOL_ERROR).
///
/// Two phase enums, one per direction; impossible transitions are preconditionFailures.
final class H2StreamTranslator: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTP2Frame.FramePayload

    /// What the client has sent on this stream.
    private enum RequestPhase {
        /// Waiting for the first HEADERS frame.
        case awaitingHeaders
        /// DATA flows: `remaining` bytes announced by Content-Length, or chunked (nil).
        case body(remaining: Int?)
        /// END_STREAM seen: the request is whole.
        case complete
        /// A stream error was sent: everything else is ignored.
        case reset
    }

    /// What the engine has written back.
    private enum ResponsePhase {
        /// Bytes of a response head arriving (also after a 1xx).
        case head
        /// The body, framed as the engine framed it (decoded from chunks when chunked).
        case body(BodyFramer)
        /// The body of a GET answering the client's HEAD (`set-method`): read and dropped,
        /// END_STREAM at its end.
        case discarding(BodyFramer)
        /// END_STREAM sent.
        case complete
    }

    private var request = RequestPhase.awaitingHeaders
    private var response = ResponsePhase.head
    /// It reads the engine's own output, which the server's head passed on the way in: a
    /// version a backend's `option accept-invalid-http-response` let through (`ICY 200 OK`)
    /// passes here too (`:status` carries none); a field name it let through does not, and
    /// the stream is reset (HPACK carries no such name; haproxy sends it, and curl refuses it).
    /// Its bounds follow the engine's (`tune.bufsize`, `tune.http.maxhdr`), with room for what
    /// the rules add: a head the engine let through must never be refused here.
    private var responseParser: HeadParser
    /// Response bytes not consumed yet (a head split over writes).
    private var pending = ByteBuffer()
    /// What the stream keeps of its request, for the engine's log (`HTTP/2.0`, the absolute URI).
    let info = H2StreamInfo()
    private var requestMethod: HTTPMethodName = .get
    /// The last frame written: a close waits for it (see `close`).
    private var lastWrite: EventLoopFuture<Void>?

    /// The listener's head bounds, as HAProxy's h2 mux applies them (`H2RequestHead.fitsHAProxy`).
    private let limits: HeadParser.Limits

    init(limits: HeadParser.Limits = HeadParser.Limits()) {
        self.limits = limits
        let engine = HeadParser.Limits(maxHead: max(65536, 2 * (limits.maxHead + 64)), maxStored: nil,
                                       maxFields: max(1000, 2 * (limits.maxFields + 1)), anyResponseVersion: true)
        responseParser = HeadParser(kind: .response, limits: engine)
    }

    // MARK: client → engine

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let payload = unwrapInboundIn(data)
        switch (request, payload) {
        case (.reset, _), (.complete, .data), (.complete, .headers):
            // After a stream error nothing counts; after END_STREAM NIOHTTP2 lets nothing through.
            return
        case (.awaitingHeaders, .headers(let headers)):
            // Too large for HAProxy's buffer: its h2 mux resets the stream, answers nothing.
            guard H2RequestHead.fitsHAProxy(headers.headers, limits: limits) else { return resetStream(context: context) }
            switch H2RequestHead.convert(headers.headers, endStream: headers.endStream, allocator: context.channel.allocator) {
            case .streamError:
                resetStream(context: context)
            case .badRequest:
                request = .complete
                info.refused = true
                context.fireChannelRead(wrapInboundOut(ByteBuffer(string: H2RequestHead.refusedHead)))
            case .head(let head, let converted):
                info.scheme = converted.scheme
                info.authority = converted.authority
                requestMethod = HTTPMethodName(text: converted.method)
                if headers.endStream {
                    request = .complete
                } else {
                    request = .body(remaining: converted.contentLength)
                }
                context.fireChannelRead(wrapInboundOut(head))
            }
        case (.body(let remaining), .data(let frame)):
            guard case .byteBuffer(var bytes) = frame.data else { return resetStream(context: context) }
            if let remaining {
                // More than announced, or less at END_STREAM: the length lied (RFC 9113 §8.1.1).
                let left = remaining - bytes.readableBytes
                if left < 0 || (frame.endStream && left != 0) { return resetStream(context: context) }
                creditWindow(context: context, frame)
                request = frame.endStream ? .complete : .body(remaining: left)
                if bytes.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(bytes)) }
            } else {
                request = frame.endStream ? .complete : .body(remaining: nil)
                creditWindow(context: context, frame)
                if let framed = H2BodyFrames.chunk(&bytes, last: frame.endStream, allocator: context.channel.allocator) {
                    context.fireChannelRead(wrapInboundOut(framed))
                }
            }
        case (.body(let remaining), .headers(let trailers)):
            // Trailers: they end the stream; after a chunked body they go to the server.
            guard trailers.endStream else { return resetStream(context: context) }
            if let remaining {
                guard remaining == 0 else { return resetStream(context: context) }
                request = .complete
            } else {
                guard let last = H2RequestHead.trailers(trailers.headers) else { return resetStream(context: context) }
                request = .complete
                context.fireChannelRead(wrapInboundOut(last))
            }
        case (.awaitingHeaders, .data):
            resetStream(context: context)
        default:
            // PRIORITY, WINDOW_UPDATE, RST_STREAM…: NIOHTTP2 has handled them.
            return
        }
    }

    /// Gives the client back at once the stream window a DATA frame used, as HAProxy does for
    /// every DATA frame it takes in (h2_to_h1.vtc waits for this WINDOW_UPDATE before the
    /// response, after a request whose DATA ended the stream). NIOHTTP2 alone credits a stream
    /// only once half of its window is used; its own accounting sees a credit sent through it,
    /// so the window never grows past its target. Frames reach this handler only when the
    /// engine reads (backpressure holds them in the stream channel), so the credit follows
    /// consumption.
    ///
    /// After END_STREAM NIOHTTP2 refuses to send a WINDOW_UPDATE (the client may send no more
    /// DATA on the stream, though RFC 9113 §6.9 allows the frame in half-closed (remote)): that
    /// one is written as its 13 bytes straight below NIOHTTP2's handler, between two whole
    /// frames (it writes each frame whole, on this event loop). It changes no window NIOHTTP2
    /// counts: the stream can carry no more DATA from the client.
    private var creditPending = false

    func channelReadComplete(context: ChannelHandlerContext) {
        if creditPending {
            creditPending = false
            context.flush()
        }
        context.fireChannelReadComplete()
    }

    private func creditWindow(context: ChannelHandlerContext, _ frame: HTTP2Frame.FramePayload.Data) {
        let used = frame.data.readableBytes + (frame.paddingBytes ?? 0)
        guard used > 0 else { return }
        guard frame.endStream else {
            // Flushed once per read (channelReadComplete): many small DATA frames cost one write.
            creditPending = true
            return context.write(wrapOutboundOut(.windowUpdate(windowSizeIncrement: used)), promise: nil)
        }
        guard let parent = context.channel.parent,
              let id = try? context.channel.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID),
              let below = try? parent.pipeline.syncOperations.context(handlerType: NIOHTTP2Handler.self) else { return }
        var raw = context.channel.allocator.buffer(capacity: 13)
        raw.writeInteger(UInt32(4 << 8 | 0x08))          // length 4 (24 bits), type WINDOW_UPDATE
        raw.writeInteger(UInt8(0))                        // flags
        raw.writeInteger(UInt32(Int32(id)) & 0x7FFF_FFFF) // stream
        raw.writeInteger(UInt32(used))                    // increment
        below.writeAndFlush(NIOAny(raw), promise: nil)
    }

    /// RST_STREAM(PROTOCOL_ERROR): the stream ends, the engine sees the channel close.
    private func resetStream(context: ChannelHandlerContext) {
        request = .reset
        response = .complete
        context.writeAndFlush(wrapOutboundOut(.rstStream(.protocolError)), promise: nil)
        context.close(promise: nil)
    }

    // MARK: engine → client

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
        defer { if let last { lastWrite = last } }
        loop: while bytes.readableBytes > 0 {
            switch response {
            case .complete:
                // Bytes after the end (a keep-alive close marker…): nothing to carry them.
                bytes.moveReaderIndex(forwardBy: bytes.readableBytes)
            case .head:
                switch responseParser.parse(&bytes) {
                case .incomplete:
                    pending = bytes
                    break loop
                case .failure:
                    // The engine wrote no HTTP: end the stream rather than send garbage.
                    response = .complete
                    emit(.rstStream(.internalError))
                case .head(let head) where head.status < 100:
                    // HTTP/2 has no status below 100 (`:status` is three digits, RFC 9113 §8.3.2):
                    // end the stream, as HAProxy's h2 mux does (RST_STREAM INTERNAL_ERROR).
                    response = .complete
                    emit(.rstStream(.internalError))
                case .head(let head):
                    let headers = H2ResponseHead.headers(of: head)
                    if (100..<200).contains(head.status) {
                        // 1xx: an interim HEADERS frame, the final head follows.
                        emit(.headers(.init(headers: headers, endStream: false)))
                        continue loop
                    }
                    let discard = requestMethod == .head && info.headRewritten
                    switch MessageFraming.response(head, requestMethod: discard ? .get : requestMethod) {
                    case .success(.none), .success(.framed(.length(0))):
                        response = .complete
                        emit(.headers(.init(headers: headers, endStream: true)))
                    case .success(.framed(let mode)):
                        response = discard ? .discarding(BodyFramer(mode)) : .body(BodyFramer(mode))
                        emit(.headers(.init(headers: headers, endStream: false)))
                    case .failure:
                        response = .complete
                        emit(.rstStream(.internalError))
                    }
                }
            case .discarding(var framer):
                let done = (try? framer.take(from: &bytes) { _ in }) ?? true
                response = done ? .complete : .discarding(framer)
                if done { emit(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))) }
                if !done && bytes.readableBytes > 0 {
                    pending = bytes
                    break loop
                }
            case .body(var framer):
                guard let done = H2BodyFrames.take(&framer, from: &bytes, emit: emit) else {
                    response = .complete
                    emit(.rstStream(.internalError))
                    continue loop
                }
                response = done ? .complete : .body(framer)
                if !done && bytes.readableBytes > 0 {
                    // A chunk's framing split over writes: keep the partial bytes.
                    pending = bytes
                    break loop
                }
            }
        }
        if let promise {
            if let last { last.cascade(to: promise) } else { promise.succeed(()) }
        }
    }

    /// The engine closes the stream: a body delimited by the close ends with END_STREAM; a
    /// response cut short is reset by NIOHTTP2 (RST_STREAM(CANCEL)). A whole response is let
    /// out first: closing a stream the client still sends on resets it, and a reset drops the
    /// DATA that flow control still holds (an error page answered before the request ended).
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if case .body(let framer) = response, framer.mode == .untilClose {
            response = .complete
            lastWrite = context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))))
        } else if case .discarding(let framer) = response, framer.mode == .untilClose {
            response = .complete
            lastWrite = context.write(wrapOutboundOut(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))))
        }
        context.flush()
        guard case .complete = response, let lastWrite else { return context.close(mode: mode, promise: promise) }
        self.lastWrite = nil
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        lastWrite.whenComplete { _ in bound.value.close(mode: mode, promise: promise) }
    }
}

/// What an HTTP/2 stream tells the engine about its request, for the access log: the request
/// line reads `METHOD scheme://authority/path HTTP/2.0` as HAProxy 2.6 logs it.
final class H2StreamInfo {
    var scheme: String?
    var authority: String?
    /// The request was refused at the conversion (the engine answers 400).
    var refused = false
    /// The client's HEAD reached the server as another method (`set-method`): the body the
    /// engine writes is dropped here, the stream ends after it.
    var headRewritten = false
    /// Not the connection's first stream (`http-reuse safe` may reuse an idle server connection).
    var laterStream = false
    /// What the stream shares with its connection: the session's ends, TLS side, tracking and
    /// `sess.` variables.
    var session: H2SessionContext?
}

extension H2StreamInfo {
    /// HAProxy 2.6's `%r` for an h2 request: the absolute URI when `:authority` came, and
    /// `HTTP/2.0`.
    static func requestLine(_ head: MessageHead, _ info: H2StreamInfo) -> String {
        let method = head.string(head.part1)
        if let scheme = info.scheme, let authority = info.authority {
            return "\(method) \(scheme)://\(authority)\(head.target) HTTP/2.0"
        }
        return "\(method) \(head.target) HTTP/2.0"
    }
}
