import Foundation
import XCTest

/// `server … proto h2` under the server's own limits, on loopback: a slow h2c server that states
/// SETTINGS_MAX_CONCURRENT_STREAMS 2 and refuses a stream beyond it (Tests/fixtures/
/// h2_slow_server.py) gets at most 2 streams at once per connection while SwiftLB opens more
/// connections for a burst; a stream the server refuses unprocessed (RST_STREAM REFUSED_STREAM,
/// a GOAWAY below it) is sent again on a new connection, any other reset is a 502
/// (Tests/fixtures/h2_bad_server.py). The same burst against HAProxy 2.6 as the h2 server
/// (`tune.h2.max-concurrent-streams 2`) gets no stream refused.
final class HTTP2ServerStreamLimitTests: XCTestCase {
    /// The statuses of `count` requests sent at once (one curl, `--parallel`: each transfer its
    /// own client connection).
    private func burst(_ port: Int, count: Int) -> [String] {
        let urls = (0..<count).flatMap { i in ["-o", "/dev/null", "http://127.0.0.1:\(port)/\(i)"] }
        let run = curl(["--parallel", "--parallel-immediate", "--parallel-max", "\(count)", "-w", "%{http_code}\n"] + urls, maxTime: 20)
        return run.out.split(separator: "\n").map(String.init)
    }

    /// The server's lines "open conn=C n=N" (a stream opened, N open on C with it) and
    /// "refused conn=C".
    private func streams(_ server: ChildProcess) -> [(event: String, connection: String, open: Int?)] {
        server.stdout.split(separator: "\n").map { line in
            let words = line.split(separator: " ")
            return (String(words[0]), String(words.count > 1 ? words[1] : ""), words.count > 2 ? Int(words[2].dropFirst(2)) : nil)
        }
    }

    func testABurstStaysWithinTheServersConcurrentStreamsAndOpensMoreConnections() throws {
        let dir = try TempDirectory()
        let h2Port = freePort()
        let server = try ChildProcess("/usr/bin/env", ["python3", Paths.fixtures.appendingPathComponent("h2_slow_server.py").path, "\(h2Port)", "2", "400"],
                                      logDirectory: dir, name: "h2-slow")
        defer { server.stop() }
        XCTAssertTrue(waitForPort(h2Port), server.stderr)
        // One event loop, so that every exchange sees the same connections; `http-reuse always`
        // lets a client connection's first request take a stream on a connection already open.
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                http-reuse always
                server s1 127.0.0.1:\(h2Port) proto h2

            """, global: "global\n    nbthread 1\n", in: dir)
        defer { lb.stop() }

        // Cold: no connection yet, the server's limit unknown until its SETTINGS come.
        let cold = burst(port, count: 10)
        XCTAssertEqual(cold, Array(repeating: "200", count: 10), "\(cold)")
        let afterCold = streams(server).count
        // Warm: the connections of the first burst are open, their limit known.
        let warm = burst(port, count: 10)
        XCTAssertEqual(warm, Array(repeating: "200", count: 10), "\(warm)")

        let log = streams(server)
        XCTAssertFalse(log.contains { $0.event == "refused" }, "a stream beyond the server's limit was sent: \(log)")
        XCTAssertEqual(log.count, 20, "\(log)")
        XCTAssertEqual(log.compactMap(\.open).max(), 2, "the connections carried 2 streams at once, never more: \(log)")
        XCTAssertGreaterThan(Set(log.map(\.connection)).count, 1, "a full connection made SwiftLB open another: \(log)")
        // Streams beyond 2 on one connection would wait behind the others (NIOHTTP2 holds them
        // back): the warm burst is spread over the open connections instead, 2 at a time on
        // each (4 allows for a transfer curl started after another one's answer).
        let perConnection = Dictionary(grouping: log.dropFirst(afterCold), by: \.connection).mapValues(\.count)
        XCTAssertLessThanOrEqual(perConnection.values.max() ?? 0, 4, "\(log)")
    }

    /// HAProxy 2.6 as the h2c server, its limit `tune.h2.max-concurrent-streams 2` (beyond it,
    /// RST_STREAM REFUSED_STREAM), each answer 400 ms late (a Lua sleep), its log naming the
    /// port of the connection each request came on.
    func testABurstToAnHAProxyH2ServerGetsNoStreamRefused() throws {
        try requireHAProxy()
        let dir = try TempDirectory()
        let h2Port = freePort()
        let lua = try dir.write("sleep.lua", "core.register_action(\"sleep\", { \"http-req\" }, function(txn) core.msleep(400) end)\n")
        let haproxy = try startHAProxy("""
            global
                tune.h2.max-concurrent-streams 2
                lua-load \(lua)
                log stdout format raw local0
            \(haproxyDefaults)
                log global
            frontend h2
                bind 127.0.0.1:\(h2Port) proto h2
                log-format "conn=%cp"
                http-request lua.sleep
                http-request return status 200 content-type text/plain string ok

            """, port: h2Port, in: dir, name: "haproxy-h2-limited")
        defer { haproxy.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                http-reuse always
                server s1 127.0.0.1:\(h2Port) proto h2

            """, global: "global\n    nbthread 1\n", in: dir)
        defer { lb.stop() }
        func served() -> [Substring] { haproxy.stdout.split(separator: "\n").filter { $0.hasPrefix("conn=") } }

