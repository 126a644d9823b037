import Foundation
import XCTest

/// Active health checks against real nginx processes that the test kills and restarts.
final class HealthCheckTests: XCTestCase {
    var dir: TempDirectory!
    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func servers(_ nginx: NginxBackends, params: String = "", backup: Set<Int> = []) -> String {
        nginx.ports.enumerated().map { i, port in
            "    server node\(i + 1) 127.0.0.1:\(port) \(params)\(backup.contains(i) ? " backup" : "")"
        }.joined(separator: "\n")
    }

    /// The issue's scenario: kill one of three servers under a client loop, see it marked DOWN
    /// without client errors, restart it, see it come back UP and get traffic again. The one
    /// request node2 may have taken but not answered when it died gets a 502, as from HAProxy
    /// (it may have been processed, so it is not replayed); every other request is served.
    func testKilledServerIsMarkedDownWithoutClientErrorsAndComesBack() throws {
        let nginx = try NginxBackends(count: 3, in: dir, separate: true)
        defer { nginx.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
                timeout check 500ms
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend nodes
            backend nodes
                option httpchk GET /health
                default-server check inter 200ms rise 2 fall 2
            \(servers(nginx))
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let load = LoadLoop(port: port)
        load.start()
        usleep(500_000)

        nginx.kill(1)
        let down = waitUntil(timeout: 10) { lb.child.stderr.contains("Server nodes/node2 is DOWN: 2 consecutive failed checks, last: connection refused") }
        XCTAssertNotNil(down, lb.child.stderr)
        // fall × inter = 0.4 s (a refused check fails at once); a loaded machine adds to it.
        XCTAssertLessThan(down ?? 99, 5)
        let afterDown = load.count
        usleep(700_000)
        XCTAssertFalse(load.bodies(since: afterDown).contains("node2\n"), "a DOWN server got traffic")

        try nginx.start(1)
        let up = waitUntil(timeout: 10) { lb.child.stderr.contains("Server nodes/node2 is UP: 2 consecutive successful checks") }
        XCTAssertNotNil(up, lb.child.stderr)
        let afterUp = load.count
        XCTAssertNotNil(waitUntil(timeout: 10) { load.bodies(since: afterUp).contains("node2\n") }, "node2 gets no traffic after coming back")

        let results = load.stop()
        let failures = results.filter { $0.status != 200 }
        XCTAssertLessThanOrEqual(failures.count, 1, "client saw errors: \(failures.prefix(5)) of \(results.count)")
        XCTAssertEqual(failures.filter { $0.status != 502 }.count, 0, "only the request in flight at the kill may fail, with a 502: \(failures)")
        XCTAssertGreaterThan(results.count, 50)
    }

    func testHTTPCheckExpectationsAndAllDownGives503() throws {
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "nodes", backends: """
            backend nodes
                option httpchk GET /health
                http-check expect rstring "^healthy node[12]$"
                timeout check 1s
                default-server check inter 100ms fall 1 rise 1
            \(servers(nginx))
            backend sick
                option httpchk GET /sick
                timeout check 1s
                default-server check inter 100ms fall 1 rise 1
            \(servers(nginx))
            """, frontendExtra: """
                use_backend sick if { path_beg /sick-backend }
            """, in: dir)
        defer { lb.stop() }
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("Server nodes/node3 is DOWN: 1 consecutive failed checks, last: status 200, HTTP content check did not match") }, lb.child.stderr)
        let bodies = curl((0..<12).map { _ in "http://127.0.0.1:\(port)/" }).out.split(separator: "\n")
        XCTAssertEqual(Set(bodies), ["node1", "node2"])
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("Server sick/node3 is DOWN: 1 consecutive failed checks, last: status 503, Service Temporarily Unavailable") }, lb.child.stderr)
        let code = curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/sick-backend"]).out
        XCTAssertEqual(code, "503")
    }

    func testBackupServesOnlyWhenEveryPrimaryIsDown() throws {
        let nginx = try NginxBackends(count: 3, in: dir, separate: true)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "nodes", backends: """
            backend nodes
                timeout check 1s
                default-server check inter 100ms fall 1 rise 1
            \(servers(nginx, backup: [2]))
            """, in: dir)
        defer { lb.stop() }
        let before = curl((0..<12).map { _ in "http://127.0.0.1:\(port)/" }).out.split(separator: "\n")
        XCTAssertEqual(Set(before), ["node1", "node2"])
        nginx.kill(0)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("nodes/node1 is DOWN") })
        XCTAssertEqual(Set(curl((0..<6).map { _ in "http://127.0.0.1:\(port)/" }).out.split(separator: "\n")), ["node2"])
        nginx.kill(1)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("nodes/node2 is DOWN") })
        XCTAssertEqual(Set(curl((0..<6).map { _ in "http://127.0.0.1:\(port)/" }).out.split(separator: "\n")), ["node3"])
        try nginx.start(0)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("nodes/node1 is UP") })
        XCTAssertEqual(Set(curl((0..<6).map { _ in "http://127.0.0.1:\(port)/" }).out.split(separator: "\n")), ["node1"])
    }

    /// `slowstart 4s`: a server that comes back UP gets a small share at first, then its full one.
    func testSlowstartRampsAServerBackIn() throws {
        let nginx = try NginxBackends(count: 2, in: dir, separate: true)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "nodes", backends: """
            backend nodes
                timeout check 1s
                default-server check inter 100ms fall 1 rise 1 slowstart 4s
            \(servers(nginx))
            """, in: dir)
        defer { lb.stop() }
        func share(_ n: Int) -> Int {
            curl((0..<n).map { _ in "http://127.0.0.1:\(port)/" }).out.split(separator: "\n").filter { $0 == "node2" }.count
        }
        XCTAssertEqual(share(100), 50, "no ramp for servers up since the start")
        nginx.kill(1)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("nodes/node2 is DOWN") })
        try nginx.start(1)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("nodes/node2 is UP") })
        let early = share(100)
        XCTAssertLessThan(early, 25, "node2 got \(early) of 100 right after coming back")
        sleep(4)
        XCTAssertEqual(share(100), 50, "full share after slowstart")
    }

    /// `tcp-check` sequences against a real redis-server: PING/+PONG passes, the same
    /// sequence against nginx fails at the expect step, a negated expect fails on redis, and a
    /// stopped redis is refused.
    func testTCPCheckSequencesAgainstRedis() throws {
        let redis = try RedisBackend(in: dir)
        defer { redis.stop() }
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort()
        let stats = StatsClient(in: dir)
        let lb = try SwiftLBInstance(config: stats.global + testDefaults() + """
                timeout check 1s
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend redis_ping
            backend redis_ping
                option tcp-check
                tcp-check connect
                tcp-check send PING\\r\\n
                tcp-check expect string +PONG
                default-server check inter 100ms fall 1 rise 1
                server redis 127.0.0.1:\(redis.port)
                server web 127.0.0.1:\(nginx.ports[0])
            backend redis_binary
                tcp-check send-binary 50494e470d0a
                tcp-check expect rstring '^\\+PONG'
                server redis 127.0.0.1:\(redis.port) check inter 100ms fall 1 rise 1
            backend redis_negated
                tcp-check send PING\\r\\n
                tcp-check expect ! string +PONG
                server redis 127.0.0.1:\(redis.port) check inter 100ms fall 1 rise 1
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        // Generous bounds (a 3 s one once ran out at load 6); each check takes milliseconds.
        XCTAssertNotNil(waitUntil(timeout: 15) { lb.child.stderr.contains("Server redis_ping/web is DOWN: 1 consecutive failed checks, last: step 3 (expect string '+PONG')") }, lb.child.stderr)
        XCTAssertNotNil(waitUntil(timeout: 15) { lb.child.stderr.contains("Server redis_negated/redis is DOWN: 1 consecutive failed checks, last: step 2 (expect ! string '+PONG'): got '+PONG") }, lb.child.stderr)
        // A server not checked yet is UP too (HAProxy's INI): wait for checks that passed
        // (L7OK) before reading the state, rather than sleeping and hoping they ran.
        XCTAssertNotNil(waitUntil(timeout: 15) { stats.field("redis_ping", "redis", "check_status") == "L7OK" && stats.field("redis_binary", "redis", "check_status") == "L7OK" },
                        "\(stats.field("redis_ping", "redis", "check_status") ?? "?"), \(stats.field("redis_binary", "redis", "check_status") ?? "?")\n\(lb.child.stderr)")
        let states = runCommand(Paths.swiftlb, ["ctl", "-s", stats.path, "show", "servers", "state"]).out
        // HAProxy's `show servers state` format 1: srv_op_state 2 = running, srv_admin_state 0 = ready.
        let rows: [[Substring]] = states.split(separator: "\n").map { $0.split(separator: " ") }
        func ok(_ backend: String, _ server: String) -> Bool {
            rows.contains { row in row.count > 6 && row[1] == backend && row[3] == server && row[5] == "2" && row[6] == "0" }
        }
        XCTAssertTrue(ok("redis_ping", "redis"), states)
        XCTAssertTrue(ok("redis_binary", "redis"), states)
        XCTAssertFalse(lb.child.stderr.contains("redis_ping/redis is DOWN"), lb.child.stderr)
        redis.stop()
        // The check that takes it DOWN may be one redis's exit cut mid-exchange (its connection
        // reset or closed, not refused: the slower the machine, the longer a check's window);
        // every check after it is refused at its connect step, which is what must show.
        XCTAssertNotNil(waitUntil(timeout: 15) { lb.child.stderr.contains("Server redis_ping/redis is DOWN: 1 consecutive failed checks, last: ")
                            && stats.field("redis_ping", "redis", "last_chk") == "Connection refused at step 1 of tcp-check (connect)" },
                        "\(stats.field("redis_ping", "redis", "last_chk") ?? "?")\n\(lb.child.stderr)")
    }

    /// A server that accepts and never answers is marked down by the check timeout: a new
    /// server at its first timed-out check (HAProxy starts it one failure from DOWN), a server
    /// that passed a check once `fall` checks timed out.
    func testServerThatNeverAnswersIsMarkedDownByTheCheckTimeout() throws {
        let silent = try ScriptedBackend(.silent)
        defer { silent.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
                timeout check 300ms
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                option httpchk GET /health
                server mute 127.0.0.1:\(silent.port) check inter 200ms fall 2
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let took = waitUntil(timeout: 10) { lb.child.stderr.contains("Server app/mute is DOWN: 1 consecutive failed checks, last: timeout after 300ms") }
        XCTAssertNotNil(took, lb.child.stderr)
        XCTAssertLessThan(took ?? 99, 5, "inter + timeout = 0.5 s, and a loaded machine")
    }
}
