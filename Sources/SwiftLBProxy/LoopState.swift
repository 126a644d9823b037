import NIOCore
import NIOPosix
import SwiftLBLog

/// Everything one event loop owns on the data path: its idle upstream connections, its
/// access-log buffer and its open client channels. Because a client
/// channel and its upstream channel live on the same loop, none of this needs a lock.
final class LoopState {
    let eventLoop: any EventLoop
    /// The configuration in force (a reload swaps what it holds).
    let holder: RuntimeHolder
    /// The runtime API, for the stats page served on a frontend.
    let admin: AdminLink
    let log: AccessLogWriter
    /// Per frontend (by counter id) with a log plan: its syslog sink, made on first use and
    /// made again when a reload changes its targets.
    private var sinks: [Int: LogSink] = [:]
    /// Per backend (by counter id) with `log` targets: the sink of its check lines.
    private var checkSinks: [Int: LogSink] = [:]
    /// Idle keep-alive connections per server id, most recently used last (LIFO keeps few
    /// connections warm and lets the rest time out on the server side).
    private var idle: [[ServerConnection]] = []
    /// What this loop has done (read by the stats page and metrics, on this loop).
    var counters = LoopCounters()
    /// Per frontend, backend and server (see `LoopStats`).
    var stats = LoopStats()
    /// Open client connections: swept for timeouts, quiesced on graceful stop.
    var clients: [ObjectIdentifier: any ClientConnection] = [:]
    private var sweeper: RepeatedTask?
    static let sweepInterval = TimeAmount.milliseconds(100)
    /// Connections parked in `idle`, all servers together (the pool's share of the descriptors).
    private var idleCount = 0
    /// Per server id, its leased connections now and at peak: the pool keeps no more than was
    /// needed (HAProxy counts them per server too).
    private var demands: [PoolDemand] = []
    private var demandPeriodEnds = NIODeadline.uptimeNanoseconds(0)
    /// Event loops of the process: each keeps its own pool, so the descriptor budget below is
    /// shared between them.
    var loopCount = 1
    /// An idle server connection unused this long is closed (HAProxy's `pool-purge-delay`,
    /// 5 s by default): a burst must not leave hundreds of sockets open on both sides.
    static let poolPurgeDelay = TimeAmount.seconds(5)

    /// The process's client connections (`global maxconn`), for the log's `%ac`.
    let connections: ProcessConnectionCount?

    init(eventLoop: any EventLoop, holder: RuntimeHolder, logFD: Int32, admin: AdminLink = AdminLink(), connections: ProcessConnectionCount? = nil) {
        self.connections = connections
        self.eventLoop = eventLoop
        self.holder = holder
        self.admin = admin
        self.log = AccessLogWriter(fd: logFD, eventLoop: eventLoop)
    }

    func logSink(for frontend: RuntimeFrontend, plan: LogPlan) -> LogSink {
        Self.sink(in: &sinks, id: frontend.counterID, targets: plan.targets, identity: plan.identity, eventLoop: eventLoop)
    }

    /// The sink of a backend's `log` targets, for its servers' check lines (a listen section's
    /// frontend and backend may share a counter id, hence a map of their own).
    func checkLogSink(for backend: RuntimeBackend) -> LogSink {
        Self.sink(in: &checkSinks, id: backend.counterID, targets: backend.logTargets, identity: backend.logIdentity, eventLoop: eventLoop)
    }

