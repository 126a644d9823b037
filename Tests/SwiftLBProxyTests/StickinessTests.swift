import Foundation
import XCTest

/// Sticky cookies and the balancing algorithms, against real nginx and Python backends.
final class StickinessTests: XCTestCase {
    var dir: TempDirectory!
    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func cookieConfig(_ port: Int, _ nginx: NginxBackends, extra: String = "") -> String {
        testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend nodes
            backend nodes
                cookie SERVERID insert indirect nocache httponly secure domain .example.test
                option redispatch
                \(extra)
                default-server check inter 100ms fall 1 rise 2
            \(serverLines(nginx.ports, cookie: "n"))
            """
    }

    /// The Set-Cookie header value in a response dump, or nil.
    private func setCookie(_ headers: String) -> String? {
        headers.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") }
            .map { String($0.dropFirst("set-cookie:".count).drop { $0 == " " }) }
    }

    func testCookieSticksRedispatchesOnceAndSticksAgain() throws {
        let nginx = try NginxBackends(count: 3, in: dir, separate: true)
        defer { nginx.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: cookieConfig(port, nginx), waitPort: port, in: dir)
        defer { lb.stop() }

        // First visit: balanced, and the cookie is inserted with the configured attributes.
        let first = curl(["-D", "-", "http://127.0.0.1:\(port)/"]).out
        let cookie = try XCTUnwrap(setCookie(first), first)
        let value = String(cookie.prefix { $0 != ";" }.dropFirst("SERVERID=".count))
        XCTAssertEqual(cookie, "SERVERID=\(value); path=/; domain=.example.test; HttpOnly; Secure")
        // `nocache` marks only what a cache would keep (haproxy 2.6.12): nginx's answer here has
        // no validator or expiry (CookieInsertParityTests compares the cases with haproxy).
        XCTAssertFalse(first.lowercased().contains("cache-control: private"), "nocache: \(first)")
        let node = "node" + value.dropFirst()

        // 1000 requests with the cookie: all on the same server, no new Set-Cookie (indirect).
        let urls = dir.file("urls.txt")
        try String(repeating: "url = \"http://127.0.0.1:\(port)/\"\n", count: 1000).write(toFile: urls, atomically: true, encoding: .utf8)
        let sticky = curl(["-K", urls, "-b", "SERVERID=\(value)", "-D", dir.file("h.txt")], maxTime: 120)
        XCTAssertEqual(Set(sticky.out.split(separator: "\n")), [Substring(node)])
        XCTAssertEqual(sticky.out.split(separator: "\n").count, 1000)
        XCTAssertFalse(((try? String(contentsOfFile: dir.file("h.txt"), encoding: .utf8)) ?? "").lowercased().contains("set-cookie"))

        // Its server dies: the client is redispatched once, with a new cookie, and sticks there.
        let index = Int(value.dropFirst())! - 1
        nginx.kill(index)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("nodes/\(node) is DOWN") })
        let moved = curl(["-D", "-", "-b", "SERVERID=\(value)", "http://127.0.0.1:\(port)/"]).out
        let newCookie = try XCTUnwrap(setCookie(moved), moved)
        let newValue = String(newCookie.prefix { $0 != ";" }.dropFirst("SERVERID=".count))
        XCTAssertNotEqual(newValue, value)
        let newNode = "node" + newValue.dropFirst()
        XCTAssertTrue(moved.hasSuffix("\(newNode)\n"), moved)
        let after = curl((0..<50).map { _ in "http://127.0.0.1:\(port)/" } + ["-b", "SERVERID=\(newValue)"]).out
        XCTAssertEqual(Set(after.split(separator: "\n")), [Substring(newNode)])

        // A cookie naming no server is ignored and replaced.
        let bogus = curl(["-D", "-", "-b", "SERVERID=nope", "http://127.0.0.1:\(port)/"]).out
        XCTAssertTrue(setCookie(bogus)?.hasPrefix("SERVERID=n") == true, bogus)
    }

    /// HAProxy 2.6 follows a cookie only to a server that is not DOWN (`option persist` and
    /// `force-persist` aside): without `option redispatch` too, the client is balanced and
    /// gets a new cookie (its log says `--DI`).
    func testWithoutRedispatchACookieOfADownServerIsBalancedAndReplaced() throws {
        let nginx = try NginxBackends(count: 2, in: dir, separate: true)
        defer { nginx.stop() }
        let port = freePort()
        let config = cookieConfig(port, nginx).replacingOccurrences(of: "    option redispatch\n", with: "")
        let lb = try SwiftLBInstance(config: config, waitPort: port, in: dir)
        defer { lb.stop() }
        nginx.kill(0)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("nodes/node1 is DOWN") })
        let moved = curl(["-D", "-", "-b", "SERVERID=n1", "http://127.0.0.1:\(port)/"]).out
        XCTAssertTrue(moved.hasSuffix("node2\n"), moved)
        XCTAssertTrue(setCookie(moved)?.hasPrefix("SERVERID=n2;") == true, moved)
        XCTAssertEqual(curl(["-b", "SERVERID=n2", "http://127.0.0.1:\(port)/"]).out, "node2\n")
    }

    func testPrefixAndRewriteModes() throws {
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                cookie JSESSIONID prefix
                server s1 127.0.0.1:\(stream.port) cookie s1
            """, in: dir)
        defer { lb.stop() }
        // Towards the server the prefix is removed.
        let echoed = curl(["-b", "JSESSIONID=s1~abc123; other=1", "http://127.0.0.1:\(port)/echo-headers"]).out
        XCTAssertTrue(echoed.contains("cookie: JSESSIONID=abc123; other=1\n"), echoed)
    }

    /// Two SwiftLB processes with the same configuration route the same cookie and the same
    /// client address to the same server: stickiness holds no table.
    func testTwoInstancesAgreeOnCookiesAndSourceHash() throws {
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        let (portA, portB) = (freePort(), freePort())
        func config(_ port: Int) -> String {
            testDefaults() + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    use_backend hashed if { path_beg /hashed }
                    default_backend sticky
                backend sticky
                    cookie SERVERID insert indirect
                \(serverLines(nginx.ports, cookie: "n"))
                backend hashed
                    balance source
                \(serverLines(nginx.ports))
                """
        }
        let a = try SwiftLBInstance(config: config(portA), waitPort: portA, in: dir, name: "a")
        defer { a.stop() }
        let b = try SwiftLBInstance(config: config(portB), waitPort: portB, in: dir, name: "b")
        defer { b.stop() }
        for n in 1...3 {
            XCTAssertEqual(curl(["-b", "SERVERID=n\(n)", "http://127.0.0.1:\(portA)/"]).out, "node\(n)\n")
            XCTAssertEqual(curl(["-b", "SERVERID=n\(n)", "http://127.0.0.1:\(portB)/"]).out, "node\(n)\n")
        }
        // nginx answers "/" only; /hashed is a 404 page, so read the server from the access log.
        var seen = Set<String>()
        for host in 2...21 {
            let source = "127.0.0.\(host)"
            curl(["--interface", source, "-o", "/dev/null", "http://127.0.0.1:\(portA)/hashed"])
            curl(["--interface", source, "-o", "/dev/null", "http://127.0.0.1:\(portB)/hashed"])
            func server(_ log: String) -> String? {
                log.split(separator: "\n").last { $0.hasPrefix(source + ":") }.map { String($0.split(separator: " ")[3]) }
            }
            a.waitForAccessLog { server($0) != nil }
            b.waitForAccessLog { server($0) != nil }
            let (sa, sb) = (server(a.accessLog), server(b.accessLog))
            XCTAssertNotNil(sa)
            XCTAssertEqual(sa, sb, "client \(source)")
            if let sa { seen.insert(sa) }
        }
        XCTAssertGreaterThanOrEqual(seen.count, 2, "20 clients all hashed to one server: \(seen)")
    }

    func testWeightedRoundRobinSpreads321Over6000Requests() throws {
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "nodes", backends: """
            backend nodes
                balance roundrobin
                server node1 127.0.0.1:\(nginx.ports[0]) weight 3
                server node2 127.0.0.1:\(nginx.ports[1]) weight 2
                server node3 127.0.0.1:\(nginx.ports[2]) weight 1
            """, in: dir)
        defer { lb.stop() }
        let urls = dir.file("urls.txt")
        try String(repeating: "url = \"http://127.0.0.1:\(port)/\"\n", count: 6000).write(toFile: urls, atomically: true, encoding: .utf8)
        let out = curl(["-K", urls], maxTime: 300).out
        let counts = Dictionary(grouping: out.split(separator: "\n"), by: { $0 }).mapValues(\.count)
        XCTAssertEqual(counts.values.reduce(0, +), 6000)
        for (node, share) in [("node1", 0.5), ("node2", 1.0 / 3), ("node3", 1.0 / 6)] {
            XCTAssertEqual(Double(counts[Substring(node)] ?? 0) / 6000, share, accuracy: 0.03, "\(counts)")
        }
    }

    /// A long request holds its server; with leastconn the short ones go elsewhere meanwhile.
    func testLeastconnSteersAroundALongRequest() throws {
        let backends = try (0..<3).map { _ in try StreamBackend(in: dir) }
        defer { backends.forEach { $0.stop() } }
        let stats = StatsClient(in: dir)
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                balance leastconn
            \(serverLines(backends.map(\.port), name: "s"))
            """, global: stats.global, server: "30s", in: dir)
        defer { lb.stop() }
        // `timeout server` well above the 5 s the long request takes: at the default 5 s a
        // loaded machine answered it 504 (a CI failure).
        let long = try RawClient(port: port, timeout: 20)
        long.send("GET /sleep?ms=5000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(stats.waitForSessions("app", "BACKEND", 1), "the long request holds a server")
        let short = curl((0..<9).map { _ in "http://127.0.0.1:\(port)/whoami" }).out.split(separator: "\n")
        let (longResponse, _) = long.readAll()
        let busy = (longResponse.components(separatedBy: "\r\n\r\n").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertTrue(busy.hasPrefix("stream_server "), longResponse)
        XCTAssertEqual(short.count, 9)
        XCTAssertFalse(short.contains(Substring(busy)), "leastconn sent a short request to the busy server \(busy): \(short)")
        XCTAssertEqual(Set(short).count, 2)
    }

    /// `maxidle`/`maxlife`: the cookie carries its dates; an idle or old one is ignored, one
    /// in use is refreshed once a quarter of maxidle has passed, keeping its first date.
    func testCookieMaxidleAndMaxlife() throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "nodes", backends: """
            backend nodes
                cookie SERVERID insert indirect maxidle 8s maxlife 60s
                server node1 127.0.0.1:\(nginx.ports[0]) cookie n1
                server node2 127.0.0.1:\(nginx.ports[1]) cookie n2
            """, in: dir)
        defer { lb.stop() }
        let now = Int(Date().timeIntervalSince1970)
        func b36(_ v: Int) -> String { String(v, radix: 36) }
        func fetch(_ cookie: String) -> (body: String, setCookie: String?) {
            let out = curl(["-D", "-", "-b", "SERVERID=\(cookie)", "http://127.0.0.1:\(port)/"]).out
            let set = out.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") }.map(String.init)
            let body = (out.components(separatedBy: "\r\n\r\n").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            return (body, set)
        }
        // Fresh: sticks, nothing re-sent (indirect, last seen just now).
        let fresh = fetch("n2|\(b36(now))|\(b36(now - 30))")
        XCTAssertEqual(fresh.body, "node2")
        XCTAssertNil(fresh.setCookie)
        // Seen 3 s ago (more than maxidle/4): sticks and is refreshed, first date kept.
        let stale = fetch("n2|\(b36(now - 3))|\(b36(now - 30))")
        XCTAssertEqual(stale.body, "node2")
        XCTAssertTrue(stale.setCookie?.contains("SERVERID=n2|") == true && stale.setCookie?.contains("|\(b36(now - 30));") == true, stale.setCookie ?? "none")
        // Idle longer than maxidle, older than maxlife, or without dates: ignored and replaced.
        for expired in ["n2|\(b36(now - 20))|\(b36(now - 30))", "n2|\(b36(now))|\(b36(now - 120))", "n2"] {
            let r = fetch(expired)
            XCTAssertNotNil(r.setCookie, "\(expired) was honoured")
        }
    }

    /// `balance random(2)` uses every server about equally; `balance first` fills the first
    /// server and spills to the next only at its `maxconn`.
    func testRandomAndFirst() throws {
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let stream2 = try StreamBackend(in: dir)
        defer { stream2.stop() }
        let stats = StatsClient(in: dir)
        let (lb, port) = try startProxy(backend: "randoms", backends: """
            backend randoms
                balance random(2)
            \(serverLines(nginx.ports))
            backend firsts
                balance first
                server one 127.0.0.1:\(stream.port) maxconn 1
                server two 127.0.0.1:\(stream2.port)
            """, frontendExtra: """
                use_backend firsts if { path_beg /sleep /whoami }
            """, global: stats.global, in: dir)
        defer { lb.stop() }
        let urls = dir.file("urls.txt")
        try String(repeating: "url = \"http://127.0.0.1:\(port)/\"\n", count: 300).write(toFile: urls, atomically: true, encoding: .utf8)
        let counts = Dictionary(grouping: curl(["-K", urls], maxTime: 120).out.split(separator: "\n"), by: { $0 }).mapValues(\.count)
        XCTAssertEqual(counts.values.reduce(0, +), 300)
        for node in ["node1", "node2", "node3"] {
            XCTAssertTrue((60...140).contains(counts[Substring(node)] ?? 0), "\(counts)")
        }
        // first: sequential requests all go to `one`…
        let sequential = Set(curl((0..<5).map { _ in "http://127.0.0.1:\(port)/whoami" }).out.split(separator: "\n"))
        XCTAssertEqual(sequential, [Substring("stream_server \(stream.port)")])
        // …and while `one` holds its one connection, the next request spills to `two`.
        let busy = try RawClient(port: port, timeout: 5)
        busy.send("GET /sleep?ms=3000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(stats.waitForSessions("firsts", "one", 1), "the slow request holds one's only slot")
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/whoami"]).out, "stream_server \(stream2.port)\n")
        XCTAssertTrue(busy.readAll().text.hasSuffix("stream_server \(stream.port)\n"))
    }
}
