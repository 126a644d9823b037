import Foundation
import XCTest

/// `tcp-check connect port N` in the middle of a sequence opens a new connection (HAProxy closes
/// the previous one), against a real redis-server and a port nobody listens on, compared with
/// HAProxy 2.6: a sequence that pings redis then connects to the dead port fails at that step
/// ("Connection refused at step 4 of tcp-check (connect port N)"); one that only talks to redis
/// on another port than the server line's passes; a negated expect without `min-recv` waits for
/// the timeout and fails there, with its comment.
final class TCPCheckConnectTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testConnectStepsAgreeWithHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let redis = try RedisBackend(in: dir)
        defer { redis.stop() }
        let dead = refusedPort()
        let (h, s, stderr) = try firstCheckLines(in: dir, count: 3, within: 8) { front, udp in
            tcpCheckDefaults(front: front, backend: "both") + """
            backend both
                log 127.0.0.1:\(udp) local0
                option log-health-checks
                option tcp-check
                tcp-check connect port \(redis.port)
                tcp-check send PING\\r\\n
                tcp-check expect string +PONG
                tcp-check connect port \(dead)
                server s 127.0.0.1:\(dead) check inter 500ms rise 1 fall 1
            backend moved
                log 127.0.0.1:\(udp) local0
                option log-health-checks
                option tcp-check
                tcp-check connect port \(redis.port)
                tcp-check send PING\\r\\n
                tcp-check expect string +PONG comment "redis answers"
                server s 127.0.0.1:\(dead) check inter 500ms rise 1 fall 1
            backend patient
                log 127.0.0.1:\(udp) local0
                option log-health-checks
                option tcp-check
                timeout check 300ms
                tcp-check connect port \(redis.port)
                tcp-check send PING\\r\\n
                tcp-check expect ! string -ERR comment "no error"
                server s 127.0.0.1:\(dead) check inter 500ms rise 1 fall 1

            """
        }
        XCTAssertEqual(s, h, stderr)
        XCTAssertTrue(s.contains { $0.hasPrefix("<133>Health check for server both/s failed, reason: Layer4 connection problem, info: \"Connection refused at step 4 of tcp-check (connect port \(dead))\"") }, "\(s)")
        XCTAssertTrue(s.contains { $0.hasPrefix("<133>Health check for server patient/s failed, reason: Layer7 timeout, info: \" at step 3 of tcp-check (expect string '-ERR') comment: 'no error'\"") }, "\(s)")
    }
}
