/// Prometheus text exposition (format 0.0.4) of a snapshot, with the metric names, labels,
/// HELP texts and order of HAProxy 2.x's built-in exporter (`haproxy_process_*`,
/// `haproxy_frontend_*`, `haproxy_backend_*`, `haproxy_server_*`; `proxy`, `server`, `state`,
/// `code` labels), so the dashboards and alerts written for HAProxy's exporter work unchanged.
///
/// What HAProxy does not have carries the `swiftlb_` prefix instead, so nobody mistakes it
/// for an HAProxy metric and no future HAProxy metric can collide with it: real latency
/// histograms (`swiftlb_*_request_duration_seconds`, `swiftlb_*_connect_duration_seconds`),
/// WebSocket tunnels, TLS handshakes and failures, check transitions and the age of the last
/// check, and the VIP (state, priority, transitions, heartbeat drops by reason).
///
/// swift-prometheus is not used: its registry wants a metric object per label set updated
/// through locks or atomics, while SwiftLB's counters are plain per-loop integers merged into
/// a snapshot; rendering the snapshot directly costs one pass and no second copy of the
/// counters.
public enum PrometheusRenderer {
    /// The content type Prometheus expects for this format.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// HAProxy's `scope` query parameter (`/metrics?scope=backend&scope=server`), and its
    /// `no-maint` parameter (servers in maintenance left out).
    public struct Options: Sendable, Equatable {
        public enum Scope: String, Sendable, CaseIterable { case global, frontend, backend, server }
        public var scopes: Set<Scope> = Set(Scope.allCases)
        public var hideMaintenanceServers = false
        public init() {}

        /// Reads `scope=…` (repeatable; `*` = all, empty = none) and `no-maint` from a query
        /// string. An unknown scope is an error naming it.
        public init(query: String) throws(PrometheusQueryError) {
            var scopes: Set<Scope>?
            for item in query.split(separator: "&", omittingEmptySubsequences: true) {
                let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(parts[0]), value = parts.count > 1 ? String(parts[1]) : ""
                switch key {
                case "scope":
                    if scopes == nil { scopes = [] }
                    if value == "*" { scopes = Set(Scope.allCases) } else if !value.isEmpty {
                        guard let s = Scope(rawValue: value) else { throw PrometheusQueryError(message: "unknown scope '\(value)' (global, frontend, backend, server, *)") }
                        scopes!.insert(s)
                    }
                case "no-maint": hideMaintenanceServers = true
                default: throw PrometheusQueryError(message: "unknown parameter '\(key)' (scope, no-maint)")
                }
            }
            if let scopes { self.scopes = scopes }
        }
    }

    public struct PrometheusQueryError: Error, Sendable, CustomStringConvertible {
        public let message: String
        public var description: String { message }
    }

    public static func render(_ snapshot: StatsSnapshot, options: Options = Options()) -> String {
        var out = PrometheusWriter()
        if options.scopes.contains(.global) { processMetrics(snapshot.process, &out) }
        let rows = StatRow.rows(of: snapshot)
        let frontends = rows.filter { if case .frontend = $0 { true } else { false } }
        let backends = rows.filter { if case .backend = $0 { true } else { false } }
        let servers = rows.filter {
            guard case .server(_, _, let s) = $0 else { return false }
            return !(options.hideMaintenanceServers && s.admin == .maint)
        }
        if options.scopes.contains(.frontend) { proxyMetrics("frontend", .frontend, frontends, &out) }
        if options.scopes.contains(.backend) { proxyMetrics("backend", .backend, backends, &out) }
        if options.scopes.contains(.server) { proxyMetrics("server", .server, servers, &out) }
        if options.scopes.contains(.frontend) { extraMetrics("frontend", frontends, &out) }
        if options.scopes.contains(.backend) { extraMetrics("backend", backends, &out) }
        if options.scopes.contains(.server) { extraMetrics("server", servers, &out); serverExtras(servers, &out) }
        if options.scopes.contains(.global), let vip = snapshot.vip { vipMetrics(vip, &out) }
        return out.text
    }

    // MARK: HAProxy's process metrics

