import Foundation
import SwiftLBTestSupport
import XCTest

/// What an operator replacing HAProxy does with the running binary: the seed's stats frontend
/// (page, CSV, JSON, /metrics) with numbers that match the traffic sent, HAProxy's runtime API
/// on the stats socket, reloads by signal and by command, the other signals, and systemd's
/// readiness protocol.
final class OperationsTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func config(port: Int, stats: Int, backends: [Int], socket: String? = nil, extraStats: String = "") -> String {
        """
        global
            \(socket.map { "stats socket \($0) mode 600 level admin" } ?? "")
        defaults
            mode http
            option httplog
            timeout connect 2s
            timeout client 10s
            timeout server 10s
        frontend fe
            bind 127.0.0.1:\(port)
            default_backend app
        backend app
        \(serverLines(backends))
        listen stats
            bind 127.0.0.1:\(stats)
            stats enable
            stats uri /
            stats refresh 10s
        \(extraStats)

        """
    }

    private func python(_ script: String, _ input: String) -> (status: Int32, out: String) {
        let path = (try? dir.write("script-\(UUID().uuidString.prefix(6)).py", script)) ?? ""
        let inputPath = (try? dir.write("input-\(UUID().uuidString.prefix(6)).txt", input)) ?? ""
        let r = runCommand("/usr/bin/env", ["python3", path, inputPath])
        return (r.status, r.out + r.err)
    }

    func testTheSeedsStatsFrontendServesPageCSVJSONAndMetricsThatMatchTheTraffic() throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let port = freePort(), stats = freePort()
        let lb = try SwiftLBInstance(config: config(port: port, stats: stats, backends: nginx.ports), waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(stats))
        for _ in 0..<20 { XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).out, "200") }
        for _ in 0..<3 { _ = curl(["-o", "/dev/null", "http://127.0.0.1:\(port)/sick"]) }

        // CSV: HAProxy's header; the frontend counted 23 requests, 20 2xx and 3 5xx.
        let csv = curl(["http://127.0.0.1:\(stats)/;csv"]).out
        XCTAssertTrue(csv.hasPrefix("# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,"), String(csv.prefix(120)))
        let checked = python("""
            import csv, sys
            rows = list(csv.DictReader(open(sys.argv[1]).read().lstrip('# ').splitlines()))
            fe = next(r for r in rows if r['pxname'] == 'fe' and r['svname'] == 'FRONTEND')
            be = next(r for r in rows if r['pxname'] == 'app' and r['svname'] == 'BACKEND')
            servers = [r for r in rows if r['pxname'] == 'app' and r['svname'].startswith('node')]
            assert int(fe['req_tot']) == 23, fe['req_tot']
            assert int(fe['hrsp_2xx']) == 20 and int(fe['hrsp_5xx']) == 3, (fe['hrsp_2xx'], fe['hrsp_5xx'])
            assert int(be['stot']) == 23, be['stot']
            assert sum(int(s['stot']) for s in servers) == 23
            assert all(s['status'] == 'no check' for s in servers), [s['status'] for s in servers]  # HAProxy's words for a server without checks
            print('ok')
            """, csv)
        XCTAssertEqual(checked.status, 0, checked.out)

        // JSON parses and names the same proxies.
        let json = curl(["http://127.0.0.1:\(stats)/;json"]).out
        XCTAssertNotNil(try? JSONSerialization.jsonObject(with: Data(json.utf8)), String(json.prefix(200)))
        XCTAssertTrue(json.contains("\"fe\"") && json.contains("\"app\""))

        // /metrics in Prometheus text, read by prometheus_client's own parser.
        let metrics = curl(["http://127.0.0.1:\(stats)/metrics"]).out
        let parsed = python("""
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            values = {}
            for family in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in family.samples:
                    values[(s.name, tuple(sorted(s.labels.items())))] = s.value
            total = values[('haproxy_frontend_http_requests_total', (('proxy', 'fe'),))]
            assert total == 23, total
            buckets = [k for k in values if k[0].endswith('_bucket')]
            assert buckets, 'no histogram buckets'
            print('ok')
            """, metrics)
        XCTAssertEqual(parsed.status, 0, parsed.out)

        // The page, rendered by a real browser: a screenshot kept as an artefact.
        let page = curl(["http://127.0.0.1:\(stats)/"]).out
        XCTAssertTrue(page.contains("<html") && page.contains("app") && page.contains("node1"))
        let artefacts = "/tmp/swiftlb-test-artefacts"
        try FileManager.default.createDirectory(atPath: artefacts, withIntermediateDirectories: true)
        let shot = artefacts + "/live-stats-page.png"
        try? FileManager.default.removeItem(atPath: shot)
        let browser = runCommand("/usr/bin/timeout", ["60", "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                                                       "--window-size=1400,900", "--screenshot=\(shot)", "http://127.0.0.1:\(stats)/"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: shot), "chromium made no screenshot: \(browser.err.suffix(300))")
        print("stats page screenshot: \(shot)")
    }

    /// A checked server shows its live check on the page, the CSV and /metrics (it once showed
    /// "no check" whatever the checks said): a healthy one L7OK with its HTTP code, a dead one
    /// DOWN after its first failed check (a new server starts one failure from DOWN, as in
    /// HAProxy), counted in chkfail and chkdown.
    func testLiveHealthChecksShowOnThePageCSVAndMetrics() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort(), stats = freePort(), closed = refusedPort()
        let socket = dir.file("admin.sock")
        let conf = config(port: port, stats: stats, backends: [], socket: socket)
            .replacingOccurrences(of: "\nbackend app\n", with: """

                backend app
                    option httpchk GET /
                    server node1 127.0.0.1:\(nginx.ports[0]) check inter 200ms
                    server dead 127.0.0.1:\(closed) check inter 200ms fall 2 rise 2

                """)
        let lb = try SwiftLBInstance(config: conf, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(stats))
        var csv = ""
        let deadline = Date().addingTimeInterval(15)
        // Both servers' first checks must have ended: until then node1 reads "UP 1/3" with
        // check_status INI, and its check may end after dead's.
        func row(_ server: String) -> Substring? { csv.split(separator: "\n").first { $0.hasPrefix("app,\(server),") } }
        repeat {
            Thread.sleep(forTimeInterval: 0.3)
            csv = curl(["http://127.0.0.1:\(stats)/;csv"]).out
        } while !((row("dead")?.contains(",DOWN,") ?? false) && (row("node1").map { !$0.contains(",INI,") } ?? false)) && Date() < deadline
        let checked = python("""
            import csv, sys
            rows = list(csv.DictReader(open(sys.argv[1]).read().lstrip('# ').splitlines()))
            node = next(r for r in rows if r['pxname'] == 'app' and r['svname'] == 'node1')
            dead = next(r for r in rows if r['pxname'] == 'app' and r['svname'] == 'dead')
            assert node['status'] == 'UP', node['status']
            assert node['check_status'] == 'L7OK' and node['check_code'] == '200', (node['check_status'], node['check_code'])
            assert node['last_chk'] == 'status 200', node['last_chk']
            assert node['chkfail'] == '0' and node['chkdown'] == '0', (node['chkfail'], node['chkdown'])
            assert dead['status'] == 'DOWN', dead['status']
            assert dead['check_status'] == 'L4CON', dead['check_status']
            assert dead['last_chk'] == 'connection refused', dead['last_chk']
            assert dead['chkfail'] == '1' and dead['chkdown'] == '1', (dead['chkfail'], dead['chkdown'])
            print('ok')
            """, csv)
        XCTAssertEqual(checked.status, 0, checked.out + "\n" + csv)

        let metrics = curl(["http://127.0.0.1:\(stats)/metrics"]).out
        XCTAssertTrue(metrics.contains(#"haproxy_server_check_status{proxy="app",server="node1",state="L7OK"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"haproxy_server_check_status{proxy="app",server="dead",state="L4CON"} 1"#))
        XCTAssertTrue(metrics.contains(#"haproxy_server_check_failures_total{proxy="app",server="dead"} 1"#))
        XCTAssertTrue(metrics.contains(#"haproxy_server_check_up_down_total{proxy="app",server="dead"} 1"#))
        let page = curl(["http://127.0.0.1:\(stats)/"]).out
        XCTAssertTrue(page.contains("L7OK") && page.contains("L4CON"), "the page shows the last checks")
        // Switching a configured check off is refused by the live process, and ctl says so by its status.
        let refused = runCommand(Paths.swiftlb, ["ctl", "-s", socket, "disable", "health", "app/node1"])
        XCTAssertEqual(refused.status, 1, refused.out)
        XCTAssertTrue(refused.out.hasPrefix("'disable health' is not supported by SwiftLB"), refused.out)
    }

    /// `stats scope`, `stats show-node`, `stats show-desc`: the page and its CSV list only the
    /// proxies in scope ('.' is the stats listener itself), and the page names the node and
    /// the description (the global ones when the keyword has no argument).
    func testStatsScopeShowNodeAndShowDesc() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort(), stats = freePort()
        let text = config(port: port, stats: stats, backends: nginx.ports, extraStats: """
                stats scope app
                stats scope .
                stats show-node
                stats show-desc front\\ door\\ pair
            """).replacingOccurrences(of: "global\n", with: "global\n    node lb-east-1\n")
        let lb = try SwiftLBInstance(config: text, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(stats))
        let csv = curl(["http://127.0.0.1:\(stats)/;csv"]).out
        let proxies = Set(csv.split(separator: "\n").dropFirst().compactMap { $0.split(separator: ",").first.map(String.init) })
        XCTAssertEqual(proxies, ["app", "stats"], "frontend fe is out of scope: \(csv)")
        let page = curl(["http://127.0.0.1:\(stats)/"]).out
        XCTAssertTrue(page.contains("lb-east-1"), "show-node without a name shows the global node")
        XCTAssertTrue(page.contains("front door pair"), "show-desc")
        XCTAssertFalse(page.contains("id=\"fe\""), "no table for fe")
        XCTAssertTrue(page.contains("id=\"app\""), "a table for app")
    }

    /// The admin form's POST with its body in a packet of its own (as browsers send it) is
    /// answered once the body is in; a body that never comes gets 408 at `timeout http-request`.
    func testTheStatsFormBodyMayArriveAfterItsHead() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort(), stats = freePort()
        let text = config(port: port, stats: stats, backends: nginx.ports, extraStats: "    stats admin if TRUE\n    timeout http-request 1s")
        let lb = try SwiftLBInstance(config: text, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(stats))
        let result = python("""
            import socket, sys, time
            port = int(open(sys.argv[1]).read())
            body = b"s=node1&b=app&action=drain"
            head = ("POST / HTTP/1.1\\r\\nHost: 127.0.0.1:%d\\r\\nOrigin: http://127.0.0.1:%d\\r\\n"
                    "Content-Type: application/x-www-form-urlencoded\\r\\nContent-Length: %d\\r\\n\\r\\n" % (port, port, len(body))).encode()
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(head)
            time.sleep(0.3)
            c.sendall(body)
            print("split:", c.recv(4096).split(b"\\r\\n")[0].decode())
            c.close()
            c = socket.create_connection(("127.0.0.1", port), timeout=5)
            c.sendall(head + body[:5])
            start = time.monotonic()
            answer = c.recv(4096)
            print("stalled:", answer.split(b"\\r\\n")[0].decode(), "after %.1f s" % (time.monotonic() - start))
            """, "\(stats)")
        XCTAssertEqual(result.status, 0, result.out)
        XCTAssertTrue(result.out.contains("split: HTTP/1.1 303"), result.out)
        XCTAssertTrue(result.out.contains("stalled: HTTP/1.1 408"), result.out)
        let csv = curl(["http://127.0.0.1:\(stats)/;csv"]).out
        XCTAssertTrue(csv.split(separator: "\n").contains { $0.hasPrefix("app,node1,") && $0.contains(",DRAIN") }, "the split POST drained node1: \(csv)")
    }

    /// `stats` in a backend, reached by `use_backend` (a common haproxy.cfg shape): a request
    /// for its URI gets the page from that backend's settings (its auth, its realm); others
    /// go to the servers. (It was accepted and ignored: the request went to a server.)
    func testAStatsBackendServesThePage() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend stats_be if { path_beg /admin/stats }
                default_backend app
            backend app
            \(serverLines(nginx.ports))
            backend stats_be
                stats enable
                stats uri /admin/stats
                stats auth ops:s3cret
                stats realm Ops

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let denied = curl(["-s", "-o", "/dev/null", "-w", "%{http_code} %header{www-authenticate}", "http://127.0.0.1:\(port)/admin/stats"]).out
        XCTAssertEqual(denied, "401 Basic realm=\"Ops\"", "the backend's auth and realm")
        let csv = curl(["-s", "-u", "ops:s3cret", "http://127.0.0.1:\(port)/admin/stats;csv"]).out
        XCTAssertTrue(csv.hasPrefix("# pxname,svname,"), String(csv.prefix(200)))
        XCTAssertTrue(csv.contains("\napp,node1,"), "the page lists the proxies")
        XCTAssertEqual(curl(["-s", "http://127.0.0.1:\(port)/"]).out, "node1\n", "other requests reach the servers")
    }

    /// The stats page and /metrics of each instance of a VIP pair show the VIP as the elector
    /// has it: lb1 MASTER at priority 150 with lb2 heard as its peer, lb2 BACKUP (the page once
    /// said "no vrrp section" whatever lb.conf had).
    func testTheStatsPageShowsTheVIPOfAPair() throws {
        guard VIPLab.available else { throw XCTSkip("needs root, ip and python3 (network namespaces)") }
        let lab = try VIPLab()
        defer { lab.tearDown() }
        func proxy(_ node: String) -> String {
            """
            frontend web
                bind \(VIPLab.vip):8080
                default_backend local
            backend local
                server app 127.0.0.1:\(node == "lb1" ? 9101 : 9102)
            listen stats
                bind 127.0.0.1:8404
                stats enable
                stats uri /
            """
        }
        for node in ["lb2", "lb1"] { try lab.startSwiftLB(node, config: lab.config(node, proxy: proxy(node))) }
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "lb1 holds the VIP: \(lab.holders())")
        func page(_ node: String, _ path: String = "/") -> String {
            VIPLab.shell("ip netns exec \(lab.ns(node)) curl -s --max-time 5 http://127.0.0.1:8404\(path)").out
        }
        // Only a master advertises: the backup's page names the master as its peer.
        var backup = ""
        _ = waitUntil(timeout: 10) { backup = page("lb2"); return backup.contains("\(lab.address("lb1")) priority 150") }
        XCTAssertTrue(backup.contains("data-field=\"state\">BACKUP<"), backup)
        XCTAssertTrue(backup.contains("\(lab.address("lb1")) priority 150"), "lb2 hears lb1: \(backup)")
        XCTAssertTrue(backup.contains("MASTER → BACKUP"), "lb2's last transition: lb1 preempted it")
        let master = page("lb1")
        XCTAssertTrue(master.contains("data-field=\"state\">MASTER<"), master)
        XCTAssertTrue(master.contains("150 (configured 150)"), "lb1's priority")
        XCTAssertTrue(master.contains("→ MASTER"), "the last transition and why")
        XCTAssertFalse(master.contains("no vrrp section"))
        let metrics = page("lb1", "/metrics")
        XCTAssertTrue(metrics.contains(#"swiftlb_vip_state{instance="lab_vip",state="MASTER"} 1"#), metrics)
        XCTAssertTrue(metrics.contains(#"swiftlb_vip_priority{instance="lab_vip"} 150"#))
    }

    /// `stats socket … user U group G` (and `uid`/`gid`), HAProxy's parameters once refused as
    /// unknown: the socket is there with that owner from its first instant.
    func testTheStatsSocketTakesItsOwnerFromUserAndGroup() throws {
        try XCTSkipUnless(geteuid() == 0, "giving a socket to another user needs root")
        guard let nobody = getpwnam("nobody") else { throw XCTSkip("no user 'nobody' here") }
        let uid = nobody.pointee.pw_uid, gid = nobody.pointee.pw_gid
        let groupName = getgrgid(gid).map { String(cString: $0.pointee.gr_name) } ?? "\(gid)"
        for (n, owner) in ["user nobody group \(groupName)", "uid \(uid) gid \(gid)"].enumerated() {
            let port = freePort(), stats = freePort()
            let socket = dir.file("owned-\(n).sock")
            let conf = config(port: port, stats: stats, backends: [freePort()])
                .replacingOccurrences(of: "global\n", with: "global\n    stats socket \(socket) mode 660 \(owner) level operator\n")
            let lb = try SwiftLBInstance(config: conf, waitPort: port, in: dir)
            defer { lb.stop() }
            var st = stat()
            XCTAssertEqual(lstat(socket, &st), 0, "the socket exists")
            XCTAssertEqual(st.st_uid, uid, owner)
            XCTAssertEqual(st.st_gid, gid, owner)
            XCTAssertEqual(st.st_mode & 0o777, 0o660, owner)
            // And it answers, at the level it was given.
            let info = runCommand(Paths.swiftlb, ["ctl", "-s", socket, "show", "info"])
            XCTAssertTrue(info.out.contains("Pid: \(lb.child.pid)"), info.out + info.err)
        }
    }

    /// `/metrics` is SwiftLB's only on a pure stats listener (no server behind it) and where
    /// `use-service prometheus-exporter` says so; on a listen that also proxies an application,
    /// the application's own /metrics gets through (it once was taken over by `stats enable`).
    func testMetricsAreServedOnlyByAPureStatsListenerOrUseService() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort(), stats = freePort(), mixed = freePort(), exporter = freePort()
        let conf = config(port: port, stats: stats, backends: nginx.ports) + """
            listen mixed
                bind 127.0.0.1:\(mixed)
                stats enable
                stats uri /lb-stats
            \(serverLines(nginx.ports))
            frontend exporter
                bind 127.0.0.1:\(exporter)
                http-request use-service prometheus-exporter if { path /metrics }
                default_backend app

            """
        let lb = try SwiftLBInstance(config: conf, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(stats) && waitForPort(mixed) && waitForPort(exporter))
        let pure = curl(["-s", "-i", "http://127.0.0.1:\(stats)/metrics"]).out
        XCTAssertTrue(pure.hasPrefix("HTTP/1.1 200") && pure.contains("haproxy_process_"), String(pure.prefix(300)))
        let passed = curl(["-s", "-i", "http://127.0.0.1:\(mixed)/metrics"]).out
        XCTAssertTrue(passed.lowercased().contains("server: nginx"), "the application answered its own /metrics: \(passed.prefix(300))")
        XCTAssertFalse(passed.contains("haproxy_process_"))
        let page = curl(["-s", "http://127.0.0.1:\(mixed)/lb-stats;csv"]).out
        XCTAssertTrue(page.hasPrefix("# pxname"), "the mixed listener still has its stats page")
        XCTAssertEqual(curl(["-s", "http://127.0.0.1:\(mixed)/"]).out, "node1\n")
        let served = curl(["-s", "-i", "http://127.0.0.1:\(exporter)/metrics"]).out
        XCTAssertTrue(served.hasPrefix("HTTP/1.1 200") && served.contains("haproxy_process_"), String(served.prefix(300)))
        XCTAssertEqual(curl(["-s", "http://127.0.0.1:\(exporter)/"]).out, "node1\n")
    }

    /// `set weight B/S W|W%` and `set server B/S weight W` change the live traffic split:
    /// round robin over two nginx servers goes from 1:1 to 3:1, then all to one with weight 0,
    /// then back with 100% (of the initial weight); `get weight` and the CSV follow.
    func testSetWeightChangesTheLiveTrafficSplit() throws {
        let (nginx, lb, port, stats, socket) = try startWithSocket()
        defer { nginx.stop(); lb.stop() }
        func ctl(_ line: String) -> (status: Int32, out: String) { self.ctl(socket, [line]) }
        /// Who answered `n` sequential requests (a whole number of round-robin laps).
        func split(_ n: Int) -> [String: Int] {
            var counts: [String: Int] = [:]
            for _ in 0..<n { counts[curl(["-s", "http://127.0.0.1:\(port)/"]).out.trimmingCharacters(in: .whitespacesAndNewlines), default: 0] += 1 }
            return counts
        }
        XCTAssertEqual(split(40), ["node1": 20, "node2": 20])
        let set = ctl("set weight app/node1 3")
        XCTAssertEqual(set.status, 0, set.out)
        XCTAssertEqual(ctl("get weight app/node1").out, "3 (initial 1)\n\n")
        XCTAssertEqual(split(40), ["node1": 30, "node2": 10])
        XCTAssertEqual(ctl("set server app/node2 weight 0").status, 0)
        XCTAssertEqual(split(20), ["node1": 20])
        let csv = curl(["http://127.0.0.1:\(stats)/;csv"]).out
        let header = csv.dropFirst(2).split(separator: "\n").first?.split(separator: ",", omittingEmptySubsequences: false) ?? []
        let node2 = csv.split(separator: "\n").first { $0.hasPrefix("app,node2,") }?.split(separator: ",", omittingEmptySubsequences: false) ?? []
        if let w = header.firstIndex(of: "weight"), let uw = header.firstIndex(of: "uweight"), w < node2.count, uw < node2.count {
            XCTAssertEqual(node2[w], "0", "the CSV's weight follows")
            XCTAssertEqual(node2[uw], "0")
        } else {
            XCTFail("no weight columns: \(csv.prefix(300))")
        }
        XCTAssertEqual(ctl("set weight app/node2 100%").status, 0)
        XCTAssertEqual(ctl("set weight app/node1 100%").status, 0)
        XCTAssertEqual(ctl("get weight app/node2").out, "1 (initial 1)\n\n")
        XCTAssertEqual(split(20), ["node1": 10, "node2": 10])
        let refused = ctl("set weight app/node1 300")
        XCTAssertEqual(refused.status, 1, refused.out)
        XCTAssertTrue(refused.out.hasPrefix("Absolute weight can only be between 0 and 256 inclusive."), refused.out)
    }

    func testAWrongStatsPasswordGets401AndNothingElse() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort(), stats = freePort()
        let lb = try SwiftLBInstance(config: config(port: port, stats: stats, backends: nginx.ports, extraStats: "    stats auth admin:s3cret"),
                                     waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(stats))
        let denied = curl(["-s", "-D", "-", "-u", "admin:wrong", "http://127.0.0.1:\(stats)/;csv"]).out
        XCTAssertTrue(denied.hasPrefix("HTTP/1.1 401"), denied)
        XCTAssertFalse(denied.contains("pxname"), "a wrong password sees nothing")
        XCTAssertTrue(curl(["-u", "admin:s3cret", "http://127.0.0.1:\(stats)/;csv"]).out.hasPrefix("# pxname"))
    }

    /// Two nginx servers behind the seed-like config with an admin stats socket.
    private func startWithSocket() throws -> (NginxBackends, SwiftLBInstance, port: Int, stats: Int, socket: String) {
        let nginx = try NginxBackends(count: 2, in: dir)
        let port = freePort(), stats = freePort()
        let socket = dir.file("admin.sock")
        do {
            let lb = try SwiftLBInstance(config: config(port: port, stats: stats, backends: nginx.ports, socket: socket), waitPort: port, in: dir)
            return (nginx, lb, port, stats, socket)
        } catch {
            nginx.stop()
            throw error
        }
    }

    private func ctl(_ socket: String, _ words: [String]) -> (status: Int32, out: String) {
        let r = runCommand(Paths.swiftlb, ["ctl", "-s", socket] + words)
        return (r.status, r.out)
    }

    func testTheRuntimeAPIOnTheStatsSocket() throws {
        let (nginx, lb, port, _, socket) = try startWithSocket()
        defer { nginx.stop(); lb.stop() }
        for _ in 0..<5 { _ = curl(["http://127.0.0.1:\(port)/"]) }
        func ctl(_ words: String...) -> (status: Int32, out: String) { self.ctl(socket, words) }
        let info = ctl("show", "info").out
        XCTAssertTrue(info.contains("Pid: \(lb.child.pid)"), info)
        XCTAssertTrue(ctl("show", "stat").out.hasPrefix("# pxname,svname"))
        let state = ctl("show", "servers", "state").out
        XCTAssertTrue(state.hasPrefix("1\n# be_id be_name srv_id srv_name"), state)
        // Several commands on one line, as HAProxy's CLI takes them.
        let both = ctl("set server app/node1 state drain; show stat").out
        XCTAssertTrue(both.split(separator: "\n").contains { $0.hasPrefix("app,node1,") && $0.contains(",DRAIN,") }, both)
        // A command SwiftLB refuses is a failure for ctl's exit status, through the live
        // process's own actions (it once exited 0 on "'set weight' is not supported…").
        let addr = ctl("set", "server", "app/node1", "addr", "127.0.0.2")
        XCTAssertEqual(addr.status, 1, addr.out)
        XCTAssertTrue(addr.out.hasPrefix("'set server addr' is not supported by SwiftLB"), addr.out)
        let unknown = ctl("frobnicate")
        XCTAssertNotEqual(unknown.status, 0)
        XCTAssertTrue(unknown.out.contains("show stat"), "an unknown command lists the commands: \(unknown.out)")
    }

    func testSIGHUPAndCtlReloadSwapTheFileAndAnInvalidOneChangesNothing() throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let port = freePort(), stats = freePort()
        let socket = dir.file("admin.sock")
        let lb = try SwiftLBInstance(config: config(port: port, stats: stats, backends: [nginx.ports[0]], socket: socket), waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node1\n")
        // A keep-alive client opened before the reload.
        let client = try RawClient(port: port)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertTrue(client.readResponse().hasSuffix("node1\n"))

        // The same file, now with node2 only: SIGHUP.
        try config(port: port, stats: stats, backends: [nginx.ports[1]], socket: socket).replacingOccurrences(of: "node1 127", with: "node2 127")
            .write(toFile: lb.configPath, atomically: true, encoding: .utf8)
        lb.child.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 5) { lb.child.stderr.contains("SIGHUP: configuration reloaded") }, lb.child.stderr)
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node2\n")
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertTrue(client.readResponse().hasSuffix("node2\n"), "the kept-alive connection's next request uses the new file")

        // An invalid file: refused, the old one keeps serving; ctl reload says so with its status.
        try "frontend fe\n    bind 127.0.0.1:\(port)\n    no_such_keyword\n".write(toFile: lb.configPath, atomically: true, encoding: .utf8)
        let refused = runCommand(Paths.swiftlb, ["ctl", "-s", socket, "reload"])
        XCTAssertNotEqual(refused.status, 0, refused.out)
        lb.child.signal(SIGUSR2)
        XCTAssertNotNil(waitUntil(timeout: 5) { lb.child.stderr.contains("SIGUSR2: reload refused") }, lb.child.stderr)
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node2\n")
        XCTAssertNil(lb.child.waitForExit(timeout: 0.1))
    }

    func testAReloadStormEndsOnTheLastFileWithoutLeakingSockets() throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let port = freePort(), stats = freePort()
        let lb = try SwiftLBInstance(config: config(port: port, stats: stats, backends: [nginx.ports[0]]), waitPort: port, in: dir)
        defer { lb.stop() }
        let descriptors = { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(lb.child.pid)/fd").count) ?? -1 }
        _ = curl(["http://127.0.0.1:\(port)/"])
        let before = descriptors()
        for i in 0..<50 {
            let backend = nginx.ports[i % 2]
            try config(port: port, stats: stats, backends: [backend]).write(toFile: lb.configPath, atomically: true, encoding: .utf8)
            lb.child.signal(SIGHUP)
            usleep(20_000)
        }
        try config(port: port, stats: stats, backends: [nginx.ports[1]]).write(toFile: lb.configPath, atomically: true, encoding: .utf8)
        lb.child.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 10) { curl(["http://127.0.0.1:\(port)/"]).out == "node2\n" })
        sleep(1)
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node2\n")
        XCTAssertLessThanOrEqual(descriptors(), before + 4, "descriptors leaked by 50 reloads")
        XCTAssertNil(lb.child.waitForExit(timeout: 0.1))
    }

    func testNoSignalAUserCanSendKillsItUncleanly() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort(), stats = freePort()
        let lb = try SwiftLBInstance(config: config(port: port, stats: stats, backends: nginx.ports), waitPort: port, in: dir)
        defer { lb.stop() }
        for sig in [SIGPIPE, SIGALRM, SIGVTALRM, SIGQUIT, SIGTTIN, SIGTTOU, SIGIO, SIGPWR, SIGXFSZ, SIGPROF, SIGSYS, 40, 50, 64] {
            lb.child.signal(sig)
            usleep(50_000)
            XCTAssertNil(lb.child.waitForExit(timeout: 0.1), "signal \(sig) ended the process: \(lb.child.stderr.suffix(300))")
        }
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node1\n")
        // SIGUSR1: HAProxy's soft stop, a clean exit.
        lb.child.signal(SIGUSR1)
        XCTAssertEqual(lb.child.waitForExit(timeout: 10), 0, lb.child.stderr)
        XCTAssertTrue(lb.child.stderr.contains("soft stop"))
    }

    func testSystemdNotifyReadyReloadingStopping() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let notify = try NotifySocket(path: dir.file("notify.sock"))
        let port = freePort(), stats = freePort()
        let path = try dir.write("notify.conf", config(port: port, stats: stats, backends: nginx.ports))
        let process = try SpawnedProcess(Paths.swiftlb, ["run", "-c", path], environment: ["NOTIFY_SOCKET": notify.path])
        defer { process.stop() }
        XCTAssertTrue(notify.receive(timeout: 10)?.contains("READY=1") ?? false)
        process.signal(SIGHUP)
        XCTAssertTrue(notify.receive(timeout: 5)?.contains("RELOADING=1\nMONOTONIC_USEC=") ?? false)
        XCTAssertEqual(notify.receive(timeout: 5), "READY=1")
        process.signal(SIGTERM)
        XCTAssertEqual(notify.receive(timeout: 5), "STOPPING=1")
    }
}

/// A unix datagram socket that plays systemd's NOTIFY_SOCKET.
final class NotifySocket {
    let path: String
    private let fd: Int32
    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        let rc = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        guard rc == 0 else { throw HarnessError("cannot bind \(path)") }
    }
    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Int) -> String? {
        var tv = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : nil
    }
    deinit { close(fd) }
}
