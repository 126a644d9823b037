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

    /// http-rules/except-forwardfor-originalto.vtc's set-up: `option forwardfor|originalto
    /// except NET` after `set-src`/`set-dst`, the same headers reaching the server behind both.
    func testOriginalToAndForwardForExceptionsAsHAProxy() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let nets = ["127.0.0.1", "10.0.0.1/25", "::1", "2001:db8:1f89::/48"]
        let both = try SideBySide({ port in
            var text = "frontend fe\n    bind 127.0.0.1:\(port)\n    http-request set-src hdr(x-src)\n    http-request set-dst hdr(x-dst)\n"
            text += nets.indices.map { "    use_backend be\($0) if { path /\($0) }\n" }.joined()
            text += nets.enumerated().map { i, net in
                "backend be\(i)\n    option forwardfor except \(net)\n    option originalto except \(net)\(i == 1 ? " header x-dest" : "")\n    server s1 127.0.0.1:\(backend.port)\n"
            }.joined()
            return text
        }, in: dir)
        defer { both.stop() }
        let cases = [(0, "127.0.0.1", "127.0.0.2"), (0, "127.0.0.2", "127.0.0.1"), (1, "10.0.0.5", "10.0.0.200"), (2, "::1", "::2"),
                     (3, "2001:db8:1f89::1", "2001:db8:1f88::1"), (3, "2001:db8:1f88::1", "2001:db8:1f89::2")]
        var all: [String] = []
        for (path, src, dst) in cases {
            var seen: [[String]] = []
            for port in both.ports {
                backend.clear()
                let client = try RawClient(port: port, timeout: 3)
                client.send("GET /\(path) HTTP/1.1\r\nHost: h\r\nx-src: \(src)\r\nx-dst: \(dst)\r\nConnection: close\r\n\r\n")
                XCTAssertTrue(client.readAll().text.hasPrefix("HTTP/1.1 200"))
                seen.append(backend.waitForRequests(1).first.map { r in
                    r.raw.lowercased().components(separatedBy: "\r\n").filter { ["x-forwarded-for:", "x-original-to:", "x-dest:"].contains(where: $0.hasPrefix) }.sorted()
                } ?? ["nothing"])
            }
            XCTAssertEqual(seen[0], seen[1], "/\(path) from \(src) to \(dst)")
            all += seen[0]
        }
        // Both kinds of outcome happened: headers added, and left out by an exception.
        XCTAssertTrue(all.contains("x-original-to: 127.0.0.2") && all.contains("x-dest: 10.0.0.200") && all.contains("x-forwarded-for: 2001:db8:1f88::1"), "\(all)")
        XCTAssertFalse(all.contains("x-forwarded-for: 127.0.0.1") || all.contains("x-original-to: ::1"), "\(all)")
    }
}
