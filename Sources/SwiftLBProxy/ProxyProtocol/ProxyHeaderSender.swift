import NIOCore

/// `server … send-proxy|send-proxy-v2`: the first handler of a new server connection (nearest
/// the socket, below any TLS). The PROXY header (built by `ProxyHeaderEncoder` from the client
/// connection's ends) goes out ahead of everything else — ahead of the TLS handshake too, as
/// HAProxy sends it — then the handler leaves the pipeline.
///
/// Whichever comes first sends it: the first outbound write (the stream writes its request as
/// soon as the connect future completes, which NIO runs before `channelActive` reaches the
/// pipeline) or `channelActive` (a TLS handshake, or a TCP session with nothing to send yet).
final class ProxyHeaderSender: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var header: ByteBuffer?

    init(header: ByteBuffer) { self.header = header }

    func channelActive(context: ChannelHandlerContext) {
        let sent = sendHeader(context: context)
        context.flush()
        context.fireChannelActive()
        if sent { leave(context) }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let sent = sendHeader(context: context)
        context.write(data, promise: promise)
        if sent { leave(context) }
    }

    /// Writes the header if it has not gone yet; true if it went now.
    private func sendHeader(context: ChannelHandlerContext) -> Bool {
        guard let header else { return false }
        self.header = nil
        context.write(wrapOutboundOut(header), promise: nil)
        return true
    }

    /// Out of the pipeline, once what came with the header has been passed on.
    private func leave(_ context: ChannelHandlerContext) {
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
