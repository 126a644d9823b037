import NIOCore
import SwiftLBAdmin
import SwiftLBConfig

/// A stream that is no longer HTTP: bytes both ways between a client channel and a server
/// connection (after a WebSocket 101, or a TCP-mode session once dispatched). The splice of
/// the stream core: the client's only handler from here on, the server connection leased to
/// it. Backpressure both ways — neither side is read while the other cannot take more (the
/// GlueHandler pattern) — half-closes forwarded, and every state under a timeout:
/// `timeout tunnel` while both sides are open, then, once one side has sent its FIN, the
/// `-fin` timeout of the other side (`server-fin` after the client's FIN, `client-fin` after
/// the server's), as HAProxy applies them.
///
/// States: `open` → `halfClosed(by:)` → `closed`.
final class Tunnel: ChannelDuplexHandler, ServerConnectionOwner, ClientConnection {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Side { case client, server }

    private enum State {
        case open
        case halfClosed(by: Side)
        case closed
    }

    /// What the tunnel's timeouts are.
    struct Timeouts {
        var idle: TimeAmount?
        var clientFin: TimeAmount?
        var serverFin: TimeAmount?

        /// A limit shorter than the loop's sweep period (HAProxy's reg-tests write `timeout
        /// client 1`): the sweep would let it run up to 100 ms late, so the tunnel keeps a
        /// timer of its own and stamps activity with the real clock.
        var needsOwnTimer: Bool { [idle, clientFin, serverFin].contains { $0.map { $0 < LoopState.sweepInterval } ?? false } }
    }

    private let loop: LoopState
    private let server: ServerConnection
    private let timeouts: Timeouts
    /// `timeouts.needsOwnTimer`: the timer armed for the next limit (nil otherwise).
    private let ownTimer: Bool
    private var timer: Scheduled<Void>?
    private var context: ChannelHandlerContext?
    private var state: State = .open
    private var clientReadPending = false
    private var lastActivity: NIODeadline
    private var halfClosedAt: NIODeadline?
    /// Bytes each way, for the log and the counters.
    private(set) var bytesFromClient = 0
    private(set) var bytesFromServer = 0
    /// Called once when the tunnel ends, with the cause.
    private let onEnd: (Tunnel, TerminationCause) -> Void
    /// The frontend whose current-connection count the client connection holds.
    var frontendCounterID: Int?

    init(loop: LoopState, server: ServerConnection, timeouts: Timeouts, onEnd: @escaping (Tunnel, TerminationCause) -> Void) {
        self.loop = loop
        self.server = server
        self.timeouts = timeouts
        self.onEnd = onEnd
        self.ownTimer = timeouts.needsOwnTimer
        self.lastActivity = ownTimer ? .now() : loop.coarseNow
    }

    /// An activity stamp: the sweep's time, or the real clock for a tunnel with its own timer.
    private var stamp: NIODeadline { ownTimer ? .now() : loop.coarseNow }

    var channel: (any Channel)? { context?.channel }

    /// Takes over the client channel (after `handlerAdded`): bytes that came with the switch
    /// go on at once — and the client's FIN after them when it already sent one
    /// (`clientFinished`) — then both channels are read.
    func start(clientBytes: ByteBuffer?, serverBytes: ByteBuffer?, clientFinished: Bool = false) {
        guard let context else { return }
        loop.clients[ObjectIdentifier(self)] = self
        loop.counters.tunnelsOpen += 1
        loop.counters.tunnelsTotal += 1
        countOnFrontend { $0.current += 1; $0.total += 1 }
        context.channel.allowRemoteHalfClosure()
        server.channel?.allowRemoteHalfClosure()
        server.lease(to: self)
        if let bytes = serverBytes, bytes.readableBytes > 0 { serverRead(bytes); serverReadComplete() }
        if let bytes = clientBytes, bytes.readableBytes > 0 { forwardToServer(bytes); server.flush() }
        if clientFinished { halfClose(by: .client) }
        context.read()
        server.resumeReading()
        armTimer()
    }

