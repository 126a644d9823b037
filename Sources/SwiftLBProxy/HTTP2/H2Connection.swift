import NIOCore
import NIOHTTP2
import SwiftLBConfig
import SwiftLBTLS

/// An HTTP/2 client connection (`bind … proto h2`, or `alpn h2` negotiated): NIOHTTP2's handler
/// with its inline multiplexer, one child channel per stream holding an `H2StreamTranslator`
/// and an `HTTPClientConnection` (the one exchange engine), NIOHTTP2's connection manager
/// (GOAWAY on stop and reload drain), and this handler,
/// which stands for the connection in the loop's books: the frontend's connection counters, the
/// `tcp-request connection` rules, the `tcp-request session` rules once the PROXY header and
/// TLS handshake are done (`SessionGate`), the graceful stop, and the idle timeout.
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
    private let shared: Shared
    /// What the connection's `tcp-request connection|session` rules track (`track-sc0 src`…):
    /// the connection's own entries, released when it closes; its streams count their requests
    /// on them (`H2SessionContext`) and track their own.
    private var sessionTracking: StickSession?
    private var context: ChannelHandlerContext?
    var channel: (any Channel)? { context?.channel }
    /// `channelActive` came: a second one is ignored (ALPNSwitch replays one after `configure`
    /// passed it on; NIOHTTP2Handler lets it through when a connection rule closed the channel).
    private var activated = false
    /// When the session rules run: the streams come after them (their frames follow the PROXY
    /// header and the handshake).
    private var session: SessionGate
    /// Holds what NIOHTTP2 writes (its SETTINGS) until the session rules let the connection
    /// live; nil when the session starts at accept.
    private let writeGate: SessionWriteGate?

    /// What an HTTP/1.1 connection that received the h2 preface hands over (`HTTPClientConnection
    /// +H2Upgrade`): it was counted, ruled (`tcp-request connection|session`) and begun as a
    /// session already, so this connection only takes its place in the loop's books.
    struct Handover {
        /// What its rules and handshakes made of the session: ends, TLVs, TLS, tracking (which
        /// this connection releases when it closes) and `sess.` variables.
        let session: H2SessionContext
        /// The configuration generation its frontend was read at: a reload since then moves
        /// the first stream to the new one.
        let generation: Int
    }

    /// Set when this connection was an HTTP/1.1 one until its first bytes (see `Handover`).
    private let handover: Handover?

    private init(frontend: RuntimeFrontend, loop: LoopState, isTLS: Bool, shared: Shared, writeGate: SessionWriteGate?, awaitsProxyHeader: Bool,
                 handover: Handover?) {
        self.frontend = frontend
        self.loop = loop
        self.isTLS = isTLS
        self.shared = shared
        self.writeGate = writeGate
        self.handover = handover
        self.session = handover != nil ? SessionGate(awaitsProxyHeader: false, awaitsTLS: false)
            : SessionGate(awaitsProxyHeader: awaitsProxyHeader, awaitsTLS: isTLS)
    }

    /// Adds the HTTP/2 handlers at the end of `channel`'s pipeline (already active or not).
    /// On an active channel (after an ALPN handshake, or with a `handover`) the handlers after
    /// NIOHTTP2's are told so here: NIOHTTP2Handler, added to an active channel, writes its
    /// SETTINGS at once and passes no later `channelActive` on — without this, a connection
    /// that chose h2 by ALPN was never counted, never ruled by `tcp-request connection`, had
    /// no idle timer and was not closed by a graceful stop.
    static func configure(_ channel: any Channel, frontend: RuntimeFrontend, loop: LoopState, isTLS: Bool, limits: HeadParser.Limits,
                          listenerName: String?, settings: Settings, awaitsProxyHeader: Bool = false, handover: Handover? = nil) throws {
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: settings.maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: settings.initialWindowSize),
            // HAProxy announces no bound; its own (H2RequestHead.fitsHAProxy) applies per stream.
            // This one only keeps HPACK from decoding without end: twice the head bound is
            // above any header list (32 bytes per field) HAProxy's would take.
            HTTP2Setting(parameter: .maxHeaderListSize, value: 2 * limits.maxHead),
        ]
        // A stream's request was bounded as HAProxy's h2 mux bounds it; its HTTP/1 form (with
        // an origin-form target, perhaps chunked) is not measured again.
        var streamLimits = limits
        streamLimits.maxStored = nil
        streamLimits.maxFields = 2 * (limits.maxFields + 1)
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = settings.initialWindowSize
        let sync = channel.pipeline.syncOperations
        // Behind a PROXY header or a TLS handshake the session starts later, and `tcp-request
        // connection|session` rules may refuse it: nothing is written before (see
        // SessionWriteGate; NIOHTTP2Handler writes its SETTINGS as soon as the channel is active).
        let ruled = frontend.tcpRules.map { $0.hasConnectionRules || $0.hasSessionRules } ?? false
        let writeGate = handover == nil && (awaitsProxyHeader || isTLS || ruled) ? SessionWriteGate() : nil
        if let writeGate { try sync.addHandler(writeGate) }
        // A client that sends its requests and then its FIN still gets them served (HAProxy's
        // default, as on HTTP/1.1): the connection closes once its streams are done.
        try channel.syncOptions?.setOption(ChannelOptions.allowRemoteHalfClosure, value: true)
        // Streams live on their connection's event loop, with its loop state.
        let shared = Shared(session: handover?.session ?? H2SessionContext())
        let bound = NIOLoopBound((frontend, loop, shared), eventLoop: channel.eventLoop)
        let generation = handover?.generation ?? loop.holder.generation
        _ = try sync.configureHTTP2Pipeline(mode: .server, connectionConfiguration: connection, streamConfiguration: stream) { stream in
            stream.eventLoop.makeCompletedFuture {
                var (frontend, loop, shared) = bound.value
                // A stream opened after a reload runs on the new configuration, as the next
                // request of an HTTP/1.1 connection does.
                if loop.holder.generation != generation, let current = loop.holder.current.frontends.first(where: { $0.name == frontend.name }) {
                    frontend = current
                }
                let translator = H2StreamTranslator(limits: limits)
                // `http-reuse safe`: only the connection's first stream must have a server
                // connection of its own, as HAProxy's first request of a session.
                translator.info.laterStream = shared.opened > 0
                translator.info.session = shared.session
                shared.opened += 1
                shared.active += 1
                if let id = try? stream.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID), id > shared.lastStreamID {
                    shared.lastStreamID = id
                }
                stream.closeFuture.whenComplete { _ in shared.streamClosed() }
                try stream.pipeline.syncOperations.addHandler(translator)
                try stream.pipeline.syncOperations.addHandler(
                    HTTPClientConnection(frontend: frontend, loop: loop, isTLS: isTLS, limits: streamLimits, listenerName: listenerName, h2: translator.info))
            }
        }
        // The graceful stop's GOAWAYs; the idle timeout is HAProxy's, not one figure (checkTimeouts).
        try sync.addHandler(NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(maxIdleTime: nil, maxAge: nil, maxGraceTime: nil, keepalive: nil)))
        try sync.addHandler(H2Connection(frontend: frontend, loop: loop, isTLS: isTLS, shared: shared, writeGate: writeGate,
                                         awaitsProxyHeader: awaitsProxyHeader, handover: handover))
        if channel.isActive { try sync.context(handlerType: NIOHTTP2Handler.self).fireChannelActive() }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        guard !activated else { return }
        activated = true
        if let handover {
            // Counted, ruled and begun as an HTTP/1.1 connection: only its place is taken.
            sessionTracking = handover.session.stick
            loop.clients[ObjectIdentifier(self)] = self
            return context.fireChannelActive()
        }
        let source = context.channel.remoteAddress, destination = context.channel.localAddress
        let sessionContext = shared.session
        (sessionContext.source, sessionContext.destination, sessionContext.connection) = (source, destination, (source, destination))
        // Counted before the connection rules, which read it (`fe_conn`), as HAProxy counts
        // a connection when it accepts it.
        if frontend.countsLiveConnections { frontend.countLive(context.channel) }
        if let rules = frontend.tcpRules, rules.hasConnectionRules {
            // Tracked and `set-var`'d as on an HTTP/1.1 connection; `set-src`… become the
            // session's ends.
            if sessionTracking == nil { sessionTracking = frontend.makeStickSession() }
            guard let ruled = rules.admit(source: source, destination: destination, isTLS: isTLS, stick: sessionTracking,
                                          variables: { StreamVariables(session: sessionContext.variables) }, frontend: frontend, loop: loop) else {
                sessionTracking?.close()
                sessionTracking = nil
                context.close(promise: nil)
                return
            }
            sessionContext.connection = (ruled.facts.connectionSource, ruled.facts.connectionDestination)
            (sessionContext.source, sessionContext.destination) = (ruled.facts.source, ruled.facts.destination)
        }
        loop.clients[ObjectIdentifier(self)] = self
        loop.stats.frontend(frontend.counterID) { c in
            c.connectionsTotal += 1
            c.scur += 1
            c.smax = max(c.smax, c.scur)
        }
        context.fireChannelActive()
        if session.isComplete { beginSession(context: context) }
    }

    /// The handshakes are done: the `tcp-request session` rules decide on the session's ends
    /// (the PROXY header's behind `accept-proxy`); a refusal closes the connection silently,
    /// counted as a denied session. What the rules make of the session (`set-src`…,
    /// `set-var(sess.…)`, `track-scN`) is what its streams start from (`H2SessionContext`).
    private func beginSession(context: ChannelHandlerContext) {
        let session = shared.session
        // The streams' `ssl_*` fetches read the connection's handshake.
        session.tls = isTLS ? try? context.pipeline.syncOperations.handler(type: TLSHandler.self) : nil
        guard let rules = frontend.tcpRules, rules.hasSessionRules else {
            session.stick = sessionTracking
            frontend.countSessionBegun(on: loop)
            writeGate?.open()
            return
        }
        // The rules see the handshake (`ssl_fc_sni`…) and track the connection as they do for
        // an HTTP/1.1 one: an h2 client is not a way around a `tcp-request session` limit.
        if sessionTracking == nil { sessionTracking = frontend.makeStickSession() }
        let connection = session.connection ?? (context.channel.remoteAddress, context.channel.localAddress)
        if let ruled = rules.admitSession(source: session.source, destination: session.destination, connection: connection, isTLS: isTLS,
                                          tls: session.tls, stick: sessionTracking, variables: { StreamVariables(session: session.variables) },
                                          frontend: frontend, loop: loop) {
            (session.source, session.destination) = (ruled.facts.source, ruled.facts.destination)
            session.stick = sessionTracking
            frontend.countSessionBegun(on: loop)
            writeGate?.open()
            return
        }
        if loop.clients.removeValue(forKey: ObjectIdentifier(self)) != nil {
            loop.stats.frontend(frontend.counterID) { $0.scur -= 1 }
        }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if loop.clients.removeValue(forKey: ObjectIdentifier(self)) != nil {
            loop.stats.frontend(frontend.counterID) { $0.scur -= 1 }
        }
        sessionTracking?.close()
        sessionTracking = nil
        context.fireChannelInactive()
    }

    /// What the connection's streams learn from it: how many came before, and the session
    /// they share.
    private final class Shared {
        var opened = 0
        let session: H2SessionContext
        /// Streams open now; after the client's FIN, the last one to close ends the connection.
        var active = 0
        var onIdleAfterFIN: (() -> Void)?
        /// Since when no stream is open (HAProxy's idle_start): the connection's start, then the
        /// end of its last stream.
        var idleSince = NIODeadline.now()
        /// The highest stream the client opened, for the GOAWAY of the idle timeout.
        var lastStreamID = HTTP2StreamID(0)

        init(session: H2SessionContext) { self.session = session }

        func streamClosed() {
            active -= 1
            if active == 0 { idleSince = .now() }
            if active == 0, let close = onIdleAfterFIN {
                onIdleAfterFIN = nil
                close()
            }
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case let received as ProxyProtocolReceived:
            // The session's ends and TLVs become the header's.
            (shared.session.source, shared.session.destination) = (received.source, received.destination)
            shared.session.proxyTLVs = received.header.tlvs
            if session.finished(.proxyHeader) { beginSession(context: context) }
        case is TLSHandshakeCompleted:
            if session.finished(.tlsHandshake) { beginSession(context: context) }
        case let event as ChannelEvent where event == .inputClosed:
            // The client's FIN: its streams go on; the connection closes when none is left.
            if shared.active == 0 {
                closeOnceWritten(context: context)
            } else {
                let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
                shared.onIdleAfterFIN = { bound.value.0.closeOnceWritten(context: bound.value.1) }
            }
        default:
            break
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// Closes after what the streams wrote has left: a PING written last completes only once
    /// every frame before it is on the socket (a close fails the writes still pending).
    private func closeOnceWritten(context: ChannelHandlerContext) {
        let ping = HTTP2Frame(streamID: .rootStream, payload: .ping(HTTP2PingData(withInteger: 0), ack: false))
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(ping)).whenComplete { _ in bound.value.close(promise: nil) }
    }

    /// The idle timeout, as HAProxy 2.6's h2 mux (h2c_update_timeout): with no stream open,
    /// `timeout http-request` until the first stream, `timeout http-keep-alive` after one (each
    /// falling back to `http-request`, then `client`), counted from the connection's start or its
    /// last stream's end; then GOAWAY(NO_ERROR) naming the last stream, and the close. Open streams
    /// keep the connection (their own timeouts end them). The graceful stop is NIOHTTP2's
    /// connection manager's. Before the session begins (PROXY header, TLS) there is no HTTP/2
    /// yet: `timeout client`, then a silent close, as on HTTP/1.1.
    func checkTimeouts(now: NIODeadline) {
        let timeouts = frontend.config.options.timeouts
        // With neither http timeout to use, HAProxy re-arms `timeout client` at each read:
        // PINGs and SETTINGS keep such a connection (gRPC keepalives).
        let onClient = !session.isComplete || timeouts.httpRequest == nil && (shared.opened == 0 || timeouts.httpKeepAlive == nil)
        guard shared.active == 0, !idleClosed, let context,
              let limit = session.isComplete ? timeouts.clientIdle(afterARequest: shared.opened > 0) : timeouts.client,
              now >= (onClient ? max(shared.idleSince, lastRead) : shared.idleSince) + .nanoseconds(limit.nanoseconds) else { return }
        idleClosed = true
        guard session.isComplete else { return context.close(promise: nil) }
        let goAway = HTTP2Frame(streamID: .rootStream, payload: .goAway(lastStreamID: shared.lastStreamID, errorCode: .noError, opaqueData: nil))
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(NIOAny(goAway)).whenComplete { _ in bound.value.close(promise: nil) }
    }

    /// The idle timeout's GOAWAY is written: once is enough.
    private var idleClosed = false
    /// When a frame of the connection itself (PING, SETTINGS, WINDOW_UPDATE…) last came.
    private var lastRead = NIODeadline.uptimeNanoseconds(0)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        context.fireChannelRead(data)
    }
}

