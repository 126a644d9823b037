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

    private func config(port: Int, backend: Int, errorfile: String) -> String {
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
        let hcfg = try dir.write("haproxy.cfg", config(port: hport, backend: recordH.port, errorfile: errorfile))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hport), haproxy.stderr)
        let lb = try SwiftLBInstance(config: config(port: sport, backend: recordS.port, errorfile: errorfile), waitPort: sport, in: dir)
        defer { lb.stop() }

        let requests = [
            "GET /health HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /health HTTP/1.1\r\nHost: a\r\nX-Fail: 1\r\n\r\n",
            "GET /denied HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /slow-down HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /ping HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /empty HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /old HTTP/1.1\r\nHost: a\r\nUser-Agent: tester/1\r\nX-Debug-Level: 3\r\nX-Keep: 1\r\n\r\n",
        ]
        var statuses: [Int] = []
        for request in requests {
            let h = try ask(hport, request), s = try ask(sport, request)
            XCTAssertEqual(s, h, "\(request.prefix(30).debugDescription): SwiftLB \(s) vs HAProxy \(h)")
            statuses.append(s.status)
        }
        // Not only equal: what each rule is for.
        XCTAssertEqual(statuses, [200, 503, 403, 429, 200, 503, 200])
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
}
