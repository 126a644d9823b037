import Foundation
import XCTest

/// The fetches of proxy and server state in ACLs (`acl dead nbsrv(be_app) lt 1` with
/// `use_backend sorry if dead`, `srv_is_up`, `be_conn`, `srv_conn`, `connslots`, `queue`,
/// `avg_queue`, `fe_conn`), beside HAProxy 2.6 on the same configuration: each route below is
/// taken by both only when the fetch reads what HAProxy's does.
final class ProxyStateFetchTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// Polls until `path` answers `expected` (a health check's verdict takes a few intervals).
    private func eventually(_ port: Int, _ path: String, _ expected: Int) -> Int? {
        var last: Int?
        for _ in 0..<50 {
            last = statusOfClosingGET(port, path)
            if last == expected { return last }
            usleep(100_000)
        }
        return last
    }

    func testStateFetchesRouteAsInHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let silent = try ScriptedBackend(.silent)
        defer { silent.stop() }
        let nothing = freePort()
        // One answering backend per route: its status says which rule matched.
        let answers = (221...235).map { code in
            "backend b\(code)\n    http-request return status \(code) content-type text/plain string ok\n"
        }.joined()
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                monitor-uri /health
                monitor fail if { nbsrv(be_dead) lt 1 }
                acl dead nbsrv(be_dead) lt 1
                acl live nbsrv(be_live) eq 1
                acl live_up srv_is_up(be_live/s1)
                acl dead_up srv_is_up(be_dead/s1)
                use_backend b221 if dead { path /dead }
                use_backend b222 if live { path /live }
                use_backend b223 if live_up { path /live-up }
                use_backend b224 if !dead_up { path /dead-down }
                use_backend b225 if { be_conn(be_live) eq 0 } { path /idle }
                use_backend b226 if { connslots(be_live) eq -1 } { path /unlimited }
                use_backend b227 if { connslots(be_slots) eq 5 } { path /slots }
                use_backend b228 if { queue(be_live) eq 0 } { path /queue }
                use_backend b229 if { avg_queue(be_dead) eq 0 } { path /avg }
                use_backend b230 if { fe_conn ge 1 } { fe_conn(fe) lt 3 } { path /fe }
                use_backend be_hold if { path /hold }
                use_backend b231 if { be_conn(be_hold) eq 1 } { srv_conn(be_hold/s1) eq 1 } { path /busy }
                use_backend b232 if { nbsrv(be_backup) eq 1 } { path /backup }
                use_backend b233 if { srv_conn(be_live/s1) eq 0 } { path /srv-idle }
                use_backend b234 if { srv_is_up(be_live/s1) gt 1 } { path /up-gt }
                use_backend b235 if { srv_is_up(be_dead/s1) gt 1 } { path /dead-gt }
                default_backend b404
            backend be_live
                server s1 127.0.0.1:\(nginx.ports[0]) check inter 100ms
            backend be_dead
                server s1 127.0.0.1:\(nothing) check inter 100ms fall 1
            backend be_slots
                server s1 127.0.0.1:\(nginx.ports[0]) maxconn 2 maxqueue 3
            backend be_hold
                timeout server 1s
                server s1 127.0.0.1:\(silent.port)
            backend be_backup
                server s1 127.0.0.1:\(nothing) check inter 100ms fall 1
                server s2 127.0.0.1:\(nginx.ports[0]) backup
                server s3 127.0.0.1:\(nginx.ports[0]) backup
            backend b404
                http-request return status 404 content-type text/plain string none
            \(answers)
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            XCTAssertEqual(eventually(port, "/dead", 221), 221, "port \(port): nbsrv of a backend whose server is down")
            XCTAssertEqual(eventually(port, "/dead-down", 224), 224, "port \(port): srv_is_up of a server down")
            XCTAssertEqual(statusOfClosingGET(port, "/health"), 503, "port \(port): monitor fail follows the backend")
            XCTAssertEqual(statusOfClosingGET(port, "/live"), 222, "port \(port)")
            XCTAssertEqual(statusOfClosingGET(port, "/live-up"), 223, "port \(port)")
            XCTAssertEqual(statusOfClosingGET(port, "/idle"), 225, "port \(port)")
            XCTAssertEqual(statusOfClosingGET(port, "/unlimited"), 226, "port \(port): a server without maxconn makes it -1")
            XCTAssertEqual(statusOfClosingGET(port, "/slots"), 227, "port \(port): maxconn 2 + maxqueue 3")
            XCTAssertEqual(statusOfClosingGET(port, "/queue"), 228, "port \(port)")
            XCTAssertEqual(statusOfClosingGET(port, "/avg"), 229, "port \(port)")
            XCTAssertEqual(statusOfClosingGET(port, "/fe"), 230, "port \(port): this connection is the frontend's one")
            XCTAssertEqual(eventually(port, "/backup", 232), 232, "port \(port): backups count as one")
            XCTAssertEqual(statusOfClosingGET(port, "/srv-idle"), 233, "port \(port)")
            // A boolean's patterns are never read: `gt 1` is the server being up.
            XCTAssertEqual(statusOfClosingGET(port, "/up-gt"), 234, "port \(port)")
            XCTAssertEqual(statusOfClosingGET(port, "/dead-gt"), 404, "port \(port)")
            // A request held by a server that never answers: the backend and its server have one.
            do {
                let held = try RawClient(port: port, timeout: 5)
                held.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
                XCTAssertEqual(eventually(port, "/busy", 231), 231, "port \(port): be_conn and srv_conn count the held request")
            }
            // Its `timeout server` ends it (a client's close alone does not, in either).
            XCTAssertEqual(eventually(port, "/busy", 404), 404, "port \(port): the held request ended")
        }
    }

    /// The connection and session rules read the state fetches too: `nbsrv(be)` and `fe_conn`
    /// refuse a connection (source 127.0.0.13, .15) or its session (.14, .16) as in HAProxy,
    /// over HTTP and in a TCP frontend.
    func testConnectionAndSessionRulesReadProxyStates() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let rules = """
                tcp-request connection reject if { nbsrv(be_live) eq 1 } { src 127.0.0.13 }
                tcp-request session reject if { nbsrv(be_live) eq 1 } { src 127.0.0.14 }
                tcp-request connection reject if { fe_conn ge 1 } { src 127.0.0.15 }
                tcp-request session reject if { fe_conn ge 1 } { src 127.0.0.16 }
            """
        let both = try SideBySide({ port, tcp in
            """
                frontend fe
                    bind 127.0.0.1:\(port)
                \(rules)
                    default_backend be_live
                frontend fe_tcp
                    mode tcp
                    bind 127.0.0.1:\(tcp)
                \(rules)
                    default_backend be_tcp
                backend be_live
                    server s1 127.0.0.1:\(nginx.ports[0])
                backend be_tcp
                    mode tcp
                    server s1 127.0.0.1:\(nginx.ports[0])
                """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports + both.secondPorts {
            for source in ["127.0.0.12", "127.0.0.13", "127.0.0.14", "127.0.0.15", "127.0.0.16"] {
                let client = try RawClient(port: port, timeout: 3, source: source)
                client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                let answer = client.readAll()
                if source == "127.0.0.12" {
                    XCTAssertEqual(statusCode(answer.text), 200, "port \(port): the rules let other sources through")
                } else {
                    XCTAssertTrue(answer.closed && answer.text.isEmpty, "port \(port) from \(source): \(answer.text)")
                }
            }
        }
    }

    /// A fetch without argument reads the proxy whose rule it is, whatever backend the request
    /// went to: a frontend's `fe_conn` in its response rules, a `listen` section's `nbsrv` (no
    /// server of its own) after `use_backend` — over HTTP/1 and h2c, as in HAProxy.
    func testFetchWithoutArgumentReadsTheRulesProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let both = try SideBySide({ port, listen in
            """
                frontend fe
                    bind 127.0.0.1:\(port)
                    http-response set-header X-FE-Conn yes if { fe_conn ge 1 }
                    default_backend be
                listen li
                    bind 127.0.0.1:\(listen)
                    http-response set-header X-Nbsrv-Zero yes if { nbsrv eq 0 }
                    use_backend be
                backend be
                    server s1 127.0.0.1:\(nginx.ports[0])
                """
        }, in: dir)
        defer { both.stop() }
        for (port, listen) in zip(both.ports, both.secondPorts) {
            for h2 in [false, true] {
                let version = h2 ? ["--http2-prior-knowledge"] : []
                let fe = curl(version + ["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/"])
                XCTAssertTrue(fe.out.lowercased().contains("x-fe-conn: yes"), "port \(port), h2 \(h2): \(fe.out)")
                let li = curl(version + ["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(listen)/"])
                XCTAssertTrue(li.out.lowercased().contains("x-nbsrv-zero: yes"), "port \(listen), h2 \(h2): \(li.out)")
            }
        }
    }

    /// HAProxy resolves the fetch's argument when it loads the file, with these messages.
    func testUnknownProxyOrServerIsRefusedAsByHAProxy() throws {
        let cases: [(String, String)] = [
            ("acl x nbsrv(nope) lt 1", "unable to find backend 'nope' referenced in arg 1 of ACL keyword 'nbsrv' in proxy 'fe'."),
            ("acl x nbsrv lt 1", "proxy 'fe', referenced in arg 1 of ACL keyword 'nbsrv' in proxy 'fe', has not backend capability."),
            ("acl x srv_is_up(be/s9)", "unable to find server 's9' in proxy 'be', referenced in arg 1 of ACL keyword 'srv_is_up' in proxy 'fe'."),
            ("acl x fe_conn(nope) gt 1", "unable to find frontend 'nope' referenced in arg 1 of ACL keyword 'fe_conn' in proxy 'fe'."),
        ]
        try assertRefusedAsByHAProxy(cases, rest: "use_backend be if x", in: dir)
    }
}