/// `bind … ssl … alpn h2,http/1.1`: waits for the TLS handshake, then installs HTTP/2 when the
/// client chose `h2` and the HTTP/1.1 engine otherwise, and replays to them what they missed:
/// `channelActive` (the channel went active before the handshake) and the events that came
/// before (the PROXY header's addresses). A connection that fails or ends before the handshake
/// is done gets the HTTP/1.1 engine, which logs and counts it as on any TLS listener.
final class ALPNSwitch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    private let install: (_ h2: Bool, _ channel: any Channel) throws -> Void
    /// Plaintext that arrived with the handshake's last flight, and events before it.
    private var early: [NIOAny] = []
    private var events: [Any] = []

    init(install: @escaping (_ h2: Bool, _ channel: any Channel) throws -> Void) { self.install = install }

    func channelActive(context: ChannelHandlerContext) {}  // replayed after the handshake

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { early.append(data) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let done = event as? TLSHandshakeCompleted else { return events.append(event) }
        guard switchOver(context: context, h2: done.alpn == "h2") else { return }
        context.fireUserInboundEventTriggered(event)
        for data in early { context.fireChannelRead(data) }
        early = []
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        let installed = switchOver(context: context, h2: false)
        context.fireErrorCaught(error)
        if installed { context.pipeline.syncOperations.removeHandler(context: context, promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        _ = switchOver(context: context, h2: false)
        context.fireChannelInactive()
    }

    private var switched = false

    /// Installs the engine once; false if it could not be (the channel is closed).
    private func switchOver(context: ChannelHandlerContext, h2: Bool) -> Bool {
        guard !switched else { return false }
        switched = true
        do {
            try install(h2, context.channel)
        } catch {
            context.close(promise: nil)
            return false
        }
        context.fireChannelActive()
        for event in events { context.fireUserInboundEventTriggered(event) }
        events = []
        return true
    }
}
