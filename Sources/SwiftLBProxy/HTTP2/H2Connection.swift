import NIOCore
import NIOHTTP2
import SwiftLBConfig
import SwiftLBTLS

/// An HTTP/2 client connection (`bind … proto h2`, or `alpn h2` negotiated): NIOHTTP2's handler
/// with its inline multiplexer, one child channel per stream holding an `H2StreamTranslator`
/// and an `HTTPClientConnection` (the one exchange engine), NIOHTTP2's connection manager
/// (GOAWAY on stop and reload drain, `timeout client` as the idle timeout), and this handler,
/// which stands for the connection in the loop's books: the frontend's connection counters, the
/// `tcp-request connection` rules and the graceful stop.
final class H2Connection: ChannelInboundHandler, ClientConnection {
    typealias InboundIn = HTTP2Frame

    /// The settings a listener gives its HTTP/2 connections (from `tune.h2.*`).
    struct Settings: Sendable {
        var maxConcurrentStreams = 100
        var initialWindowSize = 65535

        init(_ global: GlobalSettings) {
            maxConcurrentStreams = global.tuneH2MaxConcurrentStreams
            initialWindowSize = global.tuneH2InitialWindowSize
        }
    }

    private let frontend: RuntimeFrontend
    private let loop: LoopState
    private let isTLS: Bool
    private var context: ChannelHandlerContext?
    var channel: (any Channel)? { context?.channel }

    private init(frontend: RuntimeFrontend, loop: LoopState, isTLS: Bool) {
        self.frontend = frontend
        self.loop = loop
        self.isTLS = isTLS
    }

    /// Adds the HTTP/2 handlers at the end of `channel`'s pipeline (already active or not).
    static func configure(_ channel: any Channel, frontend: RuntimeFrontend, loop: LoopState, isTLS: Bool, limits: HeadParser.Limits,
                          listenerName: String?, settings: Settings) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: settings.maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: settings.initialWindowSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: limits.maxHead),
        ]
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = settings.initialWindowSize
        let sync = channel.pipeline.syncOperations
        // Streams live on their connection's event loop, with its loop state.
        let bound = NIOLoopBound((frontend, loop, StreamCount()), eventLoop: channel.eventLoop)
        let generation = loop.holder.generation
        _ = try sync.configureHTTP2Pipeline(mode: .server, connectionConfiguration: connection, streamConfiguration: stream) { stream in
            stream.eventLoop.makeCompletedFuture {
                var (frontend, loop, count) = bound.value
                // A stream opened after a reload runs on the new configuration, as the next
                // request of an HTTP/1.1 connection does.
                if loop.holder.generation != generation, let current = loop.holder.current.frontends.first(where: { $0.name == frontend.name }) {
                    frontend = current
                }
                let translator = H2StreamTranslator()
                // `http-reuse safe`: only the connection's first stream must have a server
                // connection of its own, as HAProxy's first request of a session.
                translator.info.laterStream = count.opened > 0
                count.opened += 1
                try stream.pipeline.syncOperations.addHandler(translator)
                try stream.pipeline.syncOperations.addHandler(
                    HTTPClientConnection(frontend: frontend, loop: loop, isTLS: isTLS, limits: limits, listenerName: listenerName, h2: translator.info))
            }
        }
        let idle = frontend.config.options.timeouts.client.map { TimeAmount.nanoseconds($0.nanoseconds) }
        try sync.addHandler(NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(maxIdleTime: idle, maxAge: nil, maxGraceTime: nil, keepalive: nil)))
        try sync.addHandler(H2Connection(frontend: frontend, loop: loop, isTLS: isTLS))
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        let source = context.channel.remoteAddress, destination = context.channel.localAddress
        if let rules = frontend.tcpRules, rules.hasConnectionRules,
           !rules.acceptsConnection(.connectionLevel(source: source, destination: destination, isTLS: isTLS, stick: nil)) {
            loop.stats.frontend(frontend.counterID) { c in
                c.connectionsTotal += 1
                c.deniedConnections += 1
            }
            context.close(promise: nil)
            return
        }
        loop.clients[ObjectIdentifier(self)] = self
        if frontend.logPlan != nil { frontend.countLive(context.channel) }
        loop.stats.frontend(frontend.counterID) { c in
            c.connectionsTotal += 1
            c.scur += 1
            c.smax = max(c.smax, c.scur)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        if loop.clients.removeValue(forKey: ObjectIdentifier(self)) != nil {
            loop.stats.frontend(frontend.counterID) { $0.scur -= 1 }
        }
        context.fireChannelInactive()
    }

    /// Streams a connection has opened so far.
    private final class StreamCount { var opened = 0 }

    /// Idle and graceful-stop timing belong to NIOHTTP2's connection manager.
    func checkTimeouts(now: NIODeadline) {}
}

/// `bind … ssl … alpn h2,http/1.1`: waits for the TLS handshake, then installs HTTP/2 when the
/// client chose `h2` and the HTTP/1.1 engine otherwise, and replays `channelActive` to them (the
/// channel went active before the handshake).
final class ALPNSwitch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let install: (_ h2: Bool, _ channel: any Channel) throws -> Void
    /// Plaintext that arrived with the handshake's last flight, before the switch.
    private var early: [NIOAny] = []

    init(install: @escaping (_ h2: Bool, _ channel: any Channel) throws -> Void) { self.install = install }

    func channelActive(context: ChannelHandlerContext) {}  // replayed after the handshake

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { early.append(data) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let done = event as? TLSHandshakeCompleted else { return context.fireUserInboundEventTriggered(event) }
        do {
            try install(done.alpn == "h2", context.channel)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelActive()
        context.fireUserInboundEventTriggered(event)
        for data in early { context.fireChannelRead(data) }
        early = []
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
