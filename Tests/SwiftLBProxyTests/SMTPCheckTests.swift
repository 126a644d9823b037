import Foundation
import XCTest

/// `option smtpchk` against a real SMTP server (OpenSMTPD) on loopback, and against HAProxy 2.6
/// checking the same server with the same configuration text: `HELO localhost` by default,
/// `EHLO DOMAIN` when configured, then QUIT; the passed check's code and info are the QUIT
/// reply's (`code: 221, info: "2.0.0 Bye"`). A port nobody listens on fails at layer 4.
final class SMTPCheckTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func config(front: Int, smtp: Int, dead: Int, udp: Int) -> String {
        tcpCheckDefaults(front: front, backend: "helo") + [("helo", "", smtp), ("ehlo", " EHLO swiftlb.test", smtp), ("dead", "", dead)].map { name, args, port in
            """

            backend \(name)
                log 127.0.0.1:\(udp) local0
                option log-health-checks
                option smtpchk\(args)
                server mx 127.0.0.1:\(port) check inter 500ms rise 1 fall 1
            """
        }.joined() + "\n"
    }

    func testChecksAgainstOpenSMTPDAgreeWithHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let smtp: SMTPServer
        do { smtp = try SMTPServer(in: dir) } catch { throw XCTSkip("\(error)") }
        defer { smtp.stop() }
        let dead = refusedPort()
        let (h, s, stderr) = try firstCheckLines(in: dir, count: 3, within: 8) { front, udp in
            config(front: front, smtp: smtp.port, dead: dead, udp: udp)
        }
        XCTAssertEqual(s, h, stderr)
        for backend in ["helo", "ehlo"] {
            XCTAssertTrue(s.contains("<133>Health check for server \(backend)/mx succeeded, reason: Layer7 check passed, code: 221, info: \"2.0.0 Bye\", check duration: Nms, status: 1/1 UP."), "\(s)")
        }
        XCTAssertTrue(s.contains { $0.hasPrefix("<133>Health check for server dead/mx failed, reason: Layer4 connection problem, info: \"Connection refused\"") }, "\(s)")
        let smtpdLog = ["smtpd.out", "smtpd.err"].compactMap { try? String(contentsOfFile: dir.file($0), encoding: .utf8) }.joined()
        XCTAssertTrue(smtpdLog.contains("reason=quit"), "the checks said QUIT: \(smtpdLog)")
    }
}
