import Foundation
import SwiftLBAdmin
import XCTest

/// Each renderer on the fixture snapshot, read back by an independent parser: Python's csv
/// module for the CSV, Foundation's JSON parser, python prometheus_client's text parser, and
/// `show servers state` split by its own header.
final class RenderTests: XCTestCase {
    let snapshot = Fixtures.snapshot()

    /// The CSV rows as Python's csv.DictReader sees them (header `# pxname` → `pxname`).
    func csvRows(_ text: String) throws -> [[String: String]] {
        let r = python("""
            import csv, io, json, sys
            text = open(sys.argv[1]).read()
            lines = text.splitlines(True)
            assert lines[0].startswith('# '), lines[0]
            reader = csv.reader(io.StringIO(lines[0][2:] + ''.join(lines[1:])))
            header = next(reader)
            rows = [dict(zip(header, r)) for r in reader]
            assert all(len(r) == len(header) for r in csv.reader(io.StringIO(''.join(lines[1:])))), 'ragged rows'
            print(json.dumps({'header': header, 'rows': rows}))
            """, [try write(text)])
        XCTAssertEqual(r.status, 0, r.err)
        let object = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        let header = object["header"] as! [String]
        XCTAssertEqual(header.first, "pxname")
        XCTAssertEqual(header.last, "", "HAProxy ends every line with a comma")
        return object["rows"] as! [[String: String]]
    }

