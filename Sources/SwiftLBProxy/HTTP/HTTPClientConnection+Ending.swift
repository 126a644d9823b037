import NIOCore

/// Ending an exchange: finished (the server connection pooled or closed, then the next
/// request), abandoned, truncated, or failed with a generated error page; closing the
/// client connection; and the counters and access-log line every exchange ends with.
extension HTTPClientConnection {
    // MARK: ending an exchange

    /// The response is complete: the server connection goes back to the pool when both sides
    /// finished cleanly and nothing unasked-for came with it; then the next request, or close.
    func finish(_ ex: HTTPExchange) {
        ex.dispatch.release()
        ex.log.ta = millisecondsBetween(ex.start, clock)
        if let connection = ex.connection {
            ex.connection = nil
            let leftover = (ex.responseInbound?.readableBytes ?? 0) > 0
            if ex.requestComplete && !ex.serverMustClose && !leftover && connection.isOpen && !connection.singleUse {
                if ex.dispatch.backend.config.options.httpReuse == .never {
                    // Private to this client connection: kept for its next request only.
                    connection.park()
                    ownServerConnection = connection
                } else {
                    loop.putIdle(connection)
                }
            } else if connection.singleUse && ex.requestComplete && !leftover {
                connection.endStream()
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
            awaitNextRequest()
        }
    }

    /// Ends an exchange that will not complete: its server connection is closed, not pooled.
    func abandon(_ ex: HTTPExchange, cause: TerminationCause) {
        ex.dispatch.release()
        if let connection = ex.connection {
            ex.connection = nil
            connection.close()
        }
        ex.log.ta = millisecondsBetween(ex.start, clock)
        ex.phase.end(cause)
    }

    /// Part of the response already went out: all that can be done is to stop.
    func truncateResponse(_ ex: HTTPExchange, cause: TerminationCause) {
        abandon(ex, cause: cause)
        writeLog(ex)
        closeNow()
    }

    /// The dispatch failed before anything reached a server.
    func fail(_ ex: HTTPExchange, _ failure: Dispatch.Failure) {
        switch failure {
        case .noServer, .stickyServerDown: failResponse(ex, .serviceUnavailable, cause: .serverAborted)
        case .queueTimeout: failResponse(ex, .serviceUnavailable, cause: .serverTimeout)
        case .serverQueueFull:
            // HAProxy's SRV_STATUS_FULL: refused in the queue phase, never queued (SQ, Tw -1).
            _ = ex.phase.queue()
            ex.log.tw = -1
            failResponse(ex, .serviceUnavailable, cause: .serverAborted)
        // As HAProxy: a server that could not be reached (after the retries) is a 503, not a
        // 502 — nothing reached a server — logged SC (refused) or sC (connect timeout).
        case .connectFailed: failResponse(ex, .serviceUnavailable, cause: .serverAborted)
        case .connectTimeout: failResponse(ex, .serviceUnavailable, cause: .serverTimeout)
        }
    }

    /// Answers the exchange with an error (no response byte has gone out yet); its server
    /// connection is closed.
    func failResponse(_ ex: HTTPExchange, _ status: ErrorResponse, cause: TerminationCause) {
        if ex.responseHeadSent {
            truncateResponse(ex, cause: cause)
            return
        }
        abandon(ex, cause: cause)
        var record = ex.log
        record.termination = ex.phase.terminationFlags
        respondError(status, record: record, ex: ex)
    }

    /// A request the proxy itself refuses once its exchange started (a broken body).
    func failRequest(_ ex: HTTPExchange, _ status: ErrorResponse, cause: TerminationCause) {
        failResponse(ex, status, cause: cause)
    }

    /// Answers with a generated error. `ex`: the exchange it ends, if any; else `request`, the
    /// head answered (and `framing`, its body). `logged` false: counted, but no log line
    /// (`option dontlognull`).
    ///
    /// A request refused before any stream (`record.refusedBeforeStream`: a head that did not
    /// parse, frame or fit, or did not come in time) is answered as HAProxy's mux answers it:
    /// its built-in page verbatim (nothing for an empty error file), without the
    /// `http-after-response` rules, and the connection closes. Any other error is a stream's
    /// answer: the error page (the backend's `errorfile`, the frontend's, HAProxy's) through
    /// the after-response rules, its `Connection` header as for any response to that request,
    /// and the connection stays open for the next request when the request was read whole and
    /// neither the client, the page (400, 408) nor a stop asks to close — as HAProxy 2.6 does
    /// after a 502, 503 or 504.
    func respondError(_ status: ErrorResponse, record: AccessLogRecord, request: MessageHead? = nil, framing: BodyFramer.Mode? = nil,
                      ex: HTTPExchange? = nil, logged: Bool = true) {
        var record = record
        record.status = status.rawValue
        func log() {
            if let ex {
                ex.log = record
                writeLog(ex, status: status.rawValue)
            } else {
                // HAProxy counts what its H1 layer refuses, timeouts included, as request errors.
                let refused = status == .badRequest || record.refusedBeforeStream
                writeLog(record, failure: refused ? .badRequest : nil, logged: logged)
            }
        }
        // The connection is gone: nothing to answer, the error is still logged and counted.
        guard let context else { return log() }
        let allocator = context.channel.allocator
        let bytes: ByteBuffer
        var close = true
        if record.refusedBeforeStream {
            // HAProxy's mux: its built-in page whatever the proxy's pages say; nothing for an
            // empty error file.
            let silent = frontend.engine?.errorPages.isSilent(for: status.rawValue) == true
            bytes = silent ? allocator.buffer(capacity: 0) : status.muxBytes(allocator: allocator)
        } else {
            // `errorfile`/`errorfiles`: the backend's page, then the frontend's, else HAProxy's.
            let backendRules = ex?.dispatch.backend.engine
            let rules = frontend.engine ?? backendRules
            let clientCloses = ex.map { $0.closeClient || !$0.requestComplete } ?? request.map { closesAfterAnswer($0, framing: framing) } ?? true
            let minor = ex?.clientMinor ?? request?.minorVersion ?? 1
            let headRequest = (ex?.method ?? request?.method) == .head
            if let rules {
                // Without an exchange (no backend, a refused head…): the connection's facts and variables.
                var input = ex?.ruleInput ?? SampleInput(facts: makeFacts(request), request: request, variables: variables)
                let page = rules.pages(backend: frontend.engine == nil ? nil : backendRules).page(for: status.rawValue, input: input)
                close = clientCloses || page.requiresClose || quiescing
                bytes = rules.answer(page, backend: frontend.engine == nil ? nil : backendRules, input: &input, close: close,
                                     clientMinor: minor, headRequest: headRequest, allocator: allocator)
            } else {
                let page = status.page
                close = clientCloses || page.requiresClose || quiescing
                bytes = page.bytes(close: close, clientMinor: minor, headRequest: headRequest, allocator: allocator)
            }
        }
        record.bytesOut = bytes.readableBytes
        log()
        if bytes.readableBytes > 0 { context.write(wrapOutboundOut(bytes), promise: nil) }
        if close {
            state = .closing
            flushThenClose()
        } else {
            requestsServed += 1
            awaitNextRequest()
        }
    }

    /// Whether the connection must close after an answer to `head` given here, before any of
    /// its body was read: the client asks to (`Connection: close`, HTTP/1.0 without
    /// keep-alive), the proxy is stopping, or the body has not all come — it could not be told
    /// from the next request. A body that is all in is read off and dropped: HAProxy's H1
    /// layer has parsed it by then, and keeps the connection.
    func closesAfterAnswer(_ head: MessageHead, framing: BodyFramer.Mode?) -> Bool {
        var copy = head
        if RequestRewriter.removeHopByHop(&copy).close || quiescing { return true }
        guard let framing else { return false }
        var framer = BodyFramer(framing)
        var rest = inbound
        guard (try? framer.take(from: &rest) { _ in }) == true else { return true }
        inbound = rest
        return false
    }

    /// An exchange is over and the connection stays: the next request, already in or to come.
    /// Inside `process` (an answer given while a head was taken) its loop goes on by itself;
    /// from anywhere else (a server's event, a timeout) the input is looked at again here.
    func awaitNextRequest() {
        state = .idle
        idleSince = clock
        parser.reset()
        context?.flush()
        guard !processing else { return }
        process()
        if clientFinished, case .idle = state {
            // The client sent its FIN after these requests: nothing more will come.
            state = .closing
            flushThenClose()
            return
        }
        resumeReadsIfPossible()
    }

    /// A client that ends its connection (`timedOut` false: its FIN) or lets `timeout
    /// http-request` run out without a whole request, as HAProxy 2.6 answers it: on a fresh
    /// connection, or with part of a request in, a 400 (closed) or 408 (timed out) and a log
    /// line `CR--`/`cR--` with `<BADREQ>`; `option dontlognull` keeps a connection that sent
    /// nothing out of the log (the answer still goes). A keep-alive connection idle between
    /// requests ends silently, as does a TLS connection whose handshake never finished, and,
    /// with `option http-ignore-probes`, one that sent nothing (HAProxy's mux_h1: no answer, no
    /// log, no count). Returns false when there is nothing to answer.
    func answerMissingRequest(timedOut: Bool) -> Bool {
        let partial = inbound.readableBytes > 0
        if !partial && frontend.config.options.httpIgnoreProbes { return false }
        // A session still in its handshakes (PROXY header, TLS) gets no HTTP answer: HAProxy
        // never answers on an embryonic session.
        guard partial || requestsServed == 0, !isTLS || tlsEstablished, session.isComplete else { return false }
        let now = clock
        var record = newRecord(now)
        record.refusedBeforeStream = true
        record.ta = millisecondsBetween(idleSince, now)
        record.termination = timedOut ? "cR" : "CR"
        let status: ErrorResponse = timedOut ? .requestTimeout : .badRequest
        respondError(status, record: record, logged: partial || !frontend.config.options.dontLogNull)
        return true
    }

    /// Closes once everything written has gone out (or `timeout client` says it never will).
    func flushThenClose() {
        guard let context else { return }
        if case .closed = state {} else { state = .closing }
        // `option nolinger`: a close after a complete answer is clean (HAProxy shuts its side
        // first, which keeps the reset away).
        if frontend.config.options.noLinger, context.channel.isSocket { SocketTuning.setReset(context.channel, false) }
        if tls == nil, context.channel.isSocket {
            // Plain TCP: when the flush wrote everything (the usual case), nothing is left for
            // a close to drop, so it closes now — no empty write, promise and callback per
            // `Connection: close` response. (A TLS handler may still hold bytes of its own; an
            // HTTP/2 stream channel knows no `bufferedWritableBytes` — NIOHTTP2 traps on it.)
            context.flush()
            if (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) == 0 {
                context.close(promise: nil)
                return
            }
        }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            self.context?.close(promise: nil)
        }
    }

