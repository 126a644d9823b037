/// One cell of HAProxy's proxy statistics: empty (the field does not apply to this row, as
/// HAProxy leaves it), a number, or text.
public enum StatValue: Sendable, Equatable {
    case empty
    case int(Int)
    case string(String)

    /// The number, when the cell holds one.
    public var number: Int? { if case .int(let n) = self { n } else { nil } }
}

/// A row of `show stat`: a proxy's FRONTEND, one of its servers, or its BACKEND.
public enum StatRow: Sendable {
    case frontend(ProxyStats, FrontendStats)
    case server(ProxyStats, BackendStats, ServerStats)
    case backend(ProxyStats, BackendStats)

    var proxy: ProxyStats {
        switch self {
        case .frontend(let p, _), .server(let p, _, _), .backend(let p, _): p
        }
    }
    public var counters: TrafficCounters {
        switch self {
        case .frontend(_, let f): f.counters
        case .server(_, _, let s): s.counters
        case .backend(_, let b): b.counters
        }
    }
    var kind: StatKinds {
        switch self {
        case .frontend: .frontend
        case .server: .server
        case .backend: .backend
        }
    }
    /// HAProxy's `type` column: 0 frontend, 1 backend, 2 server.
    public var typeNumber: Int {
        switch self {
        case .frontend: 0
        case .backend: 1
        case .server: 2
        }
    }
    var isHTTP: Bool { proxy.mode == .http }

    /// Every row of a snapshot in HAProxy's order: per proxy, FRONTEND, servers, BACKEND.
    public static func rows(of snapshot: StatsSnapshot) -> [StatRow] {
        var rows: [StatRow] = []
        for proxy in snapshot.proxies.sorted(by: { $0.iid < $1.iid }) {
            if let f = proxy.frontend { rows.append(.frontend(proxy, f)) }
            if let b = proxy.backend {
                for s in b.servers { rows.append(.server(proxy, b, s)) }
                rows.append(.backend(proxy, b))
            }
        }
        return rows
    }
}

/// Which kinds of rows a column has a value for (HAProxy's [LFBS] letters).
struct StatKinds: OptionSet, Sendable {
    let rawValue: UInt8
    static let frontend = StatKinds(rawValue: 1)
    static let backend = StatKinds(rawValue: 2)
    static let server = StatKinds(rawValue: 4)
    static let fb: StatKinds = [.frontend, .backend]
    static let bs: StatKinds = [.backend, .server]
    static let all: StatKinds = [.frontend, .backend, .server]
}

/// A column of HAProxy 2.6's `show stat` CSV: its name, HAProxy's description (used as the
/// Prometheus HELP text), and how each kind of row fills it. The rules are those of HAProxy's
/// `stats_fill_fe_stats`, `stats_fill_be_stats` and `stats_fill_sv_stats`, so a cell is empty
/// exactly where HAProxy leaves it empty.
public struct StatColumn: Sendable {
    public let name: String
    public let description: String
    let value: @Sendable (StatRow) -> StatValue

    public func callAsFunction(_ row: StatRow) -> StatValue { value(row) }

    /// A counter shared by the row kinds in `kinds`.
    static func counter(_ name: String, _ kinds: StatKinds, _ path: KeyPath<TrafficCounters, Int> & Sendable,
                        httpOnly: Bool = false, _ description: String) -> StatColumn {
        StatColumn(name: name, description: description) { row in
            guard kinds.contains(row.kind), !httpOnly || row.isHTTP else { return .empty }
            return .int(row.counters[keyPath: path])
        }
    }

    /// A value HAProxy always shows for `kinds` and SwiftLB has no counterpart for (no cache,
    /// no HTTP/2): zero, as HAProxy shows when the feature is unused.
    static func unused(_ name: String, _ kinds: StatKinds, httpOnly: Bool = false, _ description: String) -> StatColumn {
        StatColumn(name: name, description: description) { row in
            kinds.contains(row.kind) && (!httpOnly || row.isHTTP) ? .int(0) : .empty
        }
    }

    /// A column that is always empty in SwiftLB (agent checks).
    static func none(_ name: String, _ description: String) -> StatColumn {
        StatColumn(name: name, description: description) { _ in .empty }
    }

