import Foundation
import XCTest

/// A backend's `tcp-request content` rules, beside HAProxy 2.6 on the same configuration: they
/// run once the backend is chosen — on each request in HTTP mode, before the backend's
/// http-request rules; on the client's first bytes under the backend's `tcp-request
/// inspect-delay` in TCP mode — and a reject closes the connection unanswered.
final class BackendTCPRulesTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testHTTPBackendRulesRunOnEachRequestAsHAProxy() throws {
        let server = try RecordingBackend(in: dir)
        defer { server.stop() }
        let both = try SideBySide({ port in
            """
            global
                stats socket \(self.dir.file("stats-\(port).sock")) level admin
            frontend fe
                bind 127.0.0.1:\(port)
                http-request set-var(txn.fe) str(fromfe)
                use_backend be_rules if { path_beg /r/ }
                use_backend ls if { path_beg /l/ }
                default_backend be_plain
            backend be_rules
                tcp-request content set-var(txn.tag) str(tagged)
                tcp-request content reject if { req.hdr(x-block) -m found }
                http-request set-header X-Tag %[var(txn.tag)]
                http-request set-header X-Fe %[var(txn.fe)]
                server s1 127.0.0.1:\(server.port)
            listen ls
                bind 127.0.0.1:\(freePort())
                tcp-request content reject if { path_beg /l/no }
                server s1 127.0.0.1:\(server.port)
            backend be_plain
                server s1 127.0.0.1:\(server.port)
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            server.clear()
            let ok = try rawExchange(port, "GET /r/ok HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            XCTAssertTrue(ok.hasPrefix("HTTP/1.1 200"), "port \(port): \(ok)")
            let blocked = try rawExchange(port, "GET /r/no HTTP/1.1\r\nHost: x\r\nX-Block: 1\r\n\r\n")
            XCTAssertEqual(blocked, "", "port \(port): a reject closes without an answer")
            XCTAssertEqual(try rawExchange(port, "GET /l/no HTTP/1.1\r\nHost: x\r\n\r\n"), "", "port \(port): a listen's rules run when it is the backend")
            let other = try rawExchange(port, "GET /plain HTTP/1.1\r\nHost: x\r\nX-Block: 1\r\nConnection: close\r\n\r\n")
            XCTAssertTrue(other.hasPrefix("HTTP/1.1 200"), "port \(port): another backend's rules do not run: \(other)")
            let seen = server.waitForRequests(2)
            XCTAssertEqual(seen.map(\.target), ["/r/ok", "/plain"], "port \(port)")
            XCTAssertTrue(seen.first?.raw.lowercased().contains("x-tag: tagged\r\n") ?? false, "port \(port): \(seen.first?.raw ?? "")")
            XCTAssertTrue(seen.first?.raw.lowercased().contains("x-fe: fromfe\r\n") ?? false, "port \(port): the frontend's txn variables stay: \(seen.first?.raw ?? "")")
        }
        // Denied requests, counted as haproxy counts them (frontend and backend rows).
        func denied(_ command: [String]) -> [String] {
            let rows = runCommand(command[0], Array(command.dropFirst())).out.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
            guard let header = rows.first, let column = header.firstIndex(of: "dreq") else { return [] }
            return rows.filter { $0.count > column && ["FRONTEND", "BACKEND"].contains($0[1]) }.map { "\($0[0])/\($0[1])=\($0[column])" }.sorted()
        }
        let ours = denied([Paths.swiftlb, "ctl", "-s", dir.file("stats-\(both.lbPort).sock"), "show", "stat"])
        let theirs = denied(haproxyStatCommand(dir.file("stats-\(both.haproxyPort).sock")))
        XCTAssertFalse(theirs.isEmpty)
        XCTAssertEqual(ours, theirs)
    }

    func testTCPBackendRulesInspectTheFirstBytesAsHAProxy() throws {
        let server = try RecordingBackend(in: dir)
        defer { server.stop() }
        let both = try SideBySide({ port in
            """
            frontend ft
                mode tcp
                bind 127.0.0.1:\(port)
                default_backend bt
            backend bt
                mode tcp
                tcp-request inspect-delay 2s
                tcp-request content accept if { req.payload(0,4) -m str PING }
                tcp-request content reject
                server s1 127.0.0.1:\(server.port)
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            let accepted = try rawExchange(port, "PING / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            XCTAssertTrue(accepted.hasPrefix("HTTP/1.1 "), "port \(port): \(accepted)")
            let refused = try rawExchange(port, "HELO / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            XCTAssertEqual(refused, "", "port \(port)")
        }
        XCTAssertEqual(server.waitForRequests(2).map(\.method), ["PING", "PING"])
    }
}
