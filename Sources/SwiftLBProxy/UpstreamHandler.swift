import NIOCore
import NIOHTTP1
import NIOPosix
import SwiftLBTLS

/// What the upstream side reports to the client side of the exchange that leases it.
/// Both ends run on the same event loop, so these are plain synchronous calls.
protocol UpstreamDelegate: AnyObject {
    func upstreamReceived(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamFailed(_ error: any Error)
    func upstreamClosed()
    func upstreamWritabilityChanged(isWritable: Bool)
    /// Whether the client can take more response bytes; when false the upstream stops reading.
    var clientIsWritable: Bool { get }
}

/// The tail handler of a backend connection. While leased it forwards everything to its
/// delegate; while parked in the pool it only watches for the server closing it.
///
/// Backpressure: `read` is held back while the client cannot take more, so a slow client
/// slows the backend down instead of filling our memory (the GlueHandler pattern).
final class UpstreamHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    let server: RuntimeServer
    private let loop: LoopState
    private var context: ChannelHandlerContext?
    private var readPending = false
    private var closed = false
    /// Whether this connection already carried a request (a reused connection may have been
    /// closed by the server at the same moment; such a failure is retried for idempotent requests).
    private(set) var requestsServed = 0
    /// Set when the server said `Connection: close`, spoke HTTP/1.0 or framed by closing.
    var mustClose = false
    var parkedInPool = false
    /// When it last went back to the pool (for the purge of idle connections).
    var parkedAt = NIODeadline.uptimeNanoseconds(0)
    var delegate: (any UpstreamDelegate)?

    init(server: RuntimeServer, loop: LoopState) {
        self.server = server
        self.loop = loop
    }

    var isReusable: Bool { !closed && !mustClose && (context?.channel.isActive ?? false) }
    var isWritable: Bool { context?.channel.isWritable ?? false }
    var wasReused: Bool { requestsServed > 1 }

    /// Opens a connection to `server` on the loop's event loop.
    static func connect(to server: RuntimeServer, loop: LoopState, timeout: TimeAmount?) -> EventLoopFuture<UpstreamHandler> {
        let handler = UpstreamHandler(server: server, loop: loop)
        var bootstrap = ClientBootstrap(group: loop.eventLoop)
            .channelOption(.tcpOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    if let tls = server.tls { try sync.addHandler(TLSHandler(client: tls, serverName: server.tlsServerName)) }
                    // Framing is ours (RequestRewriter.impose): the encoder must neither add nor
                    // drop a Content-Length or Transfer-Encoding by method.
                    var encoding = HTTPRequestEncoder.Configuration()
                    encoding.automaticallySetFramingHeaders = false
                    try sync.addHandler(HTTPRequestEncoder(configuration: encoding))
                    try sync.addHandler(ByteToMessageHandler(HTTPResponseDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .forward)))
                    try sync.addHandler(handler)
                }
            }
        if let timeout { bootstrap = bootstrap.connectTimeout(timeout) }
        return bootstrap.connect(to: server.address).map { _ in handler }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func lease(to delegate: any UpstreamDelegate) {
        self.delegate = delegate
        parkedInPool = false
        requestsServed += 1
    }

    func send(_ part: HTTPClientRequestPart, flush: Bool) {
        guard let context else { return }
        context.write(wrapOutboundOut(part), promise: nil)
        if flush { context.flush() }
    }

    func flush() { context?.flush() }

    func close() {
        guard !closed else { return }
        closed = true
        delegate = nil
        context?.close(promise: nil)
    }

    /// Resumes reading after the client drained its buffer.
    func resumeReading() {
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if case .head(let head) = part, head.status.code >= 200 {
            if !head.isKeepAlive { mustClose = true }
        }
        guard let delegate else {
            // Bytes from a server while parked: nothing asked for them; the connection is unusable.
            close()
            return
        }
        delegate.upstreamReceived(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        delegate?.upstreamReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        if parkedInPool { loop.removeIdle(self, serverID: server.id) }
        let d = delegate
        delegate = nil
        d?.upstreamClosed()
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let d = delegate
        delegate = nil
        closed = true
        d?.upstreamFailed(error)
        context.close(promise: nil)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        delegate?.upstreamWritabilityChanged(isWritable: context.channel.isWritable)
    }

    func read(context: ChannelHandlerContext) {
        if let delegate, !delegate.clientIsWritable {
            readPending = true
        } else {
            context.read()
        }
    }
}