    static func processMetrics(_ p: ProcessStats, _ out: inout PrometheusWriter) {
        let g = PrometheusWriter.Kind.gauge, c = PrometheusWriter.Kind.counter
        let metrics: [(String, PrometheusWriter.Kind, String, Int)] = [
            ("nbthread", g, "Number of started threads (global.nbthread)", p.nbthread),
            ("nbproc", g, "Number of started worker processes (historical, always 1)", 1),
            ("relative_process_id", g, "Relative worker process number (1)", 1),
            ("uptime_seconds", g, "How long ago this worker process was started (seconds)", p.uptime),
            ("start_time_seconds", g, "Start time in seconds", p.startTime),
            ("max_fds", g, "Hard limit on the number of per-process file descriptors", p.ulimitN),
            ("max_sockets", g, "Hard limit on the number of per-process sockets", p.maxsock),
            ("max_connections", g, "Hard limit on the number of per-process connections (configured or imposed by Ulimit-n)", p.maxconn),
            ("hard_max_connections", g, "Hard limit on the number of per-process connections (imposed by Memmax_MB or Ulimit-n)", p.hardMaxconn),
            ("current_connections", g, "Current number of connections on this worker process", p.currentConnections),
            ("connections_total", c, "Total number of connections on this worker process since started", p.cumulativeConnections),
            ("requests_total", c, "Total number of requests on this worker process since started", p.cumulativeRequests),
            ("current_ssl_connections", g, "Current number of SSL endpoints on this worker process (front+back)", p.currentSSLConnections),
            ("ssl_connections_total", c, "Total number of SSL endpoints on this worker process since started (front+back)", p.cumulativeSSLConnections),
            ("current_connection_rate", g, "Number of front connections created on this worker process over the last second", p.connectionRate),
            ("max_connection_rate", g, "Highest ConnRate reached on this worker process since started (in connections per second)", p.connectionRateMax),
            ("current_session_rate", g, "Number of sessions created on this worker process over the last second", p.sessionRate),
            ("max_session_rate", g, "Highest SessRate reached on this worker process since started (in sessions per second)", p.sessionRateMax),
            ("current_ssl_rate", g, "Number of SSL connections created on this worker process over the last second", p.sslRate),
            ("max_ssl_rate", g, "Highest SslRate reached on this worker process since started (in connections per second)", p.sslRateMax),
            ("idle_time_percent", g, "Percentage of last second spent waiting in the current worker thread", p.idlePercent),
            ("stopping", g, "1 if the worker process is currently stopping, otherwise zero", p.stopping ? 1 : 0),
            ("jobs", g, "Current number of active jobs on the current worker process (frontend connections, master connections, listeners)", p.jobs),
            ("listeners", g, "Current number of active listeners on the current worker process", p.listeners),
            ("dropped_logs_total", c, "Total number of dropped logs for current worker process since started", p.droppedLogs),
            ("bytes_out_total", c, "Total number of bytes emitted by current worker process since started", p.bytesOutTotal),
            ("bytes_out_rate", g, "Number of bytes emitted by current worker process over the last second", p.bytesOutRate),
        ]
        for (name, kind, help, value) in metrics {
            out.family("haproxy_process_" + name, kind, help) { $0.sample([], .int(value)) }
        }
        out.family("haproxy_process_build_info", .gauge, "Build info") { $0.sample([("version", p.version)], .int(1)) }
    }

    // MARK: HAProxy's frontend/backend/server metrics

    /// One exporter metric: the CSV column it reads, its name after the prefix, its type, the
    /// row kinds that have it, and how its value is shaped.
    struct Metric: Sendable {
        enum Shape: Sendable { case plain, milliseconds, status, checkStatus, checkCode, checkDuration, responses, serverStates, checkStates }
        let column: String
        let name: String
        let kind: PrometheusWriter.Kind
        let kinds: StatKinds
        var shape: Shape = .plain
        var httpOnly = false
        var help: String?
    }

