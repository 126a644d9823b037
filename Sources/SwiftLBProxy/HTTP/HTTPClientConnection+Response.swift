import NIOCore
import SwiftLBConfig

/// Server → client: the `ServerConnectionOwner` side of the client connection. The response
/// head is parsed, run through the http-response rules and rewritten for the client, its
/// body streamed with backpressure (re-chunked when needed); an upgrade's 101 hands both
/// channels to a `Tunnel`; a server that closes or answers garbage is replayed or failed.
extension HTTPClientConnection {
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
        // Interim (1xx) heads of this read, held until what follows them in the same read is
        // known to be sound: HAProxy parses a read whole, so a final response that fails there
        // is its 502 alone, without the 1xx before it. Nil on the usual path (no 1xx).
        var interim: ByteBuffer?
        // False when the exchange did not survive it: an HTTP/2 stream's translator resets
        // the stream on a 1xx it cannot carry, and the exchange ends with it.
        func sendInterim() -> Bool {
            if let heads = interim { context?.writeAndFlush(wrapOutboundOut(heads), promise: nil) }
            interim = nil
            return isCurrent(ex) && ex.phase.phase != .done
        }
        defer { _ = sendInterim() }  // the read ended after a 1xx (or its final head is incomplete)
        while isCurrent(ex), var input = ex.responseInbound, input.readableBytes > 0, !ex.responseComplete {
            ex.responseInbound = nil  // no second reference while `input` is worked on
            if !ex.responseHeadSent {
                let outcome = ex.responseParser.parse(&input)
                ex.responseInbound = input
                switch outcome {
                case .incomplete:
                    return
                case .failure:
                    interim = nil
                    serverFailed(ex, garbage: true)
                    return
                case .head(var head):
                    if (100..<200).contains(head.status) {
                        if head.status == 101 {
                            guard sendInterim() else { return }
                            if ex.otherUpgrade {
                                // A switch without `Upgrade` names no protocol: 502, as a broken handshake.
                                if ProtocolUpgrade.accepts(head) { openTunnel(ex, head: head) } else { serverFailed(ex, garbage: true) }
                                return
                            }
                            guard let key = ex.webSocketKey else {
                                // No Upgrade was forwarded: a switch is a protocol violation here.
                                serverFailed(ex, garbage: true)
                                return
                            }
                            if WebSocketHandshake.accepts(head, key: key) {
                                openTunnel(ex, head: head)
                            } else if head.indices(of: "sec-websocket-accept").isEmpty {
                                // No accept at all: a broken handshake, 502 as from HAProxy.
                                serverFailed(ex, garbage: true)
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
                        if ex.clientMinor >= 1, let context {
                            _ = RequestRewriter.removeHopByHop(&head)
                            ResponseRewriter.dropFraming(&head)
                            var heads = head.serialised(allocator: context.channel.allocator)
                            if interim == nil { interim = heads } else { interim!.writeBuffer(&heads) }
                        }
                        continue
                    }
                    guard case .success(let body) = MessageFraming.response(head, requestMethod: ex.method) else {
                        interim = nil
                        serverFailed(ex, garbage: true)
                        return
                    }
                    if head.minorVersion == 0, case .framed(.chunked) = body {
                        // Chunked from an HTTP/1.0 server: RFC 9112 §6.1 has its framing treated as
                        // faulty and the connection closed after it; HAProxy closes the client's too.
                        ex.serverMustClose = true
                        ex.closeClient = true
                    }
                    if case .framed(.chunked) = body, !BodyFramer.chunksMayBeValid(input) {
                        // Chunking already broken in what came with the head: nothing has gone to
                        // the client yet, so it gets HAProxy's 502 rather than a cut response.
                        interim = nil
                        serverFailed(ex, garbage: true)
                        return
                    }
                    guard sendInterim() else { return }
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
                if ex.heldResponse != nil, !releaseHeldResponse(ex, buffered: input) {
                    ex.responseInbound = input
                    return
                }
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

    /// `http-response wait-for-body`: the held head goes out once the body is whole in
    /// `input` (the server's bytes not yet forwarded), or `at-least` bytes of it are, or it
    /// fills the buffer (tune.bufsize less the rewrite reserve); false while it still waits.
    /// The body then streams as usual.
    private func releaseHeldResponse(_ ex: HTTPExchange, buffered input: ByteBuffer) -> Bool {
        guard let held = ex.heldResponse else { return true }
        let buffered = input.readableBytes
        var whole = false
        if var framer = ex.responseFramer {
            var copy = input
            // A dry run of the framer on a copy: is the end of the body in?
            do {
                whole = try framer.take(from: &copy, decode: false) { _ in }
            } catch {
                // Chunking broken while the head is still held: nothing has gone to the
                // client, so it gets HAProxy's 502, as for a break that came with the head.
                ex.heldResponse = nil
                ex.responseHeadSent = false
                serverFailed(ex, garbage: true)
                return false
            }
        }
        let full = buffered >= (limits.bufferSize ?? 16384) - limits.rewriteReserve
        guard whole || full || held.atLeast.map({ buffered >= $0 }) == true else { return false }
        ex.heldResponse = nil
        context?.write(wrapOutboundOut(held.head), promise: nil)
        return true
    }

    /// Its time passed with the body not in: 504, as HAProxy answers (the head never went out).
    func heldResponseExpired(_ ex: HTTPExchange) {
        ex.heldResponse = nil
        ex.responseHeadSent = false
        failResponse(ex, .gatewayTimeout, cause: .serverTimeout)
    }

    /// Returns false when a response rule answered instead (the server's response is dropped).
    @discardableResult
    private func startResponse(_ ex: HTTPExchange, head: MessageHead, body: MessageFraming.ResponseBody, upgrade: Bool = false) -> Bool {
        var head = head
        let server = ex.dispatch.server
        ex.log.status = head.status
        if logging { ex.log.responseCaptures = HeaderCaptures.logValues(frontend.config.captures, response: true, from: head) }
        server?.health.observed(error: head.status >= 500 && head.status != 501 && head.status != 505, layer7: true)
        ex.log.trsp = ex.requestSentAt.map { millisecondsBetween($0, clock) } ?? -1
        let backend = ex.dispatch.backend
        if let stick = backend.stick, stick.storesResponses, let server {
            // `stick store-response`, on the response as the server sent it (HAProxy's store
            // rules run before the http-response rules).
            var input = ex.ruleInput ?? SampleInput(facts: ex.facts ?? makeFacts(nil))
            input.response = head
            stick.storeResponse(input, server: server, now: StickSession.now())
        }
        // Compression is decided on the server's head, before any response rule (HAProxy's
        // filter judges it at AN_RES_WAIT_HTTP), and its headers written after them.
        var compressWith: HTTPCompression.Algorithm?
        if let algorithm = ex.compression,
           let policy = CompressionRules.Policy(frontend: frontend.config.options.compression, backend: backend.config.options.compression),
           CompressionRules.mayCompress(head, body: body, clientMinor: ex.clientMinor, method: ex.method, policy: policy) {
            compressWith = algorithm
        }
        // http-response rules, the backend's then the frontend's, on the server's response.
        let backendRules = backend.engine.flatMap { $0.name != frontend.name || frontend.engine == nil ? $0 : nil }
        if var input = ex.ruleInput {
            input.variables?.beginResponse()
            input.bodyWait = nil
            input.serverTLS = ex.connection?.tls
            input.rewriteRoom = limits.rewriteRoom(head: head.serialisedSize, buffered: ex.responseInbound?.readableBytes ?? 0)
            for rules in [backendRules, frontend.engine].compactMap({ $0 }) {
                if case .respond(let response, _) = rules.response.evaluate(&head, &input) {
                    replaceResponse(ex, with: response, input: &input)
                    return false
                }
            }
            ex.ruleInput = input
            ex.log.status = head.currentStatus
        }
        // HAProxy captures the response's cookie with its cookie processing, after the rules.
        if logging, let capture = frontend.config.cookieCapture { ex.log.responseCookie = CookieCaptures.response(capture, head) }
        if backend.config.options.checkCache, ResponseCacheability.cachesCookie(method: ex.method, status: head.currentStatus, head: head) {
            // HAProxy's deny without a status of its own: the page of the response's status (its
            // built-in "200 OK Service ready." for a 200), logged PH, the connection closed.
            loop.stats.frontend(frontend.counterID) { $0.deniedResponses += 1 }
            ex.closeClient = true
            failResponse(ex, ErrorResponse(rawValue: head.currentStatus) ?? .internalError, cause: .proxy)
            return false
        }
        let bodyWait: BodyWait? = if case .framed = body { ex.ruleInput?.bodyWait } else { nil }
        let rewrite = ResponseRewriter.Context(
            clientMinor: ex.clientMinor, method: ex.method, closeClient: ex.closeClient, facts: ex.facts,
            frontend: frontend, backend: backend, server: server,
            pinnedToThisServer: ex.dispatch.pinned != nil && ex.dispatch.pinned === server, presented: ex.presentedCookie,
            insertsNoCookie: ex.pinnedWithoutCookie && ex.dispatch.pinned === server && backend.cookie?.maxidle == nil && backend.cookie?.maxlife == nil,
            ignoresCookie: ex.ignoresCookie, upgrade: upgrade)
        ex.clientFraming = ResponseRewriter.rewrite(&head, body: body, context: rewrite)
        if ex.clientAskedHEAD || ex.clientFraming.dropsBody { ex.clientFraming.encodeChunks = false }
        // http-after-response rules see the response as it goes out.
        if var input = ex.ruleInput {
            let statusBefore = head.currentStatus
            for rules in [backendRules, frontend.engine].compactMap({ $0 }) { _ = rules.afterResponse.evaluate(&head, &input) }
            ex.ruleInput = input
            if head.currentStatus != statusBefore, !upgrade { ResponseRewriter.restatus(&head, body: body, framing: &ex.clientFraming) }
        }
        if let algorithm = compressWith, !ex.clientFraming.dropsBody { startCompressing(ex, &head, algorithm) }
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
        if let nameCase = frontend.responseNameCase { nameCase.apply(to: &clientHeadBuffer) }
        ex.log.bytesOut += clientHeadBuffer.readableBytes  // HAProxy's %B and bytes_out count the head too
        if let wait = bodyWait, ex.responseFramer?.isComplete != true, ex.responseFramer?.mode != .untilClose {
            // `http-response wait-for-body`: the head waits for the body (releaseHeldResponse).
            ex.heldResponse = HeldResponse(head: clientHeadBuffer, deadline: clock + .nanoseconds(wait.nanoseconds), atLeast: wait.atLeast)
            clientHeadBuffer = ByteBuffer()
            return true
        }
        context?.write(wrapOutboundOut(clientHeadBuffer), promise: nil)
        if frontend.logPlan?.logASAP == true { writeEarlyLog(ex) }
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

    /// The server switched to WebSocket with the right answer, or to another protocol asked
    /// for: the 101 goes to the client, then this handler leaves the pipeline to a `Tunnel`
    /// that owns both channels. The bytes that came with the switch, either way, go on at once.
    /// The stream keeps its place on the server (leastconn, maxconn) until the tunnel ends, and
    /// is logged then; so do its stick-table trackers (`conn_cur` counts the tunnel as HAProxy counts it).
    private func openTunnel(_ ex: HTTPExchange, head: MessageHead) {
        guard let context, let connection = ex.connection else { return }
        startResponse(ex, head: head, body: .none, upgrade: true)
        context.flush()
        ex.connection = nil
        let ended = Tunnel.onEnd(releasing: ex.dispatch, log: logging && !ex.loggedEarly ? ex.log : nil, phase: ex.phase, start: ex.start,
                                 loop: loop, frontend: frontend, http: true, tls: isTLS)
        let tracking = stickSession
        let tunnel = Tunnel(loop: loop, server: connection,
                            timeouts: Tunnel.Timeouts(front: timeouts, back: ex.dispatch.backend.config.options.timeouts),
                            onEnd: { tunnel, cause in
                                tracking?.close(http: true)
                                ended(tunnel, cause)
                            })
        let clientBytes = inbound.readableBytes > 0 ? inbound : nil
        let serverBytes = ex.responseInbound
        inbound = Self.empty
        ex.responseInbound = nil
        state = .upgraded
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        tunnel.frontendCounterID = frontend.counterID  // the client connection is the tunnel's now
        tunnel.takeOver(from: context, after: self, clientBytes: clientBytes, serverBytes: serverBytes)
    }

    /// The response goes out compressed (or, for identity, only re-chunked): its head gets
    /// HAProxy's edits and its body is read as data (chunks decoded) and sent in chunks.
    private func startCompressing(_ ex: HTTPExchange, _ head: inout MessageHead, _ algorithm: HTTPCompression.Algorithm) {
        guard let deflater = Deflater(algorithm) else { return }  // zlib out of memory: sent as it is
        ex.deflater = deflater
        CompressionRules.rewrite(&head, algorithm: algorithm)
        ex.clientFraming.decodeChunks = true
        ex.clientFraming.encodeChunks = true
    }

    private func writeBody(_ slice: ByteBuffer, _ ex: HTTPExchange) {
        guard let context, !ex.clientAskedHEAD, !ex.clientFraming.dropsBody else { return }
        var slice = slice
        if let deflater = ex.deflater { slice = deflater.compress(slice, allocator: context.channel.allocator) }
        ex.log.bytesOut += slice.readableBytes
        if ex.clientFraming.encodeChunks {
            writeChunk(slice, context)
        } else {
            context.write(wrapOutboundOut(slice), promise: nil)
        }
    }

    /// One chunk (none for no bytes: an empty chunk would end the body).
    private func writeChunk(_ slice: ByteBuffer, _ context: ChannelHandlerContext) {
        guard slice.readableBytes > 0 else { return }
        var prefix = context.channel.allocator.buffer(capacity: 20)
        prefix.writeString(String(slice.readableBytes, radix: 16))
        prefix.writeStaticString("\r\n")
        context.write(wrapOutboundOut(prefix), promise: nil)
        context.write(wrapOutboundOut(slice), promise: nil)
        context.write(wrapOutboundOut(Self.crlf), promise: nil)
    }

    private static let crlf = ByteBuffer(string: "\r\n")
    private static let lastChunk = ByteBuffer(string: "0\r\n\r\n")

    private func completeResponse(_ ex: HTTPExchange) {
        if let deflater = ex.deflater, let context {
            let tail = deflater.finish(allocator: context.channel.allocator)
            ex.log.bytesOut += tail.readableBytes
            writeChunk(tail, context)
        }
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
        ex.dispatch.lastFailure = .connectFailed
        let options = ex.dispatch.backend.config.options
        // `proto h2`: a stream the server refused unprocessed (RST_STREAM REFUSED_STREAM, or
        // above a GOAWAY's last stream id) is sent once more, on a new connection, as a failed
        // connect would be (`retry-on conn-failure`, within `retries`): any method, since the
        // server did nothing with it, but only while the whole request is still in hand.
        if connection.h2Session?.refused(error) == true, !ex.streamRefusedRetried, ex.requestResendable,
           options.retryOn.contains(.connFailure), ex.dispatch.retry(excludeCurrent: false) {
            ex.streamRefusedRetried = true
            return replay(ex, freshConnection: true)
        }
        let garbage = error.map { !($0 is IOError) && !($0 is ChannelError) } ?? false
        connection.server.health.observed(error: true, layer7: garbage)
        if ex.isReplayable && connection.wasReused && ex.dispatch.retry(excludeCurrent: false) {
            replay(ex, freshConnection: true)
        } else if ex.isReplayable && options.retryOn.contains(.emptyResponse) && ex.dispatch.retry(excludeCurrent: true) {
            replay(ex, freshConnection: false)
        } else {
            failResponse(ex, .badGateway, cause: .serverAborted)
        }
    }

    /// Sends the (bodiless) request again.
    func replay(_ ex: HTTPExchange, freshConnection: Bool) {
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
}
