import Foundation
import NIOCore
import XCTest

/// SIGTERM stops accepting, lets the request in flight finish, and exits 0.
final class GracefulStopTests: XCTestCase {
    func testRequestInFlightWhenSIGTERMArrivesCompletes() throws {
        let dir = try TempDirectory()
        let slow = try ScriptedBackend(.delayed(.seconds(2), body: "finished\n"))
        defer { slow.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                server slow 127.0.0.1:\(slow.port)
            """, in: dir)
        defer { lb.stop() }

        let client = try RawClient(port: port, timeout: 10)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        usleep(500_000)  // the request is now waiting on the slow server
        lb.child.signal(SIGTERM)
        usleep(300_000)
        // Stopped accepting: a new connection is refused.
        XCTAssertThrowsError(try RawClient(port: port, timeout: 1))
        let (text, closed) = client.readAll()
        XCTAssertEqual(statusCode(text), 200, text)
        XCTAssertTrue(text.hasSuffix("finished\n"), text)
        XCTAssertTrue(text.lowercased().contains("connection: close"), "the last response announces the close")
        XCTAssertTrue(closed)
        XCTAssertEqual(lb.child.waitForExit(timeout: 10), 0, lb.child.stderr)
    }
}
