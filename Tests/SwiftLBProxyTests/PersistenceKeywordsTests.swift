import Foundation
import XCTest

/// HAProxy 2.6's server-selection and persistence keywords, beside a real haproxy on the same
/// configuration: `http-send-name-header`, `option prefer-last-server`, `use-server`,
/// `force-persist`, `ignore-persist`, `option persist`, `source` and `server-template`. Each
/// server is its own recording backend, so which one a request reached, and what it received,
/// is read from the servers themselves.
final class PersistenceKeywordsTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws {
        try requireHAProxy()
        dir = try TempDirectory()
    }
    override func tearDown() { dir = nil }

    /// SwiftLB and haproxy on frontend `fe` (with `frontend` lines, indented) → backend `b` with
    /// `backendLines` (indented; other sections may follow them).
    private func sideBySide(_ backendLines: String, frontend: String = "") throws -> SideBySide {
        try SideBySide({ port in "frontend fe\n    bind 127.0.0.1:\(port)\n\(frontend)    default_backend b\nbackend b\n" + backendLines }, in: dir)
    }

    /// Waits until both have marked `server` (`backend/server`) DOWN.
    private func waitForDown(_ both: SideBySide, _ server: String) {
        XCTAssertNotNil(waitUntil(timeout: 10) { both.lb.child.stderr.contains("\(server) is DOWN") && both.haproxy.stderr.contains("\(server) is DOWN") },
                        both.lb.child.stderr + both.haproxy.stderr)
    }

    /// A one-server nginx on a free loopback port with `locations` (nginx text); the caller
    /// stops it.
    private func nginx(_ name: String, _ locations: String) throws -> (ChildProcess, port: Int) {
        let root = dir.file("nginx-\(name)"), port = freePort()
        let conf = try dir.write("nginx-\(name).conf", try singleNginxConfig(root: root, server: "    listen 127.0.0.1:\(port);\n" + locations))
        let child = try ChildProcess("/usr/sbin/nginx", ["-c", conf, "-e", root + "/error.log"], logDirectory: dir, name: "nginx-\(name)")
        XCTAssertTrue(waitForPort(port))
        return (child, port)
    }

    private func recorders(_ count: Int) throws -> [RecordingBackend] {
        try (0..<count).map { _ in try RecordingBackend(in: dir) }
    }

    /// The index of the recorder that received `target`, and its head as received.
    private func received(_ target: String, _ servers: [RecordingBackend]) -> (server: Int, raw: String)? {
        for (i, server) in servers.enumerated() {
            if let request = server.requests.first(where: { $0.target == target }) { return (i, request.raw) }
        }
        return nil
    }

    /// One request on its own connection; the response's head, lower-cased.
    private func get(_ port: Int, _ target: String, headers: [String] = []) throws -> String {
        let client = try RawClient(port: port, timeout: 5)
        client.send("GET \(target) HTTP/1.1\r\nHost: x\r\n" + headers.map { $0 + "\r\n" }.joined() + "Connection: close\r\n\r\n")
        let text = client.readAll().text
        return String(text[..<(text.range(of: "\r\n\r\n")?.lowerBound ?? text.endIndex)]).lowercased()
    }

    /// The chosen server's name reaches it as the last header, lower-cased as HAProxy's H1 mux
    /// writes it; the client's header of that name never does; after a failed connection the
    /// retry on another server carries that server's name.
    func testSendNameHeaderNamesTheServerOfEachAttempt() throws {
        let servers = try recorders(1)
        defer { servers.forEach { $0.stop() } }
        let closed = refusedPort()
        let both = try sideBySide("""
                http-send-name-header X-Served-By
                option redispatch
                retries 1
                use-server dead if { path_beg /dead }
                server live 127.0.0.1:\(servers[0].port)
                server dead 127.0.0.1:\(closed)
            """)
        defer { both.stop() }
        for (side, port) in zip(["lb", "hap"], both.ports) {
            for path in ["/\(side)/a", "/dead/\(side)"] {
                XCTAssertTrue(try get(port, path, headers: ["X-Served-By: forged", "x-served-by: forged2"]).hasPrefix("http/1.1 200"), "\(side) \(path)")
                let raw = try XCTUnwrap(received(path, servers)?.raw, "\(side) \(path)")
                XCTAssertFalse(raw.lowercased().contains("forged"), raw)
                XCTAssertTrue(raw.hasSuffix("\r\nx-served-by: live\r\n\r\n"), "\(side) \(path): \(raw)")
            }
        }
    }

    /// With `http-reuse never` a keep-alive client's requests stay on the server its first one
    /// went to; without the option they are balanced in turn (HAProxy 2.6 keeps only such
    /// private connections with the client's session: `http-reuse safe` shows no preference).
    func testPreferLastServerKeepsAKeepAliveClientOnItsServer() throws {
        let servers = try recorders(2)
        defer { servers.forEach { $0.stop() } }
        let both = try sideBySide("""
                http-reuse never
                option prefer-last-server
                server s1 127.0.0.1:\(servers[0].port)
                server s2 127.0.0.1:\(servers[1].port)
            backend plain
                http-reuse never
                server s1 127.0.0.1:\(servers[0].port)
                server s2 127.0.0.1:\(servers[1].port)
            """, frontend: "    use_backend plain if { path_beg /plain }\n")
        defer { both.stop() }
        for (side, port) in zip(["lb", "hap"], both.ports) {
            for prefix in ["/pref", "/plain"] {
                let client = try RawClient(port: port, timeout: 5)
                for n in 0..<4 {
                    client.send("GET \(prefix)/\(side)/\(n) HTTP/1.1\r\nHost: x\r\n\r\n")
                    XCTAssertTrue(client.readResponse().hasPrefix("HTTP/1.1 200"), "\(side) \(prefix) \(n)")
                }
                let chosen = (0..<4).map { received("\(prefix)/\(side)/\($0)", servers)?.server }
                if prefix == "/pref" {
                    XCTAssertEqual(Set(chosen).count, 1, "\(side): \(chosen)")
                } else {
                    XCTAssertEqual(Set(chosen).count, 2, "\(side): \(chosen)")
                }
            }
        }
    }

    /// A preferred last server at its `maxconn` is waited for, not traded for a free one
    /// (HAProxy's assign_server_and_queue queues the request there) — unless
    /// `max-keep-alive-queue N` says fewer than N streams must wait for it: with 0 the request
    /// goes to the free server at once, with 1 it waits for its own (HAProxy's assign_server).
    func testPreferLastServerWaitsForItsFullServerUnlessMaxKeepAliveQueue() throws {
        let s1 = try StreamBackend(in: dir), s2 = try StreamBackend(in: dir)
        defer { s1.stop(); s2.stop() }
        for (limit, waits) in [(nil, true), ("0", false), ("0x1", true)] {
            let both = try sideBySide("""
                    http-reuse never
                    option prefer-last-server
                    \(limit.map { "max-keep-alive-queue \($0)" } ?? "")
                    timeout queue 5s
                    use-server s1 if { path_beg /first } || { path_beg /sleep }
                    server s1 127.0.0.1:\(s1.port) maxconn 1
                    server s2 127.0.0.1:\(s2.port) maxconn 1
                """)
            defer { both.stop() }
            for port in both.ports {
                let client = try RawClient(port: port, timeout: 8)
                client.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
                XCTAssertTrue(client.readResponse().hasPrefix("HTTP/1.1"), "port \(port)")
                let holder = try RawClient(port: port, timeout: 8)
                holder.send("GET /sleep?ms=800 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                usleep(200_000)  // it holds s1's one slot
                let start = Date()
                client.send("GET /whoami HTTP/1.1\r\nHost: x\r\n\r\n")
                let answer = client.readResponse()
                let server = waits ? s1.port : s2.port
                XCTAssertTrue(answer.hasSuffix("stream_server \(server)\n"), "max-keep-alive-queue \(limit ?? "-"), port \(port): \(answer)")
                let waited = Date().timeIntervalSince(start)
                XCTAssertTrue(waits ? waited > 0.4 : waited < 0.4, "max-keep-alive-queue \(limit ?? "-"), port \(port): \(waited) s")
                _ = holder.readAll()
            }
        }
    }

    /// `use-server` (static and `%[…]`) comes before the cookie and inserts none; a cookie
    /// naming a DOWN server is balanced and replaced unless `force-persist` or `option persist`
    /// says to follow it; `ignore-persist` reads no cookie and inserts none; a `use-server`
    /// whose server is DOWN gives way to the balancer.
    func testUseServerAndPersistenceRulesAsHAProxy() throws {
        let servers = try recorders(3)
        defer { servers.forEach { $0.stop() } }
        let closed = refusedPort()
        let both = try sideBySide("""
                balance roundrobin
                cookie SRV insert indirect nocache
                force-persist if { req.hdr(x-force) 1 }
                ignore-persist if { req.hdr(x-ignore) 1 }
                use-server s2 if { req.hdr(x-use) s2 }
                use-server s3 if { req.hdr(x-use) s3 }
                use-server %[req.hdr(x-dyn)] if { req.hdr(x-dyn) -m found }
                server s1 127.0.0.1:\(servers[0].port) cookie c1
                server s2 127.0.0.1:\(servers[1].port) cookie c2
                server s3 127.0.0.1:\(servers[2].port) cookie c3 check port \(closed) inter 100ms fall 1 rise 1
            backend persisting
                option persist
                cookie SRV insert indirect nocache
                server s1 127.0.0.1:\(servers[0].port) cookie c1
                server s3 127.0.0.1:\(servers[2].port) cookie c3 check port \(closed) inter 100ms fall 1 rise 1
            """, frontend: "    use_backend persisting if { path_beg /p/ }\n")
        defer { both.stop() }
        waitForDown(both, "b/s3")
        // (path suffix, request headers, the server it must reach (nil: s1 or s2), whether a Set-Cookie comes)
        let cases: [(String, [String], Int?, Bool)] = [
            ("use", ["X-Use: s2", "Cookie: SRV=c1"], 1, false),
            ("dyn", ["X-Dyn: s1", "Cookie: SRV=c2"], 0, false),
            ("cookie", ["Cookie: SRV=c2"], 1, false),
            ("down", ["Cookie: SRV=c3"], nil, true),
            ("forced", ["Cookie: SRV=c3", "X-Force: 1"], 2, false),
            ("ignored", ["Cookie: SRV=c2", "X-Ignore: 1"], nil, false),
            ("usedown", ["X-Use: s3"], nil, true),
            ("useforced", ["X-Use: s3", "X-Force: 1"], 2, false),
            ("p/persist", ["Cookie: SRV=c3"], 2, false),
        ]
        for (side, port) in zip(["lb", "hap"], both.ports) {
            for (name, headers, server, setsCookie) in cases {
                let path = "/\(name)-\(side)"
                let head = try get(port, path, headers: headers)
                XCTAssertTrue(head.hasPrefix("http/1.1 200"), "\(side) \(name): \(head)")
                XCTAssertEqual(head.contains("set-cookie: srv="), setsCookie, "\(side) \(name): \(head)")
                let reached = try XCTUnwrap(received(path, servers), "\(side) \(name)").server
                if let server { XCTAssertEqual(reached, server, "\(side) \(name)") } else { XCTAssertNotEqual(reached, 2, "\(side) \(name)") }
            }
        }
    }

    /// `use-server` applies to `mode tcp` sessions too (HAProxy's process_server_rules is not
    /// HTTP's): a client from 127.0.0.2 goes to s2, others are balanced by `balance first`.
    func testUseServerInModeTCP() throws {
        let servers = try recorders(2)
        defer { servers.forEach { $0.stop() } }
        let both = try SideBySide({ port in
            """
            frontend ft
                mode tcp
                bind 127.0.0.1:\(port)
                default_backend bt
            backend bt
                mode tcp
                balance first
                use-server s2 if { src 127.0.0.2 }
                server s1 127.0.0.1:\(servers[0].port)
                server s2 127.0.0.1:\(servers[1].port)
            """
        }, in: dir)
        defer { both.stop() }
        for (side, port) in zip(["lb", "hap"], both.ports) {
            for source in ["127.0.0.1", "127.0.0.2"] {
                let client = try RawClient(port: port, timeout: 5, source: source)
                client.send("GET /tcp-\(side)-\(source) HTTP/1.1\r\nHost: x\r\n\r\n")
                XCTAssertTrue(client.readResponse().hasPrefix("HTTP/1.1 200"), "\(side) \(source)")
                XCTAssertEqual(received("/tcp-\(side)-\(source)", servers)?.server, source == "127.0.0.2" ? 1 : 0, "\(side) \(source)")
            }
        }
    }

    /// `source ADDR` (a backend's, and a server's own, which wins): the server sees the
    /// connection come from that address; so do its health checks (the check URI answers 200
    /// only to 127.0.0.2 and 127.0.0.3: a check from anywhere else marks the server DOWN).
    func testSourceBindsTheServerConnection() throws {
        let (server, port) = try nginx("src", """
                location / { return 200 "from=$remote_addr\\n"; }
                location = /health {
                    if ($remote_addr = "127.0.0.1") { return 403 "no\\n"; }
                    return 200 "ok\\n";
                }
            """)
        defer { server.stop() }
        let both = try sideBySide("""
                source 127.0.0.2
                option httpchk GET /health
                server s1 127.0.0.1:\(port) check inter 100ms fall 1 rise 1
            backend own
                source 127.0.0.2:0
                option httpchk GET /health
                server s1 127.0.0.1:\(port) source 127.0.0.3 check inter 100ms fall 1 rise 1
            """, frontend: "    use_backend own if { path_beg /own }\n")
        defer { both.stop() }
        usleep(800_000)  // several checks
        for port in both.ports {
            XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "from=127.0.0.2\n", "port \(port)")
            XCTAssertEqual(curl(["http://127.0.0.1:\(port)/own"]).out, "from=127.0.0.3\n", "port \(port)")
        }
    }

    /// A `source` address already in use: the bind before the connect fails at once, before
    /// connect(2). The client gets HAProxy's 503, and so does the next one. (That failure came
    /// back inside the dispatcher's own mutation of its state: an exclusivity violation, which
    /// killed a debug build and was undefined in a release one.)
    func testASourceAddressInUseGives503() throws {
        let servers = try recorders(1)
        let busy = refusedPort()  // bound for the rest of the run, never listening
        let both = try sideBySide("""
                retries 1
                server s1 127.0.0.1:\(servers[0].port) source 127.0.0.1:\(busy)
            """)
        defer { both.stop() }
        for port in both.ports {
            for attempt in 1...2 {
                XCTAssertTrue(try get(port, "/").hasPrefix("http/1.1 503"), "port \(port), request \(attempt)")
            }
        }
        XCTAssertNil(both.lb.child.waitForExit(timeout: 0.2), "swiftlb lives: \(both.lb.child.stderr)")
        XCTAssertTrue(servers[0].requests.isEmpty, "nothing reached the server")
    }

    /// `server-template PREFIX NUM|LOW-HIGH ADDRESS`: the servers and their numbers in `show stat`
    /// are HAProxy's, and each takes traffic.
    func testServerTemplateMakesHAProxysServers() throws {
        let servers = try recorders(1)
        defer { servers.forEach { $0.stop() } }
        let both = try SideBySide({ port in
            """
            global
                stats socket \(self.dir.file("stats-\(port).sock")) level admin
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend b
            backend b
                server first 127.0.0.1:\(servers[0].port)
                server-template web 3 127.0.0.1:\(servers[0].port) weight 2
                server-template x 5-6 127.0.0.1:\(servers[0].port)
            """
        }, in: dir)
        defer { both.stop() }
        func rows(_ command: [String]) -> [String] {
            let lines = runCommand(command[0], Array(command.dropFirst())).out.split(separator: "\n").map(String.init)
            guard let header = lines.first?.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init) else { return [] }
            let wanted = ["pxname", "svname", "weight", "sid"].compactMap { header.firstIndex(of: $0) }
            return lines.dropFirst().map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
                .filter { $0.count > 1 && $0[0] == "b" }
                .map { fields in wanted.map { $0 < fields.count ? fields[$0] : "?" }.joined(separator: "/") }
        }
        let theirs = rows(haproxyStatCommand(dir.file("stats-\(both.haproxyPort).sock")))
        XCTAssertTrue(theirs.contains("b/web3/2/4"), "\(theirs)")
        XCTAssertEqual(rows([Paths.swiftlb, "ctl", "-s", dir.file("stats-\(both.lbPort).sock"), "show", "stat"]), theirs)
        for port in both.ports {
            let answers = (0..<8).map { _ in (try? get(port, "/")) ?? "" }
            XCTAssertTrue(answers.allSatisfy { $0.hasPrefix("http/1.1 200") }, "\(answers)")
        }
    }

    /// `stick store-response res.cook(SID)` with `stick match req.cook(SID)`: the session id a
    /// server sets is learnt from its response, and later requests carrying it go to that server
    /// (the usual application-session stickiness).
    func testStickStoreResponseLearnsTheServerOfASessionCookie() throws {
        let started = try (1...2).map { n in
            try nginx("sid\(n)", """
                    location = /login { add_header Set-Cookie "SID=s\(n)$request_id; path=/"; return 200 "node\(n)\\n"; }
                    location / { return 200 "node\(n)\\n"; }
                """)
        }
        defer { started.forEach { $0.0.stop() } }
        let ports = started.map(\.port)
        let both = try sideBySide("""
                stick-table type string len 64 size 1k expire 1m
                stick store-response res.cook(SID)
                stick match req.cook(SID)
                server s1 127.0.0.1:\(ports[0])
                server s2 127.0.0.1:\(ports[1])
            """)
        defer { both.stop() }
        for port in both.ports {
            for _ in 0..<2 {
                let login = try get(port, "/login")
                let sid = try XCTUnwrap(login.split(separator: "\r\n").first { $0.hasPrefix("set-cookie: sid=") }, login)
                    .dropFirst("set-cookie: sid=".count).prefix { $0 != ";" }
                let node = "node" + sid.prefix(2).dropFirst()
                let answers = (0..<6).map { _ in curl(["-b", "SID=\(sid)", "http://127.0.0.1:\(port)/"]).out }
                XCTAssertEqual(Set(answers), ["\(node)\n"], "port \(port), SID \(sid)")
            }
        }
    }

    /// A request a stick entry sends to its server gets no inserted cookie (HAProxy's SF_DIRECT),
    /// as one whose cookie named it; the balanced first one does.
    func testAStickMatchedRequestGetsNoInsertedCookie() throws {
        let servers = try recorders(2)
        defer { servers.forEach { $0.stop() } }
        let both = try sideBySide("""
                cookie SRV insert indirect nocache
                stick-table type string len 32 size 1k
                stick on req.hdr(x-user)
                server s1 127.0.0.1:\(servers[0].port) cookie c1
                server s2 127.0.0.1:\(servers[1].port) cookie c2
            """)
        defer { both.stop() }
        for port in both.ports {
            let heads = try (0..<3).map { _ in try get(port, "/", headers: ["X-User: bob-\(port)"]) }
            XCTAssertEqual(heads.map { $0.contains("set-cookie: srv=") }, [true, false, false], "port \(port): \(heads)")
        }
    }

    /// A `stick match` whose entry names a DOWN server lets the next `stick match` rule decide
    /// (HAProxy goes on through its sticking rules while nothing is assigned); entries are
    /// stored through `use-server` (with `force-persist` for the DOWN one).
    func testAStickEntryOfADownServerLetsTheNextRuleDecide() throws {
        let servers = try recorders(3)
        defer { servers.forEach { $0.stop() } }
        let closed = refusedPort()
        let both = try sideBySide("""
                balance first
                stick-table type string len 32 size 1k
                stick match req.hdr(x-a)
                stick match req.hdr(x-b)
                stick store-request req.hdr(x-a) if { req.hdr(x-store) a }
                stick store-request req.hdr(x-b) if { req.hdr(x-store) b }
                force-persist if { req.hdr(x-force) 1 }
                use-server %[req.hdr(x-srv)] if { req.hdr(x-srv) -m found }
                server s1 127.0.0.1:\(servers[0].port)
                server s2 127.0.0.1:\(servers[1].port)
                server s3 127.0.0.1:\(servers[2].port) check port \(closed) inter 100ms fall 1 rise 1
            """)
        defer { both.stop() }
        waitForDown(both, "b/s3")
        for (side, port) in zip(["lb", "hap"], both.ports) {
            _ = try get(port, "/store-a-\(side)", headers: ["X-A: ka-\(side)", "X-Store: a", "X-Srv: s3", "X-Force: 1"])
            _ = try get(port, "/store-b-\(side)", headers: ["X-B: kb-\(side)", "X-Store: b", "X-Srv: s2"])
            XCTAssertEqual(received("/store-a-\(side)", servers)?.server, 2, side)
            XCTAssertEqual(received("/store-b-\(side)", servers)?.server, 1, side)
            _ = try get(port, "/both-\(side)", headers: ["X-A: ka-\(side)", "X-B: kb-\(side)"])
            XCTAssertEqual(received("/both-\(side)", servers)?.server, 1, "\(side): the x-b entry's s2, not s3 (DOWN) nor the balancer's s1")
        }
    }

    /// `ignore-persist` leaves the server's own persistence cookie alone (`rewrite` mode: no
    /// rewrite), as HAProxy skips its server-side cookie processing.
    func testIgnorePersistLeavesARewriteCookieAlone() throws {
        let (server, port) = try nginx("rewrite", """
                location / { add_header Set-Cookie "SRV=app; path=/"; return 200 "ok\\n"; }
            """)
        defer { server.stop() }
        let both = try sideBySide("""
                cookie SRV rewrite
                ignore-persist if { req.hdr(x-ignore) 1 }
                server s1 127.0.0.1:\(port) cookie c1
            """)
        defer { both.stop() }
        for port in both.ports {
            XCTAssertTrue(try get(port, "/").contains("set-cookie: srv=c1; path=/"), "port \(port)")
            XCTAssertTrue(try get(port, "/", headers: ["X-Ignore: 1"]).contains("set-cookie: srv=app; path=/"), "port \(port)")
        }
    }

    /// Argument errors name the file, the line and the keyword, as HAProxy refuses them.
    func testArgumentErrorsNameFileLineAndKeyword() throws {
        // (line, message, whether HAProxy refuses it too: it has transparent proxying and port ranges)
        let cases: [(String, String, Bool)] = [
            ("use-server s1", "'use-server' requires either 'if' or 'unless'", true),
            ("use-server nosuch if TRUE", "no server 'nosuch'", true),
            ("force-persist", "'force-persist' requires either 'if' or 'unless'", true),
            ("ignore-persist always", "'ignore-persist' requires either 'if' or 'unless'", true),
            ("http-send-name-header", "requires a header string", true),
            ("source 127.0.0.2 usesrc clientip", "usesrc", false),
            ("source 127.0.0.2:1024-2048", "port range", false),
            ("server-template t 3-1 127.0.0.1:1", "Wrong server-template number or range arg '3-1'", true),
            ("option prefer-last-server now", "takes no argument", true),
            ("max-keep-alive-queue", "'max-keep-alive-queue' expects expects an integer value (or -1 to disable)", true),
            ("max-keep-alive-queue 10k", "'max-keep-alive-queue' : unexpected character 'k' in integer value '10k'", true),
            ("max-keep-alive-queue 09", "'max-keep-alive-queue' : unexpected character '9' in integer value '09'", true),
        ]
        for (line, message, haproxyRefuses) in cases {
            let file = try dir.write("lb.conf", "defaults\n    mode http\nbackend b\n    \(line)\n    server s1 127.0.0.1:1\n")
            let result = runCommand(Paths.swiftlb, ["check", "-c", file])
            let text = result.out + result.err
            XCTAssertNotEqual(result.status, 0, line)
            XCTAssertTrue(text.contains("lb.conf:4") && text.contains(message), "\(line): \(text)")
            if haproxyRefuses { XCTAssertNotEqual(runCommand("/usr/sbin/haproxy", ["-c", "-f", file]).status, 0, "haproxy refuses '\(line)' too") }
        }
        // Learning from TCP responses is not done: refused, not accepted and never stored.
        let tcp = try dir.write("lb.conf", "defaults\n    mode tcp\nbackend b\n    stick-table type string len 32 size 1k\n"
                                + "    stick store-response req.payload(0,4)\n    server s1 127.0.0.1:1\n")
        let text = runCommand(Paths.swiftlb, ["check", "-c", tcp]).err
        XCTAssertTrue(text.contains("lb.conf:5") && text.contains("'stick store-response' is supported in 'mode http' backends only"), text)
    }
}
