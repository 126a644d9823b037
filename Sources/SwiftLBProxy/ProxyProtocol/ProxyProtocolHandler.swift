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
/// States: `waiting` (bytes accumulate until the decoder decides), `done` (removed or being
/// removed; anything further is passed through untouched), `failed` (closing).
final class ProxyProtocolHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State {
        case waiting(ByteBuffer)
        case done
        case failed
    }

    private var state: State = .waiting(ByteBuffer())
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
        case .done:
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
        state = .done
        timer?.cancel()
        timer = nil
        let useHeader = header.command == .proxy && header.source != nil
        let event = ProxyProtocolReceived(header: header,
                                          source: useHeader ? header.source : context.channel.remoteAddress,
                                          destination: useHeader ? header.destination : context.channel.localAddress)
        onHeader?(event)
        context.fireUserInboundEventTriggered(event)
        if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func fail(context: ChannelHandlerContext, _ reason: String) {
        state = .failed
        timer?.cancel()
        timer = nil
        onFailure?(reason)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }
}
