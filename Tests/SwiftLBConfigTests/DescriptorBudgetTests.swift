import XCTest
@testable import SwiftLBConfig

/// HAProxy 2.6's default `maxconn` and `maxsock` (haproxy.c compute_ideal_maxconn): the
/// figures below are what Debian's haproxy 2.6.12 showed in `show info` for the same file under
/// `prlimit --nofile=…` on a 2-thread machine (DescriptorLimitTests runs both side by side).
final class DescriptorBudgetTests: XCTestCase {
    private func parse(_ text: String, soft: Int, hard: Int? = nil) throws -> GlobalSettings {
        var facts = BuildFacts()
        facts.descriptorsAtBoot = DescriptorLimits(soft: soft, hard: hard ?? soft)
        facts.localPeer = "me"
        return try ConfigParser.parse(text: text, file: "d.conf", facts: facts).global
    }

    private let tail = """
        defaults
            mode http
            timeout client 5s
            timeout server 5s
            timeout connect 1s
        frontend fe
            bind 127.0.0.1:8080
            default_backend be

        """

    func testOneBindAndAStatsSocketGetHalfTheLimitLessWhatTheyHold() throws {
        let file = "global\n    nbthread 2\n    stats socket /tmp/x.sock\n" + tail + "backend be\n    server s1 127.0.0.1:8081\n"
        // 10 reserved + 1 bind + 1 socket + 10 socket connections + 3 × 2 threads = 28.
        for (soft, maxconn) in [(1024, 498), (4096, 2034), (20000, 9986)] {
            let g = try parse(file, soft: soft)
            XCTAssertEqual(g.maxconn, maxconn, "ulimit -n \(soft)")
            XCTAssertEqual(g.maxsock, soft, "ulimit -n \(soft)")
        }
        XCTAssertEqual(try parse(file, soft: 1024, hard: 4096).maxconn, 2034, "the larger of soft and hard")
        XCTAssertEqual(try parse(file, soft: 100).maxconn, 100, "never fewer than 100")
        XCTAssertEqual(try parse(file, soft: 100).maxsock, 228)
        let capped = try parse("global\n    fd-hard-limit 1024\n" + file.dropFirst("global\n".count), soft: 20000)
        XCTAssertEqual(capped.maxconn, 498)
    }

    func testAWrittenMaxconnIsKeptAndSizesTheLimit() throws {
        let g = try parse("global\n    nbthread 2\n    maxconn 100\n    stats socket /tmp/x.sock\n" + tail + "backend be\n    server s1 127.0.0.1:8081\n", soft: 1024)
        XCTAssertEqual(g.maxconn, 100)
        XCTAssertEqual(g.maxsock, 228)
        XCTAssertFalse(g.strictLimits, "off unless written (HAProxy 2.6 has it on: docs/conformance.md)")
    }

    func testListenersChecksAndPortWordsEachHoldADescriptor() throws {
        // 10 + 5 listeners (a range of 4) + 2 sockets + 10 + check, check + port, agent + agent-port.
        let g = try parse("""
            global
                nbthread 2
                stats socket /tmp/a.sock
                stats socket /tmp/b.sock
            \(tail.replacingOccurrences(of: "    default_backend", with: "    bind 127.0.0.1:8110-8113\n    default_backend"))
            backend be
                server s1 127.0.0.1:8081 check
                server s2 127.0.0.1:8082 check port 8084
                server s3 127.0.0.1:8083 agent-check agent-port 8086
                server s4 127.0.0.1:8085
            """, soft: 1024)
        XCTAssertEqual(g.maxconn, 493)
        // A default-server line's `port` counts once, not once per server inheriting it.
        let inherited = try parse("""
            global
                nbthread 2
                stats socket /tmp/a.sock
            \(tail.replacingOccurrences(of: "    timeout connect 1s", with: "    timeout connect 1s\n    default-server port 8084"))
            backend be
                default-server agent-port 8086
                server s1 127.0.0.1:8081 check
                server s2 127.0.0.1:8082 check
                server s3 127.0.0.1:8083
            """, soft: 1024)
        XCTAssertEqual(inherited.maxconn, 496)
    }

    func testAPeersSectionOfThisInstanceHoldsItsListenerAndThreePerPeer() throws {
        let peers = "peers mesh\n    peer me 127.0.0.1:9000\n    peer b 127.0.0.1:9001\n    peer c 127.0.0.1:9002\n"
        let file = "global\n    nbthread 2\n    stats socket /tmp/x.sock\n" + peers + tail + "backend be\n    server s1 127.0.0.1:8081\n"
        XCTAssertEqual(try parse(file, soft: 1024).maxconn, 493)
        var facts = BuildFacts()
        facts.descriptorsAtBoot = DescriptorLimits(soft: 1024, hard: 1024)
        facts.localPeer = "elsewhere"
        XCTAssertEqual(try ConfigParser.parse(text: file, file: "d.conf", facts: facts).global.maxconn, 498, "not one of its peers")
    }

    func testStrictLimitsAndFdHardLimitParse() throws {
        let g = try parse("global\n    no strict-limits\n    fd-hard-limit 5000\n" + tail + "backend be\n    server s1 127.0.0.1:8081\n", soft: 1024)
        XCTAssertFalse(g.strictLimits)
        XCTAssertEqual(g.fdHardLimit, 5000)
    }
}
