import NIOCore
import NIOHTTP1
import SwiftLBConfig
import SwiftLBTLS

/// The client side of a proxied HTTP/1.1 connection: one request at a time (NIO's
/// `HTTPServerPipelineHandler` in front of it queues pipelined requests and keeps responses in
/// order), each routed to a backend, sent over a pooled or new upstream connection on this
/// same event loop, and streamed back with backpressure in both directions.
///
/// States: `idle` (waiting for a request head, under the http-request/keep-alive timer),
/// `exchanging` (one `Exchange` in flight), `closing` (a final response was written or the
/// connection is going away; nothing more is read).
final class HTTPProxyHandler: ChannelDuplexHandler, UpstreamDelegate {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        case exchanging(Exchange)
        case closing

        var hasExchange: Bool { if case .exchanging = self { true } else { false } }
    }

    private let frontend: RuntimeFrontend
    private let loop: LoopState
    private let headGuard: RequestHeadGuard
    private let isTLS: Bool
    private var context: ChannelHandlerContext!
    private var state: State = .idle
    private var readPending = false
    /// When the connection last became idle (accepted, or its last response ended).
    private var idleSince = NIODeadline.now()
    private var requestsServed = 0
    /// When the first byte of the current request arrived (for the TR timer).
    private var requestStart: NIODeadline?
    private var clientAddress = "-"
    /// When the sweep first saw this connection closing: a final response that the client
    /// does not read must not hold the connection past `timeout client`.
    private var closingSeenAt: NIODeadline?
    /// Since when the client has not been taking response bytes (its socket buffer full).
    private var clientStalledSince: NIODeadline?

    init(frontend: RuntimeFrontend, loop: LoopState, headGuard: RequestHeadGuard, isTLS: Bool) {
        self.frontend = frontend
        self.loop = loop
        self.headGuard = headGuard
        self.isTLS = isTLS
    }

    private var timeouts: Timeouts { frontend.config.options.timeouts }
    private var logging: Bool { frontend.config.options.httpLog }
    /// The client channel while the handler is in its pipeline (for graceful stop).
    var channel: (any Channel)? { context?.channel }

    // MARK: channel lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        headGuard.onFirstByte = { [unowned self] in self.firstByteArrived() }
    }

    /// The context holds this handler: keeping it past removal would be a retain cycle that
    /// leaks every connection.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        headGuard.onFirstByte = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        let channel = context.channel
        loop.clients[ObjectIdentifier(self)] = self
        if let remote = channel.remoteAddress, let ip = remote.ipAddress {
            clientAddress = "\(ip):\(remote.port ?? 0)"
        }
        idleSince = .now()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        if case .exchanging(let ex) = state {
            // The client went away mid-exchange: the upstream connection is in an unknown
            // state, so it is closed rather than pooled.
            ex.log.termination = ex.requestEnded ? "CD" : "CR"
            abandon(ex)
            writeLog(ex.log)
        }
        state = .closing
        context.fireChannelInactive()
    }

    // MARK: client → proxy

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard case .idle = state else { return }
            startExchange(head)
        case .body(let buffer):
            guard case .exchanging(let ex) = state, !ex.requestEnded else { return }
            ex.bodyBytes += buffer.readableBytes
            ex.lastClientActivity = .now()
            send(.body(.byteBuffer(buffer)), in: ex, flush: false)
        case .end(let trailers):
            headGuard.requestEnded()
            guard case .exchanging(let ex) = state, !ex.requestEnded else { return }
            ex.requestEnded = true
            send(.end(trailers), in: ex, flush: true)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if case .exchanging(let ex) = state, ex.headSent { ex.upstream?.flush() }
        context.fireChannelReadComplete()
    }

    /// Reads from the client are held back while the request cannot move on: no upstream yet,
    /// or the upstream's send buffer is full.
    func read(context: ChannelHandlerContext) {
        if case .exchanging(let ex) = state, !(ex.headSent && (ex.upstream?.isWritable ?? false)) {
            readPending = true
            return
        }
        context.read()
    }

    private func resumeClientReads() {
        guard readPending else { return }
        readPending = false
        context.read()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        clientStalledSince = context.channel.isWritable ? nil : .now()
        if context.channel.isWritable, case .exchanging(let ex) = state {
            ex.upstream?.resumeReading()
        }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if case .closing = state {
            context.close(promise: nil)
            return
        }
        let status: ErrorResponse
        switch error {
        case RequestHeadGuard.Violation.requestLineTooLong: status = .uriTooLong
        case RequestHeadGuard.Violation.headersTooLarge, HTTPParserError.headerOverflow: status = .headersTooLarge
        case is HTTPParserError: status = .badRequest
        case let tlsError as TLSError:
            // A client that does not speak TLS to a TLS port, or a broken handshake: one log
            // line, and the connection is closed (the TLS handler already closes it).
            if logging { loop.log.append("\(clientAddress) [\(loop.log.date(wallClockNow()))] \(frontend.name)/tls: SSL handshake failure (\(tlsError))") }
            state = .closing
            context.close(promise: nil)
            return
        default:
            // I/O errors (reset by peer…): nothing to answer.
            if case .exchanging(let ex) = state {
                ex.log.termination = "CD"
                abandon(ex)
                writeLog(ex.log)
            }
            state = .closing
            context.close(promise: nil)
            return
        }
        var record: AccessLogRecord
        if case .exchanging(let ex) = state {
            if ex.responseHeadSent {
                // The response is under way: a broken request body can only end the connection.
                ex.log.termination = "CD"
                abandon(ex)
                writeLog(ex.log)
                state = .closing
                context.close(promise: nil)
                return
            }
            abandon(ex)
            record = ex.log
        } else {
            record = newRecord()
        }
        record.termination = "PR"
        respondError(status, record: record, version: .http1_1, headReceived: state.hasExchange)
    }

    // MARK: exchange

    private func newRecord() -> AccessLogRecord {
        var record = AccessLogRecord(client: clientAddress, acceptDate: logging ? loop.log.date(wallClockNow()) : "", frontend: frontend.name)
        if let requestStart { record.tr = millisecondsBetween(requestStart, .now()) }
        return record
    }

    private func startExchange(_ head: HTTPRequestHead) {
        let now = NIODeadline.now()
        var record = newRecord()
        record.tr = millisecondsBetween(requestStart ?? now, now)
        if logging {
            record.requestLine = "\(head.method.rawValue) \(head.uri) HTTP/\(head.version.major).\(head.version.minor)"
        }
        requestStart = nil

        guard RequestValidator.problem(in: head) == nil, case .success(let framing) = RequestValidator.framing(of: head) else {
            record.termination = "PR"
            respondError(.badRequest, record: record, version: head.version)
            return
        }
        var facts = RequestFacts(head: head, source: context.channel.remoteAddress, destination: context.channel.localAddress)
        facts.isTLS = isTLS
        for rule in frontend.config.redirects where rule.condition?.evaluate(facts) ?? true {
            redirect(rule, facts: facts, record: record)
            return
        }
        var backend = frontend.defaultBackend
        for (condition, target) in frontend.rules where condition.evaluate(facts) {
            backend = target
            break
        }
        guard let backend else {
            record.termination = "PR"
            respondError(.serviceUnavailable, record: record, version: head.version)
            return
        }
        record.backend = backend.name
        var upstreamHead = RequestRewriter.upstreamHead(head, framing: framing, facts: facts, frontend: frontend.config, backend: backend.config)
        var pinned: RuntimeServer?
        var presented: StickyCookie.Presented?
        if let cookie = backend.config.options.cookie {
            presented = StickyCookie.clientValue(in: head.headers, settings: cookie)
            pinned = presented.flatMap { backend.serversByCookie[$0.value] }
            StickyCookie.rewriteRequest(&upstreamHead.headers, settings: cookie)
        }
        let ex = Exchange(clientHead: head, upstreamHead: upstreamHead, backend: backend,
                          closeClient: !head.isKeepAlive, log: record, start: now)
        ex.pinned = pinned
        ex.facts = facts
        ex.presentedCookie = presented
        ex.client = facts.source
        ex.pending.append(.head(upstreamHead))
        state = .exchanging(ex)
        dispatch(ex, freshConnection: false)
    }

    /// `redirect scheme|location`: answered here, no backend involved; keep-alive allowed.
    private func redirect(_ rule: RedirectRule, facts: RequestFacts, record: AccessLogRecord) {
        let head = facts.head
        let location: String
        switch rule.target {
        case .location(let url): location = url
        case .scheme(let scheme):
            let host = head.headers.first(name: "host") ?? (facts.destination?.ipAddress ?? "localhost")
            let path = head.uri.hasPrefix("/") ? head.uri : "/"
            location = "\(scheme)://\(host)\(path)"
        }
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: "0")
        headers.add(name: "location", value: location)
        let close = !head.isKeepAlive
        if close { headers.add(name: "connection", value: "close") }
        var record = record
        record.status = rule.code
        record.bytesOut = 0
        record.backend = frontend.name
        writeLog(record)
        requestsServed += 1
        let response = HTTPResponseHead(version: head.version.minor == 0 ? .http1_0 : .http1_1, status: HTTPResponseStatus(statusCode: rule.code), headers: headers)
        state = close ? .closing : .idle
        idleSince = .now()
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if close {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in self.context?.close(promise: nil) }
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    /// Picks a server and gets a connection to it: an idle pooled one if there is one, else a
    /// new one. Called again for each retry.
    private func dispatch(_ ex: Exchange, freshConnection: Bool) {
        var chosen: RuntimeServer?
        if let pinned = ex.pinned {
            if pinned.health.acceptsStickyClients && !ex.excluded.contains(pinned.index) {
                if pinned.isFull { enqueue(ex); return }
                chosen = pinned
            } else if !ex.backend.config.options.redispatch {
                // Without `option redispatch` a sticky client stays with its server, up or not.
                ex.log.termination = ex.attempts == 0 ? "SC" : ex.log.termination
                fail(ex, ex.attempts == 0 ? .serviceUnavailable : ex.lastFailure ?? .badGateway)
                return
            }
        }
        let server: RuntimeServer
        if let chosen {
            server = chosen
        } else {
            switch ex.backend.pickServer(excluding: ex.excluded, client: ex.client) {
            case .server(let s):
                server = s
            case .full:
                enqueue(ex)
                return
            case .none:
                ex.log.termination = ex.attempts == 0 ? "SC" : ex.log.termination
                fail(ex, ex.attempts == 0 ? .serviceUnavailable : ex.lastFailure ?? .badGateway)
                return
            }
        }
        ex.server = server
        ex.attempts += 1
        ex.log.server = server.name
        ex.log.retries = ex.attempts - 1
        if !freshConnection, let pooled = loop.takeIdle(server) {
            ex.log.tc = 0
            attach(pooled, to: ex)
            return
        }
        let connectStart = NIODeadline.now()
        let timeout = ex.backend.config.options.timeouts.connect.map { TimeAmount.nanoseconds($0.nanoseconds) }
        UpstreamHandler.connect(to: server, loop: loop, timeout: timeout).assumeIsolated().whenComplete { result in
            guard case .exchanging(let current) = self.state, current === ex else {
                // The client left while we were connecting.
                if case .success(let handler) = result { handler.close() }
                return
            }
            switch result {
            case .success(let handler):
                ex.log.tc = millisecondsBetween(connectStart, .now())
                self.attach(handler, to: ex)
            case .failure(let error):
                let timedOut = (error as? ChannelError).map { if case .connectTimeout = $0 { true } else { false } } ?? false
                ex.lastFailure = timedOut ? .gatewayTimeout : .badGateway
                ex.log.termination = timedOut ? "sC" : "SC"
                server.health.observed(error: true)
                if ex.backend.config.options.retryOn.contains(.connFailure) {
                    self.retryOrFail(ex, excludeCurrent: true)
                } else {
                    self.fail(ex, ex.lastFailure!)
                }
            }
        }
    }

    /// Every eligible server is at its `maxconn`: wait in the backend queue until a request
    /// on it finishes (or `timeout queue` expires, checked by the sweep).
    private func enqueue(_ ex: Exchange) {
        guard let queue = ex.backend.queue else { fail(ex, .serviceUnavailable); return }
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        let exchange = NIOLoopBound(ex, eventLoop: context.eventLoop)
        let waiter = BackendQueue.Waiter(loop: context.eventLoop) { handler.value.queueWoke(exchange.value) }
        ex.waiter = waiter
        if ex.queuedAt == nil { ex.queuedAt = .now() }
        queue.enqueue(waiter)
        // A slot may have freed between the pick and the enqueue, with nobody to wake.
        if ex.backend.servers.contains(where: { $0.health.acceptsNewClients && !$0.isFull }) { queue.wakeOne() }
    }

    private func queueWoke(_ ex: Exchange) {
        guard case .exchanging(let current) = state, current === ex, ex.waiter != nil else {
            // We gave up meanwhile: hand the free slot on.
            ex.backend.queue?.wakeOne()
            return
        }
        ex.waiter = nil
        if let queuedAt = ex.queuedAt { ex.log.tw = millisecondsBetween(queuedAt, .now()) }
        dispatch(ex, freshConnection: false)
    }

    private func retryOrFail(_ ex: Exchange, excludeCurrent: Bool) {
        if excludeCurrent, let server = ex.server { ex.excluded.insert(server.index) }
        if ex.attempts <= ex.backend.config.options.retries {
            dispatch(ex, freshConnection: !excludeCurrent)
        } else {
            fail(ex, ex.lastFailure ?? .badGateway)
        }
    }

    private func attach(_ upstream: UpstreamHandler, to ex: Exchange) {
        upstream.lease(to: self)
        ex.upstream = upstream
        ex.countActive(on: upstream.server)
        ex.headSent = true
        let parts = ex.pending
        ex.pending.removeAll()
        for part in parts { upstream.send(part, flush: false) }
        upstream.flush()
        ex.requestSentAt = .now()
        ex.lastServerActivity = .now()
        ex.lastClientActivity = .now()
        if upstream.isWritable { resumeClientReads() }
    }

    private func send(_ part: HTTPClientRequestPart, in ex: Exchange, flush: Bool) {
        if ex.headSent, let upstream = ex.upstream {
            upstream.send(part, flush: flush)
            ex.lastServerActivity = .now()
        } else if !ex.headSent {
            ex.pending.append(part)
        }
    }

    // MARK: upstream → client

    var clientIsWritable: Bool { context.channel.isWritable }

    func upstreamReceived(_ part: HTTPClientResponsePart) {
        guard case .exchanging(let ex) = state else { return }
        ex.lastServerActivity = .now()
        switch part {
        case .head(let head):
            if head.status.code < 200 && head.status.code != 101 {
                // 100 Continue and friends: only an HTTP/1.1 client may see them.
                if ex.clientHead.version.minor >= 1 {
                    context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: head.headers))), promise: nil)
                }
                return
            }
            if head.status.code == 101 {
                // We removed Upgrade from the request; a switch is a protocol violation here.
                ex.lastFailure = .badGateway
                ex.log.termination = "SH"
                abandon(ex)
                fail(ex, .badGateway)
                return
            }
            ex.log.status = Int(head.status.code)
            let code = Int(head.status.code)
            ex.server?.health.observed(error: code >= 500 && code != 501 && code != 505, layer7: true)
            // A failed attempt that a retry made good leaves no mark but the retry count.
            ex.log.termination = "--"
            ex.log.trsp = ex.requestSentAt.map { millisecondsBetween($0, .now()) } ?? -1
            ex.responseHeadSent = true
            context.write(wrapOutboundOut(.head(clientResponseHead(head, for: ex))), promise: nil)
        case .body(let buffer):
            ex.log.bytesOut += buffer.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .end(let trailers):
            ex.responseEnded = true
            finish(ex, trailers: trailers)
        }
    }

    /// The response head as the client receives it: the client's HTTP version, hop-by-hop
    /// headers removed, and a close-delimited body for an HTTP/1.0 client when the server
    /// sent no Content-Length (a 1.0 client cannot read chunked encoding).
    private func clientResponseHead(_ head: HTTPResponseHead, for ex: Exchange) -> HTTPResponseHead {
        var headers = head.headers
        RequestRewriter.removeHopByHop(&headers)
        let clientIs10 = ex.clientHead.version.minor == 0
        if clientIs10 && !headers.contains(name: "content-length") && ex.clientHead.method != .HEAD
            && head.status.mayHaveResponseBody {
            headers.remove(name: "transfer-encoding")
            ex.closeClient = true
        }
        if let facts = ex.facts {
            RequestRewriter.apply(frontend.config.responseRules, to: &headers, facts: facts)
            RequestRewriter.apply(ex.backend.config.responseRules, to: &headers, facts: facts)
        }
        if let cookie = ex.backend.config.options.cookie, let value = ex.server?.cookie {
            StickyCookie.rewriteResponse(&headers, settings: cookie, value: value,
                                         presented: ex.pinned === ex.server ? ex.presentedCookie : nil,
                                         method: ex.clientHead.method, precomputed: ex.server?.insertCookie)
        }
        if ex.closeClient {
            headers.add(name: "connection", value: "close")
        } else if clientIs10 {
            headers.add(name: "connection", value: "keep-alive")
        }
        return HTTPResponseHead(version: clientIs10 ? .http1_0 : .http1_1, status: head.status, headers: headers)
    }

    func upstreamReadComplete() {
        context.flush()
    }

    func upstreamWritabilityChanged(isWritable: Bool) {
        if isWritable { resumeClientReads() }
    }

    func upstreamFailed(_ error: any Error) {
        upstreamLost(garbage: error is HTTPParserError)
    }

    func upstreamClosed() {
        upstreamLost(garbage: false)
    }

    /// The upstream connection ended before the response did.
    private func upstreamLost(garbage: Bool) {
        guard case .exchanging(let ex) = state, let upstream = ex.upstream, !ex.responseEnded else { return }
        ex.upstream = nil
        ex.releaseActive()
        if ex.responseHeadSent {
            // Part of the response is already with the client: all we can do is stop.
            ex.log.termination = "SD"
            writeLog(ex.log)
            state = .closing
            context.close(promise: nil)
            return
        }
        ex.lastFailure = .badGateway
        ex.log.termination = "SH"
        upstream.server.health.observed(error: true, layer7: garbage)
        // Only a complete, idempotent, bodiless request is ever sent twice. A reused
        // connection the server closed just as we sent is replayed on a fresh one; an empty
        // response from a fresh connection goes to another server with `retry-on empty-response`.
        let safe = !garbage && ex.isIdempotent && ex.bodyBytes == 0 && ex.requestEnded
            && ex.attempts <= ex.backend.config.options.retries
        if safe && upstream.wasReused {
            ex.headSent = false
            ex.pending = [.head(ex.upstreamHead), .end(nil)]
            retryOrFail(ex, excludeCurrent: false)
        } else if safe && ex.backend.config.options.retryOn.contains(.emptyResponse) {
            ex.headSent = false
            ex.pending = [.head(ex.upstreamHead), .end(nil)]
            retryOrFail(ex, excludeCurrent: true)
        } else {
            fail(ex, .badGateway)
        }
    }

    /// The response is complete: return the upstream connection to the pool when both sides
    /// finished cleanly, log, and either wait for the next request or close.
    private func finish(_ ex: Exchange, trailers: HTTPHeaders?) {
        ex.releaseActive()
        ex.log.ta = millisecondsBetween(ex.start, .now())
        if let upstream = ex.upstream, let server = ex.server {
            ex.upstream = nil
            upstream.delegate = nil
            if ex.requestEnded {
                loop.putIdle(upstream, server: server)
            } else {
                // The server answered before the request body ended (e.g. 413): the rest of the
                // body can go nowhere, so both connections end with this response.
                upstream.close()
                ex.closeClient = true
            }
        }
        writeLog(ex.log)
        requestsServed += 1
        // State changes before the write: writing `.end` lets the pipeline handler deliver the
        // next pipelined request synchronously, which must find us idle.
        if ex.closeClient {
            state = .closing
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                self.context?.close(promise: nil)
            }
        } else {
            state = .idle
            idleSince = .now()
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
            // A read held back during the exchange must be let through now, or a keep-alive
            // client with autoRead would never be read again.
            if case .idle = state { resumeClientReads() }
        }
    }

    /// Ends an exchange that will not complete: its upstream connection is closed, not pooled.
    private func abandon(_ ex: Exchange) {
        ex.leaveQueue()
        ex.releaseActive()
        if let upstream = ex.upstream {
            ex.upstream = nil
            upstream.close()
        }
    }

    /// The exchange failed before any response byte reached the client: answer with an error.
    private func fail(_ ex: Exchange, _ status: ErrorResponse) {
        abandon(ex)
        ex.log.ta = millisecondsBetween(ex.start, .now())
        respondError(status, record: ex.log, version: ex.clientHead.version)
    }

    /// Answers with a generated error and closes. `headReceived` says whether the HTTP pipeline
    /// saw a request head; without one the bytes go straight to the socket.
    private func respondError(_ status: ErrorResponse, record: AccessLogRecord, version: HTTPVersion, headReceived: Bool = true) {
        var record = record
        record.status = status.rawValue
        record.bytesOut = status.body.utf8.count
        writeLog(record)
        state = .closing
        guard headReceived else {
            headGuard.respondAndClose(status.wireBytes)
            return
        }
        var body = context.channel.allocator.buffer(capacity: status.body.utf8.count)
        body.writeString(status.body)
        context.write(wrapOutboundOut(.head(status.head(version: version))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            self.context?.close(promise: nil)
        }
    }

    private func writeLog(_ record: AccessLogRecord) {
        guard logging else { return }
        loop.log.append(record.line)
    }

    // MARK: timeouts

    /// Called by the loop's sweeper (`LoopState`, every 100 ms) instead of a timer per request:
    /// scheduling and cancelling a timer for every request and every response cost more than
    /// the proxying itself on keep-alive traffic. Deadlines are therefore exact to 100 ms.
    ///
    /// * idle: `timeout http-request` for the first request and from the first byte of any
    ///   request, `timeout http-keep-alive` between requests; 408 if part of a head came,
    ///   a silent close if nothing did;
    /// * exchanging: `timeout server` (nothing from or to the server) and `timeout client`
    ///   (nothing from the client while its request is incomplete, or the client not taking
    ///   response bytes);
    /// * closing: `timeout client` for the last response to be taken, as HAProxy does for a
    ///   client that never reads. Every state is under a timeout.
    func checkTimeouts(now: NIODeadline) {
        switch state {
        case .closing:
            let since = closingSeenAt ?? now
            closingSeenAt = since
            if let limit = timeouts.client ?? timeouts.server, now >= since + .nanoseconds(limit.nanoseconds) {
                context?.channel.close(mode: .all, promise: nil)
            }
            return
        case .idle:
            let waitingForHead = requestsServed == 0 || requestStart != nil
            let limit = waitingForHead ? (timeouts.httpRequest ?? timeouts.client)
                : (timeouts.httpKeepAlive ?? timeouts.httpRequest ?? timeouts.client)
            guard let limit, now >= (requestStart ?? idleSince) + .nanoseconds(limit.nanoseconds) else { return }
            if headGuard.headBytesSeen > 0 {
                var record = newRecord()
                record.termination = "cR"
                respondError(.requestTimeout, record: record, version: .http1_1, headReceived: false)
            } else {
                state = .closing
                context?.close(promise: nil)
            }
        case .exchanging(let ex):
            exchangeTimeouts(ex, now: now)
        }
    }

    private func firstByteArrived() {
        requestStart = .now()
    }

    private func exchangeTimeouts(_ ex: Exchange, now: NIODeadline) {
        let backendTimeouts = ex.backend.config.options.timeouts
        if ex.waiter != nil, let queuedAt = ex.queuedAt,
           let limit = backendTimeouts.queue ?? backendTimeouts.connect, now >= queuedAt + .nanoseconds(limit.nanoseconds) {
            ex.leaveQueue()
            guard ex.waiter == nil else { return }  // the queue woke us just now: let it dispatch
            ex.log.tw = millisecondsBetween(queuedAt, now)
            ex.log.termination = "sQ"
            fail(ex, .serviceUnavailable)
            return
        }
        guard ex.upstream != nil || ex.headSent, !ex.responseEnded else { return }
        if let server = backendTimeouts.server, now >= ex.lastServerActivity + .nanoseconds(server.nanoseconds) {
            ex.server?.health.observed(error: true)
            let safe = ex.isIdempotent && ex.bodyBytes == 0 && ex.requestEnded
                && ex.attempts <= ex.backend.config.options.retries
            if !ex.responseHeadSent && safe && ex.backend.config.options.retryOn.contains(.responseTimeout) {
                abandon(ex)
                ex.headSent = false
                ex.pending = [.head(ex.upstreamHead), .end(nil)]
                ex.lastFailure = .gatewayTimeout
                ex.log.termination = "sH"
                retryOrFail(ex, excludeCurrent: true)
                return
            }
            if ex.responseHeadSent {
                ex.log.termination = "sD"
                abandon(ex)
                writeLog(ex.log)
                state = .closing
                context?.close(promise: nil)
            } else {
                ex.log.termination = "sH"
                fail(ex, .gatewayTimeout)
            }
            return
        }
        if let stalled = clientStalledSince, let client = timeouts.client, now >= stalled + .nanoseconds(client.nanoseconds) {
            // The client stopped reading the response: HAProxy's client timeout on a write.
            ex.log.termination = "cD"
            abandon(ex)
            writeLog(ex.log)
            state = .closing
            context?.close(promise: nil)
            return
        }
        if !ex.requestEnded, let client = timeouts.client, now >= ex.lastClientActivity + .nanoseconds(client.nanoseconds) {
            ex.log.termination = "cD"
            if ex.responseHeadSent {
                abandon(ex)
                writeLog(ex.log)
                state = .closing
                context?.close(promise: nil)
            } else {
                fail(ex, .requestTimeout)
            }
        }
    }
}
