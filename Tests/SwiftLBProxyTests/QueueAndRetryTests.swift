import Foundation
import NIOCore
import XCTest

/// Per-server maxconn with the backend queue, passive checks on live traffic, and retry-on.
final class QueueAndRetryTests: XCTestCase {
    var dir: TempDirectory!
    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// app/s1 with `maxconn 1` on a stream_server, and the stats socket that tells when its
    /// one slot is taken.
    private func slowBackendProxy(queue: String) throws -> (SwiftLBInstance, Int, StreamBackend, StatsClient) {
        let stream = try StreamBackend(in: dir)
        let stats = StatsClient(in: dir)
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                timeout queue \(queue)
                server s1 127.0.0.1:\(stream.port) maxconn 1
            """, global: stats.global, server: "20s", in: dir)
        return (lb, port, stream, stats)
    }

    /// `smax` (stats, `show stat`): the most requests a server, and its backend, had in flight
    /// at once; it stays after they end, while `scur` goes back to 0.
    func testSmaxKeepsTheMostConcurrentSessions() throws {
        let stream = try StreamBackend(in: dir)
        let stats = StatsClient(in: dir)
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                server s1 127.0.0.1:\(stream.port)
            """, global: stats.global, in: dir)
        defer { lb.stop(); stream.stop() }
        let clients = try (0..<3).map { _ in try RawClient(port: port, timeout: 6) }
        for client in clients { client.send("GET /sleep?ms=1500 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n") }
        XCTAssertTrue(stats.waitForSessions("app", "s1", 3), "three requests in flight at once")
        for client in clients { XCTAssertEqual(statusCode(client.readAll().text), 200) }
        XCTAssertTrue(stats.waitForSessions("app", "s1", 0), "all three answered")
        XCTAssertEqual(stats.field("app", "s1", "smax"), "3", "the server's high-water mark")
        XCTAssertEqual(stats.field("app", "BACKEND", "smax"), "3", "the backend's")
        XCTAssertEqual(stats.field("app", "BACKEND", "scur"), "0")
    }

    func testMaxconnQueuesAndTimeoutQueueGives503() throws {
        let (lb, port, stream, stats) = try slowBackendProxy(queue: "500ms")
        defer { lb.stop(); stream.stop() }
        // The first request holds the slot for 4 s, far beyond the second one's timeout queue.
        let first = try RawClient(port: port, timeout: 12)
        first.send("GET /sleep?ms=4000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(stats.waitForSessions("app", "s1", 1), "the first request holds the slot")
        let start = Date()
        let second = try RawClient(port: port, timeout: 5)
        second.send("GET /whoami HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let (text, _) = second.readAll()
        XCTAssertEqual(statusCode(text), 503, text)
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(waited, 0.45, "answered before timeout queue")
        XCTAssertLessThan(waited, 2.5, "the queued request waited for the slot instead of timing out")
        XCTAssertEqual(statusCode(first.readAll().text), 200)
        lb.waitForAccessLog { $0.contains(" 503 ") && $0.contains(" sQ-- ") }
        XCTAssertTrue(lb.accessLog.contains(" 503 ") && lb.accessLog.contains(" sQ-- "), lb.accessLog)
    }

    func testQueuedRequestIsServedWhenTheSlotFrees() throws {
        let (lb, port, stream, stats) = try slowBackendProxy(queue: "5s")
        defer { lb.stop(); stream.stop() }
        // Timed from the first request: the second cannot be answered before the first's 2 s
        // at the server are over, however long this test took to send it.
        let start = Date()
        let first = try RawClient(port: port, timeout: 5)
        first.send("GET /sleep?ms=2000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(stats.waitForSessions("app", "s1", 1), "the first request holds the slot")
        let second = try RawClient(port: port, timeout: 6)
        second.send("GET /whoami HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let (text, _) = second.readAll()
        XCTAssertEqual(statusCode(text), 200, text)
        // It waited for the first request, not for timeout queue (5 s).
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(waited, 1.9, "served while the first request held the only slot")
        XCTAssertLessThan(waited, 4.5, "served when the slot freed, not at timeout queue")
        XCTAssertEqual(statusCode(first.readAll().text), 200)
    }

    /// `observe layer7` + `error-limit 3` + `on-error mark-down`: 5xx answers on live traffic
    /// take a server down although its health check passes; the checks bring it back (after
    /// rise 10 × inter 300 ms: long enough for the 503 to be seen first on a loaded machine).
    func testPassiveChecksMarkDownOnLiveErrors() throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "nodes", backends: """
            backend boom
                option httpchk GET /health
                server node1 127.0.0.1:\(nginx.ports[0]) check inter 300ms rise 10 observe layer7 error-limit 3 on-error mark-down
            backend nodes
                server node2 127.0.0.1:\(nginx.ports[1])
            """, frontendExtra: """
                use_backend boom if { path /boom }
            """, in: dir)
        defer { lb.stop() }
        for _ in 0..<3 {
            XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/boom"]).out, "500")
        }
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("Server boom/node1 is DOWN: 3 consecutive errors on live traffic (observe layer7)") }, lb.child.stderr)
        XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/boom"]).out, "503")
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("Server boom/node1 is UP: 10 consecutive successful checks") }, lb.child.stderr)
    }

    func testRetryOnEmptyResponseAndResponseTimeout() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let resetter = try ScriptedBackend(.reset)
        defer { resetter.stop() }
        let silent = try ScriptedBackend(.silent)
        defer { silent.stop() }
        func proxy(_ badPort: Int, retryOn: String?) throws -> (SwiftLBInstance, Int) {
            let port = freePort()
            return (try SwiftLBInstance(config: testDefaults(server: "500ms") + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    default_backend app
                backend app
                    \(retryOn.map { "retry-on \($0)" } ?? "")
                    server bad 127.0.0.1:\(badPort)
                    server good 127.0.0.1:\(nginx.ports[0])
                """, waitPort: port, in: dir, name: "lb-\(port)"), port)
        }
        // Default (conn-failure only): a GET reset by the first server gets 502.
        let (plain, plainPort) = try proxy(resetter.port, retryOn: nil)
        XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(plainPort)/"]).out, "502")
        plain.stop()
        // With retry-on empty-response it goes to the next server; a POST still does not.
        let (empty, emptyPort) = try proxy(resetter.port, retryOn: "conn-failure empty-response")
        XCTAssertEqual(curl(["http://127.0.0.1:\(emptyPort)/"]).out, "node1\n")
        XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "-d", "x=1", "http://127.0.0.1:\(emptyPort)/"]).out, "502")
        empty.stop()
        // With retry-on response-timeout a silent server costs timeout server, then the next one answers.
        let (timeout, timeoutPort) = try proxy(silent.port, retryOn: "response-timeout")
        defer { timeout.stop() }
        let start = Date()
        XCTAssertEqual(curl(["http://127.0.0.1:\(timeoutPort)/"]).out, "node1\n")
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.4)
    }
}
