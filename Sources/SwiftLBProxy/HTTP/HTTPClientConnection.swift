import NIOCore
import SwiftLBConfig
import SwiftLBTLS

/// A client connection the loop sweeps for timeouts and quiesces on graceful stop.
protocol ClientConnection: AnyObject {
    func checkTimeouts(now: NIODeadline)
    var channel: (any Channel)? { get }
}

/// The client side of a proxied HTTP/1.1 connection, and the only handler of its channel after
/// TLS: bytes in, bytes out. It parses request heads itself (`HeadParser`, no NIOHTTP1 on the
/// data path), runs one exchange at a time — pipelined requests wait in the input buffer —
/// routes each to a backend through the protocol-agnostic `Dispatch`, writes the edited head and
/// the body as they came to a `ServerConnection` on this same event loop, and streams the
/// response back, rewritten, with backpressure both ways.
///
/// States: `idle` (waiting for a request head, under the http-request/keep-alive timer),
/// `exchanging` (one `HTTPExchange` in flight, its own phases in `StreamPhase`), `closing` (a
/// final response is being written; nothing more is read), `closed`.
///
/// Reading: the client is read continuously — no read interest is dropped and re-armed per
/// request — and held back only when its partner cannot take more (server not writable, or
/// too many bytes waiting), which is where backpressure belongs.
///
/// This file holds the class, its state, the channel's lifecycle and the client's input; the
/// rest is split by job into extensions beside it: `+Exchange` (a new request: rules, routing,
/// rewriting), `+Stats`, `+Dispatch`, `+Response` (server → client), `+Ending`, `+Timeouts`.
final class HTTPClientConnection: ChannelDuplexHandler, RemovableChannelHandler, ServerConnectionOwner, DispatchOwner, ClientConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        case idle
        case exchanging(HTTPExchange)
        /// A stats page request (the admin form's POST) whose body is still arriving: answered
        /// once it is in, 408 at `timeout http-request`.
        case awaitingStatsBody(StatsRequestWait)
        /// `http-request tarpit`: the answer waits for `timeout tarpit`; input is ignored.
        case tarpitted(TarpitWait)
        case closing
        case closed
        /// Handed over to a `Tunnel` (WebSocket): this handler has left the pipeline.
        case upgraded
    }

    /// The frontend of the configuration this connection's next request runs on: a reload
    /// between two requests of a keep-alive connection moves it to the new snapshot.
    var frontend: RuntimeFrontend
    /// The holder's generation `frontend` was read at.
    var generation: Int
    let loop: LoopState
    let isTLS: Bool
    /// The connection's TLS side (`bind … ssl`), read by the `ssl_*` fetches.
    var tls: TLSHandler?
    var context: ChannelHandlerContext?
    var state: State = .idle
    /// Bytes received and not consumed yet: a head arriving, a body, pipelined requests.
    var inbound = ByteBuffer()
    var parser: HeadParser
    let limits: HeadParser.Limits
    private var readPending = false
    /// When the connection last became idle (accepted, or its last response ended).
    var idleSince = NIODeadline.now()
    /// When the first byte of the current request arrived (the TR timer; 408 vs silent close).
    var requestStart: NIODeadline?
    var requestsServed = 0
    /// `process` is running: an exchange that ends inside it (an answer given while a head was
    /// taken) leaves the next request to its loop (`awaitNextRequest`).
    var processing = false
    /// The client shut its sending side (`shutdown(SHUT_WR)`): what it sent is answered, then
    /// the connection closes.
    var clientFinished = false
    /// A TLS client's handshake is done (`TLSHandshakeCompleted` came): only then can it be
    /// answered — a 408 to a handshake that stalls would wait behind it forever.
    var tlsEstablished = false
    /// `http-reuse never`: the server connection of the last exchange, parked for the next
    /// request of this client connection only; closed with it.
    var ownServerConnection: ServerConnection?
    var source: SocketAddress?
    var destination: SocketAddress?
    /// The ends before an `http-request set-src|set-dst` of the current request changed
    /// `source`/`destination` (restored when the next request starts).
    var addressesBeforeRules: (SocketAddress?, SocketAddress?)?
    /// `accept-proxy`: the TLVs of the PROXY v2 header the connection came with (`fc_pp_*`,
    /// and the authority `proxy-v2-options authority` passes on).
    var proxyTLVs: [ProxyHeader.TLV] = []
    /// "ip" for X-Forwarded-For.
    var clientIP = ""
    /// When the sweep first saw this connection closing: a last response the client does not
    /// read must not hold the connection past `timeout client`.
    var closingSeenAt: NIODeadline?
    /// Since when the client has not been taking bytes (its socket buffer full).
    var clientStalledSince: NIODeadline?
    /// Graceful stop: close after the exchange in flight.
    var quiescing = false
    /// Where heads are serialised, one buffer per direction, reused once NIO has written the
    /// previous head (see `MessageHead.serialise(into:)`).
    var clientHeadBuffer = ByteBuffer()
    var serverHeadBuffer = ByteBuffer()
    /// Body bytes held for a server connection that is not there yet, at most.
    static let maxPendingBody = 64 * 1024

    /// `bind … name`: how this listener is named in its connection-level log lines.
    let listenerName: String?
    /// One connection's variables (`set-var`, `var()`), kept across its requests.
    /// (An HTTP/2 stream's `sess.` scope is its connection's.)
    lazy var variables = StreamVariables(session: h2?.session?.variables)
    /// What it tracks in stick tables (nil when lb.conf declares none).
    let stickSession: StickSession?
    /// Set when this "connection" is one HTTP/2 stream behind an `H2StreamTranslator`: the
    /// connection itself (counters, tcp-request connection rules) is the parent's business,
    /// and the log's request line says `HTTP/2.0`.
    let h2: H2StreamInfo?

    /// Set when a `mode tcp` session became this HTTP connection (`TCPClientConnection`).
    let upgrade: TCPUpgrade?
    /// The connection's own ends (`fc_src`…): the socket's as `tcp-request connection
    /// set-src|set-dst` left them — a PROXY header changes the session's, not these (HAProxy
    /// 2.6 does the same); nil before the connection is active.
    var frontConnection: (source: SocketAddress?, destination: SocketAddress?)?
    /// Whether the connection's handshakes (PROXY header, TLS) are done and its `tcp-request
    /// session` rules have let it in: no request is read before. A stream of an HTTP/2
    /// connection and a session upgraded from TCP start complete (ruled by their connection).
    private(set) var session: SessionGate
    /// The HTTP/2 settings of the listener when its connections may turn HTTP/2 on the h2
    /// preface (`HTTPClientConnection+H2Upgrade`): mode http, no `proto h1`, no `option
    /// disable-h2-upgrade`. nil: never.
    let h2Upgrade: H2Connection.Settings?
    /// Until the first request's bytes differ from the preface: the one state check the
    /// upgrade costs a request (false for good once a request is under way).
    var awaitsPreface: Bool

    init(frontend: RuntimeFrontend, loop: LoopState, isTLS: Bool, limits: HeadParser.Limits, listenerName: String? = nil, h2: H2StreamInfo? = nil,
         upgrade: TCPUpgrade? = nil, awaitsProxyHeader: Bool = false, h2Upgrade: H2Connection.Settings? = nil) {
        self.h2Upgrade = h2 == nil && upgrade == nil ? h2Upgrade : nil
        self.awaitsPreface = self.h2Upgrade != nil
        self.session = h2 != nil || upgrade != nil ? SessionGate(awaitsProxyHeader: false, awaitsTLS: false)
            : SessionGate(awaitsProxyHeader: awaitsProxyHeader, awaitsTLS: isTLS)
        self.h2 = h2
        self.upgrade = upgrade
        self.listenerName = listenerName
        self.frontend = frontend
        self.loop = loop
        self.generation = loop.holder.generation
        self.isTLS = isTLS
        self.limits = limits
        self.parser = HeadParser(kind: .request, limits: limits)
        if let session = h2?.session {
            // An HTTP/2 stream: its connection's tracking under its own.
            self.stickSession = frontend.makeStickSession(streamOf: session.stick)
        } else {
            self.stickSession = upgrade.map(\.stick) ?? frontend.makeStickSession()
            if let variables = upgrade?.variables { self.variables = variables }
        }
    }

    var timeouts: Timeouts { frontend.config.options.timeouts }
    /// Now, to the access log's millisecond when it is written, else to the sweep's 100 ms.
    var clock: NIODeadline { logging ? .now() : loop.coarseNow }
    var logging: Bool { frontend.logPlan != nil }
    var channel: (any Channel)? { context?.channel }

    // MARK: channel lifecycle

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// The context holds this handler: keeping it past removal would be a retain cycle.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        // An upgraded connection lives on as a tunnel, which ends its tracking when it closes.
        if case .upgraded = state { return }
        stickSession?.close(http: true)
    }

    func channelActive(context: ChannelHandlerContext) {
        loop.clients[ObjectIdentifier(self)] = self
        source = context.channel.remoteAddress
        destination = context.channel.localAddress
        if let ip = source?.ipAddress { clientIP = ip }
        if let h2 {
            // A stream: its connection was counted (and ruled) by `H2Connection`, whose
            // session it starts from.
            if let session = h2.session {
                (source, destination) = (session.source, session.destination)
                clientIP = source?.ipAddress ?? ""
                frontConnection = session.connection
                proxyTLVs = session.proxyTLVs
                tls = session.tls
            }
            loop.clients[ObjectIdentifier(self)] = self
            idleSince = clock
            return context.fireChannelActive()
        }
        if let upgrade {
            // The session was accepted, counted and ruled as TCP; the channel is active already.
            source = upgrade.source
            destination = upgrade.destination
            frontConnection = upgrade.connection
            clientIP = source?.ipAddress ?? ""
            tlsEstablished = isTLS  // a TCP session is routed once its handshake is done
            idleSince = clock
            return
        }
        // Counted before the connection rules, which read it (`fe_conn`), as HAProxy counts
        // a connection when it accepts it.
        if frontend.countsLiveConnections { frontend.countLive(context.channel) }
        if let rules = frontend.tcpRules, rules.hasConnectionRules {
            guard let ruled = rules.admit(source: source, destination: destination, isTLS: isTLS, stick: stickSession,
                                          variables: { variables }, frontend: frontend, loop: loop) else {
                // `tcp-request connection reject`: closed before a byte is read, nothing answered.
                return closeRefused(context: context)
            }
            // `set-src|set-dst` of these rules: the connection's ends, which the session starts from.
            frontConnection = (ruled.facts.connectionSource, ruled.facts.connectionDestination)
            (source, destination, clientIP) = (ruled.facts.source, ruled.facts.destination, ruled.facts.source?.ipAddress ?? "")
        } else {
            frontConnection = (source, destination)
        }
        // A client that sends its request and then shuts its sending side still gets the
        // answer (HAProxy's default); `option abortonclose` abandons it instead.
        context.channel.allowRemoteHalfClosure()
        idleSince = clock
        let id = frontend.counterID
        loop.stats.frontend(id) { c in
            c.connectionsTotal += 1
            c.scur += 1
            c.smax = max(c.smax, c.scur)
        }
        context.fireChannelActive()
        if session.isComplete { beginSession(context: context) }
    }

    /// The connection's handshakes are done (`SessionGate`): the `tcp-request session` rules
    /// decide on the session's ends — the PROXY header's behind `accept-proxy` — and may change
    /// them (`set-src`…); a refusal closes the connection without a word, as HAProxy's, counted
    /// as a denied session. Then the requests that came meanwhile are read.
    private func beginSession(context: ChannelHandlerContext) {
        if let rules = frontend.tcpRules, rules.hasSessionRules {
            guard let ruled = rules.admitSession(source: source, destination: destination, connection: frontConnection ?? (source, destination),
                                                 isTLS: isTLS, tls: tls, stick: stickSession, variables: { variables },
                                                 frontend: frontend, loop: loop) else {
                loop.stats.frontend(frontend.counterID) { $0.scur -= 1 }
                return closeRefused(context: context)
            }
            (source, destination, clientIP) = (ruled.facts.source, ruled.facts.destination, ruled.facts.source?.ipAddress ?? "")
        }
        // One session per client connection (an HTTP/2 stream's or a TCP session's switch to
        // HTTP is part of a session its connection counted).
        if h2 == nil && upgrade == nil { frontend.countSessionBegun(on: loop) }
        // `timeout http-request` counts from here: the handshakes had `timeout client`.
        idleSince = clock
        if inbound.readableBytes > 0 { process() }
    }

    /// A connection refused by a `tcp-request connection|session` rule: closed unanswered and
    /// unlogged (`channelInactive` then has nothing to count).
    private func closeRefused(context: ChannelHandlerContext) {
        state = .closed
        stickSession?.close()  // refused before any stream: no request counted
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Only a connection refused by `tcp-request connection|session` is closed before it went inactive.
        if case .closed = state { return context.fireChannelInactive() }
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        if h2 == nil { loop.stats.frontend(frontend.counterID) { $0.scur -= 1 } }
        stickSession?.close(http: true)
        ownServerConnection?.close()
        ownServerConnection = nil
        if case .exchanging(let ex) = state {
            // The client went away mid-exchange: the server connection is in an unknown state,
            // so it is closed rather than pooled.
            markAbortedWhileWaiting(ex)
            abandon(ex, cause: .clientAborted)
            writeLog(ex)
        }
        state = .closed
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiesce()
            return
        }
        if case ChannelEvent.inputClosed = event {
            clientInputClosed()
            return
        }
        if event is TLSHandshakeCompleted {
            tlsEstablished = true
            if session.finished(.tlsHandshake) { beginSession(context: context) }
        }
        if let received = event as? ProxyProtocolReceived {
            // `accept-proxy`: the session's real ends, before any request byte.
            source = received.source
            destination = received.destination
            proxyTLVs = received.header.tlvs
            clientIP = source?.ipAddress ?? ""
            if session.finished(.proxyHeader) { beginSession(context: context) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// HAProxy logs 400 for a client that leaves (FIN or reset) with `option abortonclose`
    /// while its request waits for the server's answer (http_wait_for_response, "client
    /// abort with an abortonclose").
    private func markAbortedWhileWaiting(_ ex: HTTPExchange) {
        if ex.phase.phase == .waitingResponse, ex.dispatch.backend.config.options.abortOnClose { ex.log.status = 400 }
    }

    /// The client's FIN: the requests it sent whole are answered (pipelined ones too), then the
    /// connection closes; a request still arriving (an incomplete head or body) can never
    /// complete and is abandoned, as is every request with `option abortonclose`.
    private func clientInputClosed() {
        clientFinished = true
        switch state {
        case .idle:
            process()
            if case .idle = state, !answerMissingRequest(timedOut: false) { closeNow() }
        case .exchanging(let ex):
            if !ex.requestComplete || ex.dispatch.backend.config.options.abortOnClose {
                // Closed as a client abort: channelInactive abandons and logs the exchange.
                context?.close(promise: nil)
            } else {
                ex.closeClient = inbound.readableBytes == 0 || ex.closeClient
            }
        case .awaitingStatsBody:
            closeNow()
        case .tarpitted(let wait):
            // The client left before its answer: HAProxy logs it CT.
            var record = wait.record
            record.termination = "CT"
            if record.backend == "<NOSRV>" { record.backend = frontend.name }
            writeLog(record)
            closeNow()
        case .closing, .closed, .upgraded:
            break
        }
    }

    /// Graceful stop: an idle connection closes now, a busy one after its response.
    private func quiesce() {
        quiescing = true
        switch state {
        case .idle:
            state = .closing
            context?.close(promise: nil)
        case .exchanging(let ex):
            ex.closeClient = true
        case .awaitingStatsBody, .tarpitted, .closing, .closed, .upgraded:
            break
        }
    }

    // MARK: client → proxy

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if inbound.readableBytes == 0 {
            inbound = buffer
        } else {
            inbound.writeBuffer(&buffer)
        }
        process()
        // Consumed: let go of the receive buffer so NIO can read into it again instead of
        // allocating a new one.
        if inbound.readableBytes == 0 { inbound = Self.empty }
    }

    /// An empty buffer to hold instead of a consumed one (allocated once).
    static let empty = ByteBuffer()

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .exchanging(let ex) = state { ex.connection?.flush() }
        context.fireChannelReadComplete()
    }

    /// Moves the input on as far as the state allows: parses a head when idle, feeds the body
    /// of the exchange in flight; pipelined requests wait until it is done.
    func process() {
        // Nothing is read before the session's rules have let it in.
        guard session.isComplete else { return }
        let nested = processing
        processing = true
        defer { processing = nested }
        while true {
            switch state {
            case .idle:
                guard inbound.readableBytes > 0 else { return }
                if requestStart == nil { requestStart = clock }
                if awaitsPreface {
                    switch H2Preface.match(inbound) {
                    case .complete: return upgradeToH2()
                    case .partial: return
                    case .mismatch: awaitsPreface = false
                    }
                }
                switch parser.parse(&inbound) {
                case .incomplete:
                    return
                case .failure:
                    // Malformed or too large for HAProxy's buffer: its H1 layer's 400 either way.
                    var record = newRecord()
                    record.termination = "PR"
                    record.refusedBeforeStream = true
                    respondError(.badRequest, record: record)
                    return
                case .head(let head):
                    startExchange(head)
                }
            case .exchanging(let ex):
                if !ex.requestComplete { pumpRequestBody(ex) }
                // The exchange ended while its body came (an error answered, the connection
                // kept): the next request may already be in.
                if case .idle = state { continue }
                return
            case .awaitingStatsBody(let wait):
                if inbound.readableBytes >= wait.length {
                    state = .idle
                    serveStats(wait.head, framing: .length(wait.length), settings: wait.settings, page: wait.page, record: wait.record)
                }
                return
            case .tarpitted, .closing, .closed, .upgraded:
                return
            }
        }
    }

    /// Takes the request body's bytes from the input and sends (or holds) them.
    func pumpRequestBody(_ ex: HTTPExchange) {
        guard var framer = ex.requestFramer, !ex.requestComplete, inbound.readableBytes > 0 else { return }
        do {
            let done = try framer.take(from: &inbound) { slice in sendBody(slice, ex) }
            ex.requestFramer = framer
            ex.lastClientActivity = clock
            if done { ex.requestComplete = true }
            if ex.awaitingBody && (ex.requestComplete || ex.pendingBytes >= min(ex.bodyThreshold ?? Self.maxPendingBody, Self.maxPendingBody)) {
                bodyBuffered(ex)
                guard case .exchanging(let current) = state, current === ex else { return }
            }
        } catch {
            // A broken chunk: the body cannot be delimited, so nothing more can be trusted.
            if ex.responseHeadSent {
                abandon(ex, cause: .proxy)
                writeLog(ex)
                closeNow()
            } else {
                failRequest(ex, .badRequest, cause: .proxy)
            }
            return
        }
        resumeReadsIfPossible()
    }

    private func sendBody(_ slice: ByteBuffer, _ ex: HTTPExchange) {
        ex.requestBodyBytes += slice.readableBytes
        if let connection = ex.connection {
            connection.write(slice)
        } else {
            ex.pendingBody.append(slice)
            ex.pendingBytes += slice.readableBytes
        }
    }

    /// Reads from the client are held back while the request cannot move on: its server
    /// connection cannot take more, too much body waits for a connection, or pipelined
    /// requests pile up behind the exchange in flight.
    func read(context: ChannelHandlerContext) {
        if shouldHoldReads {
            readPending = true
        } else {
            context.read()
        }
    }

    private var shouldHoldReads: Bool {
        switch state {
        case .closing, .closed, .upgraded, .tarpitted:
            return true
        case .idle, .awaitingStatsBody:
            return false
        case .exchanging(let ex):
            if !ex.requestComplete {
                if let connection = ex.connection { return !connection.isWritable }
                return ex.pendingBytes >= Self.maxPendingBody
            }
            return inbound.readableBytes >= limits.maxHead
        }
    }

    func resumeReadsIfPossible() {
        guard readPending, !shouldHoldReads, let context else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        clientStalledSince = context.channel.isWritable ? nil : .now()
        if context.channel.isWritable, case .exchanging(let ex) = state {
            ex.connection?.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let tlsError = error as? TLSError {
            // A client that does not speak TLS to a TLS port, or a broken handshake: one log
            // line, and the connection is closed (the TLS handler already closes it).
            if logging {
                let client = source.map { "\($0.ipAddress ?? "-"):\($0.port ?? 0)" } ?? "-"
                loop.writeLogMessage("\(client) [\(loop.log.date(wallClockNow()))] \(frontend.name)/\(listenerName ?? "tls"): SSL handshake failure (\(tlsError))", frontend: frontend)
            }
        } else if case .exchanging(let ex) = state {
            // I/O errors (reset by peer…): nothing to answer.
            markAbortedWhileWaiting(ex)
            abandon(ex, cause: .clientAborted)
            writeLog(ex)
        }
        state = .closing
        context.close(promise: nil)
    }
}

/// What a `mode tcp` session hands to the HTTP connection it becomes: its ends (the PROXY
/// header's when there was one) and its stick tracking (nil: none).
struct TCPUpgrade {
    let source: SocketAddress?
    let destination: SocketAddress?
    /// The connection's own ends (`fc_src`…).
    let connection: (source: SocketAddress?, destination: SocketAddress?)?
    let stick: StickSession?
    /// The variables its rules set (nil: its rules set none).
    let variables: StreamVariables?
}
