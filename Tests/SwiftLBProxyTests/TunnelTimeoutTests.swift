import Foundation
import XCTest

/// `timeout tunnel` against a real WebSocket echo server (python `websockets`): once the 101
/// has opened the tunnel it replaces `timeout client`/`server` (HipChat clients hold sockets
/// idle far longer than a request may take), while plain HTTP on the same frontend keeps its
/// short timeouts. The handshake and frames are driven byte by byte so the tunnel's end is
/// timed from the last byte that crossed it.
final class TunnelTimeoutTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testTimeoutTunnelOutlastsClientAndServerTimeoutsAndEndsTheIdleTunnel() throws {
        let ws = try WebSocketTests.WSServer(name: "tunnel", in: dir)
        defer { ws.stop() }
        let silent = try ScriptedBackend(.silent)
        defer { silent.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            defaults
                mode http
                option httplog
                timeout connect 2s
                timeout client 1s
                timeout server 1s
                timeout tunnel 4s
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend plain if { path_beg /plain }
                default_backend ws
            backend ws
                server s1 127.0.0.1:\(ws.port)
            backend plain
                server s1 127.0.0.1:\(silent.port)

            """, waitPort: port, in: dir)
        defer { lb.stop() }

        // Plain HTTP on the same frontend, to a backend that also has `timeout tunnel 4s`:
        // a server that never answers gets 504 at `timeout server` (1 s), not at 4 s.
        var start = Date()
        let slow = curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/plain/held"], maxTime: 15)
        var took = Date().timeIntervalSince(start)
        XCTAssertEqual(slow.out, "504", slow.err)
        XCTAssertGreaterThan(took, 0.8, "timeout server is 1 s")
        XCTAssertLessThan(took, 3.5, "timeout server 1 s applies to HTTP, not timeout tunnel 4 s")
        // A client that stops in the middle of its head gets 408 at `timeout client` (1 s; no
        // `timeout http-request`). (One that stops in its body meets `timeout server` at the
        // same 1 s, and HAProxy answers that one 504 too.)
        let stalled = try RawClient(port: port, timeout: 10)
        start = Date()
        stalled.send("GET /plain/upload HTTP/1.1\r\nHost: a\r\n")
        let refused = stalled.readResponse()
        took = Date().timeIntervalSince(start)
        XCTAssertEqual(statusCode(refused), 408, refused)
        XCTAssertGreaterThan(took, 0.8, "timeout client is 1 s")
        XCTAssertLessThan(took, 3.5, "timeout client 1 s applies to HTTP, not timeout tunnel 4 s")

        // The tunnel: an echo, 2.5 s of silence (past client and server 1 s), an echo again.
        let tunnel = try RawClient(port: port, timeout: 15)
        tunnel.send(WebSocketBytes.upgrade())
        let head = tunnel.read(until: "\r\n\r\n")
        XCTAssertEqual(statusCode(head), 101, head)
        tunnel.send(WebSocketBytes.text("before-pause"))
        XCTAssertTrue(tunnel.read(until: "before-pause").contains("before-pause"))
        usleep(2_500_000)
        tunnel.send(WebSocketBytes.text("after-pause"))
        XCTAssertTrue(tunnel.read(until: "after-pause").contains("after-pause"),
                      "an idle tunnel must outlive timeout client/server (1 s) under timeout tunnel 4 s")
        // Then silence until SwiftLB ends it, at about 4 s after the last byte.
        let quiet = Date()
        let (rest, closed) = tunnel.readAll()
        let after = Date().timeIntervalSince(quiet)
        XCTAssertTrue(closed, "the idle tunnel must be closed at timeout tunnel (4 s); still open after \(after) s")
        XCTAssertGreaterThan(after, 3.0, "closed before timeout tunnel 4 s")
        XCTAssertLessThan(after, 12)
        XCTAssertEqual(rest.count, 0, "nothing else crossed the tunnel: \(rest)")
    }
}
