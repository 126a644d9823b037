/// Everything an operator can see about the running process at one instant: what the stats
/// page, `;csv`, `;json`, `/metrics` and the runtime API's `show` commands render. The lead's
/// runtime builds one on demand (merging the per-loop counters); every renderer is a pure
/// function of it, so a page, a scrape and a `show stat` of the same snapshot agree.
///
/// Ages (`lastChange`, `lastSession`, `lastCheckAge`...) are seconds before `takenAt`, computed
/// when the snapshot is taken, so rendering needs no clock.
public struct StatsSnapshot: Sendable, Equatable {
    public var process: ProcessStats
    /// In configuration order (HAProxy's `iid` order): each proxy's FRONTEND row, its servers,
    /// then its BACKEND row.
    public var proxies: [ProxyStats]
    /// Backends stopped by `disabled`: not in the stats (HAProxy leaves them out too), but
    /// `show servers state` lists their servers, as HAProxy's does.
    public var stoppedProxies: [ProxyStats] = []
    /// The floating VIP, when lb.conf has a `vrrp` section.
    public var vip: VIPStats?
    /// Wall-clock time of the snapshot, Unix seconds.
    public var takenAt: Double

    public init(process: ProcessStats, proxies: [ProxyStats] = [], vip: VIPStats? = nil, takenAt: Double) {
        self.process = process
        self.proxies = proxies
        self.vip = vip
        self.takenAt = takenAt
    }

    /// A server by `backend/server`, as the runtime API names it.
    public func server(_ backend: String, _ server: String) -> (ProxyStats, BackendStats, ServerStats)? {
        for proxy in proxies where proxy.name == backend {
            guard let b = proxy.backend, let s = b.servers.first(where: { $0.name == server }) else { continue }
            return (proxy, b, s)
        }
        return nil
    }
}

/// One HAProxy proxy: a `frontend` (frontend only), a `backend` (backend only) or a `listen`
/// section (both, one name, one iid).
public struct ProxyStats: Sendable, Equatable {
    public enum Mode: String, Sendable { case http, tcp }
    public var name: String
    /// HAProxy's proxy id (`iid` column, `be_id` of `show servers state`): 1-based, config order.
    public var iid: Int
    /// The id was written (`id N`): `bk_f_forced_id` of `show servers state`.
    public var forcedID = false
    public var mode: Mode
    public var frontend: FrontendStats?
    public var backend: BackendStats?

    public init(name: String, iid: Int, mode: Mode = .http, frontend: FrontendStats? = nil, backend: BackendStats? = nil) {
        self.name = name
        self.iid = iid
        self.mode = mode
        self.frontend = frontend
        self.backend = backend
    }
}

/// The counters every kind of row shares. A field that does not apply to a kind is ignored by
/// the renderers (HAProxy leaves that CSV cell empty), so the lead fills what it counts and
/// leaves the rest at zero.
public struct TrafficCounters: Sendable, Equatable {
    /// Requests waiting for a server slot now / at most since start.
    public var qcur = 0, qmax = 0
    /// Sessions (client connections for a frontend, requests in flight for backends/servers).
    public var scur = 0, smax = 0, stot = 0
    public var bytesIn = 0, bytesOut = 0
    /// Denied by rules: requests, responses.
    public var deniedRequests = 0, deniedResponses = 0
    /// Invalid requests (frontend), failed connects and bad responses (backend/server).
    public var requestErrors = 0, connectionErrors = 0, responseErrors = 0
    /// Connection retries and redispatches to another server.
    public var retries = 0, redispatches = 0
    public var failedRewrites = 0, internalErrors = 0
    /// Outgoing connection attempts and reuses of pooled connections (backend/server).
    public var connectAttempts = 0, connectionReuses = 0
    /// Times the balancer picked this server / a server of this backend.
    public var loadBalanced = 0
    /// New sessions over the last second and its maximum.
    public var sessionRate = 0, sessionRateMax = 0
    /// HTTP requests over the last second, its maximum, and the total.
    public var requestRate = 0, requestRateMax = 0, requestsTotal = 0
    /// Connections accepted (frontend): over the last second, the maximum, the total.
    public var connectionRate = 0, connectionRateMax = 0, connectionsTotal = 0
    /// Requests answered by SwiftLB itself (stats page, redirects, `monitor-uri`).
    public var intercepted = 0
    /// Denied by `tcp-request connection|session` rules.
    public var deniedConnections = 0, deniedSessions = 0
    /// Sessions begun (frontend): connections whose handshakes (PROXY header, TLS) completed
    /// and that the session rules let in — a frontend's `stot`, HAProxy's cum_sess. A connection
    /// that never finishes its handshakes is in `conn_tot` only. Counted when the session
    /// begins, so it never goes down.
    public var sessionsBegun = 0
    /// Transfers aborted by the client / by the server.
    public var clientAborts = 0, serverAborts = 0
    public var responses = HTTPResponseCounts()
    /// Seconds since the last session on this backend/server; nil: never.
    public var lastSession: Int?
    /// HAProxy's averages over the last 1024 requests and maxima, milliseconds.
    public var timings = Timings()
    public var tls = TLSCounters()
    public var h1 = H1Counters()
    public var tunnels = TunnelCounters()
    /// `comp_in`, `comp_out`, `comp_byp`, `comp_rsp` (frontends and backends).
    public var compression = CompressionCounters()
    /// Total request time (HAProxy's Ta), when the lead measures it: a real histogram.
    public var latency: LatencyHistogram?
    /// Time to establish the server connection (HAProxy's Tc), backends and servers.
    public var connectLatency: LatencyHistogram?