    private static func sink(in sinks: inout [Int: LogSink], id: Int, targets: [SwiftLBLog.LogTarget], identity: SyslogIdentity,
                             eventLoop: any EventLoop) -> LogSink {
        if let sink = sinks[id], sink.targets == targets, sink.identity == identity { return sink }
        sinks[id]?.close()
        let sink = LogSink(targets: targets, eventLoop: eventLoop, identity: identity)
        sinks[id] = sink
        return sink
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

    /// The time of the last sweep: activity stamps need no better than the sweep's 100 ms, and
    /// reading it costs nothing per request (a clock read per event adds up on keep-alive
    /// traffic). Timers that are logged use the real clock.
    private(set) var coarseNow = NIODeadline.now()

    private func sweep() {
        let now = NIODeadline.now()
        coarseNow = now
        // A handler may close (and unregister) during the sweep; iterate over a snapshot.
        for handler in Array(clients.values) { handler.checkTimeouts(now: now) }
        purgeIdle(now: now)
        purgeH2Sessions()
        if now >= demandPeriodEnds {
            for demand in demands { demand.startPeriod() }
            demandPeriodEnds = now + Self.poolPurgeDelay
        }
    }

    /// Closes pooled connections idle for longer than `poolPurgeDelay` (oldest are first).
    private func purgeIdle(now: NIODeadline) {
        let limit = now - Self.poolPurgeDelay
        for id in idle.indices where idle[id].first.map({ $0.parkedAt < limit }) ?? false {
            let stale = idle[id].prefix { $0.parkedAt < limit }
            idle[id].removeFirst(stale.count)
            idleCount -= stale.count
            for connection in stale { connection.close() }
        }
    }

    /// An idle connection to `server` that is still open, or nil. (Connections the server
    /// closed while parked are skipped here and dropped by the purge.) `provenOnly`: one that
    /// has carried two requests or more (`http-reuse aggressive`).
    /// `name`: the SNI the request needs (`sni EXPRESSION`: only a connection made with it).
    func takeIdle(_ server: RuntimeServer, provenOnly: Bool = false, name: ServerName? = nil) -> ServerConnection? {
        guard server.id < idle.count else { return nil }
        if let name, name.keyed {
            guard let at = idle[server.id].lastIndex(where: { $0.serverName.serves(name) && (!provenOnly || $0.wasReused) && $0.isOpen }) else { return nil }
            idleCount -= 1
            return idle[server.id].remove(at: at)
        }
        if provenOnly {
            guard let at = idle[server.id].lastIndex(where: { $0.wasReused && $0.isOpen }) else { return nil }
            idleCount -= 1
            return idle[server.id].remove(at: at)
        }
        while let connection = idle[server.id].popLast() {
            idleCount -= 1
            if connection.isOpen { return connection }
        }
        return nil
    }

    /// `proto h2`: per server id, the HTTP/2 connections this loop's exchanges open streams on,
    /// oldest first. More than one when the server's SETTINGS_MAX_CONCURRENT_STREAMS filled one;
    /// an extra one left without streams closes after `poolPurgeDelay` (`H2ServerSession`).
    private var h2Sessions: [Int: [H2ServerSession]] = [:]

    /// A shared HTTP/2 connection to `server` with a stream slot free, or nil (dial one). The
    /// oldest is preferred, so that extra connections empty and close.
    /// (`hasFreeStream` implies usable; the sweep drops the unusable ones every 100 ms, so a
    /// lookup scans no more than the live list.)
    func h2Session(_ server: RuntimeServer, name: ServerName? = nil) -> H2ServerSession? {
        guard let name, name.keyed else { return h2Sessions[server.id]?.first { $0.hasFreeStream } }
        return h2Sessions[server.id]?.first { $0.hasFreeStream && $0.serverName.serves(name) }
    }

    func shareH2Session(_ session: H2ServerSession, for server: RuntimeServer) {
        if h2Sessions[server.id]?.contains(where: { $0 === session }) == true { return }
        h2Sessions[server.id, default: []].append(session)
    }

    /// Drops the HTTP/2 connections that closed (idle, GOAWAY, error) from the table.
    private func purgeH2Sessions() {
        for index in h2Sessions.indices { h2Sessions.values[index].removeAll { !$0.isUsable } }
    }

    /// Parks a connection whose exchange completed cleanly, as HAProxy's `srv_add_to_idle_list`
    /// does: not past the server's `pool-max-conn` (unlimited by default, HAProxy's -1), not
    /// past what the loop's streams needed lately (`PoolDemand`), and only while the
    /// descriptors in use stay under `tune.pool-high-fd-ratio` (25 %) of the process's budget —
    /// HAProxy's maxsock is about twice `maxconn`, so half of `maxconn`. A fixed cap of 256 per
    /// server closed and re-dialled a connection for one request in fourteen when a thousand
    /// clients shared three servers. Otherwise it is closed.
    func putIdle(_ connection: ServerConnection) {
        let id = connection.server.id
        if id >= idle.count { idle.append(contentsOf: repeatElement([], count: id - idle.count + 1)) }
        // Counted on the server's demand: connections the server closed while parked are still
        // in the list (until taken or purged) but no longer count.
        let demand = demand(for: connection.server)
        let roomOnServer = connection.server.parameters.poolMaxConn.map { $0 < 0 || demand.parked < $0 } ?? true
        guard connection.isOpen, roomOnServer, descriptorsAllowParking, demand.allowsParking,
              connection.server.parameters.sendProxy == nil,
              !connection.server.parameters.portFromClient else {
            connection.close()
            return
        }
        connection.park()
        idle[id].append(connection)
        idleCount += 1
    }

    /// The count of `server`'s leased connections on this loop, for a connection to it to keep.
    func demand(for server: RuntimeServer) -> PoolDemand {
        let id = server.id
        if id >= demands.count { demands.append(contentsOf: (demands.count...id).map { _ in PoolDemand() }) }
        return demands[id]
    }

    /// HAProxy's `pool_high_count`: clients plus pooled connections (this loop's pool stands for
    /// every loop's) under half of `global maxconn`.
    private var descriptorsAllowParking: Bool {
        let budget = (connections?.limit ?? Self.defaultDescriptorBudget) / 2
        let clients = connections?.count.load(ordering: .relaxed) ?? 0
        return clients + (idleCount + 1) * loopCount <= budget
    }
    static let defaultDescriptorBudget = 4096

    /// Ends this loop's tunnels and TCP sessions on the servers in `ids` (their server was
    /// marked DOWN, or they are backups and a primary came back), and drops its pooled
    /// connections to them.
    func shutDownSessions(onServers ids: Set<Int>) {
        for client in Array(clients.values) {
            if let tunnel = client as? Tunnel, ids.contains(tunnel.serverID) { tunnel.shutDown() }
        }
        for id in ids where id < idle.count {
            for connection in idle[id] { connection.close() }
            idleCount -= idle[id].count
            idle[id].removeAll()
        }
    }

    func closeAllIdle() {
        for connections in idle { for c in connections { c.close() } }
        idle.removeAll()
        idleCount = 0
    }
}

/// The per-loop states, looked up by a channel's event loop. Built once before any channel
/// exists and never mutated afterwards, so reading it from any thread is safe.
final class LoopStates: @unchecked Sendable {
    private let states: [ObjectIdentifier: LoopState]

    init(group: MultiThreadedEventLoopGroup, holder: RuntimeHolder, logFD: Int32, admin: AdminLink, connections: ProcessConnectionCount? = nil) {
        var states: [ObjectIdentifier: LoopState] = [:]
        for loop in group.makeIterator() {
            states[ObjectIdentifier(loop)] = LoopState(eventLoop: loop, holder: holder, logFD: logFD, admin: admin, connections: connections)
        }
        for state in states.values { state.loopCount = states.count }
        self.states = states
    }

    /// The state of `loop`; must be called on that loop.
    func state(for loop: any EventLoop) -> LoopState {
        loop.preconditionInEventLoop()
        return states[ObjectIdentifier(loop)]!
    }

    var all: [LoopState] { Array(states.values) }
}

/// Counters of one event loop: plain integers, written only on their loop (no atomics on the
/// data path); readers sum them across loops by submitting to each loop.
struct LoopCounters {
    var tunnelsOpen = 0
    var tunnelsTotal = 0
    /// Bytes through tunnels, client → server and server → client.
    var tunnelBytesIn = 0
    var tunnelBytesOut = 0
}
