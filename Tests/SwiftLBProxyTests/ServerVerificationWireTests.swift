import Foundation
import XCTest

/// A check rule's `tcp-check connect ssl` verifies the server's certificate against the
/// server line's `ca-file` even though the line has no `ssl` (HAProxy's default verify
/// required): the right CA passes, another CA fails the handshake, `verify none` passes — the
/// same check log lines from SwiftLB and haproxy 2.6, against a real TLS peer on loopback.
final class ServerVerificationWireTests: XCTestCase {
    func testACheckRuleConnectSSLVerifiesAgainstTheServersCAFileAsHAProxy() throws {
        try requireHAProxy()
        let dir = try TempDirectory()
        let gen = Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path
        let (cert, other) = (dir.file("peer.pem"), dir.file("other.pem"))
        XCTAssertEqual(runCommand(gen, ["peer.example.test", cert, "ec"]).status, 0)
        XCTAssertEqual(runCommand(gen, ["other.example.test", other, "ec"]).status, 0)
        let tls = freePort()
        let peer = try startHAProxy("""
            defaults
                mode http
                timeout connect 1s
                timeout client 2s
                timeout server 2s
            frontend tls
                bind 127.0.0.1:\(tls) ssl crt \(cert)
                http-request return status 200

            """, port: tls, in: dir, name: "tls-peer")
        defer { peer.stop() }
        let (h, s, stderr) = try firstCheckLines(in: dir, count: 3, within: 8) { front, udp in
            let backend = { (name: String, verify: String) in
                """
                backend \(name)
                    log 127.0.0.1:\(udp) local0
                    option log-health-checks
                    option tcp-check
                    tcp-check connect ssl sni peer.example.test
                    server srv 127.0.0.1:\(tls) check inter 500ms rise 1 fall 1 \(verify)

                """
            }
            return tcpCheckDefaults(front: front, backend: "rightca")
                + backend("rightca", "ca-file \(cert)") + backend("wrongca", "ca-file \(other)") + backend("noverify", "verify none")
        }
        XCTAssertEqual(s, h, stderr)
        XCTAssertTrue(s.contains { $0.contains("rightca/srv succeeded, reason: Layer6 check passed") }, "\(s)")
        XCTAssertTrue(s.contains { $0.contains("wrongca/srv failed, reason: Layer6 invalid response") }, "\(s)")
        XCTAssertTrue(s.contains { $0.contains("noverify/srv succeeded, reason: Layer6 check passed") }, "\(s)")
    }
}
