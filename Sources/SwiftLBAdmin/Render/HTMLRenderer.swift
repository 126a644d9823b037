/// The stats page a person reads at a glance, after HAProxy's: the process and the VIP on
/// top, then one table per proxy (its FRONTEND, its servers coloured by state, its BACKEND)
/// with sessions, request rates and responses, bytes, errors, retries and redispatches,
/// latency percentiles, WebSocket tunnels, each server's state, last check and its age,
/// weight; drain/maint/ready buttons when `stats admin` allows. No script: a `stats refresh`
/// is a meta refresh, so the page works in any browser and in `curl`.
public enum HTMLRenderer {
    public struct Options: Sendable, Equatable {
        /// The stats URI: links to `;csv`, `;json` and the admin form's action.
        public var uri: String = "/"
        /// `stats refresh`: seconds between reloads, nil for none.
        public var refresh: Int?
        /// `stats hide-version`: no version, no node name.
        public var hideVersion = false
        /// `stats admin if …` matched this request: show the buttons.
        public var adminAllowed = false
        /// Where the Prometheus text is served, if anywhere (linked from the page).
        public var metricsURI: String?
        /// The outcome of the last admin action (`;st=…` after its redirect).
        public var notice: String?
        /// `stats show-node`: the node name to show, whatever `hide-version` says.
        public var node: String?
        /// `stats show-desc`: a description line under the title.
        public var description: String?
        public init() {}
    }

    public static func render(_ snapshot: StatsSnapshot, options: Options = Options()) -> String {
        var h = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        if let refresh = options.refresh { h += "<meta http-equiv=\"refresh\" content=\"\(refresh)\">\n" }
        h += "<title>Statistics Report for \(esc(snapshot.process.name)) (pid \(snapshot.process.pid))</title>\n"
        h += "<style>\n" + css + "</style></head>\n<body>\n"
        h += header(snapshot, options)
        if let notice = options.notice { h += "<p class=\"notice\">\(esc(notice))</p>\n" }
        h += "<div class=\"top\">" + processBox(snapshot.process, options) + vipBox(snapshot.vip, takenAt: snapshot.takenAt) + legend + "</div>\n"
        for proxy in snapshot.proxies.sorted(by: { $0.iid < $1.iid }) { h += proxyTable(proxy, options) }
        h += "</body></html>\n"
        return h
    }

    // MARK: the top of the page

    static func header(_ s: StatsSnapshot, _ o: Options) -> String {
        var h = "<h1>\(esc(s.process.name))"
        if !o.hideVersion { h += " <span class=\"version\">version \(esc(s.process.version))</span>" }
        h += "</h1>\n<p class=\"links\">"
        h += "<a href=\"\(esc(o.uri));csv\">CSV export</a> · <a href=\"\(esc(o.uri));json\">JSON export</a>"
        if let m = o.metricsURI { h += " · <a href=\"\(esc(m))\">Prometheus metrics</a>" }
        h += o.refresh.map { " · refreshed every \($0) s" } ?? ""
        return h + "</p>\n"
    }

    static func processBox(_ p: ProcessStats, _ o: Options) -> String {
        var rows: [(String, String)] = [("pid", "\(p.pid)")]
        if let node = o.node, !node.isEmpty {
            rows.append(("node", node))
        } else if !o.hideVersion && !p.node.isEmpty {
            rows.append(("node", p.node))
        }
        if let description = o.description, !description.isEmpty { rows.append(("description", description)) }
        rows += [
            ("uptime", duration(p.uptime)),
            ("threads", "\(p.nbthread)"),
            ("connections", "\(p.currentConnections) of maxconn \(p.maxconn)"),
            ("connection rate", "\(p.connectionRate)/s (max \(p.connectionRateMax)/s)"),
            ("session rate", "\(p.sessionRate)/s (max \(p.sessionRateMax)/s)"),
            ("requests", "\(p.cumulativeRequests) total"),
        ]
        if p.stopping { rows.append(("state", "stopping")) }
        return box("Process", "process", rows)
    }

