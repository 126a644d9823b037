import XCTest
@testable import SwiftLBConfig

/// tune.bufsize / tune.maxrewrite / tune.http.maxhdr, the accepted global flags, and
/// environment variables in `log` addresses (HAProxy expands them outside quotes too).
final class TuningAndLogTargetTests: XCTestCase {
    func testHeadLimitIsBufsizeMinusMaxrewrite() throws {
        // Without tune.bufsize, HAProxy's defaults: 16384 - 1024, 101 header lines.
        let defaults = try parseOrFail("global\n").global
        XCTAssertEqual(defaults.headLimit, 15360)
        XCTAssertEqual(defaults.bufferSize, 16384)
        XCTAssertEqual(defaults.rewriteReserve, 1024)
        XCTAssertEqual(defaults.maxHeaders, 101)
        XCTAssertEqual(try parseOrFail("global\n  tune.bufsize 2048\n  tune.maxrewrite 128\n").global.headLimit, 1920)
        XCTAssertEqual(try parseOrFail("global\n  tune.bufsize 16384\n").global.headLimit, 15360)
        // maxrewrite is capped at half the buffer, as in HAProxy.
        XCTAssertEqual(try parseOrFail("global\n  tune.bufsize 1024\n  tune.maxrewrite 900\n").global.headLimit, 512)
        XCTAssertEqual(try parseOrFail("global\n  tune.http.maxhdr 12\n").global.maxHeaders, 12)
        XCTAssertEqual(parseErrors("global\n  tune.bufsize 10\n").first?.line, 2)
    }

    func testAcceptedGlobalFlags() throws {
        let config = try parseOrFail("global\n  expose-experimental-directives\n  insecure-fork-wanted\n")
        XCTAssertTrue(config.global.exposeExperimentalDirectives)
        XCTAssertEqual(parseErrors("global\n  insecure-fork-wanted yes\n").first?.keyword, "insecure-fork-wanted")
    }

    func testLogAddressesExpandEnvironmentVariables() throws {
        let text = """
            global
                log ${SYSLOG_HOST}:${SYSLOG_PORT} local0
                log $SYSLOG_HOST local1
                log ${UNSET_A}:${UNSET_B} daemon
                log udp@${SYSLOG_HOST}: local2
            """
        let config = try parseOrFail(text, environment: ["SYSLOG_HOST": "127.0.0.2", "SYSLOG_PORT": "5514"])
        XCTAssertEqual(config.global.logServers.map(\.address), [
            .udp(host: "127.0.0.2", port: 5514), .udp(host: "127.0.0.2", port: 514),
            .udp(host: "0.0.0.0", port: 514), .udp(host: "127.0.0.2", port: 514),
        ])
        XCTAssertEqual(expandAddressVariables("a$", [:]), "a$")
        XCTAssertEqual(expandAddressVariables("${X:1", ["X": "y"]), "${X:1")
        XCTAssertEqual(expandAddressVariables("$X_1.$X", ["X": "y", "X_1": "z"]), "z.y")
    }
}