    static let metrics: [Metric] = {
        let g = PrometheusWriter.Kind.gauge, c = PrometheusWriter.Kind.counter
        return [
            Metric(column: "qcur", name: "current_queue", kind: g, kinds: .bs),
            Metric(column: "qmax", name: "max_queue", kind: g, kinds: .bs),
            Metric(column: "scur", name: "current_sessions", kind: g, kinds: .all),
            Metric(column: "smax", name: "max_sessions", kind: g, kinds: .all),
            Metric(column: "slim", name: "limit_sessions", kind: g, kinds: .all),
            Metric(column: "stot", name: "sessions_total", kind: c, kinds: .all),
            Metric(column: "bin", name: "bytes_in_total", kind: c, kinds: .all),
            Metric(column: "bout", name: "bytes_out_total", kind: c, kinds: .all),
            Metric(column: "dreq", name: "requests_denied_total", kind: c, kinds: .fb),
            Metric(column: "dresp", name: "responses_denied_total", kind: c, kinds: .all),
            Metric(column: "ereq", name: "request_errors_total", kind: c, kinds: .frontend),
            Metric(column: "econ", name: "connection_errors_total", kind: c, kinds: .bs),
            Metric(column: "eresp", name: "response_errors_total", kind: c, kinds: .bs),
            Metric(column: "wretr", name: "retry_warnings_total", kind: c, kinds: .bs),
            Metric(column: "wredis", name: "redispatch_warnings_total", kind: c, kinds: .bs),
            Metric(column: "status", name: "status", kind: g, kinds: .all, shape: .status, help: "Current status of the service, per state label value."),
            Metric(column: "weight", name: "weight", kind: g, kinds: .bs),
            Metric(column: "act", name: "active_servers", kind: g, kinds: .backend),
            Metric(column: "bck", name: "backup_servers", kind: g, kinds: .backend),
            Metric(column: "chkfail", name: "check_failures_total", kind: c, kinds: .server),
            Metric(column: "chkdown", name: "check_up_down_total", kind: c, kinds: .bs),
            Metric(column: "lastchg", name: "check_last_change_seconds", kind: g, kinds: .bs),
            Metric(column: "downtime", name: "downtime_seconds_total", kind: c, kinds: .bs),
            Metric(column: "qlimit", name: "queue_limit", kind: g, kinds: .server),
            Metric(column: "throttle", name: "current_throttle", kind: g, kinds: .server),
            Metric(column: "lbtot", name: "loadbalanced_total", kind: c, kinds: .bs),
            Metric(column: "rate_lim", name: "limit_session_rate", kind: g, kinds: .frontend),
            Metric(column: "rate_max", name: "max_session_rate", kind: g, kinds: .all),
            Metric(column: "check_status", name: "check_status", kind: g, kinds: .server, shape: .checkStatus, help: "Status of last health check, per state label value."),
            Metric(column: "check_code", name: "check_code", kind: g, kinds: .server, shape: .checkCode, help: "layer5-7 code, if available of the last health check."),
            Metric(column: "check_duration", name: "check_duration_seconds", kind: g, kinds: .server, shape: .checkDuration, help: "Total duration of the latest server health check, in seconds."),
            Metric(column: "hrsp_1xx", name: "http_responses_total", kind: c, kinds: .all, shape: .responses, httpOnly: true),
            Metric(column: "req_rate_max", name: "http_requests_rate_max", kind: g, kinds: .frontend),
            Metric(column: "req_tot", name: "http_requests_total", kind: c, kinds: .fb, httpOnly: true),
            Metric(column: "cli_abrt", name: "client_aborts_total", kind: c, kinds: .bs),
            Metric(column: "srv_abrt", name: "server_aborts_total", kind: c, kinds: .bs),
            Metric(column: "comp_in", name: "http_comp_bytes_in_total", kind: c, kinds: .fb, httpOnly: true),
            Metric(column: "comp_out", name: "http_comp_bytes_out_total", kind: c, kinds: .fb, httpOnly: true),
            Metric(column: "comp_byp", name: "http_comp_bytes_bypassed_total", kind: c, kinds: .fb, httpOnly: true),
            Metric(column: "comp_rsp", name: "http_comp_responses_total", kind: c, kinds: .fb, httpOnly: true),
            Metric(column: "lastsess", name: "last_session_seconds", kind: g, kinds: .bs),
            Metric(column: "qtime", name: "queue_time_average_seconds", kind: g, kinds: .bs, shape: .milliseconds, help: "Avg. queue time for last 1024 successful connections."),
            Metric(column: "ctime", name: "connect_time_average_seconds", kind: g, kinds: .bs, shape: .milliseconds, help: "Avg. connect time for last 1024 successful connections."),
            Metric(column: "rtime", name: "response_time_average_seconds", kind: g, kinds: .bs, shape: .milliseconds, help: "Avg. response time for last 1024 successful connections."),
            Metric(column: "ttime", name: "total_time_average_seconds", kind: g, kinds: .bs, shape: .milliseconds, help: "Avg. total time for last 1024 successful connections."),
            Metric(column: "conn_rate_max", name: "connections_rate_max", kind: g, kinds: .frontend),
            Metric(column: "conn_tot", name: "connections_total", kind: c, kinds: .frontend),
            Metric(column: "intercepted", name: "intercepted_requests_total", kind: c, kinds: .frontend),
            Metric(column: "dcon", name: "denied_connections_total", kind: c, kinds: .frontend),
            Metric(column: "dses", name: "denied_sessions_total", kind: c, kinds: .frontend),
            Metric(column: "wrew", name: "failed_header_rewriting_total", kind: c, kinds: .all),
            Metric(column: "connect", name: "connection_attempts_total", kind: c, kinds: .bs),
            Metric(column: "reuse", name: "connection_reuses_total", kind: c, kinds: .bs),
            Metric(column: "cache_lookups", name: "http_cache_lookups_total", kind: c, kinds: .fb, httpOnly: true),
            Metric(column: "cache_hits", name: "http_cache_hits_total", kind: c, kinds: .fb, httpOnly: true),
            Metric(column: "srv_icur", name: "idle_connections_current", kind: g, kinds: .server),
            Metric(column: "src_ilim", name: "idle_connections_limit", kind: g, kinds: .server),
            Metric(column: "qtime_max", name: "max_queue_time_seconds", kind: g, kinds: .bs, shape: .milliseconds, help: "Maximum observed time spent in the queue"),
            Metric(column: "ctime_max", name: "max_connect_time_seconds", kind: g, kinds: .bs, shape: .milliseconds, help: "Maximum observed time spent waiting for a connection to complete"),
            Metric(column: "rtime_max", name: "max_response_time_seconds", kind: g, kinds: .bs, shape: .milliseconds, help: "Maximum observed time spent waiting for a server response"),
            Metric(column: "ttime_max", name: "max_total_time_seconds", kind: g, kinds: .bs, shape: .milliseconds, help: "Maximum observed total request+response time (request+queue+connect+response+processing)"),
            Metric(column: "eint", name: "internal_errors_total", kind: c, kinds: .all),
            Metric(column: "idle_conn_cur", name: "unsafe_idle_connections_current", kind: g, kinds: .server),
            Metric(column: "safe_conn_cur", name: "safe_idle_connections_current", kind: g, kinds: .server),
            Metric(column: "used_conn_cur", name: "used_connections_current", kind: g, kinds: .server),
            Metric(column: "need_conn_est", name: "need_connections_current", kind: g, kinds: .server),
            Metric(column: "uweight", name: "uweight", kind: g, kinds: .bs),
            Metric(column: "agg_server_status", name: "agg_server_status", kind: g, kinds: .backend, shape: .serverStates),
            Metric(column: "agg_server_check_status", name: "agg_server_check_status", kind: g, kinds: .backend, shape: .serverStates),
            Metric(column: "agg_check_status", name: "agg_check_status", kind: g, kinds: .backend, shape: .checkStates),
        ]
    }()

