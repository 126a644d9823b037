import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A listener that serves only the stats page: the seed's `frontend stats` (`bind :1936`,
/// `stats enable`, `stats uri /`) has no backend, so it needs no proxying. Requests are
/// answered off the event loop (a snapshot waits for every proxy loop), at most
/// `maxConnections` clients at once, each idle for at most `idleTimeout`, requests bounded in
/// size: a stats client cannot stall the proxy or exhaust it.
public final class StatsHTTPServer: Sendable {
    public struct Limits: Sendable {
        public var maxConnections = 64
        public var idleTimeout: TimeAmount = .seconds(30)
        /// Head and body of one request (the admin form is small).
        public var maxRequestBytes = 64 * 1024
        public init() {}
    }

    private let channel: any Channel

    /// `adminAllowed` evaluates `stats admin if …` for a request (client address, headers).
    public static func start(host: String, port: Int, settings: StatsPageSettings, api: RuntimeAPI, group: any EventLoopGroup,
                             logger: Logger, limits: Limits = Limits(),
                             adminAllowed: @escaping @Sendable (StatsHTTPRequest, SocketAddress?) -> Bool = { _, _ in false }) async throws -> StatsHTTPServer {
        let connections = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 128)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                let admitted = connections.withLockedValue { n in
                    guard n < limits.maxConnections else { return false }
                    n += 1
                    return true
                }
                guard admitted else { return channel.close() }
                channel.closeFuture.whenComplete { _ in connections.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.configureHTTPServerPipeline(withErrorHandling: true)
                    try sync.addHandler(IdleStateHandler(allTimeout: limits.idleTimeout))
                    try sync.addHandler(StatsHTTPHandler(settings: settings, api: api, limits: limits, adminAllowed: adminAllowed, logger: logger))
                }
            }
            .bind(host: host, port: port).get()
        return StatsHTTPServer(channel: channel)
    }

    private init(channel: any Channel) { self.channel = channel }

    public var localAddress: SocketAddress? { channel.localAddress }

    public func stop() async { try? await channel.close() }
}

/// One client: collects a request (head and bounded body), answers it through `StatsPage`,
/// keeps the connection when the client asked for keep-alive.
final class StatsHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case waiting
        case receiving(HTTPRequestHead, [UInt8])
        /// The answer is being computed; further input waits (HTTP/1.1 pipelining is rare here).
        case answering
        /// Refused (too large) and answered: the rest of the request is read and dropped, so
        /// the client reads the answer instead of a reset, then the connection closes.
        case discarding
        case closing
    }

    private var state = State.waiting
    private let settings: StatsPageSettings
    private let api: RuntimeAPI
    private let limits: StatsHTTPServer.Limits
    private let adminAllowed: @Sendable (StatsHTTPRequest, SocketAddress?) -> Bool
    private let logger: Logger

    init(settings: StatsPageSettings, api: RuntimeAPI, limits: StatsHTTPServer.Limits,
         adminAllowed: @escaping @Sendable (StatsHTTPRequest, SocketAddress?) -> Bool, logger: Logger) {
        self.settings = settings
        self.api = api
        self.limits = limits
        self.adminAllowed = adminAllowed
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (.head(let head), .waiting):
            state = .receiving(head, [])
        case (.body(let chunk), .receiving(let head, var body)):
            guard body.count + chunk.readableBytes <= limits.maxRequestBytes else {
                state = .discarding
                let tooLarge = StatsHTTPResponse(status: 413, reason: "Payload Too Large", headers: [("Content-Type", "text/plain")], body: "Request too large.\n")
                write(context, head: head, tooLarge, keepAlive: false)
                return
            }
            body.append(contentsOf: chunk.readableBytesView)
            state = .receiving(head, body)
        case (.end, .receiving(let head, let body)):
            answer(context, head: head, body: body)
        case (.end, .discarding):
            state = .closing
            context.close(promise: nil)
        case (_, .closing), (_, .answering), (_, .discarding):
            break
        default:
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if case .answering = state { return }
            state = .closing
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func answer(_ context: ChannelHandlerContext, head: HTTPRequestHead, body: [UInt8]) {
        state = .answering
        var incoming = StatsHTTPRequest(method: head.method.rawValue, target: head.uri, headers: head.headers.map { ($0.name, $0.value) }, body: body)
        incoming.adminAllowed = adminAllowed(incoming, context.channel.remoteAddress)
        let request = incoming
        let settings = self.settings, api = self.api
        let keepAlive = head.isKeepAlive
        let promise = context.eventLoop.makePromise(of: StatsHTTPResponse.self)
        promise.completeWithTask { await StatsPage.respond(to: request, settings: settings, api: api) }
        promise.futureResult.assumeIsolated().whenSuccess { response in
            guard case .answering = self.state else { return }
            self.reply(context, head: head, response, keepAlive: keepAlive)
        }
    }

    private func reply(_ context: ChannelHandlerContext, head: HTTPRequestHead, _ response: StatsHTTPResponse, keepAlive: Bool) {
        let done = write(context, head: head, response, keepAlive: keepAlive)
        if keepAlive {
            state = .waiting
        } else {
            state = .closing
            done.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    @discardableResult
    private func write(_ context: ChannelHandlerContext, head: HTTPRequestHead, _ response: StatsHTTPResponse, keepAlive: Bool) -> EventLoopFuture<Void> {
        var headers = HTTPHeaders(response.headers)
        let body = ByteBuffer(string: response.body)
        headers.replaceOrAdd(name: "Content-Length", value: "\(body.readableBytes)")
        headers.replaceOrAdd(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        let responseHead = HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: response.status, reasonPhrase: response.reason), headers: headers)
        context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
        if head.method != .HEAD { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        return context.writeAndFlush(wrapOutboundOut(.end(nil)))
    }
}
