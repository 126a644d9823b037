import Foundation
import XCTest

/// The proxy keywords made real, on the same traffic through HAProxy 2.6 (Debian's) and
/// through SwiftLB, each with the same configuration text: the status, the headers that
/// matter and the body each client gets, and what the server received, must agree.
final class DropInBehaviourTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws {
        dir = try TempDirectory()
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
    }
    override func tearDown() { dir = nil }

    private func config(port: Int, backend: Int, errorfile: String, agents: String) -> String {
        """
        defaults
            mode http
            timeout connect 2s
            timeout client 5s
            timeout server 5s
        frontend fe
            bind 127.0.0.1:\(port)
            monitor-uri /health
            acl dead req.hdr(x-fail) -m found
            monitor fail if dead
            http-request deny if { path /denied }
            http-request deny deny_status 429 if { path /slow-down }
            http-request deny deny_status 404 if { req.hdr(user-agent) -i -m str -f \(agents) }
            http-request return status 200 content-type text/plain string ok if { path /ping }
            http-request set-var(txn.agent) req.hdr(user-agent)
            http-request set-header X-Agent %[var(txn.agent)]
            http-request del-header X-Debug -m beg
            http-request set-path /rewritten if { path /old }
            http-after-response set-header X-After yes
            use_backend empty if { path_beg /empty }
            default_backend app
        backend app
            option http-server-close
            option forwardfor except 127.0.0.2/32
            http-response set-header X-Served-By app
            server s1 127.0.0.1:\(backend)
        backend empty
            errorfile 503 \(errorfile)

        """
    }

    /// The response as the client got it, reduced to what must agree.
    private struct Answer: Equatable, CustomStringConvertible {
        var status: Int
        var headers: [String: String]
        var body: String
        var description: String { "\(status) \(headers) \(body.debugDescription)" }
    }

    private func ask(_ port: Int, _ request: String) throws -> Answer {
        let client = try RawClient(port: port, timeout: 3)
        client.send(request)
        let text = client.readResponse()
        let head = text.components(separatedBy: "\r\n\r\n").first ?? ""
        var headers: [String: String] = [:]
        for line in head.split(separator: "\r\n").dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            if ["content-type", "x-after", "x-served-by", "content-length", "cache-control"].contains(name) {
                headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
        return Answer(status: statusCode(text), headers: headers, body: body)
    }

    func testRulesMonitorErrorfileServerCloseAndForwardforAgreeWithHAProxy() throws {
        let errorfile = try dir.write("503.http", "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 17\r\nCache-Control: no-cache\r\n\r\nwe are down, sorry")
        // Content-Length must match the body exactly (both proxies check it).
        try "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 18\r\nCache-Control: no-cache\r\n\r\nwe are down, sorry"
            .write(toFile: errorfile, atomically: true, encoding: .utf8)
        let recordH = try RecordingBackend(in: dir), recordS = try RecordingBackend(in: dir)
        defer { recordH.stop(); recordS.stop() }
        let hport = freePort(), sport = freePort()
        // A pattern file as HAProxy reads one: blanks before a pattern dropped, comments and
        // empty lines skipped, spaces inside a pattern kept.
        let agents = try dir.write("agents.lst", "# bots we refuse\n\n   BadBot/1.0\nEvil Crawler 2\n\t# indented comment\n")
        let hcfg = try dir.write("haproxy.cfg", config(port: hport, backend: recordH.port, errorfile: errorfile, agents: agents))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hport), haproxy.stderr)
        let lb = try SwiftLBInstance(config: config(port: sport, backend: recordS.port, errorfile: errorfile, agents: agents), waitPort: sport, in: dir)
        defer { lb.stop() }

        let requests = [
            "GET /health HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /health HTTP/1.1\r\nHost: a\r\nX-Fail: 1\r\n\r\n",
            "GET /denied HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /slow-down HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /ping HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /empty HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /ua HTTP/1.1\r\nHost: a\r\nUser-Agent: badbot/1.0\r\n\r\n",
            "GET /ua HTTP/1.1\r\nHost: a\r\nUser-Agent: Evil Crawler 2\r\n\r\n",
            "GET /ua HTTP/1.1\r\nHost: a\r\nUser-Agent: # bots we refuse\r\n\r\n",
            "GET /old HTTP/1.1\r\nHost: a\r\nUser-Agent: tester/1\r\nX-Debug-Level: 3\r\nX-Keep: 1\r\n\r\n",
        ]
        var statuses: [Int] = []
        for request in requests {
            let h = try ask(hport, request), s = try ask(sport, request)
            XCTAssertEqual(s, h, "\(request.prefix(30).debugDescription): SwiftLB \(s) vs HAProxy \(h)")
            statuses.append(s.status)
        }
        // Not only equal: what each rule is for.
        XCTAssertEqual(statuses, [200, 503, 403, 429, 200, 503, 404, 404, 200, 200])
        // What the server received for the forwarded request.
        let hseen = recordH.waitForRequests(1), sseen = recordS.waitForRequests(1)
        guard let h = hseen.last, let s = sseen.last else { return XCTFail("nothing forwarded: \(hseen) \(sseen)") }
        XCTAssertEqual(s.target, h.target)
        XCTAssertEqual(s.target, "/rewritten")
        func fields(_ raw: String) -> [String: String] {
            var out: [String: String] = [:]
            for line in raw.components(separatedBy: "\r\n").dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                out[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            return out
        }
        let hf = fields(h.raw), sf = fields(s.raw)
        for name in ["x-agent", "x-forwarded-for", "connection", "x-keep"] {
            XCTAssertEqual(sf[name], hf[name], "header \(name): SwiftLB \(sf[name] ?? "-") vs HAProxy \(hf[name] ?? "-")")
        }
        XCTAssertNil(sf["x-debug-level"], "del-header -m beg removed it")
        XCTAssertEqual(sf["x-agent"], "tester/1")
    }

    /// The HipChat seed's haproxy.cfg (Tests/fixtures/configs/haproxy/00-hipchat-seed.cfg: its
    /// 1.x `reqadd`, `bind … name`, the stats listener) runs as it is, with only its addresses
    /// moved to loopback and `daemon` left out (the test holds the process): plain HTTP is sent
    /// to HTTPS, HTTPS reaches a node with the sticky cookie and `X-Forwarded-Proto`, the stats
    /// page answers, and the access log reaches the syslog target.
    func testTheSeedsHAProxyConfigServes() throws {
        let nodes = try (0..<3).map { _ in try RecordingBackend(in: dir) }
        defer { nodes.forEach { $0.stop() } }
        let syslog = try SyslogReceiver()
        let pem = dir.file("hipc.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["hipchat.example.test", pem]).status, 0)
        let (http, https, stats) = (freePort(), freePort(), freePort())
        var text = try String(contentsOfFile: Paths.fixtures.appendingPathComponent("configs/haproxy/00-hipchat-seed.cfg").path, encoding: .utf8)
        for (from, to) in [("@PEM@", pem), ("bind :80 ", "bind 127.0.0.1:\(http) "), ("bind :443 ", "bind 127.0.0.1:\(https) "),
                           ("bind :1936", "bind 127.0.0.1:\(stats)"), ("log 127.0.0.1 local0", "log 127.0.0.1:\(syslog.port) local0"),
                           ("    daemon\n", ""), ("/tmp/swiftlb-corpus-seed", dir.file("seed")),
                           ("127.0.0.1:8081", "127.0.0.1:\(nodes[0].port)"), ("127.0.0.1:8082", "127.0.0.1:\(nodes[1].port)"),
                           ("127.0.0.1:8083", "127.0.0.1:\(nodes[2].port)")] {
            XCTAssertTrue(text.contains(from), "the seed has \(from)")
            text = text.replacingOccurrences(of: from, with: to)
        }
        let lb = try SwiftLBInstance(config: text, waitPort: https, in: dir, name: "seed")
        defer { lb.stop() }
        XCTAssertTrue(lb.child.stderr.contains("reqadd"), "the 1.x line is translated with a warning: \(lb.child.stderr)")

        let plain = curl(["-si", "http://127.0.0.1:\(http)/chat"])
        XCTAssertTrue(plain.out.hasPrefix("HTTP/1.1 301"), plain.out)
        XCTAssertTrue(plain.out.lowercased().contains("location: https://127.0.0.1:\(http)/chat"), plain.out)

        let secure = curl(["-ski", "https://127.0.0.1:\(https)/chat"])
        XCTAssertTrue(secure.out.hasPrefix("HTTP/1.1 200"), secure.out + secure.err)
        XCTAssertTrue(secure.out.contains("SERVERID=n"), secure.out)
        let forwarded = nodes.flatMap(\.requests).filter { $0.target == "/chat" }
        XCTAssertEqual(forwarded.count, 1, "\(forwarded)")
        XCTAssertTrue(forwarded.first?.raw.lowercased().contains("\r\nx-forwarded-proto: https\r\n") ?? false, forwarded.first?.raw ?? "")

        XCTAssertTrue(curl(["-s", "http://127.0.0.1:\(stats)/"]).out.contains("<html"), "the stats listener")
        let lines = syslog.receive(count: 10, within: 3)
        XCTAssertTrue(lines.contains { $0.contains(" hipchat_https~ hipchat_nodes/node") && $0.contains("\"GET /chat HTTP/1.1\"") }, "\(lines)")
    }
}