    /// With its own timer, wakes at the current state's limit from the last activity; when
    /// traffic came since, `checkTimeouts` finds nothing and the timer is armed again.
    private func armTimer() {
        guard ownTimer, let context, let deadline = nextDeadline else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [weak self] in
            guard let self else { return }
            self.timer = nil
            self.checkTimeouts(now: .now())
            self.armTimer()
        }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: client → server

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        forwardToServer(unwrapInboundIn(data))
    }

    private func forwardToServer(_ buffer: ByteBuffer) {
        bytesFromClient += buffer.readableBytes
        loop.counters.tunnelBytesIn += buffer.readableBytes
        countOnFrontend { [n = buffer.readableBytes] in $0.bytesIn += n }
        lastActivity = stamp
        server.write(buffer)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        server.flush()
        context.fireChannelReadComplete()
    }

    /// The client is not read while the server cannot take more.
    func read(context: ChannelHandlerContext) {
        if server.isWritable { context.read() } else { clientReadPending = true }
    }

    func serverWritabilityChanged(isWritable: Bool) {
        if isWritable, clientReadPending, let context {
            clientReadPending = false
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event {
            halfClose(by: .client)
            return
        }
        if event is ChannelShouldQuiesceEvent { return }  // a tunnel ends when its peers end it
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // After the server finished, the client closing is the normal end (NIO may report
        // its FIN as the channel going inactive once our side is shut too).
        if case .halfClosed(by: .server) = state { end(.completed) } else { end(.clientAborted) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        end(.clientAborted)
    }

    // MARK: server → client

    var clientIsWritable: Bool { context?.channel.isWritable ?? false }

    func serverRead(_ buffer: ByteBuffer) {
        bytesFromServer += buffer.readableBytes
        loop.counters.tunnelBytesOut += buffer.readableBytes
        countOnFrontend { [n = buffer.readableBytes] in $0.bytesOut += n }
        lastActivity = stamp
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    func serverReadComplete() { context?.flush() }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { server.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func serverClosed(error: (any Error)?) {
        end(error == nil ? .completed : .serverAborted)
    }

    func serverInputClosed() {
        halfClose(by: .server)
    }

    // MARK: ending

    /// The tunnel could not take over the client channel: end it now.
    func abort() { end(.internalError) }

    /// The server this tunnel goes to.
    var serverID: Int { server.server.id }

    /// Ends the tunnel because its server left (`on-marked-down shutdown-sessions`).
    func shutDown() { end(.serverDown) }

    private func halfClose(by side: Side) {
        switch state {
        case .open:
            state = .halfClosed(by: side)
            halfClosedAt = stamp
            switch side {
            case .client: server.shutdownOutput()
            case .server: if let context { shutdownOutputAfterWrites(context) }
            }
        case .halfClosed(let first) where first != side:
            end(.completed)
        case .halfClosed, .closed:
            break
        }
    }

    /// The tunnel counters of the frontend that accepted the client (stats page, JSON).
    private func countOnFrontend(_ body: (inout TunnelCounters) -> Void) {
        if let id = frontendCounterID { loop.stats.frontend(id) { body(&$0.tunnels) } }
    }

    private func end(_ cause: TerminationCause) {
        if case .closed = state { return }
        state = .closed
        timer?.cancel()
        timer = nil
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        loop.counters.tunnelsOpen -= 1
        if let id = frontendCounterID { loop.stats.frontend(id) { $0.scur -= 1; $0.tunnels.current -= 1 } }
        server.close()
        context?.close(promise: nil)
        onEnd(self, cause)
    }

    func checkTimeouts(now: NIODeadline) {
        if let deadline = nextDeadline, now >= deadline {
            guard case .halfClosed(let side) = state else { return end(.clientTimeout) }
            end(side == .client ? .serverTimeout : .clientTimeout)
        }
    }

    /// When the current state's limit runs out, from the last activity (nil: no limit, or
    /// closed). As HAProxy: once one side has sent its FIN, the limit is the one of the side
    /// still expected to finish — after the client's FIN, `server-fin` (our FIN to the server
    /// waits on its answer); after the server's, `client-fin`. That side is the one that
    /// timed out.
    private var nextDeadline: NIODeadline? {
        switch state {
        case .closed:
            return nil
        case .open:
            return timeouts.idle.map { lastActivity + $0 }
        case .halfClosed(let side):
            let limit = side == .client ? timeouts.serverFin ?? timeouts.idle : timeouts.clientFin ?? timeouts.idle
            return limit.map { max(lastActivity, halfClosedAt ?? lastActivity) + $0 }
        }
    }
}

extension Tunnel.Timeouts {
    /// A stream's tunnel timeouts from its frontend's and backend's (HAProxy: `timeout tunnel`
    /// and `server-fin` from the backend, `client-fin` from the frontend, each falling back to
    /// the other side's).
    init(front: Timeouts, back: Timeouts) {
        self.init(idle: Tunnel.idleLimit(tunnel: back.tunnel ?? front.tunnel, client: front.client, server: back.server),
                  clientFin: (front.clientFin ?? back.clientFin).map { .nanoseconds($0.nanoseconds) },
                  serverFin: (back.serverFin ?? front.serverFin).map { .nanoseconds($0.nanoseconds) })
    }
}

extension Tunnel {
    /// Puts the tunnel in the place of the handler of `context` (which leaves the pipeline),
    /// then starts it with the bytes that came with the switch. The client channel keeps its
    /// TLS handler, if any; everything after it is the tunnel's.
    func takeOver(from context: ChannelHandlerContext, after handler: any RemovableChannelHandler,
                  clientBytes: ByteBuffer?, serverBytes: ByteBuffer?, clientFinished: Bool = false) {
        do {
            try context.pipeline.syncOperations.addHandler(self, position: .after(handler))
            let removed = context.eventLoop.makePromise(of: Void.self)
            context.pipeline.syncOperations.removeHandler(context: context, promise: removed)
            removed.futureResult.assumeIsolated().whenFailure { _ in self.abort() }
        } catch {
            server.close()
            context.close(promise: nil)
            return
        }
        start(clientBytes: clientBytes, serverBytes: serverBytes, clientFinished: clientFinished)
    }

    /// What a stream does when its tunnel ends: give its place on the server back, and log
    /// one line (with the stream's phase ended by the tunnel's cause, its total time and the
    /// bytes the server sent) when `log` is given.
    static func onEnd(releasing dispatch: Dispatch, log record: AccessLogRecord?, phase: StreamPhase, start: NIODeadline,
                      loop: LoopState, frontend: RuntimeFrontend, http: Bool, tls: Bool) -> (Tunnel, TerminationCause) -> Void {
        var dispatch = dispatch
        return { tunnel, cause in
            dispatch.release()
            guard var record else { return }
            var phase = phase
            phase.end(cause)
            record.termination = phase.terminationFlags
            record.bytesOut += tunnel.bytesFromServer
            record.ta = millisecondsBetween(start, .now())
            loop.writeAccessLog(record, frontend: frontend, backend: dispatch.backend, server: dispatch.server, http: http, tls: tls)
        }
    }

    /// How long a tunnel may be idle: `timeout tunnel` when set; else HAProxy applies the
    /// client and server timeouts, each re-armed by traffic, so an idle tunnel ends at the
    /// shorter of the two.
    static func idleLimit(tunnel: ConfigDuration?, client: ConfigDuration?, server: ConfigDuration?) -> TimeAmount? {
        if let tunnel { return .nanoseconds(tunnel.nanoseconds) }
        return [client, server].compactMap { $0?.nanoseconds }.min().map { .nanoseconds($0) }
    }
}