    /// HAProxy's server states in the exporter's order.
    static let serverStateLabels = ["DOWN", "UP", "MAINT", "DRAIN", "NOLB"]
    /// The check statuses the exporter lists (result failed or better), in HAProxy's order.
    static let checkStatusLabels = ["HANA", "SOCKERR", "L4OK", "L4TOUT", "L4CON", "L6OK", "L6TOUT", "L6RSP",
                                    "L7TOUT", "L7RSP", "L7OK", "L7OKC", "L7STS", "PROCERR", "PROCTOUT", "PROCOK"]

    static func exporterState(_ s: ServerStats) -> String {
        if s.admin == .maint { return "MAINT" }
        switch s.operational {
        case .running, .starting: return s.admin == .drain ? "DRAIN" : "UP"
        case .stopping: return "NOLB"
        case .stopped: return "DOWN"
        }
    }

    static func proxyMetrics(_ prefix: String, _ kind: StatKinds, _ rows: [StatRow], _ out: inout PrometheusWriter) {
        guard !rows.isEmpty else { return }
        for metric in metrics where metric.kinds.contains(kind) {
            guard let column = StatColumn.named(metric.column) else { continue }
            let name = "haproxy_\(prefix)_\(metric.name)"
            let rows = metric.httpOnly ? rows.filter(\.isHTTP) : rows
            out.family(name, metric.kind, metric.help ?? column.description) { f in
                if metric.shape == .responses {
                    // One family, six columns: all proxies' 1xx, then all 2xx… (HAProxy's order).
                    for (code, col) in [("1xx", "hrsp_1xx"), ("2xx", "hrsp_2xx"), ("3xx", "hrsp_3xx"), ("4xx", "hrsp_4xx"), ("5xx", "hrsp_5xx"), ("other", "hrsp_other")] {
                        let column = StatColumn.named(col)!
                        for row in rows { f.sample(labels(row) + [("code", code)], column(row)) }
                    }
                    return
                }
                for row in rows { sample(metric, column, row, &f) }
            }
        }
    }

