import NIOCore

/// Dispatching: the exchange asks its `Dispatch` for a server connection (pooled, being
/// connected, or queued), gets called back when it connects, fails or leaves the queue,
/// and, once it has one, writes the request head and the body bytes that waited.
extension HTTPClientConnection {
    // MARK: dispatching

    func dispatchNext(_ ex: HTTPExchange, freshConnection: Bool) {
        // `http-reuse`: what this request may be sent over (HTTPReuse says why).
        let first = requestsServed == 0 && h2?.laterStream != true
        let reuse: Dispatch.IdleChoice = switch ex.dispatch.backend.config.options.httpReuse {
        case .never: .none
        case .safe: first ? .none : .any
        case .aggressive: first ? .proven : .any
        case .always: .any
        }
        let own = ownServerConnection
        ownServerConnection = nil
        // `option prefer-last-server`: the server of the connection this client connection still
        // holds (HAProxy: its session's server connections; never with a hashing algorithm).
        if ex.dispatch.attempts == 0, ex.dispatch.backend.config.options.preferLastServer, !ex.dispatch.backend.config.options.balance.hashes,
           let own, own.isOpen, case let last = own.server, ex.dispatch.backend.servers.indices.contains(last.index),
           ex.dispatch.backend.servers[last.index] === last,
           // `max-keep-alive-queue N`: not a full server N streams already wait for.
           ex.dispatch.backend.config.options.maxKeepAliveQueue.map({ !last.isFull || last.queued.load(ordering: .relaxed) < $0 }) ?? true {
            ex.dispatch.preferred = last
        }
        let step = ex.dispatch.next(loop: loop, owner: self, freshConnection: freshConnection, reuse: reuse, own: own)
        if let own, case .connection(let taken) = step, taken === own {} else { own?.close() }
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
        guard ex.dispatch.backend.config.options.retryOn.contains(.connFailure), let wait = ex.dispatch.retryAfterConnectFailure(failure) else {
            fail(ex, failure)
            return
        }
        if wait == .zero {
            dispatchNext(ex, freshConnection: false)
            return
        }
        // The turn-around: the exchange waits as if still connecting (a client that leaves
        // meanwhile, with `option abortonclose`, ends it as CC).
        loop.eventLoop.assumeIsolated().scheduleTask(in: wait) { [weak self] in
            guard let self, case .exchanging(let current) = self.state, current === ex,
                  ex.dispatch.generation == generation, ex.connection == nil else { return }
            self.dispatchNext(ex, freshConnection: false)
        }
    }

    func dispatchQueueWoke() -> Bool {
        guard case .exchanging(let ex) = state, ex.dispatch.isQueued else { return false }
        if let queuedAt = ex.dispatch.wokeFromQueue() { ex.log.tw = millisecondsBetween(queuedAt, .now()) }
        _ = ex.phase.assign()
        dispatchNext(ex, freshConnection: false)
        return true
    }

    /// `http-send-name-header`: the serialised head with `name: value` as its last header (where
    /// HAProxy's H1 mux writes it), for the server of this attempt.
    static func head(_ head: ByteBuffer, adding name: String, _ value: String) -> ByteBuffer {
        var out = head.getSlice(at: head.readerIndex, length: head.readableBytes - 2) ?? head
        out.reserveCapacity(minimumWritableBytes: name.utf8.count + value.utf8.count + 6)
        out.writeString(name)
        out.writeString(": ")
        out.writeString(value)
        out.writeString("\r\n\r\n")
        return out
    }

    /// The connection is ours: the head, then the body bytes that waited.
    private func attach(_ connection: ServerConnection, to ex: HTTPExchange) {
        connection.lease(to: self)
        ex.connection = connection
        if let name = ex.dispatch.backend.config.options.sendNameHeader, let server = ex.dispatch.server {
            connection.write(Self.head(ex.upstreamHead, adding: name, server.name))
        } else {
            connection.write(ex.upstreamHead)
        }
        for part in ex.pendingBody { connection.write(part) }
        ex.pendingBody.removeAll()
        ex.pendingBytes = 0
        _ = ex.phase.requestSent()
        let now = clock
        ex.requestSentAt = now
        ex.lastServerActivity = now
        ex.lastClientActivity = now
        // Last: a write that fails makes NIO drain the socket at once, so the whole answer of
        // a server that already replied (a unix socket's peer) can complete the exchange here.
        connection.flush()
        resumeReadsIfPossible()
    }
}