    /// A check column: shown for a server whose check is enabled and not paused.
    static func check(_ name: String, _ description: String, _ f: @escaping @Sendable (CheckStats) -> StatValue) -> StatColumn {
        StatColumn(name: name, description: description) { row in
            guard case .server(_, _, let s) = row, let c = s.check, s.checkRunning else { return .empty }
            return f(c)
        }
    }
}

extension StatColumn {
    /// All columns, in HAProxy 2.6's order: the 103 static fields, the `-` separator, then the
    /// `ssl`, `h2` and `h1` stats modules' fields.
    public static let all: [StatColumn] = staticColumns + [separator] + moduleColumns

    /// The CSV header line of HAProxy 2.6 (`# pxname,svname,…,h1_spliced_bytes_out,`).
    public static let csvHeader: String = "# " + all.map { $0.name + "," }.joined() + "\n"

    /// The columns HAProxy shows only to operators and admins (or with `stats show-legends`).
    public static let legendColumns: Set<String> = ["addr", "cookie", "algo"]

    public static func named(_ name: String) -> StatColumn? { byName[name] }
    private static let byName: [String: StatColumn] = Dictionary(all.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })

    static let separator = StatColumn(name: "-", description: "Separator between static fields and modules' fields") { _ in .string("-") }

    static let staticColumns: [StatColumn] = [
        StatColumn(name: "pxname", description: "Proxy name") { .string($0.proxy.name) },
        StatColumn(name: "svname", description: "Server name") { row in
            switch row {
            case .frontend: .string("FRONTEND")
            case .backend: .string("BACKEND")
            case .server(_, _, let s): .string(s.name)
            }
        },
        counter("qcur", .bs, \.qcur, "Number of current queued connections"),
        counter("qmax", .bs, \.qmax, "Highest value of queued connections encountered since process started"),
        counter("scur", .all, \.scur, "Number of current sessions on the frontend, backend or server"),
        counter("smax", .all, \.smax, "Highest value of current sessions encountered since process started"),
        StatColumn(name: "slim", description: "Frontend/listener/server's maxconn, backend's fullconn") { row in
            switch row {
            case .frontend(_, let f): .int(f.sessionLimit)
            case .backend(_, let b): .int(b.fullconn)
            case .server(_, _, let s): s.maxconn > 0 ? .int(s.maxconn) : .empty
            }
        },
        counter("stot", .all, \.stot, "Total number of sessions since process started"),
        counter("bin", .all, \.bytesIn, "Total number of request bytes since process started"),
        counter("bout", .all, \.bytesOut, "Total number of response bytes since process started"),
        counter("dreq", .fb, \.deniedRequests, "Total number of denied requests since process started"),
        counter("dresp", .all, \.deniedResponses, "Total number of denied responses since process started"),
        counter("ereq", .frontend, \.requestErrors, "Total number of invalid requests since process started"),
        counter("econ", .bs, \.connectionErrors, "Total number of failed connections to server since the worker process started"),
        counter("eresp", .bs, \.responseErrors, "Total number of invalid responses since the worker process started"),
        counter("wretr", .bs, \.retries, "Total number of server connection retries since the worker process started"),
        counter("wredis", .bs, \.redispatches, "Total number of server redispatches due to connection failures since the worker process started"),
        StatColumn(name: "status", description: "Frontend/listen status: OPEN/WAITING/FULL/STOP; backend: UP/DOWN; server: last check status") { row in
            switch row {
            case .frontend(_, let f): .string(f.status.rawValue)
            case .backend(_, let b): .string(b.isUp ? "UP" : "DOWN")
            case .server(_, _, let s): .string(s.statusText)
            }
        },
        StatColumn(name: "weight", description: "Server's effective weight, or sum of active servers' effective weights for a backend") { row in
            switch row {
            case .frontend: .empty
            case .backend(_, let b): .int(b.effectiveWeight)
            case .server(_, _, let s): .int(s.effectiveWeight)
            }
        },
        StatColumn(name: "act", description: "Total number of active UP servers with a non-zero weight") { row in
            switch row {
            case .frontend: .empty
            case .backend(_, let b): .int(b.activeUsable)
            case .server(_, _, let s): .int(s.backup ? 0 : 1)
            }
        },
        StatColumn(name: "bck", description: "Total number of backup UP servers with a non-zero weight") { row in
            switch row {
            case .frontend: .empty
            case .backend(_, let b): .int(b.backupUsable)
            case .server(_, _, let s): .int(s.backup ? 1 : 0)
            }
        },
        StatColumn(name: "chkfail", description: "Total number of failed individual health checks per server/backend, since the worker process started") { row in
            guard case .server(_, _, let s) = row, s.check?.enabled == true else { return .empty }
            return .int(s.failedChecks)
        },
        StatColumn(name: "chkdown", description: "Total number of failed checks causing UP to DOWN server transitions, per server/backend, since the worker process started") { row in
            switch row {
            case .frontend: .empty
            case .backend(_, let b): .int(b.downTransitions)
            case .server(_, _, let s): s.check?.enabled == true ? .int(s.downTransitions) : .empty
            }
        },
        StatColumn(name: "lastchg", description: "How long ago the last server state changed, in seconds") { row in
            switch row {
            case .frontend: .empty
            case .backend(_, let b): .int(b.lastChange)
            case .server(_, _, let s): .int(s.lastChange)
            }
        },
        StatColumn(name: "downtime", description: "Total time spent in DOWN state, for server or backend") { row in
            switch row {
            case .frontend: .empty
            case .backend(_, let b): b.servers.isEmpty ? .empty : .int(b.downtime)
            case .server(_, _, let s): s.check?.enabled == true ? .int(s.downtime) : .empty
            }
        },
        StatColumn(name: "qlimit", description: "Limit on the number of connections in queue, for servers only (maxqueue argument)") { row in
            guard case .server(_, _, let s) = row, s.maxqueue > 0 else { return .empty }
            return .int(s.maxqueue)
        },
        StatColumn(name: "pid", description: "Relative worker process number (1)") { _ in .int(1) },
        StatColumn(name: "iid", description: "Frontend or Backend numeric identifier ('id' setting)") { .int($0.proxy.iid) },
        StatColumn(name: "sid", description: "Server numeric identifier ('id' setting)") { row in
            if case .server(_, _, let s) = row { return .int(s.sid) }
            return .int(0)
        },
        StatColumn(name: "throttle", description: "Throttling ratio applied to a server's maxconn and weight during the slowstart period (0 to 100%)") { row in
            guard case .server(_, _, let s) = row, s.operational == .starting, s.admin != .drain, let t = s.throttle else { return .empty }
            return .int(t)
        },
        counter("lbtot", .bs, \.loadBalanced, "Total number of requests routed by load balancing since the worker process started (ignores queue pop and stickiness)"),
        StatColumn(name: "tracked", description: "Name of the other server this server tracks for its state") { row in
            guard case .server(_, _, let s) = row, let t = s.tracked else { return .empty }
            return .string(t)
        },
        StatColumn(name: "type", description: "Type of the object (Listener, Frontend, Backend, Server)") { .int($0.typeNumber) },
        counter("rate", .all, \.sessionRate, "Total number of sessions processed by this object over the last second (sessions for listeners/frontends, requests for backends/servers)"),
        StatColumn(name: "rate_lim", description: "Limit on the number of sessions accepted in a second (frontend only, 'rate-limit sessions' setting)") { row in
            if case .frontend(_, let f) = row { return .int(f.sessionRateLimit) }
            return .empty
        },
        counter("rate_max", .all, \.sessionRateMax, "Highest value of sessions per second observed since the worker process started"),
        check("check_status", "Status report of the server's latest health check, prefixed with '*' if a check is currently in progress") {
            .string(($0.inProgress ? "* " : "") + $0.status.name)
        },
        check("check_code", "HTTP/SMTP/LDAP status code reported by the latest server health check") {
            $0.status.hasCode ? .int($0.code ?? 0) : .empty
        },
        check("check_duration", "Total duration of the latest server health check, in milliseconds") {
            $0.status.finished ? .int($0.durationMs ?? 0) : .empty
        },
        counter("hrsp_1xx", .all, \.responses.r1xx, httpOnly: true, "Total number of HTTP responses with status 100-199 returned by this object since the worker process started"),
        counter("hrsp_2xx", .all, \.responses.r2xx, httpOnly: true, "Total number of HTTP responses with status 200-299 returned by this object since the worker process started"),
        counter("hrsp_3xx", .all, \.responses.r3xx, httpOnly: true, "Total number of HTTP responses with status 300-399 returned by this object since the worker process started"),
        counter("hrsp_4xx", .all, \.responses.r4xx, httpOnly: true, "Total number of HTTP responses with status 400-499 returned by this object since the worker process started"),
        counter("hrsp_5xx", .all, \.responses.r5xx, httpOnly: true, "Total number of HTTP responses with status 500-599 returned by this object since the worker process started"),
        counter("hrsp_other", .all, \.responses.other, httpOnly: true, "Total number of HTTP responses with status <100, >599 returned by this object since the worker process started (error -1 included)"),
        StatColumn(name: "hanafail", description: "Total number of failed checks caused by an 'on-error' directive after an 'observe' condition matched") { row in
            guard case .server(_, _, let s) = row, let n = s.failedObserve else { return .empty }
            return .int(n)
        },
        counter("req_rate", .frontend, \.requestRate, "Number of HTTP requests processed over the last second on this object"),
        counter("req_rate_max", .frontend, \.requestRateMax, "Highest value of http requests observed since the worker process started"),
        StatColumn(name: "req_tot", description: "Total number of HTTP requests processed by this object since the worker process started") { row in
            if case .frontend(_, let f) = row { return .int(f.counters.requestsTotal) }
            return row.isHTTP ? .int(row.counters.requestsTotal) : .empty
        },
        counter("cli_abrt", .bs, \.clientAborts, "Total number of requests or connections aborted by the client since the worker process started"),
        counter("srv_abrt", .bs, \.serverAborts, "Total number of requests or connections aborted by the server since the worker process started"),
        counter("comp_in", .fb, \.compression.bytesIn, "Total number of bytes submitted to the HTTP compressor for this object since the worker process started"),
        counter("comp_out", .fb, \.compression.bytesOut, "Total number of bytes emitted by the HTTP compressor for this object since the worker process started"),
        counter("comp_byp", .fb, \.compression.bypassed, "Total number of bytes that bypassed HTTP compression for this object since the worker process started (CPU/memory/bandwidth limitation)"),
        counter("comp_rsp", .fb, \.compression.responses, "Total number of HTTP responses that were compressed for this object since the worker process started"),
        StatColumn(name: "lastsess", description: "How long ago some traffic was seen on this object on this worker process, in seconds") { row in
            if case .frontend = row { return .empty }
            return .int(row.counters.lastSession ?? -1)
        },
        check("last_chk", "Short description of the latest health check report for this server (see also check_desc)") { .string($0.lastDescription) },
        none("last_agt", "Short description of the latest agent check report for this server (see also agent_desc)"),
        counter("qtime", .bs, \.timings.queueAverage, "Time spent in the queue, in milliseconds, averaged over the 1024 last requests (backend/server)"),
        counter("ctime", .bs, \.timings.connectAverage, "Time spent waiting for a connection to complete, in milliseconds, averaged over the 1024 last requests (backend/server)"),
        counter("rtime", .bs, \.timings.responseAverage, "Time spent waiting for a server response, in milliseconds, averaged over the 1024 last requests (backend/server)"),
        counter("ttime", .bs, \.timings.totalAverage, "Total request+response time (request+queue+connect+response+processing), in milliseconds, averaged over the 1024 last requests (backend/server)"),
        none("agent_status", "Status report of the server's latest agent check, prefixed with '*' if a check is currently in progress"),
        none("agent_code", "Status code reported by the latest server agent check"),
        none("agent_duration", "Total duration of the latest server agent check, in milliseconds"),
        check("check_desc", "Textual description of the latest health check report for this server") { .string($0.status.description) },
        none("agent_desc", "Textual description of the latest agent check report for this server"),
        check("check_rise", "Number of successful health checks before declaring a server UP (server 'rise' setting)") { .int($0.rise) },
        check("check_fall", "Number of failed health checks before declaring a server DOWN (server 'fall' setting)") { .int($0.fall) },
        check("check_health", "Current server health check level (0..fall-1=DOWN, fall..rise-1=UP)") { .int($0.health) },
        none("agent_rise", "Number of successful agent checks before declaring a server UP (server 'rise' setting)"),
        none("agent_fall", "Number of failed agent checks before declaring a server DOWN (server 'fall' setting)"),
        none("agent_health", "Current server agent check level (0..fall-1=DOWN, fall..rise-1=UP)"),
        StatColumn(name: "addr", description: "Server's address:port, shown only if show-legends is set, or at levels oper/admin for the CLI") { row in
            guard case .server(_, _, let s) = row else { return .empty }
            return .string(s.addressAndPort)
        },
        StatColumn(name: "cookie", description: "Backend's cookie name or Server's cookie value, shown only if show-legends is set, or at levels oper/admin for the CLI") { row in
            switch row {
            case .frontend: .empty
            case .backend(_, let b): b.cookieName.map(StatValue.string) ?? .empty
            case .server(_, _, let s): s.cookie.map(StatValue.string) ?? .empty
            }
        },
        StatColumn(name: "mode", description: "'mode' setting (tcp/http/health/cli)") { .string($0.proxy.mode.rawValue) },
        StatColumn(name: "algo", description: "Backend's load balancing algorithm, shown only if show-legends is set, or at levels oper/admin for the CLI") { row in
            if case .backend(_, let b) = row { return .string(b.algorithm) }
            return .empty
        },
        counter("conn_rate", .frontend, \.connectionRate, "Number of new connections accepted over the last second on the frontend for this worker process"),
        counter("conn_rate_max", .frontend, \.connectionRateMax, "Highest value of connections per second observed since the worker process started"),
        counter("conn_tot", .frontend, \.connectionsTotal, "Total number of new connections accepted on this frontend since the worker process started"),
        counter("intercepted", .frontend, \.intercepted, httpOnly: true, "Total number of HTTP requests intercepted on the frontend (redirects/stats/services) since the worker process started"),
        counter("dcon", .frontend, \.deniedConnections, "Total number of incoming connections blocked on a listener/frontend by a tcp-request connection rule since the worker process started"),
        counter("dses", .frontend, \.deniedSessions, "Total number of incoming sessions blocked on a listener/frontend by a tcp-request connection rule since the worker process started"),
        counter("wrew", .all, \.failedRewrites, "Total number of failed HTTP header rewrites since the worker process started"),
        counter("connect", .bs, \.connectAttempts, "Total number of outgoing connection attempts on this backend/server since the worker process started"),
        counter("reuse", .bs, \.connectionReuses, "Total number of reused connection on this backend/server since the worker process started"),
        unused("cache_lookups", .fb, httpOnly: true, "Total number of HTTP requests looked up in the cache on this frontend/backend since the worker process started"),
        unused("cache_hits", .fb, httpOnly: true, "Total number of HTTP requests not found in the cache on this frontend/backend since the worker process started"),
        StatColumn(name: "srv_icur", description: "Current number of idle connections available for reuse on this server") { row in
            guard case .server(_, _, let s) = row else { return .empty }
            return .int(s.idleConnections)
        },
        StatColumn(name: "src_ilim", description: "Limit on the number of available idle connections on this server (server 'pool_max_conn' directive)") { row in
            guard case .server(_, _, let s) = row, let limit = s.idleConnectionLimit else { return .empty }
            return .int(limit)
        },
        counter("qtime_max", .bs, \.timings.queueMax, "Maximum observed time spent in the queue, in milliseconds (backend/server)"),
        counter("ctime_max", .bs, \.timings.connectMax, "Maximum observed time spent waiting for a connection to complete, in milliseconds (backend/server)"),
        counter("rtime_max", .bs, \.timings.responseMax, "Maximum observed time spent waiting for a server response, in milliseconds (backend/server)"),
        counter("ttime_max", .bs, \.timings.totalMax, "Maximum observed total request+response time (request+queue+connect+response+processing), in milliseconds (backend/server)"),
        counter("eint", .all, \.internalErrors, "Total number of internal errors since process started"),
        StatColumn(name: "idle_conn_cur", description: "Current number of unsafe idle connections") { row in
            guard case .server(_, _, let s) = row else { return .empty }
            return .int(s.idleConnections)
        },
        StatColumn(name: "safe_conn_cur", description: "Current number of safe idle connections") { row in
            guard case .server = row else { return .empty }
            return .int(0)
        },
        StatColumn(name: "used_conn_cur", description: "Current number of connections in use") { row in
            guard case .server(_, _, let s) = row else { return .empty }
            return .int(s.usedConnections)
        },
        StatColumn(name: "need_conn_est", description: "Estimated needed number of connections") { row in
            guard case .server(_, _, let s) = row else { return .empty }
            return .int(s.usedConnections)
        },
        StatColumn(name: "uweight", description: "Server's user weight, or sum of active servers' user weights for a backend") { row in
            switch row {
            case .frontend: .empty
            case .backend(_, let b): .int(b.userWeight)
            case .server(_, _, let s): .int(s.userWeight)
            }
        },
        unused("agg_server_status", .backend, "Backend's aggregated gauge of servers' status"),
        unused("agg_server_check_status", .backend, "Backend's aggregated gauge of servers' state check status"),
        unused("agg_check_status", .backend, "Backend's aggregated gauge of servers' state check status"),
    ]

    /// The `ssl` (frontends, backends, servers), `h2` and `h1` (frontends, backends) modules.
    static let moduleColumns: [StatColumn] = [
        counter("ssl_sess", .all, \.tls.handshakes, "Total number of ssl sessions established"),
        counter("ssl_reused_sess", .all, \.tls.resumed, "Total number of ssl sessions reused"),
        counter("ssl_failed_handshake", .all, \.tls.failures, "Total number of failed handshake"),
    ] + [
        "h2_headers_rcvd", "h2_data_rcvd", "h2_settings_rcvd", "h2_rst_stream_rcvd", "h2_goaway_rcvd",
        "h2_detected_conn_protocol_errors", "h2_detected_strm_protocol_errors", "h2_rst_stream_resp", "h2_goaway_resp",
        "h2_open_connections", "h2_backend_open_streams", "h2_total_connections", "h2_backend_total_streams",
    ].map { unused($0, .fb, "HTTP/2 counter (SwiftLB serves HTTP/1.1 only)") } + [
        counter("h1_open_connections", .fb, \.h1.openConnections, "Count of currently open connections"),
        counter("h1_open_streams", .fb, \.h1.openStreams, "Count of currently open streams"),
        counter("h1_total_connections", .fb, \.h1.totalConnections, "Total number of connections"),
        counter("h1_total_streams", .fb, \.h1.totalStreams, "Total number of streams"),
        counter("h1_bytes_in", .fb, \.h1.bytesIn, "Total number of bytes received"),
        counter("h1_bytes_out", .fb, \.h1.bytesOut, "Total number of bytes send"),
        counter("h1_spliced_bytes_in", .fb, \.h1.splicedBytesIn, "Total number of bytes received using kernel splicing"),
        counter("h1_spliced_bytes_out", .fb, \.h1.splicedBytesOut, "Total number of bytes sent using kernel splicing"),
    ]
}