        XCTAssertEqual(burst(port, count: 10), Array(repeating: "200", count: 10))
        _ = waitUntil(timeout: 5) { served().count >= 10 }
        let afterCold = served().count
        XCTAssertEqual(burst(port, count: 10), Array(repeating: "200", count: 10))
        lb.waitForAccessLog { $0.split(separator: "\n").count >= 20 }
        _ = waitUntil(timeout: 5) { served().count >= 20 }

        XCTAssertEqual(retries(lb.accessLog), Array(repeating: "0", count: 20), "a stream was refused and sent again: \(lb.accessLog)")
        XCTAssertEqual(served().count, 20, haproxy.stdout + haproxy.stderr)
        XCTAssertGreaterThan(Set(served()).count, 1, "a full connection made SwiftLB open another: \(served())")
        let perConnection = Dictionary(grouping: served().dropFirst(afterCold), by: { $0 }).mapValues(\.count)
        XCTAssertLessThanOrEqual(perConnection.values.max() ?? 0, 4, "\(served())")
    }

    /// httplog's counters (actconn/feconn/beconn/srv_conn/retries) end with the retries.
    private func retries(_ accessLog: String) -> [Substring] {
        accessLog.split(separator: "\n").map { $0.split(separator: " ").filter { $0.split(separator: "/").count == 5 }.last?.split(separator: "/").last ?? "" }
    }

    func testARefusedStreamIsSentAgainAndAnotherResetIsA502() throws {
        let dir = try TempDirectory()
        let h2Port = freePort()
        // Request by request (the retries included).
        let modes = ["refused", "ok", "goaway", "ok", "reset", "ok", "refused"]
        let server = try ChildProcess("/usr/bin/env", ["python3", Paths.fixtures.appendingPathComponent("h2_bad_server.py").path, "\(h2Port)", modes.joined(separator: ",")],
                                      logDirectory: dir, name: "h2-refusing")
        defer { server.stop() }
        XCTAssertTrue(waitForPort(h2Port), server.stderr)
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                server s1 127.0.0.1:\(h2Port) proto h2

            """, in: dir)
        defer { lb.stop() }
        let url = "http://127.0.0.1:\(port)/"
        func status(_ extra: [String] = []) -> String {
            curl(["-o", "/dev/null", "-w", "%{http_code}"] + extra + [url], maxTime: 10).out
        }
        XCTAssertEqual(status(), "200", "REFUSED_STREAM: sent again on a new connection")
        XCTAssertEqual(status(), "200", "a GOAWAY below the stream: sent again on a new connection")
        XCTAssertEqual(status(), "502", "RST_STREAM INTERNAL_ERROR: the server may have acted on it")
        XCTAssertEqual(status(), "200")
        XCTAssertEqual(status(["-d", "body"]), "502", "a refused request whose body went is not sent again")
        lb.waitForAccessLog { $0.split(separator: "\n").count >= 5 }
        XCTAssertEqual(retries(lb.accessLog), ["1", "1", "0", "0", "0"], "1 for each refused stream sent again: \(lb.accessLog)")
    }
}
