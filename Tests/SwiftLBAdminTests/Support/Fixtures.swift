import SwiftLBAdmin

/// A snapshot with every kind of row and state the renderers distinguish: an HTTP frontend
/// with TLS and tunnels, a backend with an UP server checked at layer 7, a DOWN one failing
/// at layer 4, a draining one, one in maintenance, one unchecked and a backup; a TCP `listen`
/// proxy (no HTTP columns); and a MASTER VIP. The numbers are distinct so a test that finds
/// one knows where it came from.
enum Fixtures {
    static let takenAt = 1_800_000_000.0

    static func histogram(_ millis: [Double]) -> LatencyHistogram {
        var h = LatencyHistogram()
        for ms in millis { h.record(nanoseconds: UInt64(ms * 1_000_000)) }
        return h
    }

    static func snapshot() -> StatsSnapshot {
        var process = ProcessStats(version: "0.1.0", pid: 4242, nbthread: 2, uptime: 3723, startTime: 1_799_996_277, maxconn: 4096)
        process.node = "lb1"
        process.releaseDate = "2026/11/01"
        process.ulimitN = 8292
        process.maxsock = 8292
        process.currentConnections = 7
        process.cumulativeConnections = 1234
        process.cumulativeRequests = 5678
        process.connectionRate = 12
        process.connectionRateMax = 40
        process.sessionRate = 11
        process.sessionRateMax = 39
        process.listeners = 3
        process.jobs = 10

        var fe = TrafficCounters()
        fe.scur = 7
        fe.smax = 31
        fe.stot = 1201
        fe.bytesIn = 987_654
        fe.bytesOut = 12_345_678
        fe.deniedRequests = 3
        fe.requestErrors = 5
        fe.sessionRate = 11
        fe.sessionRateMax = 39
        fe.requestRate = 17
        fe.requestRateMax = 55
        fe.requestsTotal = 5678
        fe.connectionRate = 12
        fe.connectionRateMax = 40
        fe.connectionsTotal = 1234
        fe.intercepted = 9
        fe.responses.r1xx = 4
        fe.responses.r2xx = 5400
        fe.responses.r3xx = 100
        fe.responses.r4xx = 150
        fe.responses.r5xx = 20
        fe.responses.other = 4
        fe.tls = TLSCounters()
        fe.tls.handshakes = 800
        fe.tls.resumed = 300
        fe.tls.failures = 6
        fe.h1.totalConnections = 1234
        fe.h1.totalStreams = 5678
        fe.tunnels.current = 2
        fe.tunnels.total = 21
        fe.tunnels.bytesIn = 4096
        fe.tunnels.bytesOut = 8192
        fe.latency = histogram([0.2, 0.4, 0.9, 1.5, 3, 7, 12, 40, 120, 900])

        var node1 = ServerStats(name: "node1", sid: 1, address: "127.0.0.1", port: 8081, weight: 100,
                                check: CheckStats(status: .l7ok, code: 200, durationMs: 3, lastDescription: "HTTP status check returned code <200>",
                                                  lastCheckAge: 2, rise: 2, fall: 3, health: 4))
        node1.cookie = "n1"
        node1.lastChange = 3600
        node1.upTransitions = 1
        node1.counters.scur = 3
        node1.counters.smax = 12
        node1.counters.stot = 700
        node1.counters.bytesIn = 500_000
        node1.counters.bytesOut = 7_000_000
        node1.counters.loadBalanced = 690
        node1.counters.requestsTotal = 3100
        node1.counters.responses.r2xx = 3000
        node1.counters.responses.r5xx = 11
        node1.counters.connectAttempts = 120
        node1.counters.connectionReuses = 2980
        node1.counters.lastSession = 1
        node1.counters.timings.connectAverage = 1
        node1.counters.timings.responseAverage = 4
        node1.counters.timings.totalAverage = 6
        node1.counters.timings.totalMax = 950
        node1.counters.latency = histogram([0.3, 0.8, 2, 4, 9])
        node1.counters.connectLatency = histogram([0.1, 0.2])
        node1.idleConnections = 4
        node1.usedConnections = 3

        var node2 = ServerStats(name: "node2", sid: 2, address: "127.0.0.1", port: 8082, operational: .stopped, weight: 100,
                                check: CheckStats(status: .l4connect, durationMs: 0, lastDescription: "Connection refused, \"port 8082\"",
                                                  lastCheckAge: 1, rise: 2, fall: 3, health: 0))
        node2.cookie = "n2"
        node2.lastChange = 95
        node2.downTransitions = 2
        node2.upTransitions = 1
        node2.downtime = 130
        node2.failedChecks = 9
        node2.counters.connectionErrors = 4
        node2.counters.retries = 6
        node2.counters.redispatches = 2

        var node3 = ServerStats(name: "node3", sid: 3, address: "::1", port: 8083, admin: .drain, weight: 50,
                                check: CheckStats(status: .l7ok, code: 200, durationMs: 2, lastCheckAge: 0, rise: 2, fall: 3, health: 4))
        node3.lastChange = 12
        node3.maxconn = 100
        node3.maxqueue = 10
        node3.counters.scur = 1

        var node4 = ServerStats(name: "node4", sid: 4, address: "127.0.0.1", port: 8084, operational: .stopped, admin: .maint, weight: 100,
                                check: CheckStats(status: .l4connect, lastDescription: "Connection refused", rise: 2, fall: 3, health: 0))
        node4.maintFromConfig = true
        var node5 = ServerStats(name: "node5", sid: 5, address: "127.0.0.1", port: 8085, weight: 10)
        node5.lastChange = 3700
        var spare = ServerStats(name: "spare", sid: 6, address: "127.0.0.1", port: 8086, weight: 1,
                                check: CheckStats(status: .l4ok, durationMs: 0, lastCheckAge: 1, rise: 2, fall: 3, health: 4))
        spare.backup = true

        var be = BackendStats(servers: [node1, node2, node3, node4, node5, spare], fullconn: 410, algorithm: "roundrobin", cookieName: "SERVERID")
        be.lastChange = 3700
        be.counters.scur = 4
        be.counters.smax = 14
        be.counters.stot = 1150
        be.counters.bytesIn = 950_000
        be.counters.bytesOut = 11_000_000
        be.counters.loadBalanced = 1100
        be.counters.requestsTotal = 5500
        be.counters.responses.r2xx = 5300
        be.counters.responses.r5xx = 19
        be.counters.connectionErrors = 4
        be.counters.retries = 6
        be.counters.redispatches = 2
        be.counters.lastSession = 1
        be.counters.timings.totalAverage = 7
        be.counters.latency = histogram([0.3, 0.8, 2, 4, 9, 30])
        be.counters.tunnels.current = 2
        be.counters.tunnels.total = 21

        var tcp = TrafficCounters()
        tcp.scur = 1
        tcp.stot = 44
        var redis = ServerStats(name: "r1", sid: 1, address: "127.0.0.1", port: 6379, weight: 1,
                                check: CheckStats(status: .l7ok, durationMs: 1, lastCheckAge: 3, rise: 1, fall: 1, health: 1))
        redis.counters.stot = 44

        var vip = VIPStats(instance: "hipchat_vip", state: .master, priority: 150, configuredPriority: 150, addresses: ["192.0.2.10/24"])
        vip.peer = "192.0.2.12"
        vip.peerPriority = 100
        vip.peerLastHeard = 0.08
        vip.lastTransition = VIPStats.Transition(from: .backup, to: .master, reason: "peer's heartbeats stopped (3 missed)", at: takenAt - 125)
        vip.transitions = 3
        vip.heartbeatDrops = ["bad-hmac": 4, "replay": 1]

        return StatsSnapshot(
            process: process,
            proxies: [
                ProxyStats(name: "fe", iid: 2, frontend: FrontendStats(sessionLimit: 4096, counters: fe)),
                ProxyStats(name: "nodes", iid: 3, backend: be),
                ProxyStats(name: "redis", iid: 4, mode: .tcp, frontend: FrontendStats(sessionLimit: 100, counters: tcp),
                           backend: BackendStats(servers: [redis], fullconn: 10, algorithm: "leastconn", counters: tcp)),
            ],
            vip: vip,
            takenAt: takenAt)
    }
}