    public init() {}
}

/// HTTP responses by status class, as HAProxy counts them (`hrsp_*`).
public struct HTTPResponseCounts: Sendable, Equatable {
    public var r1xx = 0, r2xx = 0, r3xx = 0, r4xx = 0, r5xx = 0, other = 0
    public init() {}
    /// Counts one response of `status` (the lead's helper; 0 or unknown goes to `other`).
    public mutating func count(status: Int) {
        switch status {
        case 100..<200: r1xx += 1
        case 200..<300: r2xx += 1
        case 300..<400: r3xx += 1
        case 400..<500: r4xx += 1
        case 500..<600: r5xx += 1
        default: other += 1
        }
    }
    public var total: Int { r1xx + r2xx + r3xx + r4xx + r5xx + other }
}

/// HAProxy's `qtime/ctime/rtime/ttime` (averages) and their maxima, in milliseconds.
public struct Timings: Sendable, Equatable {
    public var queueAverage = 0, connectAverage = 0, responseAverage = 0, totalAverage = 0
    public var queueMax = 0, connectMax = 0, responseMax = 0, totalMax = 0
    public init() {}
}

/// The `ssl` stats module's columns plus SwiftLB's handshake counters.
public struct TLSCounters: Sendable, Equatable {
    /// Completed handshakes (HAProxy's `ssl_sess`), of which resumed (`ssl_reused_sess`).
    public var handshakes = 0, resumed = 0
    /// Failed handshakes (`ssl_failed_handshake`).
    public var failures = 0
    public init() {}
}

/// The `h1` stats module's columns (frontends and backends).
public struct H1Counters: Sendable, Equatable {
    public var openConnections = 0, openStreams = 0, totalConnections = 0, totalStreams = 0
    public var bytesIn = 0, bytesOut = 0, splicedBytesIn = 0, splicedBytesOut = 0
    public init() {}
}

/// HTTP compression, as HAProxy counts it: body bytes given to the compressor and the bytes it
/// sent on, bytes sent as they were (`identity`), responses compressed (identity included).
public struct CompressionCounters: Sendable, Equatable {
    public var bytesIn = 0, bytesOut = 0, bypassed = 0, responses = 0
    public init() {}
}

/// WebSocket (and other upgraded) tunnels: SwiftLB's extra, shown in the HTML, JSON and
/// Prometheus output.
public struct TunnelCounters: Sendable, Equatable {
    public var current = 0, total = 0
    /// Bytes client → server and server → client through tunnels.
    public var bytesIn = 0, bytesOut = 0
    public init() {}
}

