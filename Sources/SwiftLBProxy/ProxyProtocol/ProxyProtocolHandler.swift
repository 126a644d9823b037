import NIOCore

/// What the `ProxyProtocolHandler` tells the handlers after it, as a user inbound event, once
/// the header is read and before any byte of the client's data: the connection's real ends.
struct ProxyProtocolReceived {
    let header: ProxyHeader
    /// The client's address: the header's, or the socket's for LOCAL/UNKNOWN.
    let source: SocketAddress?
    let destination: SocketAddress?
}

/// `bind … accept-proxy`: the first handler of an accepted connection (before TLS). It reads
/// the PROXY protocol header (v1 or v2, strictly — see `ProxyHeaderDecoder`), announces the
/// real source and destination with a `ProxyProtocolReceived` event, passes on the bytes that
/// came after the header, and leaves the pipeline. A connection that does not start with a
/// valid header, or sends none within `timeout`, is closed without a word (HAProxy's
/// behaviour: there is nobody to answer in a protocol we do not know yet).
///
/// Nothing leaves the connection before the header is accepted, as with HAProxy, which
/// installs no protocol until then: what the handlers after it write meanwhile (an HTTP/2
/// server preface, written as soon as the channel is active) is held here, sent once the
/// handlers after it have seen the header (and the `tcp-request session` rules it triggers
/// have let the connection live), and dropped if the connection closes first.
///
/// States: `waiting` (bytes accumulate until the decoder decides; writes are held),
/// `releasing` (the header is being announced; writes are still held until the session rules
/// it triggers have let the connection live),
/// `done` (removed or being removed; anything further is passed through untouched), `failed`
/// (closing; writes fail).
final class ProxyProtocolHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case waiting(ByteBuffer)
        case releasing
        case done
        case failed
    }

    private var state: State = .waiting(ByteBuffer())
    /// Writes of the handlers after this one while the header is not accepted yet.
    private var held = HeldWrites()
    private let timeout: TimeAmount?
    private var timer: Scheduled<Void>?
    /// Called with the header, on the channel's event loop (for the access log, counters).
    private let onHeader: ((ProxyProtocolReceived) -> Void)?
    /// Called with the reason when a connection is refused.
    private let onFailure: ((String) -> Void)?

    init(timeout: TimeAmount? = .seconds(5), onHeader: ((ProxyProtocolReceived) -> Void)? = nil, onFailure: ((String) -> Void)? = nil) {
        self.timeout = timeout
        self.onHeader = onHeader
        self.onFailure = onFailure
    }

    func handlerAdded(context: ChannelHandlerContext) {
        guard let timeout else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, case .waiting = self.state else { return }
            self.fail(context: context, "no PROXY protocol header within \(timeout.nanoseconds / 1_000_000) ms")
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        switch state {
        case .done, .releasing:
            context.fireChannelRead(data)
        case .failed:
            return
        case .waiting(var buffer):
            if buffer.readableBytes == 0 { buffer = incoming } else { buffer.writeBuffer(&incoming) }
            switch ProxyHeaderDecoder.decode(buffer) {
            case .incomplete:
                state = .waiting(buffer)
            case .invalid(let reason):
                fail(context: context, reason)
            case .header(let header, let length):
                buffer.moveReaderIndex(forwardBy: length)
                finish(context: context, header: header, rest: buffer)
            }
        }
    }

    private func finish(context: ChannelHandlerContext, header: ProxyHeader, rest: ByteBuffer) {
        state = .releasing
        timer?.cancel()
        timer = nil
        let useHeader = header.command == .proxy && header.source != nil
        let event = ProxyProtocolReceived(header: header,
                                          source: useHeader ? header.source : context.channel.remoteAddress,
                                          destination: useHeader ? header.destination : context.channel.localAddress)
        onHeader?(event)
        context.fireUserInboundEventTriggered(event)
        // A `tcp-request session` rule may have closed the connection meanwhile (`failed`).
        guard case .releasing = state else { return }
        // What was held goes first, then the answers to what came after the header.
        release(context: context)
        if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Sends the held writes, in order (one written meanwhile joins the queue), then lets
    /// writes through.
    private func release(context: ChannelHandlerContext) {
        while let (data, promise) = held.next() {
            context.write(data, promise: promise)
        }
        state = .done
        if held.takeFlush() { context.flush() }
    }

    private func fail(context: ChannelHandlerContext, _ reason: String) {
        state = .failed
        timer?.cancel()
        timer = nil
        held.drop()
        onFailure?(reason)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        if case .done = state {} else {
            state = .failed
            held.drop()
        }
        context.fireChannelInactive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch state {
        case .waiting, .releasing:
            held.hold(data, promise: promise)
        case .done:
            context.write(data, promise: promise)
        case .failed:
            promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func flush(context: ChannelHandlerContext) {
        switch state {
        case .waiting, .releasing:
            held.holdFlush()
        case .done:
            context.flush()
        case .failed:
            break
        }
    }

    /// A handler after this one closes (a `tcp-request connection` or `session` rule, a
    /// timeout) before the header was accepted: its held writes are dropped, not sent.
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode != .input {
            switch state {
            case .waiting, .releasing:
                state = .failed
                held.drop()
            case .done, .failed:
                break
            }
        }
        context.close(mode: mode, promise: promise)
    }
}
