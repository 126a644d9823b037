import FoundationEssentials
import Glibc
import NIOCore
import SwiftLBAdmin
import SwiftLBConfig
import SwiftLBHealth
import SwiftLBTLS

extension ProxyServer {
    /// Every loop's counters and every server's state now, as the admin module's model (the
    /// stats page, `show stat`, `show info`, /metrics). Each loop's arrays are read on that
    /// loop, then added up; nothing on the data path waits.
    /// `ulimitN`: the descriptor limit the executable set for the file (`Ulimit-n`).
    /// `stoppedServers`: list the servers of `disabled` backends too (only `show servers state`
    /// and the runtime API's server lookups read them).
    public func statsSnapshot(version: String, startedAt: Date, ulimitN: Int = 0, vip: VIPStats? = nil,
                              stoppedServers: Bool = false) async -> StatsSnapshot {
        var perLoop: [(LoopStats, LoopCounters, Int)] = []
        for state in loops.all {
            if let copy = try? await state.eventLoop.submit({ (state.stats, state.counters, state.clients.count) }).get() {
                perLoop.append(copy)
            }
        }
        let now = NIODeadline.now().uptimeNanoseconds
        func merged(_ pick: (LoopStats) -> [TrafficCounters], _ id: Int) -> TrafficCounters {
            var total = TrafficCounters()
            for (stats, _, _) in perLoop {
                let array = pick(stats)
                guard id < array.count else { continue }
                total.add(array[id])
            }
            return total
        }
        func rate(_ pick: (LoopStats) -> [RateCounter], _ id: Int) -> Int {
            var counter = RateCounter()
            for (stats, _, _) in perLoop where id < pick(stats).count { counter.merge(pick(stats)[id], atNanoseconds: now) }
            return counter.rate(atNanoseconds: now)
        }
        let runtime = self.runtime
        let global = runtime.configuration.global
        var process = ProcessStats(version: version, pid: Int(getpid()), nbthread: loops.all.count,
                                   uptime: Int(Date().timeIntervalSince(startedAt)), startTime: Int(startedAt.timeIntervalSince1970),
                                   maxconn: global.maxconn)
        process.maxsock = global.maxsock
        process.ulimitN = ulimitN
        process.node = global.node ?? hostName
        process.description = global.description ?? ""
        process.currentConnections = perLoop.reduce(0) { $0 + $1.2 }
        process.listeners = boundAddresses.count
        process.sslFrontendSessionReusePercent = TLSHandshakeCounters.frontendSessionReusePercent
        var proxies: [ProxyStats] = []
        let ids = runtime.configuration.proxyIDs
        var next = (ids.values.max() ?? 0) + 1  // a proxy the file did not declare (none today)
        func id(_ name: String) -> Int {
            if let known = ids[name] { return known }
            defer { next += 1 }
            return next
        }
        let backendsByName = Dictionary(runtime.backends.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var shown = Set<String>()
        for frontend in runtime.frontends {
            var counters = merged(\.frontends, frontend.counterID)
            counters.requestRate = rate(\.frontendRates, frontend.counterID)
            // A frontend's sessions: its connections that finished their handshakes and passed its
            // session rules (HAProxy's cum_sess against cum_conn).
            counters.stot = counters.sessionsBegun
            process.cumulativeConnections += counters.connectionsTotal
            process.cumulativeRequests += counters.requestsTotal
            let limit = min(frontend.config.options.maxconn ?? global.maxconn, global.maxconn)
            var proxy = ProxyStats(name: frontend.name, iid: id(frontend.name), mode: frontend.config.options.mode == .tcp ? .tcp : .http,
                                   frontend: FrontendStats(status: counters.scur >= limit ? .full : .open, sessionLimit: limit, counters: counters))
            proxy.forcedID = frontend.config.explicitID != nil
            if let backend = backendsByName[frontend.name] {
                proxy.backend = backendStats(backend, merged: merged, rate: rate)
                shown.insert(backend.name)
            }
            proxies.append(proxy)
        }
        var stopped: [ProxyStats] = []
        for backend in runtime.backends where !shown.contains(backend.name) {
            var proxy = ProxyStats(name: backend.name, iid: id(backend.name), mode: backend.config.options.mode == .tcp ? .tcp : .http,
                                   backend: backendStats(backend, merged: merged, rate: rate))
            proxy.forcedID = backend.config.explicitID != nil
            // A stopped (`disabled`) proxy is not in HAProxy's stats either.
            if backend.config.options.disabled {
                proxy.backend?.servers = stoppedServers ? Self.stoppedServers(backend.config) : []
                stopped.append(proxy)
            } else {
                proxies.append(proxy)
            }
        }
        var snapshot = StatsSnapshot(process: process, proxies: proxies, vip: vip, takenAt: Date().timeIntervalSince1970)
        snapshot.stoppedProxies = stopped
        return snapshot
    }

    private func backendStats(_ backend: RuntimeBackend, merged: ((LoopStats) -> [TrafficCounters], Int) -> TrafficCounters,
                              rate: ((LoopStats) -> [RateCounter], Int) -> Int) -> BackendStats {
        let servers = backend.servers.map { server -> ServerStats in
            var counters = merged(\.servers, server.id)
            counters.scur = server.active.load(ordering: .relaxed)
            counters.smax = server.mostActive.load(ordering: .relaxed)
            counters.qcur = server.queued.load(ordering: .relaxed)
            // HAProxy stops a server it puts in maintenance (srv_op_state 0 until it leaves it).
            let operational: ServerStats.OperationalState = switch server.health.admin == .maint ? .down : server.health.state {
            case .up: .running
            case .stopping: .stopping
            case .down: .stopped
            }
            let admin: ServerStats.AdminState = switch server.health.admin {
            case .ready: .ready
            case .drain: .drain
            case .maint: .maint
            }
            var stats = ServerStats(name: server.name, sid: server.sid, address: server.address.isUnixDomain ? "unix" : server.address.ipAddress ?? "-",
                                    port: server.address.port ?? 0, operational: operational, admin: admin, weight: server.weight,
                                    check: nil, counters: counters)
            stats.initialWeight = server.parameters.weight
            stats.forcedID = server.parameters.id != nil
            stats.maxqueue = server.parameters.maxQueue ?? 0
            stats.rise = server.parameters.rise
            Self.fillHealth(&stats, from: server)
            stats.backup = server.backup
            stats.cookie = server.cookie
            stats.useTLS = server.tls != nil
            stats.maxconn = server.health.maxconn ?? 0
            if server.parameters.agent.enabled {
                stats.agent = .init(address: server.parameters.agent.address ?? server.address.ipAddress ?? "-", port: server.parameters.agent.port ?? 0)
            }
            stats.maintFromConfig = server.parameters.disabled
            return stats
        }
        var counters = merged(\.backends, backend.counterID)
        counters.requestRate = rate(\.backendRates, backend.counterID)
        counters.scur = backend.active.load(ordering: .relaxed)
        counters.smax = backend.mostActive.load(ordering: .relaxed)
        counters.qcur = backend.queue?.count ?? 0
        counters.qmax = backend.queue?.longest ?? 0
        let algorithm = backend.config.options.balance.name
        return BackendStats(servers: servers, fullconn: backend.config.options.fullconn ?? 0, algorithm: algorithm, cookieName: backend.cookie?.name, counters: counters)
    }
}

extension ProxyServer {
    /// The servers of a stopped backend as its lines set them (the runtime has none: see
    /// `Runtime`): never checked, up unless `disabled`, as HAProxy leaves a stopped proxy's.
    /// Nothing is resolved (HAProxy does not resolve a stopped proxy's servers either): an IP
    /// literal is shown as written, a host name as srv_fqdn with no address.
    static func stoppedServers(_ backend: Backend) -> [ServerStats] {
        backend.servers.map { server in
            let literal = server.unixPath == nil && (try? SocketAddress(ipAddress: server.host, port: 0)) != nil
            var stats = ServerStats(name: server.name, sid: 0, address: server.unixPath != nil ? "unix" : literal ? server.host : "",
                                    port: server.port, operational: server.parameters.disabled ? .stopped : .running,
                                    admin: server.parameters.disabled ? .maint : .ready, weight: server.parameters.weight)
            if server.unixPath == nil && !literal { stats.fqdn = server.host }
            stats.initialWeight = server.parameters.weight
            stats.forcedID = server.parameters.id != nil
            stats.rise = server.parameters.rise
            stats.useTLS = server.parameters.tls != nil
            stats.maintFromConfig = server.parameters.disabled
            return stats
        }
    }

