import Foundation
import XCTest

/// `option abortonclose`: an HTTP client that closes its side (a half-close is enough) while
/// its request waits in the queue abandons it — the request never reaches the server and is
/// logged `CQ`, with no status. Without the option (HAProxy's default) a client that shuts its
/// sending side after its requests (`shutdown(SHUT_WR)`, `nc -N`) still gets every answer.
final class AbortOnCloseTests: XCTestCase {
    func testAQueuedRequestWhoseClientLeavesNeverReachesTheServer() throws {
        let dir = try TempDirectory()
        let (backend, lb, port) = try slowBackendBehindAbortOnClose(server: "maxconn 1", in: dir)
        defer { backend.stop(); lb.stop() }
        // The first request holds the only slot for 1.5 s.
        let first = try RawClient(port: port, timeout: 5)
        first.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(200_000)
        let quitter = try RawClient(port: port, timeout: 5)
        quitter.send("GET /quitter HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(200_000)
        quitter.shutdownWrite()
        XCTAssertTrue(first.readResponse().hasSuffix("slow"))
        lb.waitForAccessLog { $0.contains("/quitter") }
        let line = lb.accessLog.split(separator: "\n").first { $0.contains("GET /quitter") } ?? ""
        XCTAssertTrue(line.contains(" app/<NOSRV> ") && line.contains(" -1 ") && line.contains(" CQ-- "), "\(lb.accessLog)")
        usleep(300_000)
        XCTAssertEqual(backend.connections, 1, "the abandoned request must not reach the server")
    }

    func testWithoutTheOptionAHalfClosedClientGetsItsAnswers() throws {
        let dir = try TempDirectory()
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let stats = StatsClient(in: dir)
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                server s1 127.0.0.1:\(stream.port)

            """, global: stats.global, in: dir)
        defer { lb.stop() }
        // One request, then the FIN at once: answered after the server's 300 ms, then closed.
        let one = try RawClient(port: port, timeout: 5)
        one.send("GET /sleep?ms=300 HTTP/1.1\r\nHost: a\r\n\r\n")
        one.shutdownWrite()
        let (text, closed) = one.readAll()
        XCTAssertEqual(statusCode(text), 200, text)
        XCTAssertTrue(closed, "closed after the answer")
        // Two pipelined requests, then the FIN: both answered, in order.
        let two = try RawClient(port: port, timeout: 5)
        two.send("GET /sleep?ms=200 HTTP/1.1\r\nHost: a\r\n\r\nGET /whoami HTTP/1.1\r\nHost: a\r\n\r\n")
        two.shutdownWrite()
        let (both, _) = two.readAll()
        XCTAssertEqual(both.components(separatedBy: "HTTP/1.1 200").count - 1, 2, both)
        // A head cut short by the FIN can never complete: closed, nothing sent to the server.
        let served = stats.field("app", "s1", "stot")
        let cut = try RawClient(port: port, timeout: 5)
        cut.send("GET /cut HTTP/1.1\r\nHost: a\r\n")
        cut.shutdownWrite()
        let (nothing, gone) = cut.readAll()
        XCTAssertTrue(gone)
        XCTAssertFalse(nothing.contains(" 200 "), nothing)
        XCTAssertEqual(stats.field("app", "s1", "stot"), served, "the cut request never reached the server")
    }

    /// HAProxy's http-messaging/http_abortonclose.vtc: a backend whose only server refuses is
    /// retried on that server after a turn-around of min(`timeout connect`, 1 s) each time —
    /// `retries 3` with `timeout connect 200ms` answers 503 after about 600 ms, logged `SC--`
    /// with 3 retries, as haproxy (run beside it on the same file) does — and a client that
    /// leaves during the turn-around with `option abortonclose` ends it as `CC--`.
    func testASingleRefusingServerIsRetriedAfterTheTurnAround() throws {
        let dir = try TempDirectory()
        let refused = refusedPort()
        func config(_ port: Int) -> String {
            """
            defaults
                mode http
                option httplog
                option abortonclose
                timeout connect 200ms
                timeout client 5s
                timeout server 5s
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                retries 3
                server s1 127.0.0.1:\(refused)
            """
        }
        let (lbPort, haPort) = (freePort(), freePort())
        let lb = try SwiftLBInstance(config: config(lbPort), waitPort: lbPort, in: dir)
        defer { lb.stop() }
        let haproxy = try startHAProxy(config(haPort).replacingOccurrences(of: "option httplog", with: "option httplog\n    log stderr format raw local0"),
                                       port: haPort, in: dir)
        defer { haproxy.stop() }
        func timed(_ port: Int) -> (String, Double) {
            let start = Date()
            let code = curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/slow"]).out
            return (code, Date().timeIntervalSince(start))
        }
        let (mine, mineTime) = timed(lbPort), (theirs, theirTime) = timed(haPort)
        XCTAssertEqual(mine, "503")
        XCTAssertEqual(theirs, "503")
        XCTAssertGreaterThan(theirTime, 0.55, "haproxy waits the turn-around")
        XCTAssertGreaterThan(mineTime, 0.55, "three turn-arounds of 200 ms before the 503")
        XCTAssertLessThan(mineTime, 3)
        lb.waitForAccessLog { $0.contains("GET /slow") }
        let line = lb.accessLog.split(separator: "\n").first { $0.contains("GET /slow") } ?? ""
        XCTAssertTrue(line.contains(" be/s1 ") && line.contains(" SC-- ") && line.contains("/0/0/3 "), "\(lb.accessLog)")
        // A client that closes during the turn-around (abortonclose): CC--, no status.
        let quitter = try RawClient(port: lbPort, timeout: 5)
        quitter.send("GET /quitter HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(100_000)
        quitter.shutdownWrite()
        lb.waitForAccessLog { $0.contains("GET /quitter") }
        let quit = lb.accessLog.split(separator: "\n").first { $0.contains("GET /quitter") } ?? ""
        XCTAssertTrue(quit.contains(" -1 ") && quit.contains(" CC-- "), "\(lb.accessLog)")
    }

    /// http_abortonclose.vtc's c3: a client that leaves while its request waits for the
    /// server's answer is logged `CH--` with status 400, as HAProxy logs it.
    func testAClientLeavingWhileTheServerThinksIsLogged400CH() throws {
        let dir = try TempDirectory()
        let (backend, lb, port) = try slowBackendBehindAbortOnClose(server: "", in: dir)
        defer { backend.stop(); lb.stop() }
        let quitter = try RawClient(port: port, timeout: 5)
        quitter.send("GET /thinking HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(300_000)
        quitter.shutdownWrite()
        lb.waitForAccessLog { $0.contains("GET /thinking") }
        let line = lb.accessLog.split(separator: "\n").first { $0.contains("GET /thinking") } ?? ""
        XCTAssertTrue(line.contains(" app/s1 ") && line.contains(" 400 ") && line.contains(" CH-- "), "\(lb.accessLog)")
    }

    /// A server that answers "slow" after 1.5 s, in backend `app` with `option abortonclose`.
    private func slowBackendBehindAbortOnClose(server: String, in dir: TempDirectory) throws -> (ScriptedBackend, SwiftLBInstance, Int) {
        let backend = try ScriptedBackend(.delayed(.milliseconds(1500), body: "slow"))
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                option abortonclose
                timeout queue 10s
                server s1 127.0.0.1:\(backend.port) \(server)

            """, in: dir)
        return (backend, lb, port)
    }
}
