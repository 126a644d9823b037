import NIOCore

/// Timeouts: the loop's sweeper checks every client connection against HAProxy's
/// timeouts (http-request, http-keep-alive, client, server, queue) from its state, instead
/// of a timer per request.
extension HTTPClientConnection {
    // MARK: timeouts

    /// Called by the loop's sweeper (`LoopState`, every 100 ms) instead of a timer per request:
    /// scheduling and cancelling a timer for every request and response cost more than the
    /// proxying itself on keep-alive traffic. Deadlines are therefore exact to 100 ms.
    ///
    /// * handshakes (PROXY header, TLS): `timeout client`, then a silent close;
    /// * idle: `timeout http-request` for the first request and from the first byte of any
    ///   request, `timeout http-keep-alive` between requests; 408 on a fresh connection or when part
    ///   of a head came, a silent close between keep-alive requests;
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
            if let limit = timeouts.client, now >= since + .nanoseconds(limit.nanoseconds) {  // HAProxy's: the client's only
                context?.channel.close(mode: .all, promise: nil)
            }
        case .idle:
            guard session.isComplete else {
                // Still in its handshakes (PROXY header, TLS): an embryonic session, under
                // `timeout client` as HAProxy's; closed unanswered. `timeout http-request`
                // starts with the session.
                if let limit = timeouts.client, now >= idleSince + .nanoseconds(limit.nanoseconds) { closeNow() }
                return
            }
            let waitingForHead = requestsServed == 0 || requestStart != nil
            guard let limit = timeouts.clientIdle(afterARequest: !waitingForHead), now >= (requestStart ?? idleSince) + .nanoseconds(limit.nanoseconds) else { return }
            guard !answerMissingRequest(timedOut: true) else { return }
            // `option nolinger`: HAProxy closes an idle keep-alive connection it times out with
            // a FIN (the client has not closed its side: nothing to reset).
            if frontend.config.options.noLinger, let channel = context?.channel, channel.isSocket { SocketTuning.setReset(channel, false) }
            closeNow()
        case .exchanging(let ex):
            exchangeTimeouts(ex, now: now)
        case .tarpitted(let wait):
            if now >= wait.until { endTarpit(wait) }
        case .awaitingStatsBody(let wait):
            guard let limit = timeouts.httpRequest ?? timeouts.client, now >= wait.since + .nanoseconds(limit.nanoseconds) else { return }
            var record = wait.record
            record.termination = "cR"
            respondError(.requestTimeout, record: record, request: wait.head, framing: .length(wait.length))
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
        if let held = ex.heldResponse, now >= held.deadline {
            heldResponseExpired(ex)
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
        let bodyWait = ex.awaitingBody ? ex.bodyDeadline ?? timeouts.httpRequest.map { ex.start + .nanoseconds($0.nanoseconds) } : nil
        let clientIdle = timeouts.client.map { now >= ex.lastClientActivity + .nanoseconds($0.nanoseconds) } ?? false
        if !ex.requestComplete, clientIdle || bodyWait.map({ now >= $0 }) ?? false {
            // Waiting for the body for the frontend's `option http-buffer-request`: HAProxy
            // answers the 408 before any backend is chosen, and logs the frontend there.
            if ex.awaitingBody && ex.bufferedByFrontend { ex.log.backend = frontend.name }
            failResponse(ex, .requestTimeout, cause: .clientTimeout)
        }
    }
}