    private var scratch: Scratch?
    func write(_ text: String) throws -> String {
        if scratch == nil { scratch = try Scratch() }
        let path = scratch!.file("out-\(UUID().uuidString.prefix(6)).txt")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func row(_ rows: [[String: String]], _ px: String, _ sv: String) -> [String: String] {
        rows.first { $0["pxname"] == px && $0["svname"] == sv } ?? [:]
    }

    func testCSVParsedByPythonMatchesTheSnapshot() throws {
        let rows = try csvRows(CSVRenderer.render(snapshot))
        XCTAssertEqual(rows.map { "\($0["pxname"]!)/\($0["svname"]!)" },
                       ["fe/FRONTEND", "nodes/node1", "nodes/node2", "nodes/node3", "nodes/node4", "nodes/node5", "nodes/spare",
                        "nodes/BACKEND", "redis/FRONTEND", "redis/r1", "redis/BACKEND"])

        let fe = row(rows, "fe", "FRONTEND")
        XCTAssertEqual(fe["stot"], "1201")
        XCTAssertEqual(fe["bin"], "987654")
        XCTAssertEqual(fe["bout"], "12345678")
        XCTAssertEqual(fe["req_tot"], "5678")
        XCTAssertEqual(fe["hrsp_2xx"], "5400")
        XCTAssertEqual(fe["hrsp_other"], "4")
        XCTAssertEqual(fe["status"], "OPEN")
        XCTAssertEqual(fe["slim"], "4096")
        XCTAssertEqual(fe["type"], "0")
        XCTAssertEqual(fe["iid"], "2")
        XCTAssertEqual(fe["ssl_sess"], "800")
        XCTAssertEqual(fe["ssl_failed_handshake"], "6")
        XCTAssertEqual(fe["conn_tot"], "1234")
        XCTAssertEqual(fe["qcur"], "", "frontends have no queue in HAProxy's CSV")
        XCTAssertEqual(fe["econ"], "")
        XCTAssertEqual(fe["-"], "-")

        let n1 = row(rows, "nodes", "node1")
        XCTAssertEqual(n1["status"], "UP")
        XCTAssertEqual(n1["check_status"], "L7OK")
        XCTAssertEqual(n1["check_code"], "200")
        XCTAssertEqual(n1["check_duration"], "3")
        XCTAssertEqual(n1["check_desc"], "Layer7 check passed")
        XCTAssertEqual(n1["last_chk"], "HTTP status check returned code <200>")
        XCTAssertEqual(n1["weight"], "100")
        XCTAssertEqual(n1["addr"], "127.0.0.1:8081")
        XCTAssertEqual(n1["cookie"], "n1")
        XCTAssertEqual(n1["lbtot"], "690")
        XCTAssertEqual(n1["req_tot"], "3100")
        XCTAssertEqual(n1["type"], "2")
        XCTAssertEqual(n1["sid"], "1")
        XCTAssertEqual(n1["slim"], "", "no maxconn: empty, as HAProxy")
        XCTAssertEqual(n1["ereq"], "")
        XCTAssertEqual(n1["h1_total_connections"], "", "the h1 module has no server rows")

        let n2 = row(rows, "nodes", "node2")
        XCTAssertEqual(n2["status"], "DOWN")
        XCTAssertEqual(n2["check_status"], "L4CON")
        XCTAssertEqual(n2["check_code"], "", "a layer-4 result has no code")
        XCTAssertEqual(n2["last_chk"], "Connection refused, \"port 8082\"", "quoted and unquoted by the csv module")
        XCTAssertEqual(n2["chkfail"], "9")
        XCTAssertEqual(n2["chkdown"], "2")
        XCTAssertEqual(n2["downtime"], "130")
        XCTAssertEqual(n2["wretr"], "6")
        XCTAssertEqual(n2["lastsess"], "-1", "never used: -1, as HAProxy")

        let n3 = row(rows, "nodes", "node3")
        XCTAssertEqual(n3["status"], "DRAIN")
        XCTAssertEqual(n3["addr"], "[::1]:8083")
        XCTAssertEqual(n3["slim"], "100")
        XCTAssertEqual(n3["qlimit"], "10")

        let n4 = row(rows, "nodes", "node4")
        XCTAssertEqual(n4["status"], "MAINT")
        XCTAssertEqual(n4["check_status"], "", "checks are paused in maintenance")
        XCTAssertEqual(n4["chkfail"], "0", "but the check is still enabled")

        let n5 = row(rows, "nodes", "node5")
        XCTAssertEqual(n5["status"], "no check")
        XCTAssertEqual(n5["chkfail"], "")
        XCTAssertEqual(n5["check_status"], "")

        let spare = row(rows, "nodes", "spare")
        XCTAssertEqual(spare["act"], "0")
        XCTAssertEqual(spare["bck"], "1")

        let be = row(rows, "nodes", "BACKEND")
        XCTAssertEqual(be["status"], "UP")
        XCTAssertEqual(be["weight"], "110", "node1 (100) and node5 (10): node2 is down, node3 drains, node4 is in maintenance")
        XCTAssertEqual(be["act"], "2")
        XCTAssertEqual(be["bck"], "1")
        XCTAssertEqual(be["slim"], "410")
        XCTAssertEqual(be["algo"], "roundrobin")
        XCTAssertEqual(be["cookie"], "SERVERID")
        XCTAssertEqual(be["hrsp_5xx"], "19")
        XCTAssertEqual(be["type"], "1")

        let tcpFrontend = row(rows, "redis", "FRONTEND")
        XCTAssertEqual(tcpFrontend["mode"], "tcp")
        XCTAssertEqual(tcpFrontend["hrsp_2xx"], "", "no HTTP counters in tcp mode")
        XCTAssertEqual(row(rows, "redis", "BACKEND")["req_tot"], "")
        XCTAssertEqual(row(rows, "redis", "BACKEND")["algo"], "leastconn")

        // Legends hidden: what a user-level CLI session or a page without show-legends sees.
        let hidden = try csvRows(CSVRenderer.render(snapshot, legends: false))
        XCTAssertEqual(row(hidden, "nodes", "node1")["addr"], "")
        XCTAssertEqual(row(hidden, "nodes", "BACKEND")["algo"], "")
    }

    func testCSVFilters() throws {
        var filter = CSVRenderer.Filter()
        filter.onlyUp = true
        let up = try csvRows(CSVRenderer.render(snapshot, filter: filter)).map { $0["svname"]! }
        XCTAssertFalse(up.contains("node2"))
        XCTAssertFalse(up.contains("node4"))
        XCTAssertTrue(up.contains("node3"), "draining is up")
        filter = CSVRenderer.Filter()
        filter.proxy = "nodes"
        filter.types = 4
        filter.serverID = 2
        XCTAssertEqual(try csvRows(CSVRenderer.render(snapshot, filter: filter)).map { $0["svname"]! }, ["node2"])
    }

    func testJSONCarriesTheRowsAndTheExtras() throws {
        let text = JSONRenderer.render(snapshot)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as! [String: Any]
        let info = object["info"] as! [String: Any]
        XCTAssertEqual(info["Pid"] as? Int, 4242)
        XCTAssertEqual(info["Version"] as? String, "0.1.0")
        let stats = object["stats"] as! [[String: Any]]
        XCTAssertEqual(stats.count, 11)
        let fe = stats[0]
        XCTAssertEqual(fe["pxname"] as? String, "fe")
        XCTAssertEqual(fe["stot"] as? Int, 1201)
        XCTAssertNil(fe["qcur"], "empty cells are left out")
        let latency = fe["latency_ms"] as! [String: Any]
        XCTAssertEqual(latency["count"] as? Int, 10)
        XCTAssertEqual(latency["max"] as? Double, 900)
        let p50 = latency["p50"] as! Double
        XCTAssertTrue((1.0...5.0).contains(p50), "the 5th of 10 samples is 3 ms: \(p50)")
        XCTAssertEqual((fe["websocket"] as! [String: Any])["current"] as? Int, 2)
        XCTAssertEqual((fe["tls"] as! [String: Any])["failures"] as? Int, 6)
        let node2 = stats.first { $0["svname"] as? String == "node2" }!
        XCTAssertEqual(node2["last_chk"] as? String, "Connection refused, \"port 8082\"")
        XCTAssertEqual(node2["admin_state"] as? String, "READY")
        XCTAssertEqual(node2["last_check_age"] as? Int, 1)
        let vip = object["vip"] as! [String: Any]
        XCTAssertEqual(vip["state"] as? String, "MASTER")
        XCTAssertEqual((vip["last_transition"] as! [String: Any])["age_seconds"] as? Double, 125)
        XCTAssertEqual((vip["heartbeat_drops"] as! [String: Any])["bad-hmac"] as? Int, 4)

        let hidden = try JSONSerialization.jsonObject(with: Data(JSONRenderer.render(snapshot, hideVersion: true).utf8)) as! [String: Any]
        XCTAssertNil((hidden["info"] as! [String: Any])["Version"])
    }

    func testPrometheusParsedByPrometheusClient() throws {
        try requirePythonModule("prometheus_client")
        let text = PrometheusRenderer.render(snapshot)
        let r = python("""
            import json, math, sys
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    key = s.name + '{' + ','.join('%s=%s' % kv for kv in sorted(s.labels.items())) + '}'
                    out[key] = None if math.isnan(s.value) else s.value
                out['TYPE ' + family.name] = family.type
            print(json.dumps(out))
            """, [try write(text)])
        XCTAssertEqual(r.status, 0, r.err + "\n" + text.prefix(2000))
        let m = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: Any]
        func value(_ key: String) -> Double? { m[key] as? Double }

        XCTAssertEqual(value("haproxy_process_nbthread{}"), 2)
        XCTAssertEqual(value("haproxy_process_requests_total{}"), 5678)
        XCTAssertEqual(value("haproxy_process_build_info{version=0.1.0}"), 1)
        XCTAssertEqual(value("haproxy_frontend_http_requests_total{proxy=fe}"), 5678)
        XCTAssertEqual(value("haproxy_frontend_http_responses_total{code=2xx,proxy=fe}"), 5400)
        XCTAssertEqual(value("haproxy_frontend_status{proxy=fe,state=UP}"), 1)
        XCTAssertNil(m["haproxy_frontend_http_requests_total{proxy=redis}"], "no HTTP metrics for a tcp proxy")
        XCTAssertEqual(value("haproxy_backend_weight{proxy=nodes}"), 110)
        XCTAssertEqual(value("haproxy_backend_agg_server_status{proxy=nodes,state=DOWN}"), 1)
        XCTAssertEqual(value("haproxy_backend_agg_server_status{proxy=nodes,state=UP}"), 3)
        XCTAssertEqual(value("haproxy_backend_total_time_average_seconds{proxy=nodes}"), 0.007)
        XCTAssertEqual(value("haproxy_server_status{proxy=nodes,server=node3,state=DRAIN}"), 1)
        XCTAssertEqual(value("haproxy_server_status{proxy=nodes,server=node3,state=UP}"), 0)
        XCTAssertEqual(value("haproxy_server_status{proxy=nodes,server=node4,state=MAINT}"), 1)
        XCTAssertEqual(value("haproxy_server_check_status{proxy=nodes,server=node2,state=L4CON}"), 1)
        XCTAssertNil(m["haproxy_server_check_status{proxy=nodes,server=node4,state=L4CON}"], "paused in maintenance")
        XCTAssertEqual(value("haproxy_server_check_code{proxy=nodes,server=node1}"), 200)
        XCTAssertEqual(value("haproxy_server_check_duration_seconds{proxy=nodes,server=node1}"), 0.003)
        XCTAssertEqual(value("haproxy_server_check_failures_total{proxy=nodes,server=node2}"), 9)
        XCTAssertTrue(m.keys.contains("haproxy_server_limit_sessions{proxy=nodes,server=node1}") && value("haproxy_server_limit_sessions{proxy=nodes,server=node1}") == nil,
                      "an empty cell is NaN, as HAProxy's exporter writes it")
        XCTAssertEqual(m["TYPE haproxy_server_check_failures"] as? String, "counter")

        // The histogram: buckets cumulative, +Inf = count, sum in seconds.
        XCTAssertEqual(m["TYPE swiftlb_frontend_request_duration_seconds"] as? String, "histogram")
        let h = "swiftlb_frontend_request_duration_seconds"
        XCTAssertEqual(value("\(h)_bucket{le=0.00025,proxy=fe}"), 1, "0.2 ms")
        XCTAssertEqual(value("\(h)_bucket{le=0.001,proxy=fe}"), 3, "0.2, 0.4, 0.9 ms")
        XCTAssertEqual(value("\(h)_bucket{le=0.01,proxy=fe}"), 6, "… 1.5, 3, 7 ms")
        XCTAssertEqual(value("\(h)_bucket{le=1,proxy=fe}"), 10)
        XCTAssertEqual(value("\(h)_bucket{le=+Inf,proxy=fe}"), 10)
        XCTAssertEqual(value("\(h)_count{proxy=fe}"), 10)
        XCTAssertEqual(value("\(h)_sum{proxy=fe}")!, 1.085, accuracy: 1e-9)
        XCTAssertEqual(value("swiftlb_server_request_duration_seconds_count{proxy=nodes,server=node1}"), 5)
        XCTAssertEqual(value("swiftlb_server_connect_duration_seconds_count{proxy=nodes,server=node1}"), 2)
        XCTAssertEqual(value("swiftlb_frontend_websocket_tunnels_current{proxy=fe}"), 2)
        XCTAssertEqual(value("swiftlb_frontend_websocket_bytes_total{direction=out,proxy=fe}"), 8192)
        XCTAssertEqual(value("swiftlb_frontend_tls_handshake_failures_total{proxy=fe}"), 6)
        XCTAssertEqual(value("swiftlb_server_check_transitions_total{proxy=nodes,server=node2,to=DOWN}"), 2)
        XCTAssertEqual(value("swiftlb_vip_state{instance=hipchat_vip,state=MASTER}"), 1)
        XCTAssertEqual(value("swiftlb_vip_state{instance=hipchat_vip,state=BACKUP}"), 0)
        XCTAssertEqual(value("swiftlb_vip_heartbeat_drops_total{instance=hipchat_vip,reason=bad-hmac}"), 4)

        // HAProxy's scope parameter.
        let scoped = PrometheusRenderer.render(snapshot, options: try PrometheusRenderer.Options(query: "scope=backend"))
        XCTAssertTrue(scoped.contains("haproxy_backend_weight{proxy=\"nodes\"} 110\n"))
        XCTAssertFalse(scoped.contains("haproxy_server_"))
        XCTAssertFalse(scoped.contains("haproxy_process_"))
        XCTAssertThrowsError(try PrometheusRenderer.Options(query: "scope=nothing"))
        let noMaint = PrometheusRenderer.render(snapshot, options: try PrometheusRenderer.Options(query: "no-maint"))
        XCTAssertFalse(noMaint.contains("server=\"node4\""))
    }