/// A frontend's own fields.
public struct FrontendStats: Sendable, Equatable {
    public enum Status: String, Sendable { case open = "OPEN", full = "FULL", paused = "PAUSED", stop = "STOP" }
    public var status: Status
    /// `maxconn` of the frontend (`slim`).
    public var sessionLimit: Int
    /// `rate-limit sessions` (`rate_lim`), 0 = none.
    public var sessionRateLimit = 0
    public var counters: TrafficCounters

    public init(status: Status = .open, sessionLimit: Int, sessionRateLimit: Int = 0, counters: TrafficCounters = TrafficCounters()) {
        self.status = status
        self.sessionLimit = sessionLimit
        self.sessionRateLimit = sessionRateLimit
        self.counters = counters
    }
}

/// A backend's own fields and its servers. Its status, weight and active/backup counts are
/// derived from the servers, the way HAProxy derives them.
public struct BackendStats: Sendable, Equatable {
    public var servers: [ServerStats]
    /// `fullconn` (`slim` of the BACKEND row).
    public var fullconn: Int
    /// `balance` algorithm as HAProxy names it (roundrobin, leastconn, source, first, random...).
    public var algorithm: String
    /// The `cookie` name, when the backend inserts or reads one.
    public var cookieName: String?
    /// Times the whole backend went down, seconds since its last up/down change, total downtime.
    public var downTransitions = 0
    public var lastChange = 0
    public var downtime = 0
    public var counters: TrafficCounters

    public init(servers: [ServerStats], fullconn: Int, algorithm: String, cookieName: String? = nil, counters: TrafficCounters = TrafficCounters()) {
        self.servers = servers
        self.fullconn = fullconn
        self.algorithm = algorithm
        self.cookieName = cookieName
        self.counters = counters
    }

    /// Active (non-backup) servers that take new traffic now.
    public var activeUsable: Int { servers.filter { !$0.backup && $0.usable }.count }
    /// Backup servers that would take traffic.
    public var backupUsable: Int { servers.filter { $0.backup && $0.usable }.count }
    /// HAProxy's total effective weight: the active servers', or the backups' when no active
    /// server is usable.
    public var effectiveWeight: Int {
        let pool = activeUsable > 0 ? servers.filter { !$0.backup } : servers.filter(\.backup)
        return pool.filter(\.usable).reduce(0) { $0 + $1.effectiveWeight }
    }
    /// Sum of the user weights of the servers that would take traffic (`uweight`).
    public var userWeight: Int {
        let pool = activeUsable > 0 ? servers.filter { !$0.backup } : servers.filter(\.backup)
        return pool.filter(\.usable).reduce(0) { $0 + $1.userWeight }
    }
    /// UP while some server can take traffic (or the backend has no server at all).
    public var isUp: Bool { effectiveWeight > 0 || servers.isEmpty }
}

/// One server.
public struct ServerStats: Sendable, Equatable {
    /// HAProxy's operational state (`srv_op_state`): what checks (and slowstart) say.
    public enum OperationalState: Int, Sendable {
        case stopped = 0, starting = 1, running = 2, stopping = 3
    }
    /// What the operator says (`set server … state`).
    public enum AdminState: String, Sendable, CaseIterable {
        case ready, drain, maint
    }

    public var name: String
    /// The server's id inside its backend (`sid`, `srv_id`), 1-based.
    public var sid: Int
    /// The id was written (`server … id N`): `srv_f_forced_id` of `show servers state`.
    public var forcedID = false
    /// Address and port as configured or last set by `set server … addr`.
    public var address: String
    public var port: Int
    /// The name the address came from, when it was a host name (`srv_fqdn`).
    public var fqdn: String?
    public var cookie: String?
    public var backup = false
    public var useTLS = false
    public var operational: OperationalState
    public var admin: AdminState
    /// `disabled` in lb.conf (HAProxy's configuration-forced maintenance).
    public var maintFromConfig = false
    /// The weight now (after slowstart and `set weight`), the user's and the configured one.
    public var effectiveWeight: Int
    public var userWeight: Int
    public var initialWeight: Int
    /// `maxconn` and `maxqueue`, 0 = none.
    public var maxconn = 0
    public var maxqueue = 0
    /// Slowstart progress in percent while starting; nil otherwise.
    public var throttle: Int?
    /// `track B/S`, when the server follows another's state.
    public var tracked: String?
    public var check: CheckStats?
    /// Where its `agent-check` goes, when it has one.
    public var agent: AgentAddress?
    public struct AgentAddress: Sendable, Equatable {
        public var address: String
        public var port: Int
        public init(address: String, port: Int) { self.address = address; self.port = port }
    }
    /// The server's `rise` (also kept when it has no check: HAProxy shows an unchecked running
    /// server's health as its rise).
    public var rise = 2
    /// Seconds since the last UP/DOWN change, times it went down, total seconds down.
    public var lastChange = 0
    public var downTransitions = 0
    public var upTransitions = 0
    public var downtime = 0
    /// Failed checks while UP (`chkfail`), failures from `observe` (`hanafail`).
    public var failedChecks = 0
    public var failedObserve: Int?
    /// Idle pooled connections now and their limit, connections in use.
    public var idleConnections = 0
    public var idleConnectionLimit: Int?
    public var usedConnections = 0
    public var counters: TrafficCounters

