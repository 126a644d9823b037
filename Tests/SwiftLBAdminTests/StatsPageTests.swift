import Foundation
import SwiftLBAdmin
import XCTest

/// The stats page over real HTTP (curl, headless Chromium, prometheus_client) from the
/// standalone stats listener, configured like the seed's `frontend stats` (`stats uri /`),
/// and the responder's rules (auth, admin form, modifiers) called directly.
final class StatsPageTests: XCTestCase {
    let curl = "/usr/bin/curl"
    let chromium = "/usr/bin/chromium"

    func seedSettings() -> StatsPageSettings {
        var settings = StatsPageSettings(uri: "/")
        settings.refreshSeconds = 5
        settings.metricsPath = "/metrics"
        return settings
    }

    func serve(_ settings: StatsPageSettings, actions: InMemoryActions, log: LogCapture = LogCapture()) async throws -> (StatsHTTPServer, String) {
        let server = try await StatsHTTPServer.start(host: "127.0.0.1", port: 0, settings: settings, api: RuntimeAPI(actions: actions, logger: log.logger),
                                                     group: testGroup, logger: log.logger,
                                                     adminAllowed: { _, remote in remote?.ipAddress == "127.0.0.1" })
        return (server, "http://127.0.0.1:\(server.localAddress!.port!)")
    }

    func get(_ arguments: [String]) -> Outcome {
        runTool(curl, ["-sS", "--max-time", "10"] + arguments)
    }

    func testPageInHeadlessChromiumShowsTheNumbers() async throws {
        try requireTool(curl)
        try requireTool(chromium)
        let dir = try Scratch()
        let actions = InMemoryActions()
        let (server, base) = try await serve(seedSettings(), actions: actions)
        defer { Task { await server.stop() } }

        let head = get(["-D", "-", "-o", "/dev/null", base + "/"])
        XCTAssertTrue(head.out.hasPrefix("HTTP/1.1 200 OK"), head.out)
        XCTAssertTrue(head.out.lowercased().contains("content-type: text/html; charset=utf-8"), head.out)

        let screenshot = try Artefacts.path("stats-page.png")
        try? FileManager.default.removeItem(atPath: screenshot)
        let browser = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                       "--user-data-dir=\(dir.file("chromium"))", "--window-size=1800,1000"]
        let shot = runTool(chromium, browser + ["--screenshot=\(screenshot)", base + "/"], timeout: 90)
        XCTAssertEqual(shot.status, 0, shot.err)
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
        let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
        XCTAssertEqual([width, height], [1800, 1000])
        XCTAssertGreaterThan(png.count, 30_000, "a page full of tables, not a blank one")
        print("stats page screenshot (test artefact): \(screenshot)")

