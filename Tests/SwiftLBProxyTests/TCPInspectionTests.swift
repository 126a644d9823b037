import Foundation
import XCTest

/// `tcp-request inspect-delay` + `tcp-request content accept|reject` in `mode tcp`, with real
/// clients: redis-cli through a PING-only gate (HAProxy's redis-check reg-test proxy), a
/// request that arrives in pieces waited for, a partial one decided when the delay ends; psql
/// (Postgres protocol 3) let through while an SSLRequest is refused, and `use_backend` on the
/// startup packet sending reporting sessions to the standby; `req.ssl_hello_type` and
/// `req.ssl_sni` choosing a TLS backend by the name openssl s_client asks for.
final class TCPInspectionTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func redis(_ port: Int, _ args: String...) -> (status: Int32, out: String) {
        let r = runCommand("/usr/bin/timeout", ["5", "redis-cli", "-h", "127.0.0.1", "-p", "\(port)"] + args)
        return (r.status, (r.out + r.err).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    func testOnlyAPingGoesThroughAndPiecesAreWaitedFor() throws {
        let backend = try RedisBackend(in: dir)
        defer { backend.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            \(TCPModeTests.tcpDefaults)
                option tcplog
            listen redis1
                bind 127.0.0.1:\(port)
                tcp-request inspect-delay 1s
                tcp-request content accept if { req.len eq 14 } { req.payload(0,14) -m str "*1\\r\\n\\$4\\r\\nPING\\r\\n" }
                tcp-request content reject
                server srv 127.0.0.1:\(backend.port)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertEqual(redis(port, "PING").out, "PONG")
        let refused = redis(port, "SET", "k", "v")
        XCTAssertNotEqual(refused.out, "OK", "anything but a PING is refused: \(refused)")
        XCTAssertEqual(redis(backend.port, "EXISTS", "k").out, "0", "the refused SET never reached redis")

        // The PING in two pieces: the rules wait for the rest (req.len is 7, then 14).
        let split = try RawClient(port: port, timeout: 5)
        split.send("*1\r\n$4\r")
        usleep(300_000)
        split.send("\nPING\r\n")
        XCTAssertEqual(split.read(until: "\r\n"), "+PONG\r\n")

        // A partial PING: when the delay is over the rules decide on what came (reject).
        let partial = try RawClient(port: port, timeout: 5)
        let start = Date()
        partial.send("*1\r\n")
        let answer = partial.readAll()
        XCTAssertTrue(answer.closed && answer.text.isEmpty, answer.text)
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.8, "waited for the inspect delay")
    }

    /// HAProxy's predefined `WAIT_END` holds every connection for the whole inspect delay (even
    /// one whose request is complete), and `REQ_CONTENT` lets a connection go as soon as a byte
    /// came — both beside haproxy on the same rules, a redis PING through each.
    func testWaitEndHoldsForTheDelayAndReqContentDoesNot() throws {
        let backend = try RedisBackend(in: dir)
        defer { backend.stop() }
        let (held, prompt, haproxyHeld, haproxyPrompt) = (freePort(), freePort(), freePort(), freePort())
        let rules = { (held: Int, prompt: Int) in """
            listen held
                bind 127.0.0.1:\(held)
                tcp-request inspect-delay 600ms
                tcp-request content accept if WAIT_END
                server srv 127.0.0.1:\(backend.port)
            listen prompt
                bind 127.0.0.1:\(prompt)
                tcp-request inspect-delay 3s
                tcp-request content accept if REQ_CONTENT
                tcp-request content reject
                server srv 127.0.0.1:\(backend.port)
            """ }
        let lb = try SwiftLBInstance(config: "\(TCPModeTests.tcpDefaults)\n\(rules(held, prompt))\n", waitPort: prompt, in: dir)
        defer { lb.stop() }
        let haproxy = try startHAProxy("\(TCPModeTests.tcpDefaults)\n\(rules(haproxyHeld, haproxyPrompt))", port: haproxyPrompt, in: dir)
        defer { haproxy.stop() }
        for (name, heldPort, promptPort) in [("swiftlb", held, prompt), ("haproxy", haproxyHeld, haproxyPrompt)] {
            var start = Date()
            XCTAssertEqual(redis(heldPort, "PING").out, "PONG", name)
            XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.55, "\(name): WAIT_END waits for the delay")
            start = Date()
            XCTAssertEqual(redis(promptPort, "PING").out, "PONG", name)
            XCTAssertLessThan(Date().timeIntervalSince(start), 2.5, "\(name): REQ_CONTENT holds as soon as a byte came")
        }
    }

