import Foundation
import XCTest

/// The PROXY protocol both ways and `tcp-request` rules, against HAProxy 2.6 on loopback:
/// `send-proxy`/`send-proxy-v2` write what HAProxy writes (to a recording server), a SwiftLB
/// behind HAProxy's `send-proxy-v2` sees the real client through `accept-proxy` (its ACLs,
/// X-Forwarded-For, its log and a TCP-mode route), and a connection without a header is
/// closed unanswered. Clients connect from other loopback addresses (127.0.0.0/8) so that the
/// client's address differs from the proxy's.
final class ProxyProtocolAndTCPRulesTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws {
        dir = try TempDirectory()
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
    }
    override func tearDown() { dir = nil }

    private let defaults = differentialHTTPDefaults

    private func get(_ port: Int, _ path: String = "/", from source: String? = nil, proxyHeader: [UInt8] = []) throws -> String {
        let client = try RawClient(port: port, timeout: 3, source: source)
        if !proxyHeader.isEmpty { client.send(proxyHeader) }
        client.send("GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        return client.readResponse()
    }

    /// The header with what differs between the two proxies masked: the destination port (each
    /// listens on its own) and the client's source port.
    private func shape(_ header: [UInt8], frontendPort: Int) -> String {
        if header.starts(with: Array("PROXY ".utf8)) {
            var words = String(decoding: header, as: UTF8.self).split(separator: " ").map(String.init)
            if words.count == 6 {
                words[4] = "SPORT"
                words[5] = words[5] == "\(frontendPort)\r\n" ? "DPORT\r\n" : words[5]
            }
            return words.joined(separator: " ").debugDescription
        }
        guard header.count >= 28 else { return header.description }
        var bytes = header
        // v2 INET: 16 fixed bytes, 4 + 4 addresses, then source port (24-25) and destination port (26-27).
        bytes[24] = 0; bytes[25] = 0
        if Int(bytes[26]) << 8 | Int(bytes[27]) == frontendPort { bytes[26] = 0; bytes[27] = 0 }
        return bytes.map { String(format: "%02x", $0) }.joined()
    }

    func testSendProxyWritesWhatHAProxyWrites() throws {
        for version in ["send-proxy", "send-proxy-v2"] {
            let recordH = try RecordingBackend(in: dir), recordS = try RecordingBackend(in: dir)
            defer { recordH.stop(); recordS.stop() }
            let (hport, sport) = (freePort(), freePort())
            func config(_ port: Int, _ backend: Int) -> String {
                defaults + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    default_backend app
                backend app
                    server s1 127.0.0.1:\(backend) \(version)

                """
            }
            let hcfg = try dir.write("haproxy-\(version).cfg", config(hport, recordH.port))
            let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy-\(version)")
            defer { haproxy.stop() }
            XCTAssertTrue(waitForPort(hport), haproxy.stderr)
            let lb = try SwiftLBInstance(config: config(sport, recordS.port), waitPort: sport, in: dir, name: "swiftlb-\(version)")
            defer { lb.stop() }

            let viaHAProxy = try get(hport, from: "127.0.0.7"), viaSwiftLB = try get(sport, from: "127.0.0.7")
            XCTAssertTrue(viaHAProxy.hasPrefix("HTTP/1.1 200"), "\(version) HAProxy: \(viaHAProxy.debugDescription) \(haproxy.stderr)")
            XCTAssertTrue(viaSwiftLB.hasPrefix("HTTP/1.1 200"), "\(version) SwiftLB: \(viaSwiftLB.debugDescription) \(lb.child.stderr)")
            guard let h = recordH.waitForRequests(1).first, let s = recordS.waitForRequests(1).first else {
                return XCTFail("\(version): nothing reached the servers")
            }
            XCTAssertFalse(s.proxy.isEmpty, "\(version): SwiftLB sent no PROXY header")
            XCTAssertEqual(shape(s.proxy, frontendPort: sport), shape(h.proxy, frontendPort: hport), version)
            if version == "send-proxy" {
                XCTAssertTrue(String(decoding: s.proxy, as: UTF8.self).hasPrefix("PROXY TCP4 127.0.0.7 127.0.0.1 "), version)
            }
            XCTAssertEqual(s.target, "/")
        }
    }

    func testAcceptProxyBehindHAProxySeesTheRealClient() throws {
        let record = try RecordingBackend(in: dir)
        defer { record.stop() }
        let (front, lbHTTP, lbTCP, tcpFront) = (freePort(), freePort(), freePort(), freePort())
        let redis = try RedisBackend(in: dir)
        defer { redis.stop() }
        // HAProxy in front (as a cloud load balancer would be), SwiftLB behind it.
        let hcfg = try dir.write("haproxy.cfg", defaults + """
            frontend edge
                bind 127.0.0.1:\(front)
                default_backend lb
            backend lb
                server swiftlb 127.0.0.1:\(lbHTTP) send-proxy-v2
            listen edge_tcp
                mode tcp
                bind 127.0.0.1:\(tcpFront)
                server swiftlb 127.0.0.1:\(lbTCP) send-proxy

            """)
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(front), haproxy.stderr)
        let lb = try SwiftLBInstance(config: defaults + """
            frontend fe
                bind 127.0.0.1:\(lbHTTP) accept-proxy
                option httplog
                option forwardfor
                http-request deny if { src 127.0.0.66 }
                default_backend app
            backend app
                server s1 127.0.0.1:\(record.port)
            frontend tcpfe
                mode tcp
                option tcplog
                bind 127.0.0.1:\(lbTCP) accept-proxy
                use_backend redis if { src 127.0.0.8 }
                default_backend app_tcp
            backend redis
                mode tcp
                server r1 127.0.0.1:\(redis.port)
            backend app_tcp
                mode tcp
                server s1 127.0.0.1:\(record.port)

            """, waitPort: lbHTTP, in: dir)
        defer { lb.stop() }

        // The real client's address reaches SwiftLB's ACLs and X-Forwarded-For.
        XCTAssertTrue(try get(front, "/hello", from: "127.0.0.5").hasPrefix("HTTP/1.1 200"))
        XCTAssertTrue(try get(front, "/blocked", from: "127.0.0.66").hasPrefix("HTTP/1.1 403"))
        let seen = record.waitForRequests(1)
        XCTAssertEqual(seen.map(\.target), ["/hello"], "the denied request never reached the server")
        XCTAssertTrue(seen.first?.raw.lowercased().contains("\r\nx-forwarded-for: 127.0.0.5\r\n") ?? false, seen.first?.raw ?? "")
        lb.waitForAccessLog { $0.contains("127.0.0.5:") && $0.contains("127.0.0.66:") }
        XCTAssertTrue(lb.accessLog.contains("127.0.0.5:"), lb.accessLog)
        XCTAssertTrue(lb.accessLog.contains("127.0.0.66:") && lb.accessLog.contains(" 403 "), lb.accessLog)

        // TCP mode: the route is chosen on the address in the header.
        let client = try RawClient(port: tcpFront, timeout: 3, source: "127.0.0.8")
        client.send("PING\r\n")
        XCTAssertEqual(client.read(until: "\r\n"), "+PONG\r\n", "127.0.0.8 goes to redis")

        // A connection that does not start with a header is closed without a word.
        let bare = try RawClient(port: lbHTTP, timeout: 3)
        bare.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let answer = bare.readAll()
        XCTAssertTrue(answer.closed && answer.text.isEmpty, answer.text)
        XCTAssertEqual(record.requests.count, 1)
    }

    func testTCPRequestRulesRefuseByAddress() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (http, tcp) = (freePort(), freePort())
        let lb = try SwiftLBInstance(config: defaults + """
            frontend fe
                bind 127.0.0.1:\(http)
                tcp-request connection reject if { src 127.0.0.13 }
                tcp-request content reject if { src 127.0.0.14 }
                default_backend app
            frontend tcpfe
                mode tcp
                bind 127.0.0.1:\(tcp)
                tcp-request inspect-delay 1s
                tcp-request connection reject if { src 127.0.0.13 }
                tcp-request content reject if { src 127.0.0.14 }
                default_backend app_tcp
            backend app
                server s1 127.0.0.1:\(nginx.ports[0])
            backend app_tcp
                mode tcp
                server s1 127.0.0.1:\(nginx.ports[0])

            """, waitPort: http, in: dir)
        defer { lb.stop() }
        for port in [http, tcp] {
            XCTAssertEqual(statusCode(try get(port, from: "127.0.0.12")), 200)
            for refused in ["127.0.0.13", "127.0.0.14"] {
                let client = try RawClient(port: port, timeout: 3, source: refused)
                client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                let answer = client.readAll()
                XCTAssertTrue(answer.closed && answer.text.isEmpty, "\(port) from \(refused): \(answer.text)")
            }
            XCTAssertEqual(statusCode(try get(port, from: "127.0.0.15")), 200, "refusals leave the frontend serving")
        }
    }
}