    func closeNow() {
        if case .closed = state {} else { state = .closing }
        context?.close(promise: nil)
    }

    /// The end of an exchange: its counters, then its log line.
    func writeLog(_ ex: HTTPExchange, status: Int? = nil) {
        countExchange(ex, status: status ?? ex.log.status)
        guard logging, !ex.loggedEarly else { return }
        var record = ex.log
        record.termination = ex.phase.terminationFlags
        if let status { record.status = status }
        loop.writeAccessLog(record, frontend: frontend, backend: ex.dispatch.backend, server: ex.dispatch.server, http: true, tls: isTLS, tlsSide: tls)
    }

    /// `option logasap`: the line of an exchange whose response head just went out, as HAProxy
    /// writes it then: the times so far (`Ta`/`Tt` end now) and the bytes sent so far, both
    /// printed with a `+`, and the termination flags of a stream still running (`--`).
    func writeEarlyLog(_ ex: HTTPExchange) {
        guard logging, !ex.loggedEarly else { return }
        ex.loggedEarly = true
        var record = ex.log
        record.ta = millisecondsBetween(ex.start, clock)
        record.termination = "--"
        loop.writeAccessLog(record, frontend: frontend, backend: ex.dispatch.backend, server: ex.dispatch.server, http: true, tls: isTLS, tlsSide: tls)
    }

    /// A request answered here without an exchange (refused, redirected): counters and log.
    func writeLog(_ record: AccessLogRecord, failure: ExchangeFailure? = nil, intercepted: Bool = false, logged: Bool = true) {
        loop.stats.frontend(frontend.counterID) { c in
            c.requestsTotal += 1
            c.responses.count(status: record.status)
            c.bytesOut += record.bytesOut
            if failure == .badRequest { c.requestErrors += 1 }
            if intercepted { c.intercepted += 1 }
        }
        guard logging, logged else { return }
        loop.writeAccessLog(record, frontend: frontend, backend: nil, server: nil, http: true, tls: isTLS, tlsSide: tls)
    }

    private func countExchange(_ ex: HTTPExchange, status: Int) {
        if let deflater = ex.deflater { countCompression(deflater, ex) }
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
}