    func testShowServersStateParsedByItsHeader() {
        let text = ServersStateRenderer.render(snapshot)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        XCTAssertEqual(lines[0], "1", "format version line")
        XCTAssertTrue(lines[1].hasPrefix("# "))
        let header = lines[1].dropFirst(2).split(separator: " ").map(String.init)
        XCTAssertEqual(header.count, 25)
        let rows = lines.dropFirst(2).filter { !$0.isEmpty }.map { line -> [String: String] in
            let fields = line.split(separator: " ").map(String.init)
            XCTAssertEqual(fields.count, header.count, line)
            return Dictionary(uniqueKeysWithValues: zip(header, fields))
        }
        XCTAssertEqual(rows.count, 7)
        let byName = Dictionary(uniqueKeysWithValues: rows.map { ($0["srv_name"]!, $0) })
        XCTAssertEqual(byName["node1"]?["be_id"], "3")
        XCTAssertEqual(byName["node1"]?["srv_op_state"], "2")
        XCTAssertEqual(byName["node1"]?["srv_check_status"], "15", "HAProxy's HCHK_STATUS_L7OKD")
        XCTAssertEqual(byName["node1"]?["srv_check_result"], "3")
        XCTAssertEqual(byName["node1"]?["srv_check_state"], "6", "configured | enabled")
        XCTAssertEqual(byName["node1"]?["srv_port"], "8081")
        XCTAssertEqual(byName["node2"]?["srv_op_state"], "0")
        XCTAssertEqual(byName["node2"]?["srv_check_status"], "8")
        XCTAssertEqual(byName["node3"]?["srv_admin_state"], "8", "forced drain")
        XCTAssertEqual(byName["node3"]?["srv_uweight"], "50")
        XCTAssertEqual(byName["node4"]?["srv_admin_state"], "5", "forced | configured maintenance, as HAProxy's 'disabled'")
        XCTAssertEqual(byName["node4"]?["srv_check_state"], "14", "paused")
        XCTAssertEqual(byName["node5"]?["srv_check_state"], "0")
        XCTAssertEqual(byName["r1"]?["be_name"], "redis")
        XCTAssertEqual(ServersStateRenderer.render(snapshot, backend: "redis").split(separator: "\n").count, 3)
    }

