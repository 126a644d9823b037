import NIOCore
import NIOPosix

/// Everything one event loop owns on the data path: its idle upstream connections, its
/// access-log buffer and its open client channels. Because a client
/// channel and its upstream channel live on the same loop, none of this needs a lock.
final class LoopState {
    let eventLoop: any EventLoop
    let runtime: ProxyRuntime
    let log: AccessLogWriter
    /// Idle keep-alive connections per server id, most recently used last (LIFO keeps few
    /// connections warm and lets the rest time out on the server side).
    private var idle: [Int: [UpstreamHandler]] = [:]
    /// Open client connections: swept for timeouts, quiesced on graceful stop.
    var clients: [ObjectIdentifier: HTTPProxyHandler] = [:]
    private var sweeper: RepeatedTask?
    static let sweepInterval = TimeAmount.milliseconds(100)
    static let maxIdlePerServer = 256
    /// An idle server connection unused this long is closed (HAProxy's `pool-purge-delay`,
    /// 5 s by default): a burst must not leave hundreds of sockets open on both sides.
    static let poolPurgeDelay = TimeAmount.seconds(5)

    init(eventLoop: any EventLoop, runtime: ProxyRuntime, logFD: Int32) {
        self.eventLoop = eventLoop
        self.runtime = runtime
        self.log = AccessLogWriter(fd: logFD, eventLoop: eventLoop)
    }

    /// Starts the timeout sweep of this loop's client connections.
    func startSweeping() {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        sweeper = eventLoop.scheduleRepeatedTask(initialDelay: Self.sweepInterval, delay: Self.sweepInterval) { _ in
            bound.value.sweep()
        }
    }

    func stopSweeping() {
        sweeper?.cancel()
        sweeper = nil
    }

    private func sweep() {
        let now = NIODeadline.now()
        // A handler may close (and unregister) during the sweep; iterate over a snapshot.
        for handler in Array(clients.values) { handler.checkTimeouts(now: now) }
        purgeIdle(now: now)
    }

    /// Closes pooled connections idle for longer than `poolPurgeDelay` (oldest are first).
    private func purgeIdle(now: NIODeadline) {
        let limit = now - Self.poolPurgeDelay
        for (id, handlers) in idle where handlers.first.map({ $0.parkedAt < limit }) ?? false {
            let stale = handlers.prefix { $0.parkedAt < limit }
            idle[id] = Array(handlers.dropFirst(stale.count))
            for handler in stale { handler.close() }
        }
    }

    /// An idle connection to `server` that is still open, or nil.
    func takeIdle(_ server: RuntimeServer) -> UpstreamHandler? {
        while let handler = idle[server.id]?.popLast() {
            if handler.isReusable { return handler }
        }
        return nil
    }

    func putIdle(_ handler: UpstreamHandler, server: RuntimeServer) {
        guard handler.isReusable, (idle[server.id]?.count ?? 0) < Self.maxIdlePerServer else {
            handler.close()
            return
        }
        idle[server.id, default: []].append(handler)
        handler.parkedInPool = true
        handler.parkedAt = .now()
    }

    /// Called by an idle connection the server closed, so it is not handed out again.
    func removeIdle(_ handler: UpstreamHandler, serverID: Int) {
        idle[serverID]?.removeAll { $0 === handler }
    }

    func closeAllIdle() {
        for handlers in idle.values { for h in handlers { h.close() } }
        idle.removeAll()
    }
}

/// The per-loop states, looked up by a channel's event loop. Built once before any channel
/// exists and never mutated afterwards, so reading it from any thread is safe.
final class LoopStates: @unchecked Sendable {
    private let states: [ObjectIdentifier: LoopState]

    init(group: MultiThreadedEventLoopGroup, runtime: ProxyRuntime, logFD: Int32) {
        var states: [ObjectIdentifier: LoopState] = [:]
        for loop in group.makeIterator() {
            states[ObjectIdentifier(loop)] = LoopState(eventLoop: loop, runtime: runtime, logFD: logFD)
        }
        self.states = states
    }

    /// The state of `loop`; must be called on that loop.
    func state(for loop: any EventLoop) -> LoopState {
        loop.preconditionInEventLoop()
        return states[ObjectIdentifier(loop)]!
    }

    var all: [LoopState] { Array(states.values) }
}
