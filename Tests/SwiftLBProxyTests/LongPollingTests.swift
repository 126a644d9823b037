import Foundation
import XCTest

/// Long polling, as HipChat's clients do it: the server holds a complete request until it has
/// news. As in HAProxy, `timeout client` bounds only what the client owes (its request), so a
/// request held longer than `timeout client` is answered normally; `timeout server` bounds the
/// wait for the answer (504 past it).
final class LongPollingTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func poll(through server: ScriptedBackend, timeoutServer: String) throws -> (status: String, body: String, seconds: TimeInterval, log: String) {
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            defaults
                mode http
                option httplog
                timeout connect 2s
                timeout client 1s
                timeout server \(timeoutServer)
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend poll
            backend poll
                server s1 127.0.0.1:\(server.port)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let start = Date()
        let r = curl(["-w", "\n%{http_code}", "http://127.0.0.1:\(port)/poll"], maxTime: 20)
        let seconds = Date().timeIntervalSince(start)
        let lines = r.out.split(separator: "\n", omittingEmptySubsequences: false)
        usleep(200_000)
        return (String(lines.last ?? ""), lines.dropLast().joined(separator: "\n"), seconds, lb.accessLog)
    }

    /// Held 3 s, three times `timeout client 1s`, within `timeout server 10s`: answered.
    func testARequestHeldLongerThanTimeoutClientIsAnswered() throws {
        let server = try ScriptedBackend(.delayed(.seconds(3), body: "news\n"))
        defer { server.stop() }
        let answer = try poll(through: server, timeoutServer: "10s")
        XCTAssertEqual(answer.status, "200", "\(answer)")
        XCTAssertEqual(answer.body, "news\n")
        XCTAssertGreaterThan(answer.seconds, 2.8, "the server held it 3 s")
        XCTAssertLessThan(answer.seconds, 10)
        XCTAssertTrue(answer.log.contains(" 200 "), answer.log)
    }

    /// Held 3 s with `timeout server 1s`: 504 at about 1 s, logged sH.
    func testARequestHeldLongerThanTimeoutServerGets504() throws {
        let server = try ScriptedBackend(.delayed(.seconds(3), body: "too late\n"))
        defer { server.stop() }
        let answer = try poll(through: server, timeoutServer: "1s")
        XCTAssertEqual(answer.status, "504", "\(answer)")
        XCTAssertGreaterThan(answer.seconds, 0.8, "timeout server is 1 s")
        XCTAssertLessThan(answer.seconds, 2.8, "the 504 must come at timeout server, before the server's answer")
        XCTAssertTrue(answer.log.contains(" 504 ") && answer.log.contains(" sH"), answer.log)
    }
}
