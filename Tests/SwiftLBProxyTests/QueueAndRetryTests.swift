import Foundation
import NIOCore
import XCTest

/// Per-server maxconn with the backend queue, passive checks on live traffic, and retry-on.
final class QueueAndRetryTests: XCTestCase {
    var dir: TempDirectory!
    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func slowBackendProxy(queue: String) throws -> (SwiftLBInstance, Int, StreamBackend) {
        let stream = try StreamBackend(in: dir)
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                timeout queue \(queue)
                server s1 127.0.0.1:\(stream.port) maxconn 1
            """, in: dir)
        return (lb, port, stream)
    }

    func testMaxconnQueuesAndTimeoutQueueGives503() throws {
        let (lb, port, stream) = try slowBackendProxy(queue: "500ms")
        defer { lb.stop(); stream.stop() }
        let first = try RawClient(port: port, timeout: 5)
        first.send("GET /sleep?ms=1500 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        usleep(200_000)
        let start = Date()
        let second = try RawClient(port: port, timeout: 5)
        second.send("GET /whoami HTTP/1.1\r\nHost: a\r\n\r\n")
        let (text, _) = second.readAll()
        XCTAssertEqual(statusCode(text), 503, text)
        let waited = Date().timeIntervalSince(start)
        XCTAssertGreaterThan(waited, 0.45, "answered before timeout queue")
        XCTAssertLessThan(waited, 1.4, "the queued request waited for the slot instead of timing out")
        XCTAssertEqual(statusCode(first.readAll().text), 200)
        usleep(200_000)
        XCTAssertTrue(lb.accessLog.contains(" 503 ") && lb.accessLog.contains(" sQ-- "), lb.accessLog)
    }

    func testQueuedRequestIsServedWhenTheSlotFrees() throws {
        let (lb, port, stream) = try slowBackendProxy(queue: "5s")
        defer { lb.stop(); stream.stop() }
        let first = try RawClient(port: port, timeout: 5)
        first.send("GET /sleep?ms=800 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        usleep(200_000)
        let second = try RawClient(port: port, timeout: 5)
        let start = Date()
        second.send("GET /whoami HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let (text, _) = second.readAll()
        XCTAssertEqual(statusCode(text), 200, text)
        // It waited for the first request (about 0.6 s more), not for timeout queue.
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 0.4)
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
        XCTAssertEqual(statusCode(first.readAll().text), 200)
    }

    /// `observe layer7` + `error-limit 3` + `on-error mark-down`: 5xx answers on live traffic
    /// take a server down although its health check passes; the checks bring it back.
    func testPassiveChecksMarkDownOnLiveErrors() throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "nodes", backends: """
            backend boom
                option httpchk GET /health
                server node1 127.0.0.1:\(nginx.ports[0]) check inter 300ms rise 3 observe layer7 error-limit 3 on-error mark-down
            backend nodes
                server node2 127.0.0.1:\(nginx.ports[1])
            """, frontendExtra: """
                use_backend boom if { path /boom }
            """, in: dir)
        defer { lb.stop() }
        for _ in 0..<3 {
            XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/boom"]).out, "500")
        }
        XCTAssertNotNil(waitUntil(timeout: 2) { lb.child.stderr.contains("Server boom/node1 is DOWN: 3 consecutive errors on live traffic (observe layer7)") }, lb.child.stderr)
        XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/boom"]).out, "503")
        XCTAssertNotNil(waitUntil(timeout: 4) { lb.child.stderr.contains("Server boom/node1 is UP: 3 consecutive successful checks") }, lb.child.stderr)
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
