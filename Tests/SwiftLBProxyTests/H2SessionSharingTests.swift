import Foundation
import SwiftLBTestSupport
import XCTest

/// The streams of an HTTP/2 connection share its session, as HAProxy's streams share theirs:
/// the stick-table entries its `tcp-request connection|session` rules track (each stream's
/// request counts there and `sc0_*` reads there — an h2 client is no way around a rate limit
/// that an HTTP/1.1 client meets), its `sess.` variables, the ends `set-src` gave it, and its
/// TLS handshake (`ssl_fc_sni`). Beside HAProxy 2.6 on the same configuration, for each way a
/// connection becomes HTTP/2: the preface on an HTTP/1 bind, `proto h2`, ALPN h2.
final class H2SessionSharingTests: XCTestCase {
    private func pair(_ origin: RecordingBackend, bind: String, in dir: TempDirectory) throws -> SideBySide {
        try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port) \(bind)
                stick-table type ip size 1k expire 30s store http_req_rate(10s),http_req_cnt
                tcp-request connection track-sc0 src
                tcp-request connection set-var(sess.tag) str(conn-rules)
                tcp-request session set-src ipv4(10.1.2.3)
                http-request deny deny_status 429 if { sc0_http_req_rate gt 5 }
                http-request set-header X-Tag %[var(sess.tag)]
                http-request set-header X-Src %[src]
                http-request set-header X-Count %[sc0_http_req_cnt]
                http-request set-header X-SNI %[ssl_fc_sni] if { ssl_fc }
                default_backend app
            backend app
                server s1 127.0.0.1:\(origin.port)

            """
        }, in: dir)
    }

    /// One connection, twelve requests one after the other (h2load, prior knowledge on clear
    /// text, ALPN h2 over TLS with the SNI of its URL), then the statuses and what the server saw.
    private func run(_ pair: SideBySide, _ origin: RecordingBackend, https: Bool = false) -> [String] {
        var results: [String] = []
        for port in pair.ports {
            origin.clear()
            let url = https ? "https://h2.example.test:\(port)/r" : "http://127.0.0.1:\(port)/r"
            let load = runCommand("/usr/bin/timeout", ["60", "h2load", "-n", "12", "-c", "1", "-m", "1", "--connect-to=127.0.0.1:\(port)", url])
            let lines = load.out.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            let summary = lines.filter { $0.hasPrefix("requests:") || $0.hasPrefix("status codes:") }
            let seen = origin.waitForRequests(5)
            let headers = seen.map { request in
                ["x-tag", "x-src", "x-count", "x-sni"].map { name in "\(name)=\(Self.header(name, in: request.raw) ?? "-")" }.joined(separator: " ")
            }
            results.append((summary + headers).joined(separator: "\n"))
        }
        return results
    }

    /// A header's value in a recorded head (names compared without case), nil when absent.
    private static func header(_ name: String, in raw: String) -> String? {
        for line in raw.components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].lowercased() == name else { continue }
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return nil
    }

    private func check(_ results: [String], sni: String = "-", _ what: String) {
        XCTAssertEqual(results.count, 2)
        // The limit holds across the connection's streams: five requests pass, seven are refused.
        XCTAssertTrue(results[1].contains("status codes: 5 2xx, 0 3xx, 7 4xx, 0 5xx"), "haproxy, \(what): \(results[1])")
        XCTAssertEqual(results[0], results[1], "\(what): SwiftLB, then HAProxy")
        XCTAssertTrue(results[0].hasSuffix("x-tag=conn-rules x-src=10.1.2.3 x-count=5 x-sni=\(sni)"), "\(what): \(results[0])")
    }

    /// The scenario on one kind of bind: `tls` adds a certificate for h2.example.test and
    /// `alpn h2`, and the client asks for that name.
    private func scenario(bind: String, tls: Bool = false, _ what: String) throws {
        let dir = try TempDirectory()
        var bind = bind
        if tls {
            let pem = dir.file("site.pem")
            XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["h2.example.test", pem]).status, 0)
            bind = "ssl crt \(pem) alpn h2,http/1.1"
        }
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let pair = try pair(origin, bind: bind, in: dir)
        defer { pair.stop() }
        check(run(pair, origin, https: tls), sni: tls ? "h2.example.test" : "-", what)
    }

    func testThePrefaceOnAnHTTP1BindKeepsTheConnectionsSession() throws {
        try scenario(bind: "", "h2 prior knowledge on an HTTP/1 bind")
    }

    func testAProtoH2BindSharesTheConnectionsSession() throws {
        try scenario(bind: "proto h2", "bind proto h2")
    }

    func testALPNh2SharesTheConnectionsSessionAndHandshake() throws {
        try scenario(bind: "", tls: true, "ALPN h2")
    }
}