    static func labels(_ row: StatRow) -> [(String, String)] {
        if case .server(_, _, let s) = row { return [("proxy", row.proxy.name), ("server", s.name)] }
        return [("proxy", row.proxy.name)]
    }

    static func sample(_ metric: Metric, _ column: StatColumn, _ row: StatRow, _ f: inout PrometheusWriter.Family) {
        let base = labels(row)
        switch metric.shape {
        case .plain:
            f.sample(base, column(row))
        case .milliseconds:
            f.seconds(base, (Double(column(row).number ?? 0) / 1000))
        case .status:
            switch row {
            case .frontend(_, let fe):
                for (i, state) in ["DOWN", "UP"].enumerated() { f.sample(base + [("state", state)], .int((fe.status != .stop ? 1 : 0) == i ? 1 : 0)) }
            case .backend(_, let b):
                for (i, state) in ["DOWN", "UP"].enumerated() { f.sample(base + [("state", state)], .int((b.isUp ? 1 : 0) == i ? 1 : 0)) }
            case .server(_, _, let s):
                let current = exporterState(s)
                for state in serverStateLabels { f.sample(base + [("state", state)], .int(state == current ? 1 : 0)) }
            }
        case .checkStatus:
            guard case .server(_, _, let s) = row, let c = s.check, s.checkRunning else { return }
            for state in checkStatusLabels { f.sample(base + [("state", state)], .int(c.status.name == state ? 1 : 0)) }
        case .checkCode:
            guard case .server(_, _, let s) = row, let c = s.check, s.checkRunning else { return }
            f.sample(base, .int(c.status.hasCode ? c.code ?? 0 : 0))
        case .checkDuration:
            guard case .server(_, _, let s) = row, let c = s.check, c.status.finished else { return }
            f.seconds(base, (Double(c.durationMs ?? 0) / 1000))
        case .responses:
            break
        case .serverStates:
            guard case .backend(_, let b) = row, !b.servers.isEmpty else { return }
            for state in serverStateLabels {
                f.sample(base + [("state", state)], .int(b.servers.filter { exporterState($0) == state }.count))
            }
        case .checkStates:
            guard case .backend(_, let b) = row, !b.servers.isEmpty else { return }
            for state in checkStatusLabels {
                f.sample(base + [("state", state)], .int(b.servers.filter { $0.check?.status.name == state }.count))
            }
        }
    }

    // MARK: SwiftLB's own metrics

