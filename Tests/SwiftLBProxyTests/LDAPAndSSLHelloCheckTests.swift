import Foundation
import XCTest

/// `option ldap-check` against real slapd servers and `option ssl-hello-chk` against a real
/// `openssl s_server` and a plain HTTP port, each compared with HAProxy 2.6 checking the same
/// servers with the same configuration text.
final class LDAPAndSSLHelloCheckTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func backends(_ option: String, _ servers: [(String, Int)], udp: Int) -> String {
        checkedBackends(servers.map { (name: $0.0, option: option, port: $0.1) }, udp: udp)
    }

    /// An anonymous bind passes ("Success"); a server that refuses anonymous binds answers
    /// resultCode 48 (inappropriateAuthentication) ("Layer7 wrong status, code: 53"); a web server is "Not LDAPv3 protocol".
    func testLDAPCheckAgainstSlapd() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let (open, closed): (SlapdServer, SlapdServer)
        do {
            open = try SlapdServer(in: dir, name: "slapd-open")
            closed = try SlapdServer(in: dir, name: "slapd-closed", extra: "disallow bind_anon")
        } catch { throw XCTSkip("\(error)") }
        defer { open.stop(); closed.stop() }
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (h, s, stderr) = try firstCheckLines(in: dir, count: 3, within: 8) { front, udp in
            tcpCheckDefaults(front: front, backend: "open")
                + backends("ldap-check", [("open", open.port), ("closed", closed.port), ("web", nginx.ports[0])], udp: udp)
        }
        XCTAssertEqual(s, h, stderr)
        XCTAssertTrue(s.contains("<133>Health check for server open/srv succeeded, reason: Layer7 check passed, code: 0, info: \"Success\", check duration: Nms, status: 1/1 UP."), "\(s)")
        XCTAssertTrue(s.contains("<133>Health check for server closed/srv failed, reason: Layer7 wrong status, code: 48, info: \"See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9\", check duration: Nms, status: 0/1 DOWN."), "\(s)")
        XCTAssertTrue(s.contains("<133>Health check for server web/srv failed, reason: Layer7 invalid response, info: \"Not LDAPv3 protocol\", check duration: Nms, status: 0/1 DOWN."), "\(s)")
    }

    /// A TLS server answers the SSLv3 hello with an alert: "Layer6 check passed"; a plain HTTP
    /// port answers 400: "Layer6 invalid response".
    func testSSLHelloCheckAgainstOpenSSLServer() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let pem = dir.file("tls.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["check.example.test", pem]).status, 0)
        let tlsPort = freePort()
        let tls = try ChildProcess("/usr/bin/openssl", ["s_server", "-accept", "127.0.0.1:\(tlsPort)", "-cert", pem, "-key", pem, "-quiet"],
                                   logDirectory: dir, name: "s_server")
        defer { tls.stop() }
        XCTAssertTrue(waitForPort(tlsPort), tls.stderr)
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (h, s, stderr) = try firstCheckLines(in: dir, count: 2, within: 8) { front, udp in
            tcpCheckDefaults(front: front, backend: "tls") + backends("ssl-hello-chk", [("tls", tlsPort), ("web", nginx.ports[0])], udp: udp)
        }
        XCTAssertEqual(s, h, stderr)
        XCTAssertTrue(s.contains("<133>Health check for server tls/srv succeeded, reason: Layer6 check passed, check duration: Nms, status: 1/1 UP."), "\(s)")
        XCTAssertTrue(s.contains("<133>Health check for server web/srv failed, reason: Layer6 invalid response, check duration: Nms, status: 0/1 DOWN."), "\(s)")
    }
}