    func testPostgresStartupIsInspectedAndRoutes() throws {
        let pg = try PostgresPair(in: dir)
        defer { pg.stop() }
        let port = freePort()
        // Protocol 3.0 startup packets only (an SSLRequest is 80877103 where the version sits);
        // sessions named "reporting" go to the standby.
        let lb = try SwiftLBInstance(config: """
            \(TCPModeTests.tcpDefaults)
            frontend pg
                bind 127.0.0.1:\(port)
                tcp-request inspect-delay 2s
                tcp-request content accept if { req.payload(4,4) -m bin 00030000 }
                tcp-request content reject
                acl reporting req.payload(8,0) -m sub reporting
                use_backend standby if reporting
                default_backend primary
            backend primary
                server pg1 127.0.0.1:\(pg.primaryPort)
            backend standby
                server pg2 127.0.0.1:\(pg.standbyPort)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func psql(_ env: [String]) -> (status: Int32, out: String, err: String) {
            let r = runCommand("/usr/bin/env", env + ["/usr/bin/timeout", "20", "/usr/bin/psql", "-X", "-h", "127.0.0.1", "-p", "\(port)",
                                                      "-U", "postgres", "-d", "postgres", "-qtA", "-c", "SELECT inet_server_port()"])
            return (r.status, r.out.trimmingCharacters(in: .whitespacesAndNewlines), r.err)
        }
        let plain = psql(["PGSSLMODE=disable"])
        XCTAssertEqual(plain.out, "\(pg.primaryPort)", plain.err)
        let reporting = psql(["PGSSLMODE=disable", "PGAPPNAME=reporting"])
        XCTAssertEqual(reporting.out, "\(pg.standbyPort)", reporting.err)
        let tls = psql(["PGSSLMODE=require"])
        XCTAssertNotEqual(tls.status, 0, "an SSLRequest is not protocol 3.0: refused (\(tls.out))")
    }

    func testTLSHelloAndSNIChooseTheBackend() throws {
        let certs = dir.file("certs")
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        for name in ["a", "b"] {
            XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path,
                                      ["\(name).example.test", certs + "/\(name).pem", "ec"]).status, 0)
        }
        let (a, b) = (freePort(), freePort())
        let servers = try [(a, "a"), (b, "b")].map { port, name in
            try ChildProcess("/usr/bin/openssl", ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", certs + "/\(name).pem", "-www", "-quiet"],
                             logDirectory: dir, name: "s_server-\(name)")
        }
        defer { servers.forEach { $0.stop() } }
        XCTAssertTrue(waitForPort(a) && waitForPort(b))
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            \(TCPModeTests.tcpDefaults)
            frontend tls
                bind 127.0.0.1:\(port)
                tcp-request inspect-delay 2s
                tcp-request content accept if { req.ssl_hello_type 1 }
                tcp-request content reject
                use_backend b if { req.ssl_sni -i b.example.test }
                default_backend a
            backend a
                server a 127.0.0.1:\(a)
            backend b
                server b 127.0.0.1:\(b)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func subject(_ name: String) -> String {
            runCommand("/bin/sh", ["-c", "sleep 0.3 | /usr/bin/timeout 5 openssl s_client -connect 127.0.0.1:\(port) -servername \(name) 2>&1"]).out
        }
        XCTAssertTrue(subject("B.example.test").contains("CN = b.example.test"), subject("B.example.test"))
        XCTAssertTrue(subject("a.example.test").contains("CN = a.example.test"))
        // Plain bytes are no TLS hello: refused without an answer.
        let client = try RawClient(port: port, timeout: 5)
        client.send("GET / HTTP/1.0\r\n\r\n")
        let answer = client.readAll()
        XCTAssertTrue(answer.closed && answer.text.isEmpty, answer.text)
    }

    func testStickOnSrcKeepsTCPSessionsOnOneRedis() throws {
        let a = try RedisBackend(in: dir), b = try RedisBackend(in: dir)
        defer { a.stop(); b.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            \(TCPModeTests.tcpDefaults)
            listen r
                bind 127.0.0.1:\(port)
                balance roundrobin
                stick-table type ip size 1k expire 1m
                stick on src
            \(serverLines([a.port, b.port], name: "r"))

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        /// The port of the redis a new session from `source` reaches (from its own INFO).
        func reached(from source: String) throws -> String {
            let client = try RawClient(port: port, timeout: 5, source: source)
            client.send("INFO server\r\n")
            var info = client.read(until: "tcp_port:")
            if let at = info.range(of: "tcp_port:"), !info[at.upperBound...].contains("\r\n") { info += client.read(until: "\r\n") }
            client.shutdownBoth()
            guard let at = info.range(of: "tcp_port:") else { return info }
            return String(info[at.upperBound...].prefix { $0.isNumber })
        }
        var seen = Set<String>()
        for host in 50...55 {
            let first = try reached(from: "127.0.0.\(host)")
            XCTAssertTrue(first == "\(a.port)" || first == "\(b.port)", first)
            for _ in 0..<3 { XCTAssertEqual(try reached(from: "127.0.0.\(host)"), first, "127.0.0.\(host) stays on its redis") }
            seen.insert(first)
        }
        XCTAssertEqual(seen.count, 2, "round robin spread the new sources over both")
    }
}