    static func vipBox(_ vip: VIPStats?, takenAt: Double) -> String {
        guard let v = vip else { return box("VIP", "vip", [("state", "no vrrp section")]) }
        var rows: [(String, String)] = [
            ("instance", v.instance),
            ("state", v.state.rawValue),
            ("priority", "\(v.priority) (configured \(v.configuredPriority))"),
            ("addresses", v.addresses.joined(separator: ", ")),
        ]
        if let peer = v.peer {
            var text = peer
            if let p = v.peerPriority { text += " priority \(p)" }
            if let heard = v.peerLastHeard { text += ", heard \(Int((heard * 1000).rounded())) ms ago" }
            rows.append(("peer", text))
        } else {
            rows.append(("peer", "not heard yet"))
        }
        if let t = v.lastTransition {
            rows.append(("last transition", "\(t.from.rawValue) → \(t.to.rawValue), \(duration(Int(max(0, takenAt - t.at)))) ago: \(t.reason)"))
        }
        if let f = v.fault { rows.append(("fault", f)) }
        let drops = v.heartbeatDrops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        rows.append(("dropped heartbeats", drops.isEmpty ? "none" : drops))
        if v.heartbeatSendFailures > 0 { rows.append(("send failures", "\(v.heartbeatSendFailures)")) }
        return box("VIP", "vip vip_\(v.state.rawValue.lowercased())", rows)
    }

    /// A small key/value table; its id (`box-process`, `box-vip`) cannot collide with a proxy's.
    static func box(_ title: String, _ cls: String, _ rows: [(String, String)]) -> String {
        let id = "box-" + (cls.split(separator: " ").first.map(String.init) ?? cls)
        var h = "<table class=\"box \(cls)\" id=\"\(id)\"><tr><th colspan=\"2\">\(esc(title))</th></tr>"
        for (k, v) in rows { h += "<tr><td>\(esc(k))</td><td data-field=\"\(esc(k))\">\(esc(v))</td></tr>" }
        return h + "</table>\n"
    }

    static let legend: String = {
        let items = [("active_up", "active UP"), ("active_going_down", "active UP, going down"), ("active_down", "active DOWN"),
                     ("active_going_up", "active DOWN, going up"), ("active_draining", "active or backup DRAIN"),
                     ("maintain", "MAINT (maintenance)"), ("active_no_check", "not checked"),
                     ("backup_up", "backup UP"), ("backup_down", "backup DOWN")]
        return "<table class=\"box legend\"><tr><th colspan=\"2\">Legend</th></tr>"
            + items.map { "<tr><td class=\"\($0.0)\">&nbsp;&nbsp;&nbsp;</td><td>\($0.1)</td></tr>" }.joined() + "</table>"
    }()

    // MARK: one table per proxy

    static let groups: [(String, [String])] = [
        ("Queue", ["Cur", "Max", "Limit"]),
        ("Session rate", ["Cur", "Max", "Limit"]),
        ("Sessions", ["Cur", "Max", "Limit", "Total", "LbTot", "Last"]),
        ("Requests", ["Rate", "Total", "2xx", "4xx", "5xx"]),
        ("Bytes", ["In", "Out"]),
        ("Denied", ["Req", "Resp"]),
        ("Errors", ["Req", "Conn", "Resp"]),
        ("Warnings", ["Retr", "Redis"]),
        ("Latency (ms)", ["p50", "p90", "p99", "Max"]),
        ("WebSocket", ["Cur", "Total"]),
        ("Server", ["Status", "LastChk", "Wght", "Act", "Bck", "Chk", "Dwn", "Dwntme", "Thrtle"]),
    ]

    static func proxyTable(_ proxy: ProxyStats, _ o: Options) -> String {
        let columns = groups.reduce(0) { $0 + $1.1.count } + 1 + (o.adminAllowed ? 1 : 0)
        var h = "<table class=\"proxy\" id=\"\(esc(proxy.name))\">\n"
        h += "<tr><th class=\"pxname\" colspan=\"\(columns)\">\(esc(proxy.name)) <span class=\"mode\">(\(proxy.mode.rawValue))</span></th></tr>\n"
        h += "<tr><th rowspan=\"2\"></th>" + groups.map { "<th colspan=\"\($0.1.count)\">\($0.0)</th>" }.joined()
        if o.adminAllowed { h += "<th rowspan=\"2\">Admin</th>" }
        h += "</tr>\n<tr>" + groups.flatMap(\.1).map { "<th>\($0)</th>" }.joined() + "</tr>\n"
        if let f = proxy.frontend { h += row(.frontend(proxy, f), o) }
        if let b = proxy.backend {
            for s in b.servers { h += row(.server(proxy, b, s), o) }
            h += row(.backend(proxy, b), o)
        }
        return h + "</table>\n"
    }

