import XCTest
@testable import SwiftLBHealth
import SwiftLBConfig

/// HAProxy's wording and rise/fall arithmetic of the check log lines, without sockets: the
/// health count through a whole DOWN and UP cycle with rise 2 fall 3, and the parts of a line.
final class CheckLogTests: XCTestCase {
    func testStatusPartFollowsHAProxysHealthCount() {
        let (rise, fall) = (2, 3)
        func status(_ up: Bool, _ successes: Int, _ failures: Int, weight: Int = 1) -> String {
            CheckLog.statusPart(health: CheckLog.health(up: up, successes: successes, failures: failures, rise: rise, fall: fall),
                                rise: rise, fall: fall, weight: weight)
        }
        // UP: the failures still allowed; the third failure takes it DOWN (0 of rise).
        XCTAssertEqual([status(true, 5, 0), status(true, 0, 1), status(true, 0, 2), status(false, 0, 3)],
                       ["3/3 UP", "2/3 UP", "1/3 UP", "0/2 DOWN"])
        // DOWN: successes so far; the second brings it UP with the whole fall count.
        XCTAssertEqual([status(false, 1, 0), status(true, 2, 0)], ["1/2 DOWN", "3/3 UP"])
        XCTAssertEqual(status(true, 1, 0, weight: 0), "3/3 DRAIN")
    }

    func testWhenAResultIsLogged() {
        XCTAssertTrue(CheckLog.reportsResult(previous: nil, current: .l7ok, healthBefore: 4, healthAfter: 4), "the first check")
        XCTAssertFalse(CheckLog.reportsResult(previous: .l7ok, current: .l7ok, healthBefore: 4, healthAfter: 4), "nothing changed")
        XCTAssertFalse(CheckLog.reportsResult(previous: .l4connect, current: .l4connect, healthBefore: 0, healthAfter: 0), "still down")
        XCTAssertTrue(CheckLog.reportsResult(previous: .l4connect, current: .l4timeout, healthBefore: 0, healthAfter: 0), "another failure")
        XCTAssertTrue(CheckLog.reportsResult(previous: .l7ok, current: .l7ok, healthBefore: 1, healthAfter: 4), "the count moved")
    }

    func testLineParts() {
        let refused = CheckOutcome.failed("connection refused", .l4connect)
        XCTAssertEqual(CheckLog.checkResult(backend: "be", server: "s", backup: true, outcome: refused, durationMilliseconds: 0,
                                            health: 3, rise: 2, fall: 3, weight: 1),
                       .init(text: "Health check for backup server be/s failed, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms, status: 2/3 UP.", level: .notice))
        let wrong = CheckOutcome.failed("Service Unavailable", .l7status, code: 503)
        XCTAssertEqual(CheckLog.checkPart(wrong, durationMilliseconds: 2), ", reason: Layer7 wrong status, code: 503, info: \"Service Unavailable\", check duration: 2ms")
        XCTAssertEqual(CheckLog.checkPart(.failed("3 errors <\"x\">\n", .liveTraffic), durationMilliseconds: nil),
                       ", reason: Health analyze, info: \"3 errors <3C><22>x<22><3E><0A>\"")
        XCTAssertEqual(CheckLog.stateChange(backend: "be", server: "s", backup: false, up: false, check: nil,
                                            remaining: .init(active: 0, backup: 1), sessions: 4, wasDraining: true),
                       .init(text: "Server be/s is DOWN. 0 active and 1 backup servers left. Running on backup. 4 sessions active, 0 requeued, 0 remaining in queue.", level: .notice))
        // srv_update_status's drain lines (`set server … state drain|ready`, maint → drain).
        XCTAssertEqual(CheckLog.enteringDrain(backend: "be", server: "s", backup: true, remaining: .init(active: 2, backup: 0),
                                              queue: QueueMove(requeued: 3, remaining: 1)),
                       .init(text: "Backup Server be/s enters drain state. 2 active and 0 backup servers online. 3 sessions requeued, 1 total in queue.", level: .notice))
        XCTAssertEqual(CheckLog.leavingDrain(backend: "be", server: "s", backup: false, up: true),
                       .init(text: "Server be/s is UP (leaving forced drain).", level: .notice))
        XCTAssertEqual(CheckLog.leavingMaintenance(backend: "be", server: "s", backup: false, draining: true),
                       .init(text: "Server be/s is UP/DRAIN (leaving forced maintenance).", level: .notice))
    }

    /// `http-check disable-on-404`: a 404 passes conditionally unless the server is DOWN (then
    /// it is judged as any answer), and the lines say so in HAProxy's words.
    func testDisableOn404() throws {
        var check = HTTPCheck()
        check.disableOn404 = true
        let probe = HealthProbe(address: try .init(ipAddress: "127.0.0.1", port: 1), http: check, host: "h", timeout: .seconds(1))
        let notFound = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8)
        XCTAssertEqual(probe.evaluate(notFound), .passed("", .l7okConditional, code: 404))
        XCTAssertEqual(probe.evaluate(notFound, serverDown: true).kind, .l7status)
        XCTAssertEqual(probe.evaluate(Array("HTTP/1.1 200 OK\r\n\r\n".utf8)).kind, .l7ok)
        check.disableOn404 = false
        let plain = HealthProbe(address: try .init(ipAddress: "127.0.0.1", port: 1), http: check, host: "h", timeout: .seconds(1))
        XCTAssertEqual(plain.evaluate(notFound).kind, .l7status)

        let conditional = CheckOutcome.passed("", .l7okConditional, code: 404)
        XCTAssertEqual(CheckLog.checkResult(backend: "be", server: "s", backup: false, outcome: conditional, durationMilliseconds: 1,
                                            health: 4, rise: 2, fall: 3, weight: 1).text,
                       "Health check for server be/s conditionally succeeded, reason: Layer7 check conditionally passed, code: 404, check duration: 1ms, status: 3/3 UP.")
        XCTAssertEqual(CheckLog.stopping(backend: "be", server: "s", backup: true, check: (conditional, 0), remaining: .init(active: 0, backup: 1)),
                       .init(text: "Backup Server be/s is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: 0ms. 0 active and 1 backup servers online. Running on backup. 0 sessions requeued, 0 total in queue.", level: .notice))
    }
}
