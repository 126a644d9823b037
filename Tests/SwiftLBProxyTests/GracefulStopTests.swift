import Foundation
import NIOCore
import XCTest

/// SIGTERM stops accepting, lets the request in flight finish, and exits 0.
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
}