    /// The server's live check state and UP/DOWN history, as HAProxy's stats show them. A
    /// server without `check` keeps `check` nil ("no check").
    static func fillHealth(_ stats: inout ServerStats, from server: RuntimeServer) {
        let history = server.health.checkHistory
        let now = CheckHistory.now()
        let seconds = { (ns: UInt64) in Int(ns / 1_000_000_000) }
        stats.lastChange = seconds(now &- history.lastChange)
        stats.downTransitions = history.downTransitions
        stats.upTransitions = history.upTransitions
        stats.downtime = seconds(history.downtime(now: now))
        stats.failedChecks = history.failedChecks
        let p = server.parameters
        guard p.check && !p.disabled else { return }
        // HAProxy's health level: rise+fall-1 when fully UP, minus the failures since; while
        // DOWN, the successes so far (below rise).
        let health = server.health.isUp ? p.rise + p.fall - 1 - min(history.consecutiveFailures, p.fall - 1)
                                        : min(history.consecutiveSuccesses, p.rise - 1)
        guard let last = history.last else {
            // Not checked yet: HAProxy starts an UP server's health at rise (one failure from DOWN).
            stats.check = CheckStats(status: .initializing, rise: p.rise, fall: p.fall, health: server.health.isUp ? p.rise : health)
            return
        }
        stats.check = CheckStats(status: CheckStats.Status(last.kind), code: last.code,
                                 durationMs: Int(history.durationNanoseconds / 1_000_000), lastDescription: last.text,
                                 lastCheckAge: seconds(now &- history.finishedAt), rise: p.rise, fall: p.fall, health: health)
    }
}

extension CheckStats.Status {
    /// SwiftLBHealth's classification in HAProxy's status codes.
    init(_ kind: CheckKind) {
        self = switch kind {
        case .l4ok: .l4ok
        case .l6ok: .l6ok
        case .l7ok: .l7ok
        case .l7okConditional: .l7okConditional
        case .l4timeout: .l4timeout
        case .l4connect: .l4connect
        case .l6timeout: .l6timeout
        case .l6response: .l6response
        case .l7timeout: .l7timeout
        case .l7response: .l7response
        case .l7status: .l7status
        case .liveTraffic: .health
        case .socketError: .socketError
        }
    }
}

extension TrafficCounters {
    /// Adds another loop's counters (maxima take the larger, histograms merge).
    mutating func add(_ o: TrafficCounters) {
        // Each loop's maximum is its own: the merged one is the largest of them (a sum would
        // claim peaks no loop saw).
        qcur += o.qcur; qmax = max(qmax, o.qmax)
        scur += o.scur; smax = max(smax, o.smax); stot += o.stot
        sessionRateMax = max(sessionRateMax, o.sessionRateMax)
        requestRateMax = max(requestRateMax, o.requestRateMax)
        connectionRateMax = max(connectionRateMax, o.connectionRateMax)
        bytesIn += o.bytesIn; bytesOut += o.bytesOut
        deniedRequests += o.deniedRequests; deniedResponses += o.deniedResponses
        requestErrors += o.requestErrors; connectionErrors += o.connectionErrors; responseErrors += o.responseErrors
        retries += o.retries; redispatches += o.redispatches
        failedRewrites += o.failedRewrites; internalErrors += o.internalErrors
        connectAttempts += o.connectAttempts; connectionReuses += o.connectionReuses
        loadBalanced += o.loadBalanced
        requestsTotal += o.requestsTotal
        connectionsTotal += o.connectionsTotal
        intercepted += o.intercepted
        deniedConnections += o.deniedConnections; deniedSessions += o.deniedSessions
        sessionsBegun += o.sessionsBegun
        clientAborts += o.clientAborts; serverAborts += o.serverAborts
        responses.r1xx += o.responses.r1xx; responses.r2xx += o.responses.r2xx; responses.r3xx += o.responses.r3xx
        responses.r4xx += o.responses.r4xx; responses.r5xx += o.responses.r5xx; responses.other += o.responses.other
        tunnels.current += o.tunnels.current; tunnels.total += o.tunnels.total
        tunnels.bytesIn += o.tunnels.bytesIn; tunnels.bytesOut += o.tunnels.bytesOut
        compression.bytesIn += o.compression.bytesIn; compression.bytesOut += o.compression.bytesOut
        compression.bypassed += o.compression.bypassed; compression.responses += o.compression.responses
        if let l = o.latency { latency = latency.map { var m = $0; m.merge(l); return m } ?? l }
        if let l = o.connectLatency { connectLatency = connectLatency.map { var m = $0; m.merge(l); return m } ?? l }
    }
}

/// HAProxy's default `node`: the host name (the stats page's, `http-check send-state`'s).
let hostName: String = {
    var name = [CChar](repeating: 0, count: 256)
    guard gethostname(&name, name.count - 1) == 0 else { return "" }
    return String(cString: name)
}()