    static func extraMetrics(_ prefix: String, _ rows: [StatRow], _ out: inout PrometheusWriter) {
        guard !rows.isEmpty else { return }
        let name = "swiftlb_\(prefix)_"
        out.histogramFamily(name + "request_duration_seconds", "Total time of each request (HAProxy's Ta: from the first request byte to the last response byte), in seconds",
                            rows.compactMap { row in row.counters.latency.map { (labels(row), $0) } })
        if prefix != "frontend" {
            out.histogramFamily(name + "connect_duration_seconds", "Time to establish each server connection (HAProxy's Tc), in seconds",
                                rows.compactMap { row in row.counters.connectLatency.map { (labels(row), $0) } })
        }
        out.family(name + "websocket_tunnels_current", .gauge, "WebSocket (upgraded) tunnels open now") { f in
            for row in rows { f.sample(labels(row), .int(row.counters.tunnels.current)) }
        }
        out.family(name + "websocket_tunnels_total", .counter, "WebSocket (upgraded) tunnels opened since start") { f in
            for row in rows { f.sample(labels(row), .int(row.counters.tunnels.total)) }
        }
        out.family(name + "websocket_bytes_total", .counter, "Bytes carried by WebSocket tunnels, in: client to server, out: server to client") { f in
            for row in rows {
                f.sample(labels(row) + [("direction", "in")], .int(row.counters.tunnels.bytesIn))
                f.sample(labels(row) + [("direction", "out")], .int(row.counters.tunnels.bytesOut))
            }
        }
        let side = prefix == "frontend" ? "with clients" : "with servers"
        out.family(name + "tls_handshakes_total", .counter, "TLS handshakes completed \(side)") { f in
            for row in rows { f.sample(labels(row), .int(row.counters.tls.handshakes)) }
        }
        out.family(name + "tls_resumed_handshakes_total", .counter, "TLS handshakes \(side) that resumed a session") { f in
            for row in rows { f.sample(labels(row), .int(row.counters.tls.resumed)) }
        }
        out.family(name + "tls_handshake_failures_total", .counter, "TLS handshakes \(side) that failed") { f in
            for row in rows { f.sample(labels(row), .int(row.counters.tls.failures)) }
        }
    }

    static func serverExtras(_ rows: [StatRow], _ out: inout PrometheusWriter) {
        let servers: [(StatRow, ServerStats)] = rows.compactMap { if case .server(_, _, let s) = $0 { ($0, s) } else { nil } }
        guard !servers.isEmpty else { return }
        out.family("swiftlb_server_check_transitions_total", .counter, "Server state changes decided by health checks, by new state") { f in
            for (row, s) in servers where s.check != nil {
                f.sample(labels(row) + [("to", "DOWN")], .int(s.downTransitions))
                f.sample(labels(row) + [("to", "UP")], .int(s.upTransitions))
            }
        }
        out.family("swiftlb_server_last_check_age_seconds", .gauge, "Seconds since the server's last health check finished") { f in
            for (row, s) in servers { if let age = s.check?.lastCheckAge { f.sample(labels(row), .int(age)) } }
        }
    }

    static func vipMetrics(_ vip: VIPStats, _ out: inout PrometheusWriter) {
        let instance = [("instance", vip.instance)]
        out.family("swiftlb_vip_state", .gauge, "The VIP instance's state, per state label value") { f in
            for state in VIPStats.State.allCases { f.sample(instance + [("state", state.rawValue)], .int(vip.state == state ? 1 : 0)) }
        }
        out.family("swiftlb_vip_priority", .gauge, "Priority advertised in heartbeats now") { $0.sample(instance, .int(vip.priority)) }
        out.family("swiftlb_vip_configured_priority", .gauge, "Priority configured in lb.conf") { $0.sample(instance, .int(vip.configuredPriority)) }
        out.family("swiftlb_vip_transitions_total", .counter, "State transitions of the VIP instance since start") { $0.sample(instance, .int(vip.transitions)) }
        out.family("swiftlb_vip_last_transition_timestamp_seconds", .gauge, "Unix time of the last state transition") { f in
            if let t = vip.lastTransition { f.seconds(instance, (t.at)) }
        }
        out.family("swiftlb_vip_peer_last_heard_seconds", .gauge, "Seconds since the peer's last valid heartbeat") { f in
            if let s = vip.peerLastHeard { f.seconds(instance, (s)) }
        }
        out.family("swiftlb_vip_heartbeat_drops_total", .counter, "Heartbeats dropped, by reason") { f in
            for (reason, n) in vip.heartbeatDrops.sorted(by: { $0.key < $1.key }) { f.sample(instance + [("reason", reason)], .int(n)) }
        }
        out.family("swiftlb_vip_heartbeat_send_failures_total", .counter, "Heartbeats that could not be sent") { $0.sample(instance, .int(vip.heartbeatSendFailures)) }
    }
}