extension ServerStats {
    /// The `status` cell, HAProxy's `stats_fill_sv_stats_computestate` for a server that tracks
    /// nothing and has no agent: MAINT, DRAIN, NOLB, "UP 2/3" while failing checks, "DOWN 1/2"
    /// while recovering, "no check".
    public var statusText: String {
        if admin == .maint { return "MAINT" }
        let checking = check?.enabled == true
        let rise = check?.rise ?? 0, fall = check?.fall ?? 0, health = check?.health ?? 0
        switch operational {
        case .running, .starting:
            let goingDown = checking && health < rise + fall - 1
            if admin == .drain { return goingDown ? "DRAIN \(health - rise + 1)/\(fall)" : "DRAIN" }
            if goingDown { return "UP \(health - rise + 1)/\(fall)" }
            return checking ? "UP" : "no check"
        case .stopping:
            return !checking || health == rise + fall - 1 ? "NOLB" : "NOLB \(health - rise + 1)/\(fall)"
        case .stopped:
            if checking && health > 0 { return "DOWN \(health)/\(rise)" }
            return "DOWN"
        }
    }

    /// `addr:port`, IPv6 in brackets.
    public var addressAndPort: String {
        if onUnixSocket { return "unix" }  // HAProxy's `addr` of a unix server: no path, no port
        return address.contains(":") ? "[\(address)]:\(port)" : "\(address):\(port)"
    }

    /// A server on a unix socket: the collector sets `address` to HAProxy's word for it.
    public var onUnixSocket: Bool { address == "unix" }
}
