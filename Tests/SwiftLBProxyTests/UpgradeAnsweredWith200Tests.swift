import Foundation
import XCTest

/// A WebSocket upgrade that a server answers with a plain 200 (a node that does not speak
/// WebSocket on that path): the 200 goes back to the client as HTTP, no tunnel opens, and the
/// connection goes on as HTTP — its next request is parsed, ruled and routed on its own. Against
/// recording_server.py, which answers every request 200 and records what it parsed.
final class UpgradeAnsweredWith200Tests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testA200ToAnUpgradeStaysHTTPAndTheNextRequestIsRoutedOnItsOwn() throws {
        let web = try RecordingBackend(in: dir), other = try RecordingBackend(in: dir)
        defer { web.stop(); other.stop() }
        let (lb, port) = try startProxy(backend: "web", backends: """
            backend web
                server s1 127.0.0.1:\(web.port)
            backend other
                option forwardfor
                server s1 127.0.0.1:\(other.port)

            """, frontendExtra: "use_backend other if { path_beg /other }", in: dir)
        defer { lb.stop() }
        let raw = try RawClient(port: port, timeout: 5)
        raw.send(WebSocketBytes.upgrade(path: "/chat"))
        let first = raw.readResponse()
        XCTAssertEqual(statusCode(first), 200, first)
        XCTAssertTrue(first.hasSuffix("GET /chat\n"), first)
        XCTAssertFalse(first.lowercased().contains("upgrade"), "no switch may be announced: \(first)")
        // On the same connection: in a tunnel these bytes would go raw to `web`; as HTTP they
        // are routed to `other`, which sees SwiftLB's X-Forwarded-For.
        raw.send("GET /other/next HTTP/1.1\r\nHost: a\r\n\r\n")
        let second = raw.readResponse()
        XCTAssertEqual(statusCode(second), 200, second)
        XCTAssertTrue(second.hasSuffix("GET /other/next\n"), second)
        XCTAssertEqual(web.waitForRequests(1).map(\.target), ["/chat"], "the second request must not reach the first server")
        let routed = other.waitForRequests(1)
        XCTAssertEqual(routed.map(\.target), ["/other/next"])
        XCTAssertTrue(routed.first?.raw.lowercased().contains("x-forwarded-for: 127.0.0.1") ?? false, "\(routed)")
        usleep(200_000)
        let lines = lb.accessLog.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, "two HTTP requests, two log lines: \(lb.accessLog)")
        XCTAssertFalse(lb.accessLog.contains(" 101 "), lb.accessLog)
    }
}
