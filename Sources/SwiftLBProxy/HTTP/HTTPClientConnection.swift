import NIOCore
import SwiftLBAdmin
import SwiftLBConfig
import SwiftLBLog
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
final class HTTPClientConnection: ChannelDuplexHandler, RemovableChannelHandler, ServerConnectionOwner, DispatchOwner, ClientConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case idle
        case exchanging(HTTPExchange)
        case closing
        case closed
        /// Handed over to a `Tunnel` (WebSocket): this handler has left the pipeline.
        case upgraded
    }

    /// The frontend of the configuration this connection's next request runs on: a reload
    /// between two requests of a keep-alive connection moves it to the new snapshot.
    private var frontend: RuntimeFrontend
    /// The holder's generation `frontend` was read at.
    private var generation: Int
    private let loop: LoopState
    private let isTLS: Bool
    private var context: ChannelHandlerContext?
    private var state: State = .idle
    /// Bytes received and not consumed yet: a head arriving, a body, pipelined requests.
    private var inbound = ByteBuffer()
    private var parser: HeadParser
    private let limits: HeadParser.Limits
    private var readPending = false
    /// When the connection last became idle (accepted, or its last response ended).
    private var idleSince = NIODeadline.now()
    /// When the first byte of the current request arrived (the TR timer; 408 vs silent close).
    private var requestStart: NIODeadline?
    private var requestsServed = 0
    private var source: SocketAddress?
    private var destination: SocketAddress?
    /// "ip" for X-Forwarded-For.
    private var clientIP = ""
    /// When the sweep first saw this connection closing: a last response the client does not
    /// read must not hold the connection past `timeout client`.
    private var closingSeenAt: NIODeadline?
    /// Since when the client has not been taking bytes (its socket buffer full).
    private var clientStalledSince: NIODeadline?
    /// Graceful stop: close after the exchange in flight.
    private var quiescing = false
    /// Where heads are serialised, one buffer per direction, reused once NIO has written the
    /// previous head (see `MessageHead.serialise(into:)`).
    private var clientHeadBuffer = ByteBuffer()
    private var serverHeadBuffer = ByteBuffer()
    /// Body bytes held for a server connection that is not there yet, at most.
    static let maxPendingBody = 64 * 1024

    /// `bind … name`: how this listener is named in its connection-level log lines.
    private let listenerName: String?

    init(frontend: RuntimeFrontend, loop: LoopState, isTLS: Bool, limits: HeadParser.Limits, listenerName: String? = nil) {
        self.listenerName = listenerName
        self.frontend = frontend
        self.loop = loop
        self.generation = loop.holder.generation
        self.isTLS = isTLS
        self.limits = limits
        self.parser = HeadParser(kind: .request, limits: limits)
    }

    private var timeouts: Timeouts { frontend.config.options.timeouts }
    /// Now, to the access log's millisecond when it is written, else to the sweep's 100 ms.
    private var clock: NIODeadline { logging ? .now() : loop.coarseNow }
    private var logging: Bool { frontend.logPlan != nil }
    var channel: (any Channel)? { context?.channel }

    // MARK: channel lifecycle

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// The context holds this handler: keeping it past removal would be a retain cycle.
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelActive(context: ChannelHandlerContext) {
        loop.clients[ObjectIdentifier(self)] = self
        source = context.channel.remoteAddress
        destination = context.channel.localAddress
        if let ip = source?.ipAddress { clientIP = ip }
        if let rules = frontend.tcpRules, rules.hasConnectionRules,
           !rules.acceptsConnection(.connectionLevel(source: source, destination: destination, isTLS: isTLS)) {
            // `tcp-request connection reject`: closed before a byte is read, nothing answered.
            loop.stats.frontend(frontend.counterID) { c in
                c.connectionsTotal += 1
                c.deniedConnections += 1
            }
            state = .closed
            loop.clients.removeValue(forKey: ObjectIdentifier(self))
            context.close(promise: nil)
            return
        }
        if logging { frontend.countLive(context.channel) }
        idleSince = clock
        let id = frontend.counterID
        loop.stats.frontend(id) { c in
            c.connectionsTotal += 1
            c.scur += 1
            c.smax = max(c.smax, c.scur)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // Only a connection refused by `tcp-request connection` is closed before it went inactive.
        if case .closed = state { return context.fireChannelInactive() }
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        loop.stats.frontend(frontend.counterID) { $0.scur -= 1 }
        if case .exchanging(let ex) = state {
            // The client went away mid-exchange: the server connection is in an unknown state,
            // so it is closed rather than pooled.
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
        if let received = event as? ProxyProtocolReceived {
            // `accept-proxy`: the connection's real ends, before any request byte.
            source = received.source
            destination = received.destination
            clientIP = source?.ipAddress ?? ""
            return
        }
        context.fireUserInboundEventTriggered(event)
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
        case .closing, .closed, .upgraded:
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
    private static let empty = ByteBuffer()

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .exchanging(let ex) = state { ex.connection?.flush() }
        context.fireChannelReadComplete()
    }

    /// Moves the input on as far as the state allows: parses a head when idle, feeds the body
    /// of the exchange in flight; pipelined requests wait until it is done.
    private func process() {
        while true {
            switch state {
            case .idle:
                guard inbound.readableBytes > 0 else { return }
                if requestStart == nil { requestStart = clock }
                switch parser.parse(&inbound) {
                case .incomplete:
                    return
                case .failure(let failure):
                    var record = newRecord()
                    record.termination = "PR"
                    let status: ErrorResponse = switch failure {
                    case .startLineTooLong: .uriTooLong
                    case .headTooLarge: .headersTooLarge
                    case .malformed: .badRequest
                    }
                    respondError(status, record: record, minor: 1)
                    return
                case .head(let head):
                    startExchange(head)
                }
            case .exchanging(let ex):
                if !ex.requestComplete { pumpRequestBody(ex) }
                return
            case .closing, .closed, .upgraded:
                return
            }
        }
    }

    /// Takes the request body's bytes from the input and sends (or holds) them.
    private func pumpRequestBody(_ ex: HTTPExchange) {
        guard var framer = ex.requestFramer, !ex.requestComplete, inbound.readableBytes > 0 else { return }
        do {
            let done = try framer.take(from: &inbound) { slice in sendBody(slice, ex) }
            ex.requestFramer = framer
            ex.lastClientActivity = clock
            if done { ex.requestComplete = true }
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
        case .closing, .closed, .upgraded:
            return true
        case .idle:
            return false
        case .exchanging(let ex):
            if !ex.requestComplete {
                if let connection = ex.connection { return !connection.isWritable }
                return ex.pendingBytes >= Self.maxPendingBody
            }
            return inbound.readableBytes >= limits.maxHead
        }
    }

    private func resumeReadsIfPossible() {
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
            abandon(ex, cause: .clientAborted)
            writeLog(ex)
        }
        state = .closing
        context.close(promise: nil)
    }

    // MARK: a new exchange

    private func newRecord(_ at: NIODeadline? = nil) -> AccessLogRecord {
        let now = at ?? clock
        var record = AccessLogRecord(frontend: frontend.name)
        if logging {
            record.acceptTime = wallClockNow()
            record.source = source
            record.destination = destination
        }
        record.tr = millisecondsBetween(requestStart ?? idleSince, now)
        return record
    }

    private func makeFacts(_ head: MessageHead) -> RequestFacts {
        RequestFacts(head: head, source: source, destination: destination, isTLS: isTLS)
    }

    private func startExchange(_ head: consuming MessageHead) {
        if loop.holder.generation != generation {
            generation = loop.holder.generation
            if let current = loop.holder.current.frontends.first(where: { $0.name == frontend.name }) { frontend = current }
        }
        let now = NIODeadline.now()
        var record = newRecord(now)
        requestStart = nil
        if logging { record.requestLine = head.string(0..<(head.startLineEnd - 2)) }

        guard RequestValidator.problem(in: head) == nil, case .success(let framing) = MessageFraming.request(head) else {
            record.termination = "PR"
            respondError(.badRequest, record: record, minor: head.minorVersion)
            return
        }
        if let rules = frontend.tcpRules, rules.hasContentRules, !rules.acceptsContent(SampleInput(facts: makeFacts(head))) {
            // `tcp-request content reject` (run on each request in HTTP mode): closed, nothing answered.
            loop.stats.frontend(frontend.counterID) { $0.deniedRequests += 1 }
            record.termination = "PR"
            writeLog(record)
            state = .closing
            context?.close(promise: nil)
            return
        }
        if let stats = frontend.stats, StatsPage.matches(head.target, settings: stats) {
            serveStats(head, framing: framing, settings: stats, record: record)
            return
        }
        var facts = frontend.needsFacts ? makeFacts(head) : nil
        // The frontend's rules, HAProxy's order: monitor-uri, then http-request rules (header
        // edits in place; deny/return/redirect/auth answer here).
        var input: SampleInput?
        if let rules = frontend.engine, let f = facts {
            variables.beginTransaction()
            var i = SampleInput(facts: f, request: head, variables: variables)
            i.frontendName = frontend.name
            if let monitor = rules.monitor, let response = monitor.response(for: i, pages: rules.errorPages) {
                answerLocally(response, flags: "LR", denied: false, frontendRules: rules, backendRules: nil, input: &i, head: head, framing: framing, record: record)
                return
            }
            if answered(by: rules, frontendRules: rules, backendRules: nil, head: &head, input: &i, framing: framing, record: record) { return }
            input = i
        }
        if let f = facts {
            for rule in frontend.config.redirects where rule.condition.map({ input.map($0.evaluate) ?? $0.evaluate(f) }) ?? true {
                redirect(rule, head: head, record: record)
                return
            }
        }
        var chosen = frontend.defaultBackend
        if let f = facts {
            for (condition, target) in frontend.rules where input.map(condition.evaluate) ?? condition.evaluate(f) {
                chosen = target
                break
            }
        }
        guard let backend = chosen else {
            record.termination = "PR"
            respondError(.serviceUnavailable, record: record, minor: head.minorVersion)
            return
        }
        if facts == nil && backend.needsFacts { facts = makeFacts(head) }
        record.backend = backend.name
        // The backend's http-request rules (a `listen` section's ran above as its frontend's).
        if let rules = backend.engine, let f = facts, rules.name != frontend.name || frontend.engine == nil {
            if input == nil {
                variables.beginTransaction()
                input = SampleInput(facts: f, request: head, variables: variables)
                input!.frontendName = frontend.name
            }
            input!.backendName = backend.name
            if answered(by: rules, frontendRules: frontend.engine, backendRules: rules, head: &head, input: &input!, framing: framing, record: record) { return }
        }
        input?.backendName = backend.name

        let connection = RequestRewriter.removeHopByHop(&head, keepUpgrade: true)
        // A WebSocket upgrade keeps `Upgrade` and gets `Connection: Upgrade`; any other Upgrade
        // (h2c…) is not forwarded: the request goes on as plain HTTP.
        let webSocketKey = connection.upgrade ? WebSocketHandshake.key(of: head) : nil
        if webSocketKey != nil {
            head.add("Connection", "Upgrade")
        } else if connection.hasUpgradeHeader {
            head.removeAll("upgrade")
        }
        var pinned: RuntimeServer?
        var presented: StickyCookie.Presented?
        var cookieState: CookieState?
        if let cookie = backend.cookie {
            var state: CookieState.Request
            (presented, state) = StickyCookie.classify(head, settings: cookie)
            pinned = presented.flatMap { backend.serversByCookie[$0.value] }
            if presented != nil {
                if pinned == nil { state = .invalid } else if pinned?.health.acceptsStickyClients == false { state = .down }
            }
            cookieState = CookieState(state, .none)
            StickyCookie.rewriteRequest(&head, settings: cookie)
        }
        RequestRewriter.upstream(&head, framing: framing, facts: facts, clientAddress: clientIP, sourceAddress: source, destination: destination,
                                 frontend: frontend, backend: backend)
        // `option http-server-close`: the server connection ends with each response;
        // `option httpclose`: both do (the stronger of the frontend's and the backend's).
        let connectionMode = max(frontend.config.options.httpConnectionMode.strength, backend.config.options.httpConnectionMode.strength)
        if connectionMode > 0 && webSocketKey == nil { head.add("Connection", "close") }
        head.serialise(into: &serverHeadBuffer)
        let upstreamHead = serverHeadBuffer
        let ex = HTTPExchange(dispatch: Dispatch(backend: backend, client: source, destination: destination, pinned: pinned),
                              method: head.method, clientMinor: head.minorVersion, closeClient: connection.close || quiescing,
                              upstreamHead: upstreamHead, requestFramer: framing.map(BodyFramer.init), facts: facts,
                              responseLimits: limits, log: record, start: now)
        ex.presentedCookie = presented
        ex.log.cookie = cookieState
        ex.webSocketKey = webSocketKey
        if connectionMode >= 1 { ex.serverMustClose = true }
        if connectionMode >= 2 { ex.closeClient = true }
        ex.ruleInput = input
        _ = ex.phase.requestReceived()
        state = .exchanging(ex)
        pumpRequestBody(ex)
        guard case .exchanging(let current) = state, current === ex else { return }
        dispatchNext(ex, freshConnection: false)
    }

    /// `redirect scheme|location`: answered here, no backend involved; keep-alive allowed.
    private func redirect(_ rule: RedirectRule, head: MessageHead, record: AccessLogRecord) {
        let location: String
        switch rule.target {
        case .location(let url): location = url
        case .scheme(let scheme):
            let host = head.values(of: "host").first ?? (destination?.ipAddress ?? "localhost")
            let target = head.target
            let path = target.hasPrefix("/") ? target : "/"
            location = "\(scheme)://\(host)\(path)"
        }
        var edited = head
        let close = RequestRewriter.removeHopByHop(&edited).close || quiescing
        let reason = [301: "Moved Permanently", 302: "Found", 303: "See Other", 307: "Temporary Redirect", 308: "Permanent Redirect"][rule.code] ?? "Redirect"
        var out = context!.channel.allocator.buffer(capacity: 128 + location.utf8.count)
        out.writeString("HTTP/1.1 \(rule.code) \(reason)\r\ncontent-length: 0\r\nlocation: \(location)\r\n")  // HAProxy's answers say 1.1
        if close { out.writeString("connection: close\r\n") } else if head.minorVersion == 0 { out.writeString("connection: keep-alive\r\n") }
        out.writeString("\r\n")
        var record = record
        record.status = rule.code
        record.bytesOut = 0
        record.backend = frontend.name
        writeLog(record, intercepted: true)
        requestsServed += 1
        // The request's body, if any, is not wanted: only a bodiless request keeps the connection.
        let bodiless = (try? MessageFraming.request(head).get()) == nil
        if close || !bodiless {
            state = .closing
            context?.write(wrapOutboundOut(out), promise: nil)
            flushThenClose()
        } else {
            state = .idle
            idleSince = .now()
            context?.writeAndFlush(wrapOutboundOut(out), promise: nil)
        }
    }

    /// Runs `rules`' http-request list; true when a rule answered (deny, return, redirect,
    /// auth, a service) and the exchange is over.
    private func answered(by rules: ProxyRules, frontendRules: ProxyRules?, backendRules: ProxyRules?, head: inout MessageHead,
                          input: inout SampleInput, framing: BodyFramer.Mode?, record: AccessLogRecord) -> Bool {
        let pages = frontendRules.map { $0.pages(backend: backendRules) } ?? ErrorPageChain(rules.errorPages)
        switch rules.request.evaluate(&head, &input, pages: pages) {
        case .respond(let response, let kind):
            answerLocally(response, flags: String(kind.terminationFlags.prefix(2)), denied: kind == .deny,
                          frontendRules: frontendRules, backendRules: backendRules, input: &input, head: head, framing: framing, record: record)
            return true
        case .useService:
            serveMetrics(head, framing: framing, record: record)
            return true
        case .continue, .allow:
            return false
        }
    }

    /// One connection's variables (`set-var`, `var()`), kept across its requests.
    private lazy var variables = StreamVariables()

    /// An answer of the rules (deny, return, redirect, auth, monitor-uri): the after-response
    /// rules run on it, it goes out, and the connection stays open unless the answer, the
    /// client, or a request body not read (HAProxy's rule) asks to close.
    private func answerLocally(_ response: LocalResponse, flags: String, denied: Bool, frontendRules: ProxyRules?, backendRules: ProxyRules?,
                               input: inout SampleInput, head: MessageHead, framing: BodyFramer.Mode?, record: AccessLogRecord) {
        guard let context, let rules = frontendRules ?? backendRules else { return }
        var copy = head
        let clientCloses = RequestRewriter.removeHopByHop(&copy).close
        let close = response.requiresClose || framing != nil || clientCloses || quiescing
        let bytes = rules.answer(response, backend: frontendRules == nil ? nil : backendRules, input: &input, close: close,
                                 clientMinor: head.minorVersion, headRequest: head.method == .head, allocator: context.channel.allocator)
        var record = record
        record.status = response.status
        record.termination = flags
        record.bytesOut = bytes.readableBytes
        if record.backend == "<NOSRV>" { record.backend = frontend.name }
        writeLog(record, intercepted: !denied)
        if denied { loop.stats.frontend(frontend.counterID) { $0.deniedRequests += 1 } }
        requestsServed += 1
        if bytes.readableBytes > 0 { context.write(wrapOutboundOut(bytes), promise: nil) }
        if close {
            state = .closing
            flushThenClose()
        } else {
            state = .idle
            idleSince = clock
            context.flush()
        }
    }

    /// `http-request use-service prometheus-exporter`: /metrics from this frontend.
    private func serveMetrics(_ head: MessageHead, framing: BodyFramer.Mode?, record: AccessLogRecord) {
        var settings = StatsPageSettings(uri: "\u{0}")  // no page: only the metrics path
        let path = head.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.target
        settings.metricsPath = path
        serveStats(head, framing: framing, settings: settings, record: record)
    }

    /// The stats page, its CSV/JSON and /metrics, answered here from a snapshot (taken off the
    /// data path: every loop is asked for its counters), then the connection closes.
    private func serveStats(_ head: MessageHead, framing: BodyFramer.Mode?, settings: StatsPageSettings, record: AccessLogRecord) {
        guard let context else { return }
        var body: [UInt8] = []
        if case .length(let n)? = framing {
            guard n <= 64 * 1024, inbound.readableBytes >= n, let bytes = inbound.readBytes(length: n) else {
                respondError(.badRequest, record: record, minor: head.minorVersion)
                return
            }
            body = bytes
        } else if framing != nil {
            respondError(.badRequest, record: record, minor: head.minorVersion)
            return
        }
        guard let api = loop.admin.api else {
            respondError(.serviceUnavailable, record: record, minor: head.minorVersion)
            return
        }
        let admin = frontend.config.options.stats.map { page in
            page.admin.contains { $0.evaluate(makeFacts(head)) }
        } ?? false
        let request = StatsHTTPRequest(head: head, body: body, adminAllowed: admin)
        let minor = head.minorVersion
        let headOnly = head.method == .head
        state = .closing
        let promise = context.eventLoop.makePromise(of: StatsHTTPResponse.self)
        promise.completeWithTask { await StatsPage.respond(to: request, settings: settings, api: api) }
        promise.futureResult.assumeIsolated().whenSuccess { response in
            guard let context = self.context else { return }
            var logged = record
            logged.status = response.status
            logged.backend = self.frontend.name
            logged.server = "<STATS>"
            self.writeLog(logged, intercepted: true)
            context.write(self.wrapOutboundOut(response.bytes(minorVersion: minor, headOnly: headOnly, allocator: context.channel.allocator)), promise: nil)
            self.flushThenClose()
        }
    }

    // MARK: dispatching

    private func dispatchNext(_ ex: HTTPExchange, freshConnection: Bool) {
        let step = ex.dispatch.next(loop: loop, owner: self, freshConnection: freshConnection)
        if let server = ex.dispatch.server {
            ex.log.server = server.name
            ex.log.retries = max(0, ex.dispatch.attempts - 1)
        }
        switch step {
        case .connection(let connection):
            ex.log.tc = 0
            attach(connection, to: ex)
        case .connecting:
            ex.connectStart = .now()
        case .queued:
            _ = ex.phase.queue()
        case .failed(let failure):
            fail(ex, failure)
        }
    }

    func dispatchConnected(_ connection: ServerConnection, generation: Int) {
        guard case .exchanging(let ex) = state, ex.dispatch.generation == generation, ex.connection == nil else {
            // The client left, or gave up on this attempt, while we were connecting.
            connection.close()
            return
        }
        if let start = ex.connectStart { ex.log.tc = millisecondsBetween(start, .now()) }
        attach(connection, to: ex)
    }

    func dispatchConnectFailed(_ failure: Dispatch.Failure, generation: Int) {
        guard case .exchanging(let ex) = state, ex.dispatch.generation == generation, ex.connection == nil else { return }
        ex.dispatch.lastFailure = failure
        if ex.dispatch.backend.config.options.retryOn.contains(.connFailure) && ex.dispatch.retry(excludeCurrent: true) {
            dispatchNext(ex, freshConnection: false)
        } else {
            fail(ex, failure)
        }
    }

    func dispatchQueueWoke() -> Bool {
        guard case .exchanging(let ex) = state, ex.dispatch.isQueued else { return false }
        if let queuedAt = ex.dispatch.wokeFromQueue() { ex.log.tw = millisecondsBetween(queuedAt, .now()) }
        _ = ex.phase.assign()
        dispatchNext(ex, freshConnection: false)
        return true
    }

    /// The connection is ours: the head, then the body bytes that waited.
    private func attach(_ connection: ServerConnection, to ex: HTTPExchange) {
        connection.lease(to: self)
        ex.connection = connection
        connection.write(ex.upstreamHead)
        for part in ex.pendingBody { connection.write(part) }
        ex.pendingBody.removeAll()
        ex.pendingBytes = 0
        connection.flush()
        _ = ex.phase.requestSent()
        let now = clock
        ex.requestSentAt = now
        ex.lastServerActivity = now
        ex.lastClientActivity = now
        resumeReadsIfPossible()
    }

    // MARK: server → client

    var clientIsWritable: Bool { context?.channel.isWritable ?? false }

    func serverRead(_ buffer: ByteBuffer) {
        guard case .exchanging(let ex) = state else { return }
        ex.lastServerActivity = clock
        var buffer = buffer
        if ex.responseInbound == nil || ex.responseInbound!.readableBytes == 0 {
            ex.responseInbound = buffer
        } else {
            ex.responseInbound!.writeBuffer(&buffer)
        }
        processResponse(ex)
        if let rest = ex.responseInbound, rest.readableBytes == 0 { ex.responseInbound = nil }
    }

    func serverReadComplete() {
        context?.flush()
    }

    func serverWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeReadsIfPossible() }
    }

    /// HTTP server channels do not allow half-closure; nothing to do.
    func serverInputClosed() {}

    private func isCurrent(_ ex: HTTPExchange) -> Bool {
        if case .exchanging(let current) = state { return current === ex }
        return false
    }

    private func processResponse(_ ex: HTTPExchange) {
        while isCurrent(ex), var input = ex.responseInbound, input.readableBytes > 0, !ex.responseComplete {
            ex.responseInbound = nil  // no second reference while `input` is worked on
            if !ex.responseHeadSent {
                let outcome = ex.responseParser.parse(&input)
                ex.responseInbound = input
                switch outcome {
                case .incomplete:
                    return
                case .failure:
                    serverFailed(ex, garbage: true)
                    return
                case .head(var head):
                    if head.status < 200 {
                        if head.status == 101 {
                            guard let key = ex.webSocketKey else {
                                // No Upgrade was forwarded: a switch is a protocol violation here.
                                serverFailed(ex, garbage: true)
                                return
                            }
                            if WebSocketHandshake.accepts(head, key: key) {
                                openTunnel(ex, head: head)
                            } else {
                                // A 101 that does not answer our key goes back as HTTP, and both
                                // connections end with it: never a tunnel.
                                ex.serverMustClose = true
                                ex.closeClient = true
                                startResponse(ex, head: head, body: .none)
                                completeResponse(ex)
                            }
                            return
                        }
                        // 100 Continue and friends: only an HTTP/1.1 client may see them.
                        if ex.clientMinor >= 1 {
                            _ = RequestRewriter.removeHopByHop(&head)
                            context?.writeAndFlush(wrapOutboundOut(head.serialised(allocator: context!.channel.allocator)), promise: nil)
                        }
                        continue
                    }
                    guard case .success(let body) = MessageFraming.response(head, requestMethod: ex.method) else {
                        serverFailed(ex, garbage: true)
                        return
                    }
                    guard startResponse(ex, head: head, body: body) else { return }
                    // No body (HEAD, 204, 304) or an empty one (`Content-Length: 0`): the
                    // response ends with its head, whether or not more bytes follow in `input`.
                    if case .none = body {
                        completeResponse(ex)
                        return
                    }
                    if ex.responseFramer?.isComplete == true {
                        completeResponse(ex)
                        return
                    }
                }
            } else {
                guard var framer = ex.responseFramer else { return }
                let done: Bool
                do {
                    done = try framer.take(from: &input, decode: ex.clientFraming.decodeChunks) { slice in writeBody(slice, ex) }
                } catch {
                    // The server broke its own chunking mid-body: the client cannot be told.
                    ex.responseInbound = input
                    ex.serverMustClose = true
                    truncateResponse(ex, cause: .serverAborted)
                    return
                }
                ex.responseFramer = framer
                ex.responseInbound = input
                if done {
                    completeResponse(ex)
                    return
                }
            }
        }
    }

    /// Returns false when a response rule answered instead (the server's response is dropped).
    @discardableResult
    private func startResponse(_ ex: HTTPExchange, head: MessageHead, body: MessageFraming.ResponseBody, upgrade: Bool = false) -> Bool {
        var head = head
        let server = ex.dispatch.server
        ex.log.status = head.status
        server?.health.observed(error: head.status >= 500 && head.status != 501 && head.status != 505, layer7: true)
        ex.log.trsp = ex.requestSentAt.map { millisecondsBetween($0, clock) } ?? -1
        let backend = ex.dispatch.backend
        // http-response rules, the backend's then the frontend's, on the server's response.
        let backendRules = backend.engine.flatMap { $0.name != frontend.name || frontend.engine == nil ? $0 : nil }
        if var input = ex.ruleInput {
            input.variables?.beginResponse()
            for rules in [backendRules, frontend.engine].compactMap({ $0 }) {
                if case .respond(let response, _) = rules.response.evaluate(&head, &input) {
                    replaceResponse(ex, with: response, input: &input)
                    return false
                }
            }
            ex.ruleInput = input
            ex.log.status = head.currentStatus
        }
        let rewrite = ResponseRewriter.Context(
            clientMinor: ex.clientMinor, method: ex.method, closeClient: ex.closeClient, facts: ex.facts,
            frontend: frontend, backend: backend, server: server,
            pinnedToThisServer: ex.dispatch.pinned != nil && ex.dispatch.pinned === server, presented: ex.presentedCookie,
            upgrade: upgrade)
        ex.clientFraming = ResponseRewriter.rewrite(&head, body: body, context: rewrite)
        // http-after-response rules see the response as it goes out.
        if var input = ex.ruleInput {
            for rules in [backendRules, frontend.engine].compactMap({ $0 }) { _ = rules.afterResponse.evaluate(&head, &input) }
            ex.ruleInput = input
        }
        ex.closeClient = ex.clientFraming.closeClient
        if let setCookie = ex.clientFraming.setCookie { ex.log.cookie?.response = setCookie }
        if ex.clientFraming.serverCloses { ex.serverMustClose = true }
        if case .framed(let mode) = body {
            ex.responseFramer = BodyFramer(mode)
            if mode == .untilClose { ex.serverMustClose = true }
        }
        ex.responseHeadSent = true
        _ = ex.phase.responseStarted()
        head.serialise(into: &clientHeadBuffer)
        ex.log.bytesOut += clientHeadBuffer.readableBytes  // HAProxy's %B and bytes_out count the head too
        context?.write(wrapOutboundOut(clientHeadBuffer), promise: nil)
        return true
    }

    /// A response rule (`http-response deny|return…`) answered instead of the server: its
    /// connection is dropped, the answer goes out, and the client connection ends with it.
    private func replaceResponse(_ ex: HTTPExchange, with response: LocalResponse, input: inout SampleInput) {
        guard let context, let rules = frontend.engine ?? ex.dispatch.backend.engine else { return }
        ex.serverMustClose = true
        ex.closeClient = true
        let bytes = rules.answer(response, backend: frontend.engine == nil ? nil : ex.dispatch.backend.engine, input: &input, close: true,
                                 clientMinor: ex.clientMinor, headRequest: ex.method == .head, allocator: context.channel.allocator)
        ex.log.status = response.status
        ex.log.bytesOut = bytes.readableBytes
        loop.stats.frontend(frontend.counterID) { $0.deniedResponses += 1 }
        abandon(ex, cause: .proxy)
        writeLog(ex)
        state = .closing
        context.write(wrapOutboundOut(bytes), promise: nil)
        flushThenClose()
    }

    /// The server switched to WebSocket with the right answer: the 101 goes to the client,
    /// then this handler leaves the pipeline to a `Tunnel` that owns both channels. The bytes
    /// that came with the switch, either way, go on at once. The stream keeps its place on the
    /// server (leastconn, maxconn) until the tunnel ends, and is logged then.
    private func openTunnel(_ ex: HTTPExchange, head: MessageHead) {
        guard let context, let connection = ex.connection else { return }
        startResponse(ex, head: head, body: .none, upgrade: true)
        context.flush()
        ex.connection = nil
        let tunnel = Tunnel(loop: loop, server: connection,
                            timeouts: Tunnel.Timeouts(front: timeouts, back: ex.dispatch.backend.config.options.timeouts),
                            onEnd: Tunnel.onEnd(releasing: ex.dispatch, log: logging ? ex.log : nil, phase: ex.phase, start: ex.start,
                                                loop: loop, frontend: frontend, http: true, tls: isTLS))
        let clientBytes = inbound.readableBytes > 0 ? inbound : nil
        let serverBytes = ex.responseInbound
        inbound = Self.empty
        ex.responseInbound = nil
        state = .upgraded
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        tunnel.frontendCounterID = frontend.counterID  // the client connection is the tunnel's now
        tunnel.takeOver(from: context, after: self, clientBytes: clientBytes, serverBytes: serverBytes)
    }

    private func writeBody(_ slice: ByteBuffer, _ ex: HTTPExchange) {
        guard let context else { return }
        ex.log.bytesOut += slice.readableBytes
        if ex.clientFraming.encodeChunks {
            guard slice.readableBytes > 0 else { return }
            var prefix = context.channel.allocator.buffer(capacity: 20)
            prefix.writeString(String(slice.readableBytes, radix: 16))
            prefix.writeStaticString("\r\n")
            context.write(wrapOutboundOut(prefix), promise: nil)
            context.write(wrapOutboundOut(slice), promise: nil)
            context.write(wrapOutboundOut(Self.crlf), promise: nil)
        } else {
            context.write(wrapOutboundOut(slice), promise: nil)
        }
    }

    private static let crlf = ByteBuffer(string: "\r\n")
    private static let lastChunk = ByteBuffer(string: "0\r\n\r\n")

    private func completeResponse(_ ex: HTTPExchange) {
        if ex.clientFraming.encodeChunks { context?.write(wrapOutboundOut(Self.lastChunk), promise: nil) }
        ex.responseComplete = true
        finish(ex)
    }

    func serverClosed(error: (any Error)?) {
        guard case .exchanging(let ex) = state, let connection = ex.connection else { return }
        ex.connection = nil
        if ex.responseHeadSent {
            if error == nil, ex.responseFramer?.mode == .untilClose {
                completeResponse(ex)  // a close-delimited body ends here
            } else {
                connection.close()
                truncateResponse(ex, cause: .serverAborted)
            }
            return
        }
        // No response yet. A reused connection the server closed just as we sent is replayed
        // on a fresh one; an empty answer from a fresh connection goes to another server with
        // `retry-on empty-response`. Only a complete, idempotent, bodiless request is sent twice.
        connection.close()
        let garbage = error.map { !($0 is IOError) && !($0 is ChannelError) } ?? false
        connection.server.health.observed(error: true, layer7: garbage)
        ex.dispatch.lastFailure = .connectFailed
        let options = ex.dispatch.backend.config.options
        if ex.isReplayable && connection.wasReused && ex.dispatch.retry(excludeCurrent: false) {
            replay(ex, freshConnection: true)
        } else if ex.isReplayable && options.retryOn.contains(.emptyResponse) && ex.dispatch.retry(excludeCurrent: true) {
            replay(ex, freshConnection: false)
        } else {
            failResponse(ex, .badGateway, cause: .serverAborted)
        }
    }

    /// Sends the (bodiless) request again.
    private func replay(_ ex: HTTPExchange, freshConnection: Bool) {
        ex.responseParser.reset()
        ex.responseInbound = nil
        _ = ex.phase.assign()
        dispatchNext(ex, freshConnection: freshConnection)
    }

    /// The server sent something that is not an acceptable response head.
    private func serverFailed(_ ex: HTTPExchange, garbage: Bool) {
        ex.serverMustClose = true
        ex.dispatch.server?.health.observed(error: true, layer7: garbage)
        failResponse(ex, .badGateway, cause: .serverAborted)
    }

    // MARK: ending an exchange

    /// The response is complete: the server connection goes back to the pool when both sides
    /// finished cleanly and nothing unasked-for came with it; then the next request, or close.
    private func finish(_ ex: HTTPExchange) {
        ex.dispatch.release()
        ex.log.ta = millisecondsBetween(ex.start, clock)
        if let connection = ex.connection {
            ex.connection = nil
            let leftover = (ex.responseInbound?.readableBytes ?? 0) > 0
            if ex.requestComplete && !ex.serverMustClose && !leftover && connection.isOpen {
                loop.putIdle(connection)
            } else {
                connection.close()
                // The server answered before the request body ended (e.g. 413): the rest of the
                // body can go nowhere, so both connections end with this response.
                if !ex.requestComplete { ex.closeClient = true }
            }
        }
        ex.phase.end(.completed)
        writeLog(ex)
        requestsServed += 1
        if ex.closeClient || quiescing {
            state = .closing
            flushThenClose()
        } else {
            state = .idle
            idleSince = clock
            parser.reset()
            context?.flush()
            process()
            resumeReadsIfPossible()
        }
    }

    /// Ends an exchange that will not complete: its server connection is closed, not pooled.
    private func abandon(_ ex: HTTPExchange, cause: TerminationCause) {
        ex.dispatch.release()
        if let connection = ex.connection {
            ex.connection = nil
            connection.close()
        }
        ex.log.ta = millisecondsBetween(ex.start, clock)
        ex.phase.end(cause)
    }

    /// Part of the response already went out: all that can be done is to stop.
    private func truncateResponse(_ ex: HTTPExchange, cause: TerminationCause) {
        abandon(ex, cause: cause)
        writeLog(ex)
        closeNow()
    }

    /// The dispatch failed before anything reached a server.
    private func fail(_ ex: HTTPExchange, _ failure: Dispatch.Failure) {
        switch failure {
        case .noServer, .stickyServerDown: failResponse(ex, .serviceUnavailable, cause: .serverAborted)
        case .queueTimeout: failResponse(ex, .serviceUnavailable, cause: .serverTimeout)
        // As HAProxy: a server that could not be reached (after the retries) is a 503, not a
        // 502 — nothing reached a server — logged SC (refused) or sC (connect timeout).
        case .connectFailed: failResponse(ex, .serviceUnavailable, cause: .serverAborted)
        case .connectTimeout: failResponse(ex, .serviceUnavailable, cause: .serverTimeout)
        }
    }

    /// Answers the exchange with an error (no response byte has gone out yet) and closes.
    private func failResponse(_ ex: HTTPExchange, _ status: ErrorResponse, cause: TerminationCause) {
        if ex.responseHeadSent {
            truncateResponse(ex, cause: cause)
            return
        }
        abandon(ex, cause: cause)
        var record = ex.log
        record.termination = ex.phase.terminationFlags
        respondError(status, record: record, minor: ex.clientMinor, ex: ex)
    }

    /// A request the proxy itself refuses once its exchange started (a broken body).
    private func failRequest(_ ex: HTTPExchange, _ status: ErrorResponse, cause: TerminationCause) {
        failResponse(ex, status, cause: cause)
    }

    /// Answers with a generated error and closes. `ex`: the exchange it ends, if any.
    private func respondError(_ status: ErrorResponse, record: AccessLogRecord, minor: Int, ex: HTTPExchange? = nil) {
        var record = record
        record.status = status.rawValue
        record.bytesOut = status.body.utf8.count
        // `errorfile`/`errorfiles`: the backend's page, then the frontend's, else ours.
        let backendRules = ex?.dispatch.backend.engine
        let rules = frontend.engine ?? backendRules
        let page = rules.flatMap { $0.pages(backend: frontend.engine == nil ? nil : backendRules).page(for: status.rawValue) }
        var bytes: ByteBuffer?
        if let rules, let page, let context {
            var input = ex?.ruleInput ?? SampleInput(facts: RequestFacts(head: nil, source: source, destination: destination, isTLS: isTLS))
            bytes = rules.answer(page, backend: frontend.engine == nil ? nil : backendRules, input: &input, close: true,
                                 clientMinor: minor, headRequest: ex?.method == .head, allocator: context.channel.allocator)
            record.bytesOut = bytes?.readableBytes ?? 0
        }
        if let ex {
            ex.log = record
            writeLog(ex, status: status.rawValue)
        } else {
            writeLog(record, failure: status == .badRequest || status == .uriTooLong || status == .headersTooLarge ? .badRequest : nil)
        }
        state = .closing
        guard let context else { return }
        let out = bytes ?? status.bytes(minorVersion: minor, allocator: context.channel.allocator)
        if out.readableBytes > 0 { context.write(wrapOutboundOut(out), promise: nil) }
        flushThenClose()
    }

    /// Closes once everything written has gone out (or `timeout client` says it never will).
    private func flushThenClose() {
        guard let context else { return }
        if case .closed = state {} else { state = .closing }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            self.context?.close(promise: nil)
        }
    }

    private func closeNow() {
        if case .closed = state {} else { state = .closing }
        context?.close(promise: nil)
    }

    /// The end of an exchange: its counters, then its log line.
    private func writeLog(_ ex: HTTPExchange, status: Int? = nil) {
        countExchange(ex, status: status ?? ex.log.status)
        guard logging else { return }
        var record = ex.log
        record.termination = ex.phase.terminationFlags
        if let status { record.status = status }
        loop.writeAccessLog(record, frontend: frontend, backend: ex.dispatch.backend, server: ex.dispatch.server, http: true, tls: isTLS)
    }

    /// A request answered here without an exchange (refused, redirected): counters and log.
    private func writeLog(_ record: AccessLogRecord, failure: ExchangeFailure? = nil, intercepted: Bool = false) {
        loop.stats.frontend(frontend.counterID) { c in
            c.requestsTotal += 1
            c.responses.count(status: record.status)
            c.bytesOut += record.bytesOut
            if failure == .badRequest { c.requestErrors += 1 }
            if intercepted { c.intercepted += 1 }
        }
        guard logging else { return }
        loop.writeAccessLog(record, frontend: frontend, backend: nil, server: nil, http: true, tls: isTLS)
    }

    private func countExchange(_ ex: HTTPExchange, status: Int) {
        let failure: ExchangeFailure?
        switch (ex.phase.cause, ex.phase.endedIn) {
        case (.completed?, _), (nil, _): failure = nil
        case (.clientAborted?, _), (.clientTimeout?, _): failure = .clientAbort
        case (.proxy?, _): failure = .badRequest
        case (_, .connecting?), (_, .queued?): failure = .connect
        case (_, .waitingResponse?): failure = .response
        default: failure = .serverAbort
        }
        let now = NIODeadline.now()
        let total = UInt64(max(0, Int64(now.uptimeNanoseconds) - Int64(ex.start.uptimeNanoseconds)))
        loop.stats.recordExchange(frontend: frontend.counterID, backend: ex.dispatch.backend.counterID, server: ex.dispatch.server?.id,
                                  status: status, bytesIn: ex.requestBodyBytes + ex.upstreamHead.readableBytes, bytesOut: ex.log.bytesOut,
                                  totalNanoseconds: total, connectNanoseconds: ex.log.tc > 0 ? UInt64(ex.log.tc) * 1_000_000 : nil,
                                  retries: max(0, ex.dispatch.attempts - 1), failure: failure)
        loop.stats.frontendRequest(frontend.counterID, at: now.uptimeNanoseconds)
        loop.stats.backendRequest(ex.dispatch.backend.counterID, at: now.uptimeNanoseconds)
    }

    // MARK: timeouts

    /// Called by the loop's sweeper (`LoopState`, every 100 ms) instead of a timer per request:
    /// scheduling and cancelling a timer for every request and response cost more than the
    /// proxying itself on keep-alive traffic. Deadlines are therefore exact to 100 ms.
    ///
    /// * idle: `timeout http-request` for the first request and from the first byte of any
    ///   request, `timeout http-keep-alive` between requests; 408 if part of a head came, a
    ///   silent close if nothing did;
    /// * exchanging: `timeout queue`, `timeout server` (nothing from or to the server), `timeout
    ///   client` (nothing from the client while its request is incomplete, or the client not
    ///   taking response bytes);
    /// * closing: `timeout client` for the last response to be taken, as HAProxy does for a
    ///   client that never reads. Every state is under a timeout.
    func checkTimeouts(now: NIODeadline) {
        switch state {
        case .closed, .upgraded:
            return
        case .closing:
            let since = closingSeenAt ?? now
            closingSeenAt = since
            if let limit = timeouts.client ?? timeouts.server, now >= since + .nanoseconds(limit.nanoseconds) {
                context?.channel.close(mode: .all, promise: nil)
            }
        case .idle:
            let waitingForHead = requestsServed == 0 || requestStart != nil
            let limit = waitingForHead ? (timeouts.httpRequest ?? timeouts.client)
                : (timeouts.httpKeepAlive ?? timeouts.httpRequest ?? timeouts.client)
            guard let limit, now >= (requestStart ?? idleSince) + .nanoseconds(limit.nanoseconds) else { return }
            if inbound.readableBytes > 0 {
                var record = newRecord(now)
                record.termination = "cR"
                respondError(.requestTimeout, record: record, minor: 1)
            } else {
                closeNow()
            }
        case .exchanging(let ex):
            exchangeTimeouts(ex, now: now)
        }
    }

    private func exchangeTimeouts(_ ex: HTTPExchange, now: NIODeadline) {
        let backendTimeouts = ex.dispatch.backend.config.options.timeouts
        if ex.dispatch.isQueued, let queuedAt = ex.dispatch.queuedAt,
           let limit = backendTimeouts.queue ?? backendTimeouts.connect, now >= queuedAt + .nanoseconds(limit.nanoseconds) {
            guard ex.dispatch.leaveQueue() else { return }  // the queue woke us just now: let it dispatch
            ex.log.tw = millisecondsBetween(queuedAt, now)
            fail(ex, .queueTimeout)
            return
        }
        if let stalled = clientStalledSince, let client = timeouts.client, now >= stalled + .nanoseconds(client.nanoseconds) {
            // The client stopped reading the response: HAProxy's client timeout on a write.
            abandon(ex, cause: .clientTimeout)
            writeLog(ex)
            closeNow()
            return
        }
        if ex.connection != nil, !ex.responseComplete, let server = backendTimeouts.server,
           now >= ex.lastServerActivity + .nanoseconds(server.nanoseconds) {
            ex.dispatch.server?.health.observed(error: true)
            if !ex.responseHeadSent && ex.isReplayable && ex.dispatch.backend.config.options.retryOn.contains(.responseTimeout)
                && ex.dispatch.retry(excludeCurrent: true) {
                ex.connection?.close()
                ex.connection = nil
                ex.dispatch.lastFailure = .connectTimeout
                replay(ex, freshConnection: false)
                return
            }
            failResponse(ex, .gatewayTimeout, cause: .serverTimeout)
            return
        }
        if !ex.requestComplete, let client = timeouts.client, now >= ex.lastClientActivity + .nanoseconds(client.nanoseconds) {
            failResponse(ex, .requestTimeout, cause: .clientTimeout)
        }
    }
}
