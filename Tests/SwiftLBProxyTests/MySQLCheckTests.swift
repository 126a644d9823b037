import Foundation
import XCTest

/// `option mysql-check` against a real MariaDB on loopback, and against HAProxy 2.6 checking
/// the same server with the same configuration text: the greeting alone, a login as a user
/// that exists without password (4.1 and pre-4.1 packets), a login as a user that does not
/// exist (MariaDB's error 1045 fails the check with its number and message), and a port
/// nobody listens on. Every check's log line must be HAProxy's.
final class MySQLCheckTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func config(front: Int, db: Int, dead: Int, udp: Int) -> String {
        let backends = [("greet", ""), ("login", " user haproxy"), ("login41", " user haproxy post-41"),
                        ("login40", " user haproxy pre-41"), ("stranger", " user stranger")]
        return tcpCheckDefaults(front: front, backend: "login") + backends.map { name, args in
                """
                backend \(name)
                    log 127.0.0.1:\(udp) local0
                    option log-health-checks
                    option mysql-check\(args)
                    server db 127.0.0.1:\(db) check inter 500ms rise 1 fall 1

                """
            }.joined() + """
            backend dead
                log 127.0.0.1:\(udp) local0
                option log-health-checks
                option mysql-check user haproxy
                server db 127.0.0.1:\(dead) check inter 500ms rise 1 fall 1

            """
    }

    func testChecksAgainstMariaDBAgreeWithHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let db: MariaDBServer
        do { db = try MariaDBServer(in: dir) } catch { throw XCTSkip("\(error)") }
        defer { db.stop() }
        _ = try db.sql("CREATE USER 'haproxy'@'127.0.0.1'")
        let version = try db.sql("SELECT VERSION()")

        let dead = refusedPort()
        // The first check of each backend (a status change) is logged; the rest repeat it.
        let (h, s, stderr) = try firstCheckLines(in: dir, count: 6, within: 8) { front, udp in
            config(front: front, db: db.port, dead: dead, udp: udp)
        }
        XCTAssertEqual(s, h, stderr)
        // What HAProxy says, spelled out (so that this test also fails if both were wrong).
        let passed = { (backend: String) in
            "<133>Health check for server \(backend)/db succeeded, reason: Layer7 check passed, code: 0, info: \"5.5.5-\(version)\", check duration: Nms, status: 1/1 UP."
        }
        XCTAssertTrue(s.contains(passed("greet")), "\(s)")
        XCTAssertTrue(s.contains(passed("login")), "\(s)")
        XCTAssertTrue(s.contains(passed("login41")), "\(s)")
        XCTAssertTrue(s.contains { $0.hasPrefix("<133>Health check for server stranger/db failed, reason: Layer7 wrong status, code: 1045, info: \"#28000Access denied for user 'stranger'@'localhost'") }, "\(s)")
        XCTAssertTrue(s.contains { $0.hasPrefix("<133>Health check for server dead/db failed, reason: Layer4 connection problem, info: \"Connection refused\"") }, "\(s)")
    }
}
