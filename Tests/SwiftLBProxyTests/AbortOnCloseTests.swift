import Foundation
import XCTest

/// `option abortonclose`: an HTTP client that closes its side (a half-close is enough) while
/// its request waits in the queue abandons it — the request never reaches the server and is
/// logged `CQ`, with no status. SwiftLB does this with or without the option (HAProxy needs
/// it), so the option is accepted as what SwiftLB always does.
final class AbortOnCloseTests: XCTestCase {
    func testAQueuedRequestWhoseClientLeavesNeverReachesTheServer() throws {
        let dir = try TempDirectory()
        let backend = try ScriptedBackend(.delayed(.milliseconds(1500), body: "slow"))
        defer { backend.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                option abortonclose
                timeout queue 10s
                server s1 127.0.0.1:\(backend.port) maxconn 1

            """, in: dir)
        defer { lb.stop() }
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
}