    public init(name: String, sid: Int, address: String, port: Int, operational: OperationalState = .running,
                admin: AdminState = .ready, weight: Int = 1, check: CheckStats? = nil, counters: TrafficCounters = TrafficCounters()) {
        self.name = name
        self.sid = sid
        self.address = address
        self.port = port
        self.operational = operational
        self.admin = admin
        self.effectiveWeight = weight
        self.userWeight = weight
        self.initialWeight = weight
        self.check = check
        self.counters = counters
    }

    /// Takes new clients now: up, ready, weight above zero.
    public var usable: Bool {
        (operational == .running || operational == .starting) && admin == .ready && effectiveWeight > 0
    }
    /// Checks run (configured, enabled, not paused by maintenance).
    public var checkRunning: Bool { check.map { $0.enabled && admin != .maint } ?? false }
}

/// The last health check of a server and its settings.
public struct CheckStats: Sendable, Equatable {
    /// HAProxy's check statuses with their numeric codes (`srv_check_status`), names
    /// (`check_status`) and descriptions (`check_desc`).
    public enum Status: Int, Sendable, CaseIterable {
        case unknown = 0, initializing = 1, health = 4, socketError = 5
        case l4ok = 6, l4timeout = 7, l4connect = 8, l6ok = 9, l6timeout = 10, l6response = 11
        case l7timeout = 12, l7response = 13, l7ok = 15, l7okConditional = 16, l7status = 17

        public var name: String {
            switch self {
            case .unknown: "UNK"
            case .initializing: "INI"
            case .health: "HANA"
            case .socketError: "SOCKERR"
            case .l4ok: "L4OK"
            case .l4timeout: "L4TOUT"
            case .l4connect: "L4CON"
            case .l6ok: "L6OK"
            case .l6timeout: "L6TOUT"
            case .l6response: "L6RSP"
            case .l7timeout: "L7TOUT"
            case .l7response: "L7RSP"
            case .l7ok: "L7OK"
            case .l7okConditional: "L7OKC"
            case .l7status: "L7STS"
            }
        }
        public var description: String {
            switch self {
            case .unknown: "Unknown"
            case .initializing: "Initializing"
            case .health: "Health analyze"
            case .socketError: "Socket error"
            case .l4ok: "Layer4 check passed"
            case .l4timeout: "Layer4 timeout"
            case .l4connect: "Layer4 connection problem"
            case .l6ok: "Layer6 check passed"
            case .l6timeout: "Layer6 timeout"
            case .l6response: "Layer6 invalid response"
            case .l7timeout: "Layer7 timeout"
            case .l7response: "Layer7 invalid response"
            case .l7ok: "Layer7 check passed"
            case .l7okConditional: "Layer7 check conditionally passed"
            case .l7status: "Layer7 wrong status"
            }
        }
        /// HAProxy's `srv_check_result`: 0 unknown, 1 neutral, 2 failed, 3 passed, 4 conditional.
        public var result: Int {
            switch self {
            case .unknown, .initializing: 0
            case .l4ok, .l6ok, .l7ok: 3
            case .l7okConditional: 4
            default: 2
            }
        }
        /// Carries a layer 5-7 code (`check_code`).
        var hasCode: Bool { rawValue > 14 }
        /// A finished check (`check_duration` is shown).
        var finished: Bool { rawValue >= 3 }
    }

