import Foundation
import XCTest

/// Clients that stop reading, in every state a connection can be in while SwiftLB writes to
/// it: each is closed by `timeout client` (as HAProxy does on a write that makes no
/// progress), and the process is back to the descriptors it had before. A response the
/// kernel took whole leaves an idle keep-alive connection: that one ends at
/// `timeout http-keep-alive`, as in HAProxy.
final class SlowReaderTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// A client with a tiny receive buffer that sends its request and never reads.
    private func stalledClient(port: Int, request: String) throws -> RawClient {
        let client = try RawClient(port: port, timeout: 2, receiveBuffer: 4096)
        client.send(request)
        return client
    }

    func testClientsThatNeverReadAreClosedAtTimeoutClientInEveryState() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        // 16 MiB: more than every socket buffer between nginx and the client can hold.
        let big = Data(repeating: 0x61, count: 16 << 20)
        try big.write(to: URL(fileURLWithPath: nginx.root + "/www/big"))
        try Data(repeating: 0x62, count: 300 << 10).write(to: URL(fileURLWithPath: nginx.root + "/www/medium"))
        let port = freePort()
        let config = """
            defaults
                mode http
                timeout connect 2s
                timeout client 2s
                timeout server 60s
                timeout http-request 5s
                timeout http-keep-alive 3s
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
            \(serverLines(nginx.ports))

            """
        let lb = try SwiftLBInstance(config: config, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).out, "200")
        usleep(300_000)
        let baseline = openDescriptors(lb.child.pid)
        var clients: [RawClient] = []
        for target in ["/big", "/medium"] {
            for connection in ["close", "keep-alive"] {
                for _ in 0..<4 {
                    clients.append(try stalledClient(port: port, request: "GET \(target) HTTP/1.1\r\nHost: a\r\nConnection: \(connection)\r\n\r\n"))
                }
            }
        }
        // Pipelined behind a response the client never reads.
        clients.append(try stalledClient(port: port, request: String(repeating: "GET /big HTTP/1.1\r\nHost: a\r\n\r\n", count: 3)))
        usleep(500_000)
        XCTAssertGreaterThan(openDescriptors(lb.child.pid), baseline + 8, "the stalled clients should be held for a while")
        // timeout client (2 s) or http-keep-alive (3 s) + the 100 ms sweep, with room for a
        // loaded machine; timeout server (60 s) must not be what ends them.
        let deadline = Date().addingTimeInterval(10)
        var now = openDescriptors(lb.child.pid)
        while now > baseline + 1 && Date() < deadline {
            usleep(200_000)
            now = openDescriptors(lb.child.pid)
        }
        XCTAssertLessThanOrEqual(now, baseline + 1, "descriptors still held after timeout client: \(now) vs \(baseline)")
        // Each stalled client sees its connection closed once it reads what was sent.
        for client in clients {
            XCTAssertTrue(client.readAll().closed, "a stalled client's connection is still open")
        }
        XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).out, "200")
    }
}
