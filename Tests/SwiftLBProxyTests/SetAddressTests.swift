import Foundation
import XCTest

/// `http-request set-src` / `set-dst`, SwiftLB and HAProxy 2.6 side by side in front of one
/// recording server: later rules and X-Forwarded-For see the new addresses; the next request of
/// the same connection starts from the real ones (HAProxy sets the stream's, not the
/// connection's); a sample that is no address changes nothing.
final class SetAddressTests: XCTestCase {
    func testSetSourceAndDestinationAsHAProxy() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        func config(_ port: Int) -> String {
            """
            frontend fe
                bind 127.0.0.1:\(port)
                option forwardfor
                http-request set-src hdr(x-src) if { hdr(x-src) -m found }
                http-request set-dst hdr(x-dst) if { hdr(x-dst) -m found }
                http-request set-header x-saw %[src]/%[dst]
                default_backend app
            backend app
                server s1 127.0.0.1:\(backend.port)
            """
        }
        let both = try SideBySide(config, in: dir)
        defer { both.stop() }
        func seen(_ port: Int) throws -> [[String]] {
            backend.clear()
            let client = try RawClient(port: port, timeout: 3)
            // Keep-alive: the second request's own set-src finds no address: the real one again.
            for extra in ["x-src: 192.0.2.9\r\nx-dst: 2001:db8::5\r\n", "x-src: not-an-address\r\n"] {
                client.send("GET / HTTP/1.1\r\nHost: h\r\n\(extra)\r\n")
                XCTAssertTrue(client.readResponse().hasPrefix("HTTP/1.1 200"))
            }
            return backend.waitForRequests(2).map { request in
                request.raw.lowercased().components(separatedBy: "\r\n").filter { $0.hasPrefix("x-saw:") || $0.hasPrefix("x-forwarded-for:") }.sorted()
            }
        }
        let ours = try seen(both.lbPort)
        XCTAssertEqual(ours, [["x-forwarded-for: 192.0.2.9", "x-saw: 192.0.2.9/2001:db8::5"], ["x-forwarded-for: 127.0.0.1", "x-saw: 127.0.0.1/127.0.0.1"]])
        XCTAssertEqual(ours, try seen(both.haproxyPort))
    }
}