    /// A server whose agent put it in maintenance, as haproxy 2.6 shows it (checks/agent-check.vtc):
    /// its unconfigured check is not paused, the agent's state is configured | enabled | agent,
    /// and the agent's address and port close the line.
    func testShowServersStateOfAnAgentCheckedServer() {
        var s = ServerStats(name: "srv", sid: 1, address: "127.0.0.1", port: 8000, operational: .stopped, admin: .maint, weight: 75)
        s.initialWeight = 100
        s.agent = .init(address: "127.0.0.1", port: 8001)
        let proxy = ProxyStats(name: "be1", iid: 1, frontend: nil, backend: BackendStats(servers: [s], fullconn: 0, algorithm: "roundrobin", cookieName: nil, counters: .init()))
        let snapshot = StatsSnapshot(process: ProcessStats(version: "x", pid: 1, nbthread: 1, uptime: 1, startTime: 1, maxconn: 1),
                                     proxies: [proxy], takenAt: 0)
        let fields = ServersStateRenderer.render(snapshot).split(separator: "\n")[2].split(separator: " ").map(String.init)
        XCTAssertEqual(Array(fields[5...8]), ["0", "1", "75", "100"])
        XCTAssertEqual(fields[13], "0", "srv_check_state")
        XCTAssertEqual(fields[14], "22", "srv_agent_state")
        XCTAssertEqual(Array(fields[23...24]), ["127.0.0.1", "8001"])
    }

