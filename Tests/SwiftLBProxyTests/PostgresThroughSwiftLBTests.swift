import Foundation
import XCTest

/// SwiftLB in PGPool's place (the seed's port 5430): `mode tcp` in front of a real Postgres
/// primary and its streaming standby, with docker/lb-ha.conf's primary detector (a tcp-check
/// that logs in and asks `SELECT pg_is_in_recovery()`). psql through SwiftLB reaches the
/// primary only; after the standby is promoted and the old primary dies, new connections
/// reach the new primary within a bounded time and writes succeed there.
final class PostgresThroughSwiftLBTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// One psql session (a new connection) as postgres; the tuples-only answer, trimmed.
    private func psql(_ port: Int, _ sql: String) -> (status: Int32, out: String, err: String) {
        let r = runCommand("/usr/bin/timeout", ["20", "/usr/bin/psql", "-X", "-h", "127.0.0.1", "-p", "\(port)", "-U", "postgres", "-d", "postgres",
                                                "-v", "ON_ERROR_STOP=1", "-qtA", "-c", sql])
        return (r.status, r.out.trimmingCharacters(in: .whitespacesAndNewlines), r.err)
    }

    func testClientsReachThePrimaryAndFollowAPromotion() throws {
        let pg = try PostgresPair(in: dir)
        defer { pg.stop() }
        let port = freePort()
        // The check sequence of docker/lb-ha.conf's `listen postgres_primary`, byte for byte.
        let lb = try SwiftLBInstance(config: """
            defaults
                mode tcp
                option tcplog
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            listen postgres_primary
                bind 127.0.0.1:\(port)
                option tcp-check
                tcp-check connect
                tcp-check send-binary 0000002e00030000757365720073776966746c625f636865636b00646174616261736500706f7374677265730000
                tcp-check expect binary 520000000800000000
                tcp-check send-binary 510000001f53454c4543542070675f69735f696e5f7265636f76657279282900
                tcp-check expect binary 440000000b00010000000166
                tcp-check send-binary 5800000004
                timeout check 1s
                default-server check inter 200ms fall 2 rise 1 on-marked-down shutdown-sessions
                server pg1 127.0.0.1:\(pg.primaryPort)
                server pg2 127.0.0.1:\(pg.standbyPort)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("postgres_primary/pg2 is DOWN") },
                        "the standby must fail the primary check: \(lb.child.stderr)")
        XCTAssertFalse(lb.child.stderr.contains("postgres_primary/pg1 is DOWN"), lb.child.stderr)

        for _ in 0..<5 {
            let r = psql(port, "SELECT inet_server_port(), pg_is_in_recovery()")
            XCTAssertEqual(r.out, "\(pg.primaryPort)|f", "every new connection reaches the primary: \(r.err)")
        }
        let write = psql(port, "CREATE TABLE notes (id int PRIMARY KEY, body text); INSERT INTO notes VALUES (1, 'before')")
        XCTAssertEqual(write.status, 0, write.err)
        // The row is on the standby before the primary dies (replication is asynchronous).
        XCTAssertNotNil(waitUntil(timeout: 10) { self.psql(pg.standbyPort, "SELECT count(*) FROM notes").out == "1" })

        try pg.promoteStandby()
        pg.stopPrimary()
        let start = Date()
        XCTAssertNotNil(waitUntil(timeout: 15) {
            lb.child.stderr.contains("postgres_primary/pg1 is DOWN") && lb.child.stderr.contains("postgres_primary/pg2 is UP")
        }, lb.child.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "fall 2 × inter 200 ms and rise 1, with a wide margin")
        for _ in 0..<5 {
            let r = psql(port, "SELECT inet_server_port(), pg_is_in_recovery()")
            XCTAssertEqual(r.out, "\(pg.standbyPort)|f", "every new connection reaches the promoted standby: \(r.err)")
        }
        let after = psql(port, "INSERT INTO notes VALUES (2, 'after'); SELECT string_agg(body, ',' ORDER BY id) FROM notes")
        XCTAssertEqual(after.status, 0, after.err)
        XCTAssertEqual(after.out, "before,after", "writes succeed on the new primary, which has the old one's data")
        usleep(200_000)
        XCTAssertTrue(lb.accessLog.contains("postgres_primary/pg2 "), lb.accessLog)
    }
}