    static func rowClass(_ row: StatRow) -> String {
        switch row {
        case .frontend: return "frontend"
        case .backend(_, let b): return b.isUp ? "backend" : "backend active_down"
        case .server(_, _, let s):
            if s.admin == .maint { return "maintain" }
            if s.admin == .drain { return "active_draining" }
            let side = s.backup ? "backup" : "active"
            let status = s.statusText
            if status == "no check" { return "active_no_check" }
            if status.hasPrefix("UP ") || status.hasPrefix("NOLB") { return side + "_going_down" }
            if status.hasPrefix("DOWN ") { return side + "_going_up" }
            return side + (status == "UP" ? "_up" : "_down")
        }
    }

    static func row(_ row: StatRow, _ o: Options) -> String {
        func v(_ column: String) -> String {
            switch StatColumn.named(column)?(row) ?? .empty {
            case .empty: return ""
            case .int(let n): return "\(n)"
            case .string(let s): return s
            }
        }
        let c = row.counters
        let name: String
        switch row {
        case .frontend: name = "Frontend"
        case .backend: name = "Backend"
        case .server(_, _, let s): name = s.name
        }
        var cells: [(String, String)] = [
            ("qcur", v("qcur")), ("qmax", v("qmax")), ("qlimit", v("qlimit")),
            ("rate", v("rate")), ("rate_max", v("rate_max")), ("rate_lim", v("rate_lim")),
            ("scur", v("scur")), ("smax", v("smax")), ("slim", v("slim")), ("stot", v("stot")), ("lbtot", v("lbtot")),
            ("lastsess", c.lastSession.map(duration) ?? (v("lastsess").isEmpty ? "" : "never")),
            ("req_rate", v("req_rate")), ("req_tot", v("req_tot")),
            ("hrsp_2xx", v("hrsp_2xx")), ("hrsp_4xx", v("hrsp_4xx")), ("hrsp_5xx", v("hrsp_5xx")),
            ("bin", v("bin")), ("bout", v("bout")),
            ("dreq", v("dreq")), ("dresp", v("dresp")),
            ("ereq", v("ereq")), ("econ", v("econ")), ("eresp", v("eresp")),
            ("wretr", v("wretr")), ("wredis", v("wredis")),
        ]
        for (field, q) in [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)] {
            cells.append((field, c.latency?.quantileMilliseconds(q).map(ms) ?? ""))
        }
        cells.append(("latency_max", c.latency.flatMap { $0.count > 0 ? ms(Double($0.maxNanoseconds) / 1e6) : nil } ?? ""))
        cells += [("ws_cur", "\(c.tunnels.current)"), ("ws_tot", "\(c.tunnels.total)")]
        cells += statusCells(row)
        var h = "<tr class=\"\(rowClass(row))\" data-row=\"\(esc(name))\"><td class=\"name\">\(esc(name))</td>"
        h += cells.map { "<td data-field=\"\($0.0)\">\(esc($0.1))</td>" }.joined()
        if o.adminAllowed {
            h += "<td class=\"admin\">"
            if case .server(let p, _, let s) = row {
                h += "<form method=\"post\" action=\"\(esc(o.uri))\"><input type=\"hidden\" name=\"b\" value=\"\(esc(p.name))\">"
                h += "<input type=\"hidden\" name=\"s\" value=\"\(esc(s.name))\">"
                for state in ServerStats.AdminState.allCases {
                    let current = s.admin == state ? " disabled" : ""
                    h += "<button name=\"action\" value=\"\(state.rawValue)\"\(current)>\(state.rawValue)</button>"
                }
                h += "</form>"
            }
            h += "</td>"
        }
        return h + "</tr>\n"
    }

    /// Status (with how long it has been so), last check (status, code, duration, age),
    /// weight, active/backup, failed checks, downs, downtime, throttle.
    static func statusCells(_ row: StatRow) -> [(String, String)] {
        switch row {
        case .frontend(_, let f):
            return [("status", f.status.rawValue), ("last_chk", ""), ("weight", ""), ("act", ""), ("bck", ""),
                    ("chkfail", ""), ("chkdown", ""), ("downtime", ""), ("throttle", "")]
        case .backend(_, let b):
            return [("status", "\(duration(b.lastChange)) \(b.isUp ? "UP" : "DOWN")"), ("last_chk", ""),
                    ("weight", "\(b.effectiveWeight)"), ("act", "\(b.activeUsable)"), ("bck", "\(b.backupUsable)"),
                    ("chkfail", ""), ("chkdown", "\(b.downTransitions)"), ("downtime", b.servers.isEmpty ? "" : duration(b.downtime)),
                    ("throttle", "")]
        case .server(_, _, let s):
            var lastCheck = ""
            if let c = s.check {
                if !c.enabled {
                    lastCheck = "disabled"
                } else if s.admin == .maint {
                    lastCheck = "paused"
                } else {
                    lastCheck = c.status.name
                    if c.status.hasCode, let code = c.code { lastCheck += "/\(code)" }
                    if let d = c.durationMs, c.status.finished { lastCheck += " in \(d)ms" }
                    if let age = c.lastCheckAge { lastCheck += ", \(duration(age)) ago" }
                    if !c.lastDescription.isEmpty && c.status.result == 2 { lastCheck += ": \(c.lastDescription)" }
                }
            }
            let checked = s.check?.enabled == true
            return [("status", "\(duration(s.lastChange)) \(s.statusText)"), ("last_chk", lastCheck),
                    ("weight", s.effectiveWeight == s.userWeight ? "\(s.effectiveWeight)" : "\(s.effectiveWeight)/\(s.userWeight)"),
                    ("act", s.backup ? "-" : "Y"), ("bck", s.backup ? "Y" : "-"),
                    ("chkfail", checked ? "\(s.failedChecks)" : ""), ("chkdown", checked ? "\(s.downTransitions)" : ""),
                    ("downtime", checked ? duration(s.downtime) : ""),
                    ("throttle", s.operational == .starting ? s.throttle.map { "\($0) %" } ?? "" : "-")]
        }
    }

    // MARK: helpers

    /// HAProxy's `human_time`: 45s, 3m12s, 2h05m, 4d3h.
    static func duration(_ seconds: Int) -> String {
        let s = max(0, seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        if s < 86_400 { return "\(s / 3600)h\(two((s / 60) % 60))m" }
        return "\(s / 86_400)d\((s / 3600) % 24)h"
    }

    static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// Milliseconds with a precision that suits the magnitude.
    static func ms(_ value: Double) -> String {
        if value < 10 { return String(Double(Int((value * 100).rounded())) / 100) }
        if value < 100 { return String(Double(Int((value * 10).rounded())) / 10) }
        return String(Int(value.rounded()))
    }

    static func esc(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static let css = """
        body { font-family: arial, helvetica, sans-serif; font-size: 12px; color: black; background: white; margin: 8px; }
        h1 { font-size: x-large; margin: 0 0 0.2em 0; color: #6020a0; }
        h1 .version { font-size: small; color: #404040; font-weight: normal; }
        p.links { margin: 0 0 0.8em 0; } p.notice { background: #ffffa0; padding: 4px; border: 1px solid #c0c000; }
        div.top { display: flex; gap: 16px; align-items: flex-start; margin-bottom: 12px; }
        table.box { border-collapse: collapse; }
        table.box th { background: #20d0d0; text-align: left; padding: 2px 6px; }
        table.box td { border: 1px solid #c0c0c0; padding: 2px 6px; white-space: nowrap; }
        table.vip_master th { background: #30c030; } table.vip_backup th { background: #20a0ff; }
        table.vip_fault th { background: #ff6060; } table.vip_init th { background: #c0c0c0; }
        table.proxy { border-collapse: collapse; margin-bottom: 14px; }
        table.proxy th { font-size: 10px; border: 1px solid gray; background: #20d0d0; padding: 1px 3px; }
        table.proxy th.pxname { background: #b00040; color: #ffff40; text-align: left; font-size: 12px; padding: 2px 6px; }
        table.proxy th.pxname .mode { color: #ffffc0; font-weight: normal; }
        table.proxy td { font-size: 11px; border: 1px solid gray; padding: 1px 4px; text-align: right; white-space: nowrap; }
        table.proxy td.name { text-align: left; font-weight: bold; }
        table.proxy td[data-field="last_chk"] { text-align: left; white-space: normal; min-width: 12em; max-width: 22em; }
        table.proxy td.admin button { font-size: 10px; padding: 0 3px; }
        .frontend { background: #e8e8d0; } .backend { background: #e8e8d0; font-weight: bold; }
        .active_down { background: #ff9090; } .active_going_up { background: #ffd020; }
        .active_going_down { background: #ffffa0; } .active_up { background: #c0ffc0; }
        .active_draining { background: #20a0ff; } .active_no_check { background: #e0e0e0; }
        .backup_down { background: #ff9090; } .backup_going_up { background: #ff80ff; }
        .backup_going_down { background: #c060ff; } .backup_up { background: #b0d0ff; }
        .maintain { background: #c07820; }

        """
}