    /// HAProxy's server status text, transitional states included.
    func testServerStatusText() {
        var s = ServerStats(name: "s", sid: 1, address: "127.0.0.1", port: 80,
                            check: CheckStats(status: .l7status, rise: 2, fall: 3, health: 3))
        XCTAssertEqual(s.statusText, "UP 2/3", "one failed check of three")
        s.admin = .drain
        XCTAssertEqual(s.statusText, "DRAIN 2/3")
        s.admin = .ready
        s.operational = .stopped
        s.check!.health = 1
        XCTAssertEqual(s.statusText, "DOWN 1/2", "one good check of two")
        s.check!.health = 0
        XCTAssertEqual(s.statusText, "DOWN")
        s.operational = .stopping
        s.check!.health = 4
        XCTAssertEqual(s.statusText, "NOLB")
        s.check = nil
        s.operational = .running
        XCTAssertEqual(s.statusText, "no check")
        s.admin = .maint
        XCTAssertEqual(s.statusText, "MAINT")
    }

    func testShowInfoHasHAProxysFieldsInOrder() {
        let text = InfoRenderer.render(snapshot.process)
        let names = text.split(separator: "\n").map { String($0.split(separator: ":", maxSplits: 1)[0]) }
        XCTAssertEqual(Array(names.prefix(9)), ["Name", "Version", "Release_date", "Nbthread", "Nbproc", "Process_num", "Pid", "Uptime", "Uptime_sec"])
        XCTAssertTrue(text.contains("Uptime: 0d 1h02m03s\n"))
        XCTAssertTrue(text.contains("CumReq: 5678\n"))
        XCTAssertTrue(text.contains("node: lb1\n"))
        XCTAssertFalse(text.contains("description"), "an empty field is left out")
        XCTAssertFalse(InfoRenderer.render(snapshot.process, hideVersion: true).contains("0.1.0"))
    }

