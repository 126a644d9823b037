import Foundation
import NIOCore
import XCTest

/// SIGTERM stops accepting, lets the request in flight finish, and exits 0; SIGUSR1, HAProxy's
/// soft stop, waits for the last connection however long without `hard-stop-after`.
final class GracefulStopTests: XCTestCase {
    func testRequestInFlightWhenSIGTERMArrivesCompletes() throws {
        let dir = try TempDirectory()
        // Long enough to still be running once the refusal below has been seen.
        let slow = try ScriptedBackend(.delayed(.seconds(6), body: "finished\n"))
        defer { slow.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                server slow 127.0.0.1:\(slow.port)
            """, server: "15s", in: dir)
        defer { lb.stop() }

        let client = try RawClient(port: port, timeout: 10)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertNotNil(waitUntil(timeout: 5) { slow.connections == 1 }, "the request is waiting on the slow server")
        lb.child.signal(SIGTERM)
        // Stopped accepting: a new connection is refused (soon), while the process still
        // serves the request in flight.
        let refused = waitUntil(timeout: 5) { (try? RawClient(port: port, timeout: 1)) == nil }
        XCTAssertNotNil(refused, "new connections are still accepted after SIGTERM")
        XCTAssertTrue(lb.child.process.isRunning, "refused because it stopped listening, not because it exited")
        let (text, closed) = client.readAll()
        XCTAssertEqual(statusCode(text), 200, text)
        XCTAssertTrue(text.hasSuffix("finished\n"), text)
        XCTAssertTrue(text.lowercased().contains("connection: close"), "the last response announces the close")
        XCTAssertTrue(closed)
        XCTAssertEqual(lb.child.waitForExit(timeout: 10), 0, lb.child.stderr)
    }

    /// HAProxy 2.6 has no default `hard-stop-after`: after SIGUSR1 a TCP session keeps working
    /// past SwiftLB's former 30 s bound, in both, and each exits 0 once its client leaves.
    func testSoftStopWaitsForTheLastConnectionWithoutHardStopAfterAsHAProxy() throws {
        let dir = try TempDirectory()
        let redis = try RedisBackend(in: dir)
        defer { redis.stop() }
        let both = try SideBySide({ port in """
            frontend fe
                mode tcp
                timeout client 60s
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                mode tcp
                timeout server 60s
                server r 127.0.0.1:\(redis.port)

            """ }, in: dir)
        defer { both.stop() }
        let clients = try both.ports.map { try RawClient(port: $0, timeout: 5) }
        for client in clients {
            client.send("PING\r\n")
            XCTAssertEqual(client.read(until: "\r\n"), "+PONG\r\n")
        }
        both.lb.child.signal(SIGUSR1)
        both.haproxy.signal(SIGUSR1)
        Thread.sleep(forTimeInterval: 33)
        for (name, client) in zip(["swiftlb", "haproxy"], clients) {
            client.send("PING\r\n")
            XCTAssertEqual(client.read(until: "\r\n"), "+PONG\r\n", "\(name): the session still works 33 s after SIGUSR1")
        }
        XCTAssertTrue(both.lb.child.process.isRunning)
        XCTAssertTrue(both.haproxy.process.isRunning)
        for client in clients { client.shutdownBoth() }
        XCTAssertEqual(both.lb.child.waitForExit(timeout: 10), 0, both.lb.child.stderr)
        XCTAssertEqual(both.haproxy.waitForExit(timeout: 10), 0, both.haproxy.stderr)
    }
}
