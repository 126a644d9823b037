import Foundation
@testable import SwiftLBHealth
import XCTest

/// `option spop-check` and the TLS forms of checks (`check-ssl`, `tcp-check connect ssl sni`)
/// against real peers, with HAProxy 2.6 beside SwiftLB on the same configuration: both must
/// send the same HAPROXY-HELLO bytes and log the same check results (reasons, infos, steps).
final class SPOPAndTLSCheckTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        dir = try TempDirectory()
    }
    override func tearDown() { dir = nil }

    /// The agents of reg-tests/checks/spop-check.vtc: a good AGENT-HELLO, an empty frame, a
    /// fragmented one, version 1.0.
    static let replies = [
        ("good", "00000036650000000100000776657273696F6E0803322E300E6D61782D6672616D652D73697A6503FCF0060C6361706162696C69746965730800"),
        ("empty", "00000000"),
        ("fragmented", "000000076500000000000000"),
        ("old", "0000001465000000010000077665727369"+"6F6E0803312E30"),
    ]

    func testSPOPCheckSendsHAProxysHelloAndJudgesAgentsAlike() throws {
        var agents: [ChildProcess] = []
        defer { agents.forEach { $0.stop() } }
        var servers: [(name: String, option: String, port: Int)] = []
        for (name, reply) in Self.replies {
            let port = freePort()
            agents.append(try ChildProcess("/usr/bin/python3", [Paths.fixtures.appendingPathComponent("spoe_agent.py").path, "\(port)", reply, dir.file("\(name).hello")],
                                           logDirectory: dir, name: "agent-\(name)"))
            XCTAssertTrue(waitForPort(port))
            servers.append((name, "spop-check", port))
        }
        let (h, s, stderr) = try firstCheckLines(in: dir, count: 4, within: 8) { front, udp in
            tcpCheckDefaults(front: front, backend: "good") + checkedBackends(servers, udp: udp)
        }
        XCTAssertEqual(s, h, stderr)
        XCTAssertTrue(s.contains { $0.contains("good/srv succeeded, reason: Layer7 check passed, code: 0, info: \"SPOA server is ok\"") }, "\(s)")
        XCTAssertTrue(s.contains { $0.contains("old/srv failed, reason: Layer7 invalid response, info: \"unsupported version\"") }, "\(s)")
        // Every HELLO either side sent is HAProxy's 82 bytes, the one SPOPCheck builds.
        let hellos = Set(try String(contentsOfFile: dir.file("good.hello"), encoding: .utf8).split(separator: "\n").map(String.init))
        XCTAssertEqual(hellos, [SPOPCheck.hello.map { String(format: "%02x", $0) }.joined()])
        XCTAssertEqual(SPOPCheck.hello.count, 82)
    }

    func testTLSChecksAgreeWithHAProxy() throws {
        let cert = dir.file("check.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["check.example.test", cert, "ec"]).status, 0)
        // The TLS peer: haproxy with strict-sni (a ClientHello naming another host fails).
        let (tls, sink) = (freePort(), freePort())
        let peer = try startHAProxy("""
            defaults
                mode tcp
                timeout connect 1s
                timeout client 2s
                timeout server 2s
            frontend tls
                bind 127.0.0.1:\(tls) ssl crt \(cert) strict-sni
                default_backend sink
            backend sink
                server s 127.0.0.1:\(sink)
            """, port: tls, in: dir, name: "tls-peer")
        defer { peer.stop() }
        // A port that reads the ClientHello and closes (a FIN; a reset instead is "SSL
        // handshake failure (Connection reset by peer)" in HAProxy, which SwiftLB cannot tell
        // from a FIN: NIO reports no errno for it).
        let closer = try ChildProcess("/usr/bin/python3", ["-c", """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", \(sink))); s.listen(16)
            for _ in range(200):
                c, _ = s.accept(); c.settimeout(2)
                try: c.recv(4096)
                except OSError: pass
                c.close()
            """], logDirectory: dir, name: "closer")
        defer { closer.stop() }
        XCTAssertTrue(waitForPort(sink))
        let (h, s, stderr) = try firstCheckLines(in: dir, count: 5, within: 8) { front, udp in
            func backend(_ name: String, _ lines: String, _ server: String) -> String {
                "backend \(name)\n    log 127.0.0.1:\(udp) local0\n    option log-health-checks\n\(lines)    server srv \(server) inter 500ms rise 1 fall 1 verify none\n"
            }
            return tcpCheckDefaults(front: front, backend: "plain")
                + backend("plain", "", "127.0.0.1:\(tls) check check-ssl check-sni check.example.test")
                + backend("connect", "    option tcp-check\n    tcp-check connect ssl sni check.example.test alpn h2,http/1.1\n", "127.0.0.1:\(tls) check")
                + backend("badsni", "    option tcp-check\n    tcp-check connect ssl sni bad.example.test\n", "127.0.0.1:\(tls) check")
                + backend("defaults", "    option tcp-check\n    tcp-check connect default\n", "127.0.0.1:\(tls) check check-ssl check-sni check.example.test check-alpn http/1.1")
                + backend("cut", "    option tcp-check\n    tcp-check connect ssl\n", "127.0.0.1:\(sink) check")
        }
        XCTAssertEqual(s, h, stderr)
        XCTAssertTrue(s.contains { $0.contains("plain/srv succeeded, reason: Layer6 check passed") }, "\(s)")
        XCTAssertTrue(s.contains { $0.contains("badsni/srv failed, reason: Layer6 invalid response") && $0.contains("at step 1 of tcp-check (connect)") }, "\(s)")
    }
}