/// The state fetches wherever a sample expression is: `set-var`, `%[…]` in `set-header` and
/// `return`'s headers, with converters after them; without argument in a backend's rules they
/// read that backend — beside HAProxy 2.6.
final class ProxyStateExpressionTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testStateFetchesInExpressionsAsInHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let nothing = freePort()
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                http-request set-var(txn.n) nbsrv(be_live)
                http-request set-header X-Nb "%[nbsrv(be_live)] %[var(txn.n),add(10)] %[srv_is_up(be_live/s1)] %[srv_is_up(be_dead/s1)] %[srv_is_up(be_live/s1),add(2)] %[fe_conn] %[be_conn(be_live)] %[srv_is_up(be_dead/s1),iif(up,down)] %[connslots(be_live)] %[queue(be_live)] %[avg_queue(be_dead)] %[srv_conn(be_live/s1)]"
                http-request return status 200 hdr X-Got "%[req.hdr(x-nb)]" if { path /fe }
                default_backend be_live
            backend be_live
                http-request set-var(txn.b) nbsrv
                http-response set-header X-Be "%[var(txn.b)] %[be_conn] %[queue] %[connslots] %[avg_queue] %[var(txn.n)]"
                server s1 127.0.0.1:\(nginx.ports[0]) check inter 100ms
            backend be_dead
                server s1 127.0.0.1:\(nothing) check inter 100ms fall 1
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            var got = ""
            for _ in 0..<50 {
                got = curl(["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/fe"]).out.lowercased()
                if got.contains("x-got: 1 11 1 0 3 1 0 down") { break }
                usleep(100_000)
            }
            XCTAssertTrue(got.contains("x-got: 1 11 1 0 3 1 0 down -1 0 0 0\r\n"), "port \(port): \(got)")
            let backend = curl(["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]).out.lowercased()
            XCTAssertTrue(backend.contains("x-be: 1 1 0 -1 0 1\r\n"), "port \(port): \(backend)")
        }
    }

    /// A `return` header the only reader of the states: the runtime keeps them all the same.
    func testStateFetchReadOnlyByAReturnHeader() throws {
        try sideBySide({ port, nginx in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                http-request return status 200 hdr X-Only "%[nbsrv(be)] %[srv_is_up(be/s2)] %[fe_conn]"
            backend be
                server s1 127.0.0.1:\(nginx)
                server s2 127.0.0.1:\(nginx) disabled
            """
        }) { port in
            let only = curl(["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]).out.lowercased()
            XCTAssertTrue(only.contains("x-only: 1 0 1\r\n"), "port \(port): \(only)")
        }
    }

    /// `srv_is_up` with `-m`: HAProxy matches its 0/1 as the method says (`-m int 3` never
    /// holds, `-m found` always does); with `-m bool` or none it is the boolean.
    func testBooleanStateFetchWithMatchMethod() throws {
        try sideBySide({ port, nginx in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                acl i1 srv_is_up(be/s1) -m int 1
                acl i0 srv_is_up(be/s1) -m int 0
                acl i3 srv_is_up(be/s1) -m int 3
                acl ige srv_is_up(be/s1) -m int ge 0
                acl b srv_is_up(be/s1)
                acl bf srv_is_up(be/s2) -m bool
                acl f srv_is_up(be/s2) -m found
                acl s srv_is_up(be/s1) -m str 1
                acl s0 srv_is_up(be/s2) -m str 0
                acl n srv_is_up(be/s1) 3
                http-request return status 200 if i1 !i0 !i3 ige b !bf f s s0 n
                http-request return status 201 if i3
                http-request return status 202
            backend be
                server s1 127.0.0.1:\(nginx)
                server s2 127.0.0.1:\(nginx) disabled
            """
        }) { port in
            XCTAssertEqual(statusOfClosingGET(port, "/"), 200, "port \(port)")
        }
    }

    /// `%[…]` in a `log-format`: the state fetches (with converters), the client's address and
    /// the names, as HAProxy logs them at the stream's end.
    func testStateFetchesInLogFormatAsInHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let pair = try AccessLogTests.Pair(backend: nginx.ports[0], in: dir) { http, tcp, backend, syslog in
            AccessLogTests.httpAndTCPFrontends(http: http, tcp: tcp, backend: backend, syslog: syslog, httpLines: """
                log global
                log-format "STATE %[nbsrv(be)] %[srv_is_up(be/s1)] %[srv_is_up(be/s1),iif(up,down)] %[fe_conn] %[src] %[nbsrv(be),add(5)] %[fe_name] %[connslots(be)]"
            """)
        }
        defer { pair.stop() }
        for (port, syslog) in [(pair.ports.hhttp, pair.hsyslog), (pair.ports.shttp, pair.ssyslog)] {
            XCTAssertEqual(statusOfClosingGET(port, "/"), 200, "port \(port)")
            let lines = syslog.receive(count: 1, within: 5)
            XCTAssertTrue(lines.first?.hasSuffix("STATE 1 1 up 1 127.0.0.1 6 fe -1") == true, "port \(port): \(lines)")
        }
    }

    /// A state fetch read only by an ACL with converters, or only by `http-request capture`: the
    /// runtime keeps the states all the same (they yielded nothing).
    func testStateFetchReadOnlyByAnACLExpressionOrACapture() throws {
        // (the capture's slot is the frontend's first: 0)
        let readers = [
            ("http-request return status 200 hdr X-S ok if { nbsrv(be),add(0) eq 1 }", "x-s: ok\r\n"),
            ("http-request capture nbsrv(be),add(10) len 5\n    http-request return status 200 hdr X-S \"%[capture.req.hdr(0)]\"", "x-s: 11\r\n"),
        ]
        for (reader, expected) in readers {
            try sideBySide({ port, nginx in
                """
                frontend fe
                    bind 127.0.0.1:\(port)
                    \(reader)
                    http-request return status 503
                backend be
                    server s1 127.0.0.1:\(nginx)
                """
            }) { port in
                let out = curl(["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]).out.lowercased()
                XCTAssertTrue(out.hasPrefix("http/1.1 200") && out.contains(expected), "\(reader), port \(port): \(out)")
            }
        }
    }

    /// `config(port, nginx port)` through SwiftLB and haproxy beside one nginx; `check` each port.
    private func sideBySide(_ config: @escaping (Int, Int) -> String, _ check: (Int) throws -> Void) throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let both = try SideBySide({ config($0, nginx.ports[0]) }, in: dir)
        defer { both.stop() }
        for port in both.ports { try check(port) }
    }

    /// A state fetch in an expression names what exists, with the capability it needs: HAProxy's
    /// messages.
    func testExpressionStateFetchRefusedAsByHAProxy() throws {
        let cases: [(String, String)] = [
            ("http-request set-var(txn.x) be_conn",
             "proxy 'fe', referenced in arg 1 of sample fetch keyword 'be_conn' in http-request expression in proxy 'fe', has not backend capability."),
            ("http-request set-header X %[nbsrv(nope)]",
             "unable to find backend 'nope' referenced in arg 1 of sample fetch keyword 'nbsrv' in http-request expression in proxy 'fe'."),
            ("http-request set-var(txn.x) srv_is_up(be/s9),add(1)",
             "unable to find server 's9' in proxy 'be', referenced in arg 1 of sample fetch keyword 'srv_is_up' in http-request expression in proxy 'fe'."),
            ("tcp-request content set-var(txn.x) be_conn",
             "proxy 'fe', referenced in arg 1 of sample fetch keyword 'be_conn' in tcp-request content expression in proxy 'fe', has not backend capability."),
            ("log-format \"%%[x %[src] %[nbsrv(nope)]\"",
             "unable to find backend 'nope' referenced in arg 1 of sample fetch keyword 'nbsrv' in log-format string in proxy 'fe'."),
        ]
        try assertRefusedAsByHAProxy(cases, rest: "default_backend be", in: dir)
    }

    /// `%[…]` outside a log-format — an ACL's pattern, a `return`'s plain `string` — is text:
    /// HAProxy does not read it, so the names in it are not checked.
    func testPercentOutsideALogFormatIsNotReadAsByHAProxy() throws {
        let file = try dir.write("lb.conf", testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(freePort())
                acl a req.hdr(y) -m str %[nbsrv(nope1)]
                http-request deny if a || { req.hdr(x) -m str %[nbsrv(nope2)] }
                http-request return status 200 content-type text/plain string "%[be_conn(nope3)]"

            """)
        let result = runCommand(Paths.swiftlb, ["check", "--config", file])
        XCTAssertEqual(result.status, 0, result.err)
        let haproxy = runCommand("/usr/sbin/haproxy", ["-c", "-f", file])
        XCTAssertEqual(haproxy.status, 0, haproxy.err)
    }

    /// Every rule's expression names what exists, whatever the action (an ACL with converters,
    /// a capture, track-sc, set-dst, sc-set-gpt0 passed `check` with an unknown name): HAProxy's
    /// messages for each alone.
    func testStateFetchOfAnyRuleRefusedAsByHAProxy() throws {
        let table = "stick-table type integer size 10 store gpt0\n    "
        let acl = "unable to find backend 'nope' referenced in arg 1 of ACL keyword 'nbsrv' in proxy 'fe'."
        let cases: [(String, String)] = [
            ("acl a nbsrv(nope),add(1) gt 0\n    http-request deny if a", acl),
            ("http-request deny if { be_conn(nope),add(1) gt 3 }",
             "unable to find backend 'nope' referenced in arg 1 of ACL keyword 'be_conn' in proxy 'fe'."),
            ("declare capture request len 10\n    http-request capture nbsrv(nope) len 10", acl),
            (table + "http-request track-sc0 nbsrv(nope)", acl),
            ("http-request set-dst nbsrv(nope)", acl),
            (table + "http-request sc-set-gpt0(0) nbsrv(nope)", acl),
            (table + "tcp-request content sc-set-gpt0(0) nbsrv(nope)", acl),
            (table + "tcp-request content track-sc1 be_conn(nope)",
             "unable to find backend 'nope' referenced in arg 1 of sample fetch keyword 'be_conn' in tracking rule in proxy 'fe'."),
        ]
        try assertRefusedAsByHAProxy(cases, rest: "default_backend be", in: dir)
    }
}

/// Each line, in a frontend before `rest`, is refused by `swiftlb check` and by `haproxy -c`,
/// both with `message`.
/// Each line (with `rest` after it) in the frontend `fe`, or in the backend `be` (`inBackend`),
/// refused by `swiftlb check` and `haproxy -c` with the same message.
func assertRefusedAsByHAProxy(_ cases: [(String, String)], rest: String, inBackend: Bool = false, in dir: TempDirectory) throws {
    for (line, message) in cases {
        let rules = "    \(line)\n    \(rest)\n"
        let file = try dir.write("lb.conf", testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(freePort())
            \(inBackend ? "    default_backend be\n" : rules)backend be
                server s1 127.0.0.1:\(freePort())
            \(inBackend ? rules : "")
            """)
        let result = runCommand(Paths.swiftlb, ["check", "--config", file])
        XCTAssertNotEqual(result.status, 0, line)
        XCTAssertTrue(result.err.contains(message) || result.out.contains(message), "\(line): \(result.err)")
        let haproxy = runCommand("/usr/sbin/haproxy", ["-c", "-f", file])
        XCTAssertTrue(haproxy.err.contains(message) || haproxy.out.contains(message), "haproxy, \(line): \(haproxy.err)")
    }
}
