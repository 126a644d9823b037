import Foundation
import XCTest

/// A `mode tcp` session that becomes HTTP, SwiftLB and HAProxy 2.6 side by side in front of
/// one recording server (reg-test connection/tcp_to_http_upgrade's set-ups): implicitly when
/// its backend is `mode http`, or by `tcp-request content switch-mode http if HTTP` (then the
/// frontend's own http-request rules apply too, and the variables its tcp-request rules set
/// reach them). Both requests of one connection are HTTP (rules run, headers added), and a
/// client that sends no HTTP is rejected unanswered.
final class TCPUpgradeTests: XCTestCase {
    var dir: TempDirectory!
    var backend: RecordingBackend!

    override func setUpWithError() throws {
        dir = try TempDirectory()
        backend = try RecordingBackend(in: dir)
    }

    override func tearDown() {
        backend?.stop()
        backend = nil
        dir = nil
    }

    /// Two requests on one connection through `port`: their statuses, and the `x-*` headers
    /// the server saw in each.
    private func twoRequests(_ port: Int) throws -> (statuses: [Int], seen: [[String]]) {
        backend.clear()
        let client = try RawClient(port: port, timeout: 3)
        var statuses: [Int] = []
        for path in ["/one", "/two"] {
            client.send("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
            statuses.append(statusCode(client.readResponse()))
        }
        let seen = backend.waitForRequests(2).map { request in
            request.raw.lowercased().components(separatedBy: "\r\n").filter { $0.hasPrefix("x-") }.sorted()
        }
        return (statuses, seen)
    }

    /// Both requests answered 200 and seen by the server with the rules' headers (`x-name`
    /// NAME), behind SwiftLB as behind HAProxy.
    /// `modes`: the `x-mode` header each request carries (none: no such header).
    private func assertBothRequestsAreHTTP(_ both: SideBySide, name: String, modes: [String]? = nil, line: UInt = #line) throws {
        let ours = try twoRequests(both.lbPort)
        XCTAssertEqual(ours.statuses, [200, 200], line: line)
        let expected = ["/one", "/two"].enumerated().map { i, path in (modes.map { ["x-mode: \($0[i])"] } ?? []) + ["x-name: \(name)", "x-path: \(path)"] }
        XCTAssertEqual(ours.seen, expected, line: line)
        let theirs = try twoRequests(both.haproxyPort)
        XCTAssertEqual(ours.statuses, theirs.statuses, line: line)
        XCTAssertEqual(ours.seen, theirs.seen, line: line)
    }

    func testATCPFrontendUsingAnHTTPBackendBecomesHTTP() throws {
        let both = try SideBySide({ port in
            """
            frontend fe
                mode tcp
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                mode http
                http-request set-header x-name %[be_name]
                http-request set-header x-path %[path]
                server s1 127.0.0.1:\(backend.port)
            """
        }, in: dir)
        defer { both.stop() }
        try assertBothRequestsAreHTTP(both, name: "be")
    }

    func testSwitchModeHTTPRunsTheFrontendsHTTPRules() throws {
        // Each instance's second frontend (`proto h1`) listens on a port of its own.
        var h1Only: [Int: Int] = [:]
        let both = try SideBySide({ port in
            h1Only[port] = freePort()
            return """
            frontend fe
                mode tcp
                bind 127.0.0.1:\(port)
                tcp-request inspect-delay 1s
                tcp-request content set-var(req.stream_mode) internal.strm.is_htx,iif(http,tcp)
                tcp-request content switch-mode http if HTTP
                tcp-request content reject
                http-request set-header x-mode %[var(req.stream_mode)]
                http-request set-header x-name %[fe_name]
                default_backend be
            frontend h1only
                mode tcp
                bind 127.0.0.1:\(h1Only[port]!)
                tcp-request inspect-delay 1s
                tcp-request content switch-mode http proto h1 if HTTP
                default_backend be
            backend be
                mode http
                http-request set-header x-path %[path]
                server s1 127.0.0.1:\(backend.port)
            """
        }, in: dir)
        defer { both.stop() }
        // The first request was ruled as TCP, the second as an HTTP stream.
        try assertBothRequestsAreHTTP(both, name: "fe", modes: ["tcp", "http"])

        for port in both.ports {
            // A request line split over two writes waits for its end (`HTTP` waits for bytes).
            let slow = try RawClient(port: port, timeout: 3)
            slow.send("GET /sl")
            Thread.sleep(forTimeInterval: 0.2)
            slow.send("ow HTTP/1.1\r\nHost: h\r\n\r\n")
            XCTAssertEqual(statusCode(slow.readResponse()), 200, "port \(port)")
            // No HTTP: the reject, nothing answered.
            let other = try RawClient(port: port, timeout: 3)
            other.send("HELLO THERE\r\n")
            let refused = other.readAll()
            XCTAssertTrue(refused.closed && refused.text.isEmpty, "port \(port): \(refused.text)")
            // The HTTP/2 preface passes `HTTP`, and HTTP/1 (`proto h1`) refuses it: 400.
            let h2 = try RawClient(port: h1Only[port]!, timeout: 3)
            h2.send("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            XCTAssertEqual(statusCode(h2.readResponse()), 400, "port \(port)")
        }
    }
}