        // What the browser parsed: each cell by table, row and field.
        let dom = runTool(chromium, browser + ["--dump-dom", base + "/"], timeout: 90)
        XCTAssertEqual(dom.status, 0, dom.err)
        let cells = try tableCells(dom.out)
        func cell(_ table: String, _ row: String, _ field: String) -> String? { cells["\(table)|\(row)|\(field)"] }
        XCTAssertEqual(cell("fe", "Frontend", "stot"), "1201")
        XCTAssertEqual(cell("fe", "Frontend", "bin"), "987654")
        XCTAssertEqual(cell("fe", "Frontend", "req_tot"), "5678")
        XCTAssertEqual(cell("fe", "Frontend", "hrsp_5xx"), "20")
        XCTAssertEqual(cell("fe", "Frontend", "ereq"), "5")
        XCTAssertEqual(cell("fe", "Frontend", "p50"), "5.0")
        XCTAssertEqual(cell("fe", "Frontend", "latency_max"), "900")
        XCTAssertEqual(cell("fe", "Frontend", "ws_cur"), "2")
        XCTAssertEqual(cell("nodes", "node1", "last_chk"), "L7OK/200 in 3ms, 2s ago")
        XCTAssertEqual(cell("nodes", "node1", "weight"), "100")
        XCTAssertEqual(cell("nodes", "node2", "status"), "1m35s DOWN")
        XCTAssertEqual(cell("nodes", "node2", "wretr"), "6")
        XCTAssertEqual(cell("nodes", "node2", "last_chk"), "L4CON in 0ms, 1s ago: Connection refused, \"port 8082\"")
        XCTAssertEqual(cell("nodes", "node3", "status"), "12s DRAIN")
        XCTAssertEqual(cell("nodes", "Backend", "weight"), "110")
        XCTAssertEqual(cell("nodes", "Backend", "wredis"), "2")
        XCTAssertEqual(cell("box-vip", "", "state"), "MASTER")
        XCTAssertEqual(cell("box-vip", "", "last transition"), "BACKUP → MASTER, 2m5s ago: peer's heartbeats stopped (3 missed)")
        XCTAssertEqual(cell("box-process", "", "uptime"), "1h02m")
        XCTAssertTrue(dom.out.contains("<meta http-equiv=\"refresh\" content=\"5\">"))
        XCTAssertTrue(dom.out.contains("<button name=\"action\" value=\"maint\">maint</button>"), "admin allowed from loopback")
    }

    /// `<table id|class>` → `<tr data-row>` → `<td data-field>` text, from the browser's DOM.
    func tableCells(_ html: String) throws -> [String: String] {
        let dir = try Scratch()
        let path = dir.file("dom.html")
        try html.write(toFile: path, atomically: true, encoding: .utf8)
        let r = python("""
            import json, sys
            from html.parser import HTMLParser
            class P(HTMLParser):
                def __init__(self):
                    super().__init__(); self.table = ''; self.row = ''; self.field = None; self.cells = {}; self.text = ''
                def handle_starttag(self, tag, attrs):
                    a = dict(attrs)
                    if tag == 'table': self.table = a.get('id', '')
                    if tag == 'tr': self.row = a.get('data-row', '')
                    if tag == 'td' and 'data-field' in a: self.field = a['data-field']; self.text = ''
                def handle_endtag(self, tag):
                    if tag == 'td' and self.field is not None:
                        self.cells['%s|%s|%s' % (self.table, self.row, self.field)] = self.text; self.field = None
                def handle_data(self, data):
                    if self.field is not None: self.text += data
            p = P(); p.feed(open(sys.argv[1]).read()); print(json.dumps(p.cells))
            """, [path])
        XCTAssertEqual(r.status, 0, r.err)
        return try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as! [String: String]
    }

    func testCSVJSONMetricsAndTheAdminFormOverHTTP() async throws {
        try requireTool(curl)
        try requirePythonModule("prometheus_client")
        let actions = InMemoryActions()
        let log = LogCapture()
        let (server, base) = try await serve(seedSettings(), actions: actions, log: log)
        defer { Task { await server.stop() } }

        // ;csv and ;json on one kept-alive connection.
        let both = get(["-v", "-o", "/dev/null", "-o", "/dev/null", base + "/;csv", base + "/;json"])
        XCTAssertTrue(both.err.contains("Re-using existing connection"), both.err)
        let csv = get([base + "/;csv"]).out
        XCTAssertTrue(csv.hasPrefix(StatColumn.csvHeader), String(csv.prefix(200)))
        XCTAssertFalse(csv.contains("127.0.0.1:8081"), "no addresses on the page without stats show-legends")
        let parsed = python("import csv,sys; rows=list(csv.reader(open(sys.argv[1]))); print(len(rows), rows[1][7])",
                            [try save(csv)])
        XCTAssertEqual(parsed.out, "12 1201\n", parsed.err)
        let json = try JSONSerialization.jsonObject(with: Data(get([base + "/;json"]).out.utf8)) as! [String: Any]
        XCTAssertEqual((json["stats"] as! [[String: Any]]).count, 11)

        let metrics = get(["-D", dirFile("headers"), base + "/metrics?scope=frontend&scope=server"]).out
        let m = python("""
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            for f in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in f.samples:
                    if s.name == 'haproxy_frontend_http_requests_total': print(s.labels['proxy'], int(s.value))
                    if s.name == 'swiftlb_server_request_duration_seconds_count': print(s.labels['server'], int(s.value))
            """, [try save(metrics)])
        XCTAssertEqual(m.out, "fe 5678\nnode1 5\n", m.err)
        XCTAssertFalse(metrics.contains("haproxy_backend_"), "scope honoured")
        XCTAssertEqual(get(["-o", "/dev/null", "-w", "%{http_code}", base + "/metrics?scope=bogus"]).out, "400")

        // The admin form: drain node2 from the page.
        let post = get(["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}", "-d", "b=nodes&s=node2&s=node5&action=maint", base + "/"])
        XCTAssertEqual(post.out, "303 \(base)/;st=DONE")
        XCTAssertEqual(actions.calls, ["state nodes/node2 maint", "state nodes/node5 maint"])
        XCTAssertTrue(log.text.contains("Server nodes/node2 admin state READY -> MAINT (stats page)"), log.text)
        XCTAssertTrue(get([base + "/;st=DONE"]).out.contains("Action processed successfully."))
        let foreign = get(["-o", "/dev/null", "-w", "%{http_code}", "-H", "Origin: http://evil.example", "-d", "b=nodes&s=node1&action=maint", base + "/"])
        XCTAssertEqual(foreign.out, "403", "a form posted from another site is refused")
        XCTAssertEqual(actions.calls.count, 2)

        // Bounded requests.
        let big = String(repeating: "x", count: 70_000)
        XCTAssertEqual(get(["-o", "/dev/null", "-w", "%{http_code}", "--data-binary", big, base + "/"]).out, "413")
    }

    func testStatsAuthGivesA401AndNothingElse() async throws {
        try requireTool(curl)
        var settings = seedSettings()
        settings.credentials = ["admin:s3cret", "ops:other"]
        settings.realm = "SwiftLB stats"
        let (server, base) = try await serve(settings, actions: InMemoryActions())
        defer { Task { await server.stop() } }
        for auth in [[], ["-u", "admin:wrong"], ["-u", "nobody:s3cret"], ["-H", "Authorization: Basic !!!"]] {
            let r = get(["-D", "-"] + auth + [base + "/;csv"])
            XCTAssertTrue(r.out.hasPrefix("HTTP/1.1 401 Unauthorized"), r.out)
            XCTAssertTrue(r.out.contains("WWW-Authenticate: Basic realm=\"SwiftLB stats\""), r.out)
            XCTAssertFalse(r.out.contains("nodes"), "nothing of the page leaks")
        }
        XCTAssertEqual(get(["-o", "/dev/null", "-w", "%{http_code}", "-u", "admin:s3cret", base + "/"]).out, "200")
        XCTAssertEqual(get(["-o", "/dev/null", "-w", "%{http_code}", "-u", "ops:other", base + "/metrics"]).out, "200")
        XCTAssertEqual(get(["-o", "/dev/null", "-w", "%{http_code}", base + "/metrics"]).out, "401", "metrics are behind the same auth")
    }

    func testResponderRules() async {
        let actions = InMemoryActions()
        let api = RuntimeAPI(actions: actions, logger: LogCapture().logger)
        var settings = StatsPageSettings()
        XCTAssertEqual(settings.uri, "/haproxy?stats", "HAProxy's default")
        settings.uri = "/stats"
        XCTAssertTrue(StatsPage.matches("/stats;csv", settings: settings))
        XCTAssertFalse(StatsPage.matches("/other", settings: settings))
        let notFound = await StatsPage.respond(to: StatsHTTPRequest(method: "GET", target: "/other"), settings: settings, api: api)
        XCTAssertEqual(notFound.status, 404)
        let put = await StatsPage.respond(to: StatsHTTPRequest(method: "PUT", target: "/stats"), settings: settings, api: api)
        XCTAssertEqual(put.status, 405)
        let denied = await StatsPage.respond(to: StatsHTTPRequest(method: "POST", target: "/stats", body: Array("b=nodes&s=node1&action=drain".utf8)), settings: settings, api: api)
        XCTAssertEqual(denied.status, 303)
        XCTAssertEqual(denied.headers.first { $0.0 == "Location" }?.1, "/stats;st=DENY", "stats admin did not allow it")
        func post(_ body: String) async -> String? {
            let r = await StatsPage.respond(to: StatsHTTPRequest(method: "POST", target: "/stats", headers: [("Host", "lb:8080"), ("Origin", "http://lb:8080")],
                                                                 body: Array(body.utf8), adminAllowed: true), settings: settings, api: api)
            return r.headers.first { $0.0 == "Location" }?.1
        }
        let bad = await post("b=nodes&s=node1&action=explode")
        XCTAssertEqual(bad, "/stats;st=ERRP")
        let missing = await post("b=nodes&s=nodeX&action=drain")
        XCTAssertEqual(missing, "/stats;st=ERRP")
        let partial = await post("b=nodes&s=nodeX&s=node1&action=drain")
        XCTAssertEqual(partial, "/stats;st=PART")
        let none = await post("b=nodes&action=drain")
        XCTAssertEqual(none, "/stats;st=NONE")
        let health = await post("b=nodes&s=node1&action=dhlth")
        XCTAssertEqual(health, "/stats;st=DONE")
        // Form fields are percent-decoded ('%64' is 'd', '%31' is '1'); a malformed escape is
        // kept as written, so it names no server.
        let encoded = await post("b=no%64es&s=node%31&action=drain")
        XCTAssertEqual(encoded, "/stats;st=DONE")
        let malformed = await post("b=nodes&s=node%G1&action=drain")
        XCTAssertEqual(malformed, "/stats;st=ERRP")
        XCTAssertEqual(actions.calls, ["state nodes/node1 drain", "health nodes/node1 false", "state nodes/node1 drain"])
        let page = await StatsPage.respond(to: StatsHTTPRequest(method: "GET", target: "/stats;norefresh"), settings: settings, api: api)
        XCTAssertFalse(page.body.contains("http-equiv=\"refresh\""))
    }

    private var scratch: Scratch?
    func dirFile(_ name: String) -> String {
        if scratch == nil { scratch = try? Scratch() }
        return scratch!.file(name)
    }
    func save(_ text: String) throws -> String {
        let path = dirFile("body-\(UUID().uuidString.prefix(6))")
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
