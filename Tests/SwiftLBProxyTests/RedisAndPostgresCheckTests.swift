import Foundation
import XCTest

/// `option redis-check` against a real redis-server and `option pgsql-check` against a real
/// PostgreSQL primary and standby, each beside a port nobody listens on, compared with HAProxy
/// 2.6 checking the same servers with the same configuration text ("Redis server is ok",
/// "PostgreSQL server is ok": the check does not log in, so a standby passes too).
final class RedisAndPostgresCheckTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testChecksAgreeWithHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let redis = try RedisBackend(in: dir)
        defer { redis.stop() }
        let postgres = try PostgresPair(in: dir)
        defer { postgres.stop() }
        let dead = refusedPort()
        let servers = [("redis", "redis-check", redis.port), ("redis_dead", "redis-check", dead),
                       ("primary", "pgsql-check user swiftlb_check", postgres.primaryPort),
                       ("standby", "pgsql-check user swiftlb_check", postgres.standbyPort)]
        let (h, s, stderr) = try firstCheckLines(in: dir, count: servers.count, within: 8) { front, udp in
            tcpCheckDefaults(front: front, backend: "redis") + checkedBackends(servers, udp: udp)
        }
        XCTAssertEqual(s, h, stderr)
        XCTAssertTrue(s.contains("<133>Health check for server redis/srv succeeded, reason: Layer7 check passed, code: 0, info: \"Redis server is ok\", check duration: Nms, status: 1/1 UP."), "\(s)")
        for name in ["primary", "standby"] {
            XCTAssertTrue(s.contains("<133>Health check for server \(name)/srv succeeded, reason: Layer7 check passed, code: 0, info: \"PostgreSQL server is ok\", check duration: Nms, status: 1/1 UP."), "\(s)")
        }
    }
}
