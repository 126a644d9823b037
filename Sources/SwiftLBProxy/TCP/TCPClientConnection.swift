import NIOCore
import SwiftLBConfig
import SwiftLBTLS

/// A `mode tcp` session before its server is there: the client connection is accepted, its
/// backend chosen (`use_backend` rules on layer-4 facts, else `default_backend`), a server by
/// the same `Dispatch` as HTTP (balancing, `balance source`, checks, `maxconn` and the queue,
/// retries on another server), then a `Tunnel` takes the client channel over and bytes flow.
/// What the client sent meanwhile is held (a bounded amount: reads stop beyond it) and goes
/// first, followed by its FIN if it already half-closed (a one-shot client that writes its
/// request and shuts its side at once must not lose it to a slow connect).
///
/// With `tcp-request content` rules the session first inspects: the rules run on the bytes
/// received so far, and one that needs bytes not there yet (`req.len`, `req.payload`,
/// `req.ssl_hello_type`…) waits for more, until `tcp-request inspect-delay` has passed (then
/// the rules decide on what came) — HAProxy's `tcp_inspect_request`. `use_backend` rules then
/// read the same bytes.
///
/// The session becomes HTTP — an `HTTPClientConnection` takes the channel over, with the bytes
/// held, the addresses and the stick tracking — when a `tcp-request content switch-mode http`
/// rule applies or the backend chosen is `mode http` (HAProxy's implicit upgrade); its later
/// requests are routed by the frontend's rules like any HTTP request's.
///
/// States: `accepted` → [`inspecting`] → `dispatching` → `spliced`, or → `upgraded` (this
/// handler has left the pipeline in both), or `closed`.
final class TCPClientConnection: ChannelDuplexHandler, RemovableChannelHandler, DispatchOwner, ClientConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Accepted; the backend is being chosen.
        case accepted
        /// `tcp-request content` rules wait for the client's bytes (`next`: the first rule not
        /// decided yet; `timer`: the inspect delay): the frontend's, or once `backend` is chosen,
        /// the backend's.
        case inspecting(source: SocketAddress?, destination: SocketAddress?, next: Int, timer: Scheduled<Void>?, backend: RuntimeBackend?)
        case dispatching(Dispatch)
        case spliced
        case upgraded
        case closed
    }

    private let frontend: RuntimeFrontend
    private let loop: LoopState
    private let isTLS: Bool
    /// The connection's TLS side (`bind … ssl`), read by the `ssl_*` fetches.
    var tls: TLSHandler?
    private var context: ChannelHandlerContext?
    private var state: State = .accepted
    /// Client bytes that came before the server connection.
    private var held = ByteBuffer()
    private var readPending = false
    /// The client sent its FIN before the server connection was there.
    private var clientFinished = false
    private var log: AccessLogRecord
    private var phase = StreamPhase()
    private let accepted = NIODeadline.now()
    private var connectStart: NIODeadline?
    /// At most this much is held for the server before reads stop.
    static let maxHeld = 64 * 1024

    /// `accept-proxy`: routing waits for the PROXY header's addresses.
    private let awaitsProxyHeader: Bool
    /// The session's ends: the socket's as the connection rules left them, or the PROXY header's.
    private var ends: (source: SocketAddress?, destination: SocketAddress?)?
    /// The connection's own ends (`fc_src`…), as the connection rules left them.
    private var connectionEnds: (source: SocketAddress?, destination: SocketAddress?)?
    /// The session starts — its `tcp-request session` rules run, then routing — once the PROXY
    /// header (`accept-proxy`) and the TLS handshake (`bind … ssl`) are done, as HAProxy starts
    /// a stream only on an established connection (a client whose hello is refused gets the
    /// TLS alert, not a reset from a session that already chose to close).
    private var session: SessionGate
    /// What it tracks in stick tables (nil when lb.conf declares none).
    private let stickSession: StickSession?
    /// What an upgrade to HTTP needs: the listener's head limits and name.
    private let limits: HeadParser.Limits
    private let listenerName: String?
    /// What `tcp-request … set-var` rules set (made only when they exist).
    private lazy var variables = StreamVariables()

    init(frontend: RuntimeFrontend, loop: LoopState, isTLS: Bool, awaitsProxyHeader: Bool = false,
         limits: HeadParser.Limits = HeadParser.Limits(), listenerName: String? = nil) {
        self.limits = limits
        self.listenerName = listenerName
        self.frontend = frontend
        self.loop = loop
        self.isTLS = isTLS
        self.awaitsProxyHeader = awaitsProxyHeader
        self.session = SessionGate(awaitsProxyHeader: awaitsProxyHeader, awaitsTLS: isTLS)
        self.log = AccessLogRecord(frontend: frontend.name)
        self.stickSession = frontend.makeStickSession()
    }

    var channel: (any Channel)? { context?.channel }
    private var logging: Bool { frontend.logPlan != nil }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        var source = context.channel.remoteAddress, destination = context.channel.localAddress
        // Counted before the connection rules, which read it (`fe_conn`), as HAProxy counts
        // a connection when it accepts it.
        if frontend.countsLiveConnections { frontend.countLive(context.channel) }
        if let rules = frontend.tcpRules, rules.hasConnectionRules {
            guard let ruled = rules.admit(source: source, destination: destination, isTLS: isTLS, stick: stickSession,
                                          variables: { variables }, frontend: frontend, loop: loop) else {
                // `tcp-request connection reject`: closed at once, nothing logged (as HAProxy).
                state = .closed
                stickSession?.close()
                context.close(promise: nil)
                return
            }
            // `set-src|set-dst` of these rules: the connection's ends, which the session starts from.
            (source, destination) = (ruled.facts.source, ruled.facts.destination)
        }
        loop.clients[ObjectIdentifier(self)] = self
        if logging {
            log.acceptTime = wallClockNow()
            log.source = source
            log.destination = destination
        }
        loop.stats.frontend(frontend.counterID) { c in
            c.connectionsTotal += 1
            c.scur += 1
            c.smax = max(c.smax, c.scur)
        }
        // A FIN before the server is there is held like the bytes before it, not a close.
        context.channel.allowRemoteHalfClosure()
        context.fireChannelActive()
        connectionEnds = (source, destination)
        ends = (source, destination)
        if session.isComplete { beginSession() }
    }

    /// The connection's handshakes are done (`SessionGate`): the `tcp-request session` rules
    /// decide on the session's ends — the PROXY header's behind `accept-proxy` — and may change
    /// them (`set-src`…); a refusal closes the connection without a word or a log line, counted
    /// as a denied session. Then the session is routed.
    private func beginSession() {
        guard case .accepted = state, var ends, let connectionEnds else { return }
        if let rules = frontend.tcpRules, rules.hasSessionRules {
            guard let ruled = rules.admitSession(source: ends.source, destination: ends.destination, connection: connectionEnds,
                                                 isTLS: isTLS, tls: tls, stick: stickSession, variables: { variables },
                                                 frontend: frontend, loop: loop) else {
                return end(.proxy, logged: false)
            }
            ends = (ruled.facts.source, ruled.facts.destination)
            self.ends = ends
            log.source = ends.source
            log.destination = ends.destination
        }
        frontend.countSessionBegun(on: loop)
        route(source: ends.source, destination: ends.destination)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            // Before the PROXY header's addresses there is nothing to route: that FIN ends it.
            if case .accepted = state, awaitsProxyHeader { end(.clientAborted) } else { clientFinished = true }
            if case .inspecting = state { inspect() }
            return
        }
        if event is TLSHandshakeCompleted {
            context.fireUserInboundEventTriggered(event)
            if session.finished(.tlsHandshake) { beginSession() }
            return
        }
        guard let received = event as? ProxyProtocolReceived else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        guard case .accepted = state else { return }
        log.source = received.source
        log.destination = received.destination
        ends = (received.source, received.destination)
        if session.finished(.proxyHeader) { beginSession() }
    }

    /// Runs the `tcp-request content` rules (inspecting first when they read the client's
    /// bytes), then chooses the backend.
    private func route(source: SocketAddress?, destination: SocketAddress?) {
        guard let rules = frontend.tcpRules, rules.hasContentRules else {
            choose(source: source, destination: destination)
            return
        }
        startInspecting(source: source, destination: destination, delay: frontend.config.options.tcpInspectDelay, backend: nil)
    }

    /// Waits for the client's bytes under `delay` (`tcp-request inspect-delay` of the proxy whose
    /// rules run: the frontend's, or `backend`'s once it is chosen) and runs the rules.
    private func startInspecting(source: SocketAddress?, destination: SocketAddress?, delay: ConfigDuration?, backend: RuntimeBackend?) {
        var timer: Scheduled<Void>?
        if let delay, let context {
            timer = context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(delay.nanoseconds)) { [weak self] in
                self?.inspect(timedOut: true)
            }
        }
        state = .inspecting(source: source, destination: destination, next: 0, timer: timer, backend: backend)
        inspect()
    }

    /// One round of the content rules on the bytes held: accept goes on to the backend, reject
    /// closes (HAProxy's "PR"), and a rule that needs more bytes waits for the next read, the
    /// client's FIN or the inspect delay (without one the rules decide at once).
    private func inspect(timedOut: Bool = false) {
        guard case .inspecting(let ruledSource, let ruledDestination, var next, let timer, let backend) = state,
              let rules = backend.map({ $0.tcpRules }) ?? frontend.tcpRules else { return }
        let final = timedOut || timer == nil || clientFinished || held.readableBytes >= Self.maxHeld
        let payload = InspectedPayload(held, final: final)
        var input = ruleInput(source: ruledSource, destination: ruledDestination, variables: rules.setsVariables ? variables : nil)
        input.inspected = payload
        let verdict = rules.decideContent(&input, mustWait: { holds in payload.mustWait(holds: holds) }, from: &next)
        // The rules run so far are not run again: the addresses they set are kept.
        let (source, destination) = (input.facts.source, input.facts.destination)
        guard let accepted = verdict else {
            state = .inspecting(source: source, destination: destination, next: next, timer: timer, backend: backend)
            return
        }
        timer?.cancel()
        state = .accepted
        switch accepted {
        case .reject:
            loop.stats.frontend(frontend.counterID) { $0.deniedRequests += 1 }
            end(.proxy)
        case .switchToHTTP:
            upgradeToHTTP(source: source, destination: destination)
        case .accept:
            if let backend { dispatch(to: backend, source: source, destination: destination) } else { choose(source: source, destination: destination) }
        }
    }

    /// What the content, routing and stick rules read: the session's ends (`src`…) and the
    /// connection's (`fc_src`…).
    private func ruleInput(source: SocketAddress?, destination: SocketAddress?, variables: StreamVariables? = nil) -> SampleInput {
        var input = SampleInput.connectionLevel(source: source, destination: destination, isTLS: isTLS, tls: tls, stick: stickSession, variables: variables)
        input.facts.connectionSource = connectionEnds?.source
        input.facts.connectionDestination = connectionEnds?.destination
        input.facts.proxyStates = frontend.proxyStates
        return input
    }

    /// Chooses the backend (`use_backend` rules on layer-4 facts and the bytes held, else
    /// `default_backend`) and starts the dispatch.
    private func choose(source: SocketAddress?, destination: SocketAddress?) {
        var chosen = frontend.defaultBackend
        if !frontend.rules.isEmpty {
            var input = ruleInput(source: source, destination: destination)
            input.inspected = InspectedPayload(held, final: true)
            chosen = frontend.rules.choose(fallback: chosen, holds: { $0.evaluate(input) }, input: { input })
        }
        guard let backend = chosen else {
            end(.proxy)
            return
        }
        if backend.config.options.mode == .http {
            // HAProxy's implicit upgrade: the session is HTTP from here on.
            upgradeToHTTP(source: source, destination: destination)
            return
        }
        log.backend = backend.name
        // `be_sess_rate`: the session set on its backend (an HTTP backend's streams count
        // theirs as they are routed).
        backend.sessionRate?.add()
        // The backend's own `tcp-request content` rules, under its inspect delay (a `listen`'s
        // ran as its frontend's).
        if let rules = backend.tcpRules, rules.hasContentRules, backend.name != frontend.name {
            startInspecting(source: source, destination: destination, delay: backend.config.options.tcpInspectDelay, backend: backend)
            return
        }
        dispatch(to: backend, source: source, destination: destination)
    }

    /// Starts the dispatch to the chosen backend (stick rules and `sni` expressions first).
    private func dispatch(to backend: RuntimeBackend, source: SocketAddress?, destination: SocketAddress?) {
        _ = phase.requestReceived()
        var dispatch = Dispatch(backend: backend, client: source, destination: destination)
        if case .rdpCookie(let name) = backend.config.options.balance {
            // HAProxy's get_server_rch: the cookie's value in the bytes held (`tcp-request
            // content` rules wait for it), hashed as a header's; none or empty: round robin.
            let value = InspectedPayload(held, final: true).value(.rdpCookie(name)).flatMap { $0.isEmpty ? nil : $0 }
            dispatch.hashKey = value.map { backend.config.options.hashType.hash($0) }
        }
        if !backend.serverNames.isEmpty {
            // `sni EXPRESSION` (`req.ssl_sni`, `ssl_fc_sni`…): the names of this session.
            var input = ruleInput(source: source, destination: destination)
            input.inspected = InspectedPayload(held, final: true)
            dispatch.serverNames = backend.serverNames.evaluate(input)
        }
        // `force-persist|ignore-persist` and `use-server` apply to TCP sessions too (HAProxy's
        // process_server_rules is not HTTP's), before the stick tables.
        var persistence = ServerSelection.Persistence.normal
        if let selection = backend.selection {
            var input = ruleInput(source: source, destination: destination)
            input.inspected = InspectedPayload(held, final: true)
            persistence = selection.persistence(input)
            dispatch.pinned = selection.assigned(input, persistence: persistence)
        }
        dispatch.persistent = backend.config.options.persist || persistence == .force
        dispatch.forced = persistence == .force
        if dispatch.pinned == nil, let name = backend.config.options.rdpCookiePersistence {
            dispatch.pinned = RDPCookiePersistence.server(InspectedPayload(held, final: true).value(.rdpCookie(name)), in: backend)
        }
        if let stick = backend.stick {
            var input = ruleInput(source: source, destination: destination)
            input.inspected = InspectedPayload(held, final: true)
            if dispatch.pinned == nil { dispatch.pinned = stick.match(input, servers: backend.servers, now: StickSession.now(), persistent: dispatch.persistent) }
            dispatch.stickStore = stick.storeKeys(input)
        }
        state = .dispatching(dispatch)
        dispatchNext(freshConnection: false)
    }

    /// An `HTTPClientConnection` takes the channel over (after this handler, which leaves):
    /// it is given the bytes held, the client's FIN if it came, the session's ends (the PROXY
    /// header's when there was one) and its stick tracking; the frontend's connection was
    /// counted here, and the content rules have run for its first request.
    private func upgradeToHTTP(source: SocketAddress?, destination: SocketAddress?) {
        guard let context else { return }
        let http = HTTPClientConnection(frontend: frontend, loop: loop, isTLS: isTLS, limits: limits, listenerName: listenerName,
                                        upgrade: TCPUpgrade(source: source, destination: destination, connection: connectionEnds, stick: stickSession,
                                                            variables: frontend.tcpRules?.setsVariables == true ? variables : nil))
        http.tls = tls
        state = .upgraded
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        let httpContext: ChannelHandlerContext
        do {
            let pipeline = context.pipeline.syncOperations
            try pipeline.addHandler(http, position: .after(self))
            httpContext = try pipeline.context(handler: http)
            pipeline.removeHandler(context: context, promise: nil)
        } catch {
            context.close(promise: nil)
            return
        }
        http.channelActive(context: httpContext)
        let bytes = held
        held = ByteBuffer()
        if bytes.readableBytes > 0 { http.channelRead(context: httpContext, data: NIOAny(bytes)) }
        if clientFinished { http.userInboundEventTriggered(context: httpContext, event: ChannelEvent.inputClosed) }
        if readPending { httpContext.read() }
    }

    // MARK: dispatching

    private func dispatchNext(freshConnection: Bool) {
        guard case .dispatching(var dispatch) = state else { return }
        let step = dispatch.next(loop: loop, owner: self, freshConnection: true)  // TCP sessions are never pooled
        state = .dispatching(dispatch)
        if let server = dispatch.server {
            log.server = server.name
            log.retries = max(0, dispatch.attempts - 1)
        }
        switch step {
        case .connection(let connection):
            // TCP sessions never pool (a pooled connection belongs to HTTP); a new one it is.
            connection.close()
            dispatchNext(freshConnection: true)
        case .connecting:
            connectStart = .now()
        case .queued:
            _ = phase.queue()
        case .failed(let failure):
            fail(failure)
        }
    }

    func dispatchConnected(_ connection: ServerConnection, generation: Int) {
        guard case .dispatching(let dispatch) = state, dispatch.generation == generation, let context else {
            connection.close()
            return
        }
        if let connectStart { log.tc = millisecondsBetween(connectStart, .now()) }
        _ = phase.requestSent()
        _ = phase.responseStarted()
        // `option logasap`: HAProxy logs a TCP stream once its server connection is up.
        let early = logging && frontend.logPlan?.logASAP == true
        if early {
            var record = log
            record.ta = millisecondsBetween(accepted, .now())
            loop.writeAccessLog(record, frontend: frontend, backend: dispatch.backend, server: dispatch.server, http: false, tls: isTLS)
        }
        let tunnel = Tunnel(loop: loop, server: connection,
                            timeouts: Tunnel.Timeouts(front: frontend.config.options.timeouts, back: dispatch.backend.config.options.timeouts),
                            onEnd: Self.closingStick(stickSession, Tunnel.onEnd(releasing: dispatch, log: logging && !early ? log : nil, phase: phase,
                                                                                  start: accepted, loop: loop, frontend: frontend, http: false, tls: isTLS)))
        let bytes = held.readableBytes > 0 ? held : nil
        held = ByteBuffer()
        state = .spliced
        tunnel.frontendCounterID = frontend.counterID
        loop.stats.backend(dispatch.backend.counterID) { $0.stot += 1 }
        if let server = dispatch.server { loop.stats.server(server.id) { c in c.stot += 1; c.loadBalanced += 1 } }
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        tunnel.takeOver(from: context, after: self, clientBytes: bytes, serverBytes: nil, clientFinished: clientFinished)
    }

    func dispatchConnectFailed(_ failure: Dispatch.Failure, generation: Int) {
        guard case .dispatching(var dispatch) = state, dispatch.generation == generation else { return }
        dispatch.lastFailure = failure
        let wait = dispatch.backend.config.options.retryOn.contains(.connFailure) ? dispatch.retryAfterConnectFailure(failure) : nil
        state = .dispatching(dispatch)
        guard let wait else { fail(failure); return }
        if wait == .zero { dispatchNext(freshConnection: false); return }
        // HAProxy's turn-around before trying the same server again (Dispatch).
        loop.eventLoop.assumeIsolated().scheduleTask(in: wait) { [weak self] in
            guard let self, case .dispatching(let current) = self.state, current.generation == generation else { return }
            self.dispatchNext(freshConnection: false)
        }
    }

    func dispatchQueueWoke() -> Bool {
        guard case .dispatching(var dispatch) = state, dispatch.isQueued else { return false }
        if let queuedAt = dispatch.wokeFromQueue() { log.tw = millisecondsBetween(queuedAt, .now()) }
        state = .dispatching(dispatch)
        _ = phase.assign()
        dispatchNext(freshConnection: false)
        return true
    }

    private func fail(_ failure: Dispatch.Failure) {
        switch failure {
        case .noServer, .stickyServerDown, .connectFailed: end(.serverAborted)
        case .serverQueueFull:
            _ = phase.queue()
            end(.serverAborted)
        case .queueTimeout, .connectTimeout: end(.serverTimeout)
        }
    }

    /// A tunnel's end that also ends the session's stick tracking (`conn_cur`).
    private static func closingStick(_ session: StickSession?, _ onEnd: @escaping (Tunnel, TerminationCause) -> Void) -> (Tunnel, TerminationCause) -> Void {
        guard let session else { return onEnd }
        return { tunnel, cause in
            onEnd(tunnel, cause)
            session.close()
        }
    }

    /// The session ends before it was spliced: the client is closed (a TCP client gets no answer),
    /// and logged unless it was refused by a `tcp-request session` rule (HAProxy logs no stream).
    private func end(_ cause: TerminationCause, logged: Bool = true) {
        if case .dispatching(var dispatch) = state { dispatch.release() }
        if case .inspecting(_, _, _, let timer, _) = state { timer?.cancel() }
        switch state {
        case .spliced, .upgraded, .closed: return
        default: break
        }
        state = .closed
        stickSession?.close()
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        loop.stats.frontend(frontend.counterID) { $0.scur -= 1 }
        phase.end(cause)
        if logging && logged {
            var record = log
            record.termination = phase.terminationFlags
            record.ta = millisecondsBetween(accepted, .now())
            loop.writeAccessLog(record, frontend: frontend, backend: nil, server: nil, http: false, tls: isTLS)
        }
        context?.close(promise: nil)
    }

    // MARK: the client meanwhile

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        held.writeBuffer(&buffer)
        if case .inspecting = state { inspect() }
    }

    func read(context: ChannelHandlerContext) {
        if held.readableBytes >= Self.maxHeld { readPending = true } else { context.read() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(.clientAborted)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(.clientAborted)
    }

    func checkTimeouts(now: NIODeadline) {
        if case .accepted = state, !session.isComplete,
           let limit = frontend.config.options.timeouts.client, now >= accepted + .nanoseconds(limit.nanoseconds) {
            // A TLS handshake or PROXY header that never completes holds no slot past `timeout client`.
            end(.clientTimeout)
            return
        }
        guard case .dispatching(var dispatch) = state else { return }
        let timeouts = dispatch.backend.config.options.timeouts
        if dispatch.isQueued, let queuedAt = dispatch.queuedAt,
           let limit = timeouts.queue ?? timeouts.connect, now >= queuedAt + .nanoseconds(limit.nanoseconds) {
            guard dispatch.leaveQueue() else { return }
            state = .dispatching(dispatch)
            log.tw = millisecondsBetween(queuedAt, now)
            end(.serverTimeout)
        }
    }
}
