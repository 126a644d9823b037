import Foundation
import XCTest

/// Stick tables end to end, against HAProxy 2.6 on the same traffic: clients from different
/// loopback sources (127.0.0.x) pinned to a server by `stick on src` across requests and
/// connections, entries expiring, `show table` in HAProxy's shape, and the most common use in
/// real configs — `http-request track-sc0 src` with `deny if { sc_http_req_rate(0) gt N }`.
final class StickTableScenarioTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws {
        dir = try TempDirectory()
        try requireHAProxy()
    }
    override func tearDown() { dir = nil }

    private func socketGlobal(_ name: String) -> (global: String, path: String) {
        let path = dir.file("\(name).sock")
        return ("global\n    stats socket \(path) level admin\n", path)
    }

    /// One line on a stats socket (swiftlb's or haproxy's), read with socat.
    private func cli(_ socket: String, _ line: String) -> String {
        runCommand("/bin/sh", ["-c", "echo '\(line)' | /usr/bin/timeout 5 socat - UNIX-CONNECT:\(socket)"]).out
    }

    /// SwiftLB and HAProxy side by side on the same configuration text (each on its own port,
    /// with its own stats socket); the caller stops both.
    private struct Pair {
        let lb: SwiftLBInstance
        let haproxy: ChildProcess
        let ports: (swiftlb: Int, haproxy: Int)
        let sockets: (swiftlb: String, haproxy: String)
        func stop() {
            lb.stop()
            haproxy.stop()
        }
    }

    private func startPair(_ config: (_ port: Int, _ global: String) -> String) throws -> Pair {
        let (sport, hport) = (freePort(), freePort())
        let (sGlobal, sSocket) = socketGlobal("swiftlb"), (hGlobal, hSocket) = socketGlobal("haproxy")
        let lb = try SwiftLBInstance(config: config(sport, sGlobal), waitPort: sport, in: dir)
        let hcfg = try dir.write("haproxy.cfg", config(hport, hGlobal))
        let haproxy: ChildProcess
        do { haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy") } catch {
            lb.stop()
            throw error
        }
        let pair = Pair(lb: lb, haproxy: haproxy, ports: (sport, hport), sockets: (sSocket, hSocket))
        guard waitForPort(hport) else {
            pair.stop()
            throw HarnessError("haproxy did not listen: \(haproxy.stderr)")
        }
        return pair
    }

    /// One request on a new connection from `source`, the connection closed after it.
    private func get(_ port: Int, from source: String) throws -> String {
        let client = try RawClient(port: port, timeout: 3, source: source)
        client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        return client.readResponse()
    }

    /// `show table` with what differs between two runs masked: entry addresses and the
    /// milliseconds left (`exp=…` becomes `exp=N` when within `expire`).
    private func shape(_ text: String, expireMS: Int) -> [String] {
        text.split(separator: "\n").map { line in
            line.split(separator: " ").map { word -> String in
                if word.hasPrefix("0x") && word.hasSuffix(":") { return "0xID:" }
                if word.hasPrefix("exp="), let ms = Int(word.dropFirst(4)) { return ms > 0 && ms <= expireMS ? "exp=N" : String(word) }
                return String(word)
            }.joined(separator: " ")
        }.sorted()
    }

    private func config(_ port: Int, global: String, nginx: NginxBackends) -> String {
        global + differentialHTTPDefaults + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                balance roundrobin
                stick-table type ip size 1k expire 3s
                stick on src
            \(serverLines(nginx.ports))

            """
    }

    func testClientsStayOnTheirServerAcrossConnectionsUntilTheEntryExpires() throws {
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        let pair = try startPair { config($0, global: $1, nginx: nginx) }
        defer { pair.stop() }
        let (sport, hport) = pair.ports, (sSocket, hSocket) = pair.sockets

        var servers: [String: String] = [:]
        for host in 2...7 {
            let source = "127.0.0.\(host)"
            // Two requests on one connection, then two more connections.
            let keepAlive = curl(["--interface", source, "http://127.0.0.1:\(sport)/", "http://127.0.0.1:\(sport)/"]).out
            let answers = keepAlive.split(separator: "\n").map(String.init)
                + (0..<2).map { _ in curl(["--interface", source, "http://127.0.0.1:\(sport)/"]).out.trimmingCharacters(in: .newlines) }
            XCTAssertEqual(answers.count, 4, "\(source): \(answers)")
            XCTAssertEqual(Set(answers).count, 1, "\(source) stays on one server: \(answers)")
            servers[source] = answers.first
            _ = curl(["--interface", source, "http://127.0.0.1:\(hport)/"])
        }
        XCTAssertGreaterThan(Set(servers.values).count, 1, "round robin spreads new clients: \(servers)")

        // The table on the stats socket, as HAProxy shows the same traffic.
        let ours = cli(sSocket, "show table be"), theirs = cli(hSocket, "show table be")
        let masked = { (text: String) in self.shape(text, expireMS: 3000).map { $0.replacingOccurrences(of: #"server_id=\d+ server_key=node\d"#, with: "SERVER", options: .regularExpression) } }
        XCTAssertEqual(masked(ours), masked(theirs), "ours:\n\(ours)\nHAProxy's:\n\(theirs)")
        XCTAssertTrue(ours.hasPrefix("# table: be, type: ip, size:1024, used:6\n"), ours)
        for (source, server) in servers {
            XCTAssertTrue(ours.contains("key=\(source) use=0 exp="), ours)
            let line = ours.split(separator: "\n").first { $0.contains("key=\(source) ") } ?? ""
            XCTAssertTrue(line.hasSuffix("server_key=\(server)"), "the entry names the server the client saw: \(line)")
        }
        XCTAssertEqual(cli(sSocket, "show table"), cli(hSocket, "show table"))
        // A reload with the same declaration keeps the entries (clients stay where they were).
        let before = shape(cli(sSocket, "show table be"), expireMS: 3000)
        let reload = runCommand(Paths.swiftlb, ["ctl", "-s", sSocket, "reload"])
        XCTAssertEqual(reload.status, 0, reload.out + reload.err)
        XCTAssertEqual(shape(cli(sSocket, "show table be"), expireMS: 3000), before)
        XCTAssertEqual(curl(["--interface", "127.0.0.2", "http://127.0.0.1:\(sport)/"]).out, (servers["127.0.0.2"] ?? "") + "\n")

        // Unused for longer than `expire 3s`: forgotten, as in HAProxy.
        XCTAssertNotNil(waitUntil(timeout: 6) { self.cli(sSocket, "show table be").hasPrefix("# table: be, type: ip, size:1024, used:0") },
                        cli(sSocket, "show table be"))
        XCTAssertNotNil(waitUntil(timeout: 6) { self.cli(hSocket, "show table be").hasPrefix("# table: be, type: ip, size:1024, used:0") })
        // A new visit stores again; `clear table` forgets at once.
        _ = curl(["--interface", "127.0.0.2", "http://127.0.0.1:\(sport)/"])
        XCTAssertTrue(cli(sSocket, "show table be").contains("key=127.0.0.2 "))
        XCTAssertEqual(cli(sSocket, "clear table be"), "\n")
        XCTAssertTrue(cli(sSocket, "show table be").hasPrefix("# table: be, type: ip, size:1024, used:0"))
        XCTAssertEqual(cli(sSocket, "show table nope"), cli(hSocket, "show table nope"))
    }

    /// A server's forced `id` is what the table stores as its `server_id` (HAProxy's `puid`),
    /// not its position; a server without one gets the number HAProxy gives it.
    func testServerIDInTheTableIsTheServersIDLikeHAProxy() throws {
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        func config(_ port: Int, _ global: String) -> String {
            global + differentialHTTPDefaults + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    default_backend be
                backend be
                    balance roundrobin
                    stick-table type ip size 1k expire 30s store server_id
                    stick on src
                    server s1 127.0.0.1:\(nginx.ports[0]) id 7
                    server s2 127.0.0.1:\(nginx.ports[1]) id 9
                    server s3 127.0.0.1:\(nginx.ports[2])

                """
        }
        let pair = try startPair(config)
        defer { pair.stop() }
        let (sport, hport) = pair.ports, (sSocket, hSocket) = pair.sockets
        for host in 40...42 {
            for port in [sport, hport] { _ = curl(["--interface", "127.0.0.\(host)", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]) }
        }
        let ours = cli(sSocket, "show table be"), theirs = cli(hSocket, "show table be")
        XCTAssertEqual(shape(ours, expireMS: 30000), shape(theirs, expireMS: 30000), "ours:\n\(ours)\nHAProxy's:\n\(theirs)")
        let ids = ours.split(separator: "\n").compactMap { $0.split(separator: " ").first { $0.hasPrefix("server_id=") } }.sorted()
        XCTAssertEqual(ids, ["server_id=3", "server_id=7", "server_id=9"], "s3 is 3: HAProxy's counter advances with every server")
        // The entries lead back to their servers: the client stays.
        let again = curl(["--interface", "127.0.0.40", "http://127.0.0.1:\(sport)/"]).out
        XCTAssertEqual(again, curl(["--interface", "127.0.0.40", "http://127.0.0.1:\(sport)/"]).out)
    }

    func testTrackedRequestRateIsDeniedLikeHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        func config(_ port: Int, _ global: String) -> String {
            global + differentialHTTPDefaults + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    stick-table type ip size 100k expire 30s store http_req_rate(10s),conn_cur
                    http-request track-sc0 src
                    http-request deny deny_status 429 if { sc_http_req_rate(0) gt 3 }
                    default_backend be
                backend be
                \(serverLines(nginx.ports))

                """
        }
        let pair = try startPair(config)
        defer { pair.stop() }
        let (sport, hport) = pair.ports, (sSocket, hSocket) = pair.sockets

        func statuses(_ port: Int, from source: String, _ count: Int) -> [String] {
            (0..<count).map { _ in curl(["--interface", source, "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).out }
        }
        let ours = statuses(sport, from: "127.0.0.30", 6), theirs = statuses(hport, from: "127.0.0.30", 6)
        XCTAssertEqual(ours, ["200", "200", "200", "429", "429", "429"])
        XCTAssertEqual(ours, theirs, "the same requests, the same answers as HAProxy")
        XCTAssertEqual(statuses(sport, from: "127.0.0.31", 1), ["200"], "another client has its own rate")
        // Several requests on one connection count one by one too.
        let keepAlive = curl(["--interface", "127.0.0.32", "-s", "-w", "%{http_code} "]
                             + (0..<5).flatMap { _ in ["-o", "/dev/null", "http://127.0.0.1:\(sport)/"] }).out
        XCTAssertEqual(keepAlive, "200 200 200 429 429 ")

        let table = cli(sSocket, "show table fe"), reference = cli(hSocket, "show table fe")
        XCTAssertTrue(table.contains("key=127.0.0.30 use=0 exp="), table)
        XCTAssertTrue(table.contains(" conn_cur=0 http_req_rate(10000)=6\n"), table)
        XCTAssertEqual(shape(table, expireMS: 30000).filter { $0.contains("127.0.0.30") },
                       shape(reference, expireMS: 30000).filter { $0.contains("127.0.0.30") }, "ours:\n\(table)\nHAProxy's:\n\(reference)")
    }

    func testConnectionsTrackedFromAcceptAreLimitedLikeHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        func config(_ port: Int, _ global: String) -> String {
            global + differentialHTTPDefaults + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    stick-table type ip size 1k expire 30s store conn_cur,conn_cnt,conn_rate(10s),http_req_cnt
                    tcp-request connection track-sc0 src
                    tcp-request connection reject if { sc0_conn_cur gt 2 }
                    default_backend be
                backend be
                \(serverLines(nginx.ports))

                """
        }
        let pair = try startPair(config)
        defer { pair.stop() }
        let (sport, hport) = pair.ports, (sSocket, hSocket) = pair.sockets

        for (port, socket) in [(sport, sSocket), (hport, hSocket)] {
            // Two connections held open from 127.0.0.40, each with one request answered.
            let held = try (0..<2).map { _ in try RawClient(port: port, timeout: 3, source: "127.0.0.40") }
            for client in held {
                client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                XCTAssertEqual(statusCode(client.readResponse()), 200, "port \(port)")
            }
            // The third is the entry's third current connection: refused unanswered.
            let third = try RawClient(port: port, timeout: 3, source: "127.0.0.40")
            third.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            let refused = third.readAll()
            XCTAssertTrue(refused.closed && refused.text.isEmpty, "port \(port): \(refused.text)")
            XCTAssertEqual(statusCode(try get(port, from: "127.0.0.41")), 200, "another client")
            // One held connection closes: a new one fits again.
            held[0].shutdownBoth()
            XCTAssertNotNil(waitUntil(timeout: 3) { self.cli(socket, "show table fe").contains("key=127.0.0.40 use=1 ") &&
                                                    self.cli(socket, "show table fe").contains(" conn_cur=1 ") }, cli(socket, "show table fe"))
            XCTAssertEqual(statusCode(try get(port, from: "127.0.0.40")), 200, "port \(port)")
        }
        let ours = cli(sSocket, "show table fe"), theirs = cli(hSocket, "show table fe")
        XCTAssertEqual(shape(ours, expireMS: 30000), shape(theirs, expireMS: 30000), "ours:\n\(ours)\nHAProxy's:\n\(theirs)")
    }

    /// A WebSocket keeps its connection tracked while its tunnel is open: `conn_cur` counts it
    /// until the tunnel closes, as in HAProxy (it once fell to 0 at the 101).
    func testAWebSocketTunnelStaysTrackedUntilItCloses() throws {
        let server = try WebSocketTests.WSServer(name: "stick", in: dir)
        defer { server.stop() }
        func config(_ port: Int, _ global: String) -> String {
            global + differentialHTTPDefaults + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    stick-table type ip size 1k expire 30s store conn_cur
                    tcp-request connection track-sc0 src
                    default_backend ws
                backend ws
                    timeout tunnel 10s
                    server s1 127.0.0.1:\(server.port)

                """
        }
        let pair = try startPair(config)
        defer { pair.stop() }
        for (port, socket) in [(pair.ports.swiftlb, pair.sockets.swiftlb), (pair.ports.haproxy, pair.sockets.haproxy)] {
            let client = try RawClient(port: port, timeout: 3, source: "127.0.0.43")
            client.send(WebSocketBytes.upgrade())
            XCTAssertTrue(client.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 101"), "port \(port)")
            client.send(WebSocketBytes.text("ping"))
            XCTAssertTrue(client.read(until: "ping").contains("ping"), "the tunnel echoes, port \(port)")
            let open = cli(socket, "show table fe")
            XCTAssertTrue(open.contains("key=127.0.0.43 use=1 ") && open.contains(" conn_cur=1"), "port \(port): \(open)")
            client.shutdownBoth()
            XCTAssertNotNil(waitUntil(timeout: 3) { self.cli(socket, "show table fe").contains("key=127.0.0.43 use=0 ") &&
                                                  self.cli(socket, "show table fe").contains(" conn_cur=0") }, "port \(port): \(cli(socket, "show table fe"))")
        }
    }

    /// The general purpose counters as configs use them to flag abusers: a connection counted
    /// in gpc1 by `tcp-request connection sc-inc-gpc1`, bad requests in gpc0 (and its rate) by
    /// `http-request sc-inc-gpc0`, a tag set by `sc-set-gpt0`, and a deny once `sc0_get_gpc0`
    /// passes 1 — the same answers and the same `show table` line as HAProxy.
    func testGeneralPurposeCountersFlagAClientLikeHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        func config(_ port: Int, _ global: String) -> String {
            global + differentialHTTPDefaults + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    stick-table type ip size 1k expire 30s store gpt0,gpc0,gpc0_rate(10s),gpc1,http_req_cnt
                    tcp-request connection track-sc0 src
                    tcp-request connection sc-inc-gpc1(0)
                    http-request sc-inc-gpc0(0) if { path_beg /bad }
                    http-request sc-set-gpt0(0) 7 if { path_beg /tag }
                    http-request deny deny_status 429 if { sc_get_gpt0(0) eq 7 } { sc0_get_gpc1 ge 6 }
                    http-request deny deny_status 403 if { sc0_get_gpc0 gt 1 }
                    default_backend be
                backend be
                \(serverLines(nginx.ports))

                """
        }
        let pair = try startPair(config)
        defer { pair.stop() }
        let (sport, hport) = pair.ports, (sSocket, hSocket) = pair.sockets
        func statuses(_ port: Int, from source: String) throws -> [Int] {
            try ["/bad", "/tag", "/ok", "/bad", "/ok", "/tag"].map { path in
                let client = try RawClient(port: port, timeout: 3, source: source)
                client.send("GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                return statusCode(client.readResponse())
            }
        }
        let ours = try statuses(sport, from: "127.0.0.50"), theirs = try statuses(hport, from: "127.0.0.50")
        XCTAssertEqual(ours, [404, 404, 404, 403, 403, 429], "nginx has no such paths: 404 until a rule denies")
        XCTAssertEqual(ours, theirs, "the same requests, the same answers as HAProxy")
        let table = cli(sSocket, "show table fe"), reference = cli(hSocket, "show table fe")
        XCTAssertTrue(table.contains(" gpt0=7 gpc0=2 gpc0_rate(10000)=2 http_req_cnt=6 gpc1=6\n"), table)
        XCTAssertEqual(shape(table, expireMS: 30000), shape(reference, expireMS: 30000), "ours:\n\(table)\nHAProxy's:\n\(reference)")
    }
}
