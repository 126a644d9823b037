import NIOCore
import NIOHTTP2
import SwiftLBTLS

/// One HTTP/2 connection to a `server … proto h2`, shared by the exchanges of its event loop:
/// each exchange is one stream on it (a `ServerConnection` behind an `H2ServerStreamTranslator`
/// on the stream channel), as HAProxy multiplexes its h2 server connections. The handler after
/// NIOHTTP2 in the connection's pipeline.
///
/// A shared session stays in its loop's table (`LoopState.h2Sessions`) while it is usable:
/// open, no GOAWAY received, no connection error. It takes a new stream only while it has a
/// slot left under the server's SETTINGS_MAX_CONCURRENT_STREAMS (`hasFreeStream`), as HAProxy
/// counts an h2 connection available: an exchange that finds none free dials another
/// connection, so a loop may hold several per server. With no stream open it closes after
/// `LoopState.poolPurgeDelay` (HAProxy's `pool-purge-delay`); a private one (`http-reuse
/// never`) closes with its last stream. A connection error (a frame that is no frame, bad
/// HPACK) has been answered with GOAWAY by NIOHTTP2: the connection closes, its streams with
/// it, which each exchange sees as its server closing (a 502 before the response head).
final class H2ServerSession: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame

    private var context: ChannelHandlerContext?
    private var multiplexer: NIOHTTP2Handler.StreamMultiplexer?
    private var openStreams = 0
    /// The server's SETTINGS_MAX_CONCURRENT_STREAMS; nil until its first SETTINGS came.
    private var peerMaxStreams: Int?
    /// What a server whose SETTINGS name no limit gets at once (RFC 9113 §6.5.2 puts none;
    /// NIOHTTP2 assumes this many and buffers the streams beyond it).
    static let unstatedMaxStreams = 100
    private var goingAway = false
    /// The last stream id of the server's GOAWAY: streams above it were not processed.
    private var goAwayLastStream: HTTP2StreamID?
    private var idleClose: Scheduled<Void>?
    /// Kept in the loop's table for other exchanges; else closed with its last stream.
    var shared = false
    private let tls: Bool
    /// The SNI it was dialled with: it carries streams of requests that want this name only.
    let serverName: ServerName
    /// Over TLS, streams open once the handshake is done: a refused handshake is then a failed
    /// connect (retried, then 503), as for an HTTP/1.1 server, not a stream cut short (502).
    private var handshake: HandshakeWait

    private init(tls: Bool, serverName: ServerName) {
        self.tls = tls
        self.serverName = serverName
        handshake = HandshakeWait(done: !tls)
    }

    /// New exchanges may open streams on it.
    var isUsable: Bool { !goingAway && (context?.channel.isActive ?? false) }

    /// Usable, with a stream slot left. Until the server's SETTINGS came its limit is unknown:
    /// the stream of the exchange that dialled it is the only one (a stream beyond a limit the
    /// server then states would be refused, or held back by NIOHTTP2 behind the others).
    var hasFreeStream: Bool { isUsable && openStreams < (peerMaxStreams ?? 1) }

    /// Whether `error`, which ended one of its streams, says the server refused it unprocessed:
    /// RST_STREAM REFUSED_STREAM, or a GOAWAY whose last stream id is below it (NIOHTTP2 closes
    /// those with CANCEL, after handing us the GOAWAY). RFC 9113 §8.7: it may be sent again.
    func refused(_ error: (any Error)?) -> Bool {
        guard let closed = error as? NIOHTTP2Errors.StreamClosed else { return false }
        if closed.errorCode == .refusedStream { return true }
        return closed.errorCode == .cancel && goAwayLastStream.map { closed.streamID > $0 } ?? false
    }

    /// Adds NIOHTTP2 (client mode) and the session at the end of a new server connection's
    /// pipeline. The server may not push (SETTINGS_ENABLE_PUSH 0; a pushed stream is closed).
    static func configure(_ channel: any Channel, tls: Bool, serverName: ServerName = ServerName(name: nil, keyed: false)) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .enablePush, value: 0),
            HTTP2Setting(parameter: .maxConcurrentStreams, value: 100),
            HTTP2Setting(parameter: .initialWindowSize, value: 65535),
            HTTP2Setting(parameter: .maxHeaderListSize, value: 262_144),
        ]
        let sync = channel.pipeline.syncOperations
        let session = H2ServerSession(tls: tls, serverName: serverName)
        session.multiplexer = try sync.configureHTTP2Pipeline(
            mode: .client, connectionConfiguration: connection, streamConfiguration: .init()) { pushed in
            pushed.close()
        }
        try sync.addHandler(session)
    }

    /// The session of a connected channel `configure` prepared.
    static func of(_ channel: any Channel) throws -> H2ServerSession {
        try channel.pipeline.syncOperations.handler(type: H2ServerSession.self)
    }

    /// Opens a stream with `handler` behind its translator; fails if the connection is gone.
    func openStream(for handler: ServerConnection, on eventLoop: any EventLoop) -> EventLoopFuture<ServerConnection> {
        guard let context, let multiplexer, isUsable else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        if !handshake.done {
            let bound = NIOLoopBound((self, handler), eventLoop: context.eventLoop)
            return handshake.wait(on: context.eventLoop).flatMap { bound.value.0.openStream(for: bound.value.1, on: eventLoop) }
        }
        handler.h2Session = self
        openStreams += 1
        idleClose?.cancel()
        idleClose = nil
        let bound = NIOLoopBound((self, handler), eventLoop: context.eventLoop)
        let tls = self.tls
        return multiplexer.createStreamChannel { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(H2ServerStreamTranslator(tls: tls))
                try stream.pipeline.syncOperations.addHandler(bound.value.1)
            }
        }.flatMapErrorThrowing { error in
            bound.value.0.streamClosed()
            throw error
        }.map { stream in
            stream.closeFuture.whenComplete { _ in bound.value.0.streamClosed() }
            return bound.value.1
        }
    }

    private func streamClosed() {
        openStreams -= 1
        guard openStreams == 0, let context else { return }
        guard shared, isUsable else { return context.close(promise: nil) }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        idleClose = context.eventLoop.scheduleTask(in: LoopState.poolPurgeDelay) { bound.value.close(promise: nil) }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data).payload {
        case .goAway(let last, _, _):
            // The streams open go on (those above its last stream id end unprocessed); no new one here.
            goingAway = true
            goAwayLastStream = min(last, goAwayLastStream ?? last)
        case .settings(.settings(let settings)):
            peerMaxStreams = settings.last { $0.parameter == .maxConcurrentStreams }.map { Int($0.value) } ?? peerMaxStreams ?? Self.unstatedMaxStreams
        default:
            break
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted {
            handshake.completed()?.succeed()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        goingAway = true
        handshake.abandoned()?.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        goingAway = true
        handshake.abandoned()?.fail(ChannelError.ioOnClosedChannel)
        idleClose?.cancel()
        idleClose = nil
        context.fireChannelInactive()
    }
}