/// Writes metric families: `# HELP`, `# TYPE`, then the samples, each family once and whole
/// (the text format requires a family's samples to be contiguous). A family without samples
/// is left out entirely.
struct PrometheusWriter {
    enum Kind: String { case gauge, counter, histogram }
    struct Family {
        var lines = ""
        /// A sample; an empty cell is NaN, as HAProxy's exporter writes it.
        mutating func sample(_ labels: [(String, String)], _ value: StatValue, suffix: String = "") {
            switch value {
            case .int(let n): line(labels, String(n), suffix: suffix)
            case .empty, .string: line(labels, "NaN", suffix: suffix)
            }
        }
        mutating func seconds(_ labels: [(String, String)], _ value: Double, suffix: String = "") {
            line(labels, PrometheusWriter.format(value), suffix: suffix)
        }
        fileprivate var name = ""
        mutating func line(_ labels: [(String, String)], _ value: String, suffix: String) {
            lines += name + suffix
            if !labels.isEmpty {
                lines += "{" + labels.map { "\($0.0)=\"\(PrometheusWriter.escape($0.1))\"" }.joined(separator: ",") + "}"
            }
            lines += " " + value + "\n"
        }
    }

    private(set) var text = ""

    mutating func family(_ name: String, _ kind: Kind, _ help: String, _ body: (inout Family) -> Void) {
        var f = Family()
        f.name = name
        body(&f)
        guard !f.lines.isEmpty else { return }
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n" + f.lines
    }

    mutating func histogramFamily(_ name: String, _ help: String, _ series: [([(String, String)], LatencyHistogram)]) {
        family(name, .histogram, help) { f in
            for (labels, h) in series {
                let cumulative = h.cumulativeCounts
                for (i, bound) in LatencyHistogram.boundsNanoseconds.enumerated() {
                    f.sample(labels + [("le", Self.format(Double(bound) / 1e9))], .int(Int(cumulative[i])), suffix: "_bucket")
                }
                f.sample(labels + [("le", "+Inf")], .int(Int(h.count)), suffix: "_bucket")
                f.seconds(labels, (Double(h.sumNanoseconds) / 1e9), suffix: "_sum")
                f.sample(labels, .int(Int(h.count)), suffix: "_count")
            }
        }
    }

    /// A float without exponent and without trailing zeros (`0.00025`, `2.5`, `60`).
    static func format(_ d: Double) -> String {
        guard d.isFinite else { return d.isNaN ? "NaN" : (d > 0 ? "+Inf" : "-Inf") }
        // Past what fits in Int64 nanoseconds (a latency sum after ~292 years of requests, which
        // long tunnels reach sooner), and past what a Double holds to the nanosecond anyway:
        // whole units, then Swift's exponent form (both Prometheus numbers).
        guard abs(d) < 9e9 else { return abs(d) < 9e18 ? String(Int64(d.rounded())) : String(d) }
        var s = String(Int64((d * 1e9).rounded()))
        let negative = s.hasPrefix("-")
        if negative { s.removeFirst() }
        while s.count < 10 { s = "0" + s }
        var whole = String(s.dropLast(9)), frac = String(s.suffix(9))
        while frac.hasSuffix("0") { frac.removeLast() }
        if whole.isEmpty { whole = "0" }
        return (negative ? "-" : "") + whole + (frac.isEmpty ? "" : "." + frac)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func escapeHelp(_ s: String) -> String {
        s.replacing("\\", with: "\\\\").replacing("\n", with: "\\n")
    }
}