    func testHTMLPage() {
        var options = HTMLRenderer.Options()
        options.uri = "/stats"
        options.refresh = 5
        let page = HTMLRenderer.render(snapshot, options: options)
        XCTAssertTrue(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"))
        XCTAssertTrue(page.contains("version 0.1.0"))
        XCTAssertTrue(page.contains("href=\"/stats;csv\""))
        XCTAssertTrue(page.contains("class=\"active_down\" data-row=\"node2\""))
        XCTAssertTrue(page.contains("class=\"active_draining\" data-row=\"node3\""))
        XCTAssertTrue(page.contains("class=\"maintain\" data-row=\"node4\""))
        XCTAssertTrue(page.contains("class=\"active_no_check\" data-row=\"node5\""))
        XCTAssertTrue(page.contains("class=\"backup_up\" data-row=\"spare\""))
        XCTAssertTrue(page.contains("L7OK/200 in 3ms, 2s ago"))
        XCTAssertTrue(page.contains("Connection refused, &quot;port 8082&quot;"), "escaped")
        XCTAssertTrue(page.contains("BACKUP → MASTER, 2m5s ago: peer&#39;s heartbeats stopped (3 missed)"))
        XCTAssertFalse(page.contains("<form"), "no admin buttons unless stats admin allows")

        options.hideVersion = true
        options.adminAllowed = true
        options.refresh = nil
        let admin = HTMLRenderer.render(snapshot, options: options)
        XCTAssertFalse(admin.contains("0.1.0"))
        XCTAssertFalse(admin.contains("http-equiv=\"refresh\""))
        XCTAssertTrue(admin.contains("<form method=\"post\" action=\"/stats\"><input type=\"hidden\" name=\"b\" value=\"nodes\"><input type=\"hidden\" name=\"s\" value=\"node3\">"))
        XCTAssertTrue(admin.contains("<button name=\"action\" value=\"drain\" disabled>"), "the current state's button is disabled")
    }
}
