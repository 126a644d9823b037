import Foundation
import XCTest

/// `http-check expect` rules (header, negated, status list, comment, ok/error-status) and
/// `http-check send-state`, against HAProxy 2.6 with the same configuration text: the same
/// log lines for the same nginx answers, and the same `X-Haproxy-Server-State` header on the
/// wire (recorded by Tests/fixtures/recording_server.py), from HAProxy's first check ("UP
/// 1/3": a new server is one failed check from DOWN) on.
final class HTTPCheckExpectAndStateTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private static let head = """
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 5s
            timeout check 2s

        """

    func testExpectRulesLogAsHAProxy() throws {
        try requireHAProxy()
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let web = nginx.ports[0]
        let dead = refusedPort()
        let backends: [(String, String, Int)] = [
            ("headers", """
                http-check expect hdr name server value -m beg nginx
                    http-check expect fhdr name -m sub TYPE value -m reg ^text/
                    http-check expect string healthy
                """, web),
            ("unwanted", "http-check expect ! hdr name -m end -type value -m beg text/", web),
            ("content", """
                http-check expect status 200,201-299
                    http-check expect rstring ^sick comment "not sick"
                """, web),
            ("errstatus", "http-check expect status 500 error-status L7RSP", web),
            ("okstatus", "http-check expect ! status 500-599 ok-status L6OK", web),
            ("deadfall3", "http-check expect status 200", dead),
        ]
        let (h, s, stderr) = try firstCheckLines(in: dir, count: backends.count, within: 8) { front, udp in
            Self.head + """
                frontend fe
                    bind 127.0.0.1:\(front)
                    default_backend headers

                """ + backends.map { name, rules, port in
                    """
                    backend \(name)
                        log 127.0.0.1:\(udp) local0
                        option log-health-checks
                        option httpchk GET /health
                        \(rules)
                        server srv 127.0.0.1:\(port) check inter 300ms rise 2 fall \(name == "deadfall3" ? 3 : 1)

                    """
                }.joined()
        }
        XCTAssertEqual(s, h, stderr)
        XCTAssertTrue(s.contains("<133>Health check for server headers/srv succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 1/1 UP."), "\(s)")
        XCTAssertTrue(s.contains { $0.contains("deadfall3/srv failed") && $0.hasSuffix("status: 0/2 DOWN.") }, "one failure from DOWN at start: \(s)")
    }

    func testSendStateHeaderAsHAProxy() throws {
        try requireHAProxy()
        let (hrec, srec) = (try RecordingBackend(in: dir), try RecordingBackend(in: dir))
        defer { hrec.stop(); srec.stop() }
        func config(front: Int, port: Int) -> String {
            Self.head + """
                frontend fe
                    bind 127.0.0.1:\(front)
                    default_backend be
                backend be
                    option httpchk GET /close HTTP/1.1
                    http-check send hdr Host check.test hdr X-Test 1
                    http-check send-state
                    server srv 127.0.0.1:\(port) check inter 200ms rise 2 fall 3 weight 10
                    server other 127.0.0.1:\(port) weight 20

                """
        }
        let (hfront, sfront) = (freePort(), freePort())
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("haproxy.cfg", config(front: hfront, port: hrec.port))],
                                       logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        let lb = try SwiftLBInstance(config: config(front: sfront, port: srec.port), waitPort: sfront, in: dir)
        defer { lb.stop() }
        /// The first three checks' header lines, names lowercased (HAProxy sends them so),
        /// without SwiftLB's User-Agent, the recorder's port masked.
        func heads(_ rec: RecordingBackend) -> [[String]] {
            rec.waitForRequests(3).prefix(3).map { request in
                request.raw.components(separatedBy: "\r\n").filter { !$0.isEmpty }.map { line -> String in
                    guard let colon = line.firstIndex(of: ":") else { return line }
                    return line[..<colon].lowercased() + line[colon...].replacingOccurrences(of: "port=\(rec.port);", with: "port=P;")
                }.filter { !$0.hasPrefix("user-agent:") }
            }
        }
        let (h, s) = (heads(hrec), heads(srec))
        XCTAssertEqual(h.count, 3, haproxy.stderr)
        XCTAssertEqual(s, h, lb.child.stderr)
        let host = ProcessInfo.processInfo.hostName
        XCTAssertEqual(s.first?.first { $0.hasPrefix("x-haproxy-server-state:") },
                       "x-haproxy-server-state: UP 1/3; address=127.0.0.1; port=P; name=be/srv; node=\(host); weight=10/30; scur=0/0; qcur=0")
        XCTAssertEqual(s.last?.first { $0.hasPrefix("x-haproxy-server-state:") }?.hasPrefix("x-haproxy-server-state: UP; "), true)
    }

    /// A server that keeps the connection open after its answer despite `Connection: close`
    /// (recording_server.py does on `/`): the check ends with the answer, as HAProxy's does,
    /// not when `timeout check` (8 s here) closes it; the lines come within 3 s.
    func testACheckEndsWithTheAnswerOnAKeptOpenConnection() throws {
        try requireHAProxy()
        let rec = try RecordingBackend(in: dir)
        defer { rec.stop() }
        let (h, s, stderr) = try firstCheckLines(in: dir, count: 1, within: 3) { front, udp in
            """
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
                timeout check 8s
            frontend fe
                bind 127.0.0.1:\(front)
                default_backend be
            backend be
                log 127.0.0.1:\(udp) local0
                option log-health-checks
                option httpchk GET / HTTP/1.1
                http-check send hdr Host check.test
                http-check expect string index=0
                server srv 127.0.0.1:\(rec.port) check inter 300ms rise 1 fall 1

            """
        }
        XCTAssertEqual(s, h, stderr)
        XCTAssertEqual(s, ["<133>Health check for server be/srv succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 1/1 UP."])
    }
}