    /// `disable health` turns a configured check off without forgetting it.
    public var enabled = true
    public var inProgress = false
    public var status: Status
    /// HTTP status of an HTTP check.
    public var code: Int?
    public var durationMs: Int?
    /// The last check's short text (`last_chk`): "Connection refused", "HTTP status 503"...
    public var lastDescription: String
    /// Seconds since the last check finished; nil before the first.
    public var lastCheckAge: Int?
    public var rise: Int
    public var fall: Int
    /// 0 … rise+fall-1: below `rise` the server is down, from `rise` up.
    public var health: Int

    public init(status: Status, code: Int? = nil, durationMs: Int? = nil, lastDescription: String = "",
                lastCheckAge: Int? = nil, rise: Int = 2, fall: Int = 3, health: Int) {
        self.status = status
        self.code = code
        self.durationMs = durationMs
        self.lastDescription = lastDescription
        self.lastCheckAge = lastCheckAge
        self.rise = rise
        self.fall = fall
        self.health = health
    }
}

/// The process (`show info`, the page's header, `haproxy_process_*`).
public struct ProcessStats: Sendable, Equatable {
    public var name = "SwiftLB"
    public var version: String
    public var releaseDate = ""
    public var pid: Int
    public var nbthread: Int
    /// Seconds since start, and the start as Unix seconds.
    public var uptime: Int
    public var startTime: Int
    public var node = ""
    public var description = ""
    public var maxconn: Int
    public var hardMaxconn: Int
    /// RLIMIT_NOFILE in force, and the descriptors `maxconn` needs (HAProxy's Ulimit-n, Maxsock).
    public var ulimitN = 0
    public var maxsock = 0
    public var currentConnections = 0
    public var cumulativeConnections = 0
    public var cumulativeRequests = 0
    public var connectionRate = 0, connectionRateMax = 0
    public var sessionRate = 0, sessionRateMax = 0
    public var sslRate = 0, sslRateMax = 0
    public var currentSSLConnections = 0, cumulativeSSLConnections = 0
    /// Percent of frontend TLS handshakes that resumed a session.
    public var sslFrontendSessionReusePercent = 0
    public var stopping = false
    public var jobs = 0
    public var listeners = 0
    public var droppedLogs = 0
    public var bytesOutTotal = 0
    public var bytesOutRate = 0
    /// Idle share of the event loops, percent.
    public var idlePercent = 100

    public init(version: String, pid: Int, nbthread: Int, uptime: Int, startTime: Int, maxconn: Int, hardMaxconn: Int? = nil) {
        self.version = version
        self.pid = pid
        self.nbthread = nbthread
        self.uptime = uptime
        self.startTime = startTime
        self.maxconn = maxconn
        self.hardMaxconn = hardMaxconn ?? maxconn
    }
}

/// The floating VIP as the elector sees it.
public struct VIPStats: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable { case initial = "INIT", backup = "BACKUP", master = "MASTER", fault = "FAULT" }
    public struct Transition: Sendable, Equatable {
        public var from: State
        public var to: State
        public var reason: String
        /// Unix seconds.
        public var at: Double
        public init(from: State, to: State, reason: String, at: Double) {
            self.from = from
            self.to = to
            self.reason = reason
            self.at = at
        }
    }
    public var instance: String
    public var state: State
    /// Advertised and configured priority.
    public var priority: Int
    public var configuredPriority: Int
    public var addresses: [String]
    public var peer: String?
    public var peerPriority: Int?
    /// Seconds since the peer was last heard.
    public var peerLastHeard: Double?
    public var lastTransition: Transition?
    public var transitions = 0
    public var fault: String?
    /// Heartbeats dropped, by reason (bad HMAC, replay, wrong length...).
    public var heartbeatDrops: [String: Int] = [:]
    public var heartbeatSendFailures = 0

    public init(instance: String, state: State, priority: Int, configuredPriority: Int, addresses: [String]) {
        self.instance = instance
        self.state = state
        self.priority = priority
        self.configuredPriority = configuredPriority
        self.addresses = addresses
    }
}
