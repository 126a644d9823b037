import XCTest
@testable import SwiftLBHealth

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
        let wrong = CheckOutcome.failed("status 503, expected 200-399", .l7status, code: 503)
        XCTAssertEqual(CheckLog.checkPart(wrong, durationMilliseconds: 2), ", reason: Layer7 wrong status, code: 503, info: \"status 503, expected 200-399\", check duration: 2ms")
        XCTAssertEqual(CheckLog.checkPart(.failed("3 errors <\"x\">\n", .liveTraffic), durationMilliseconds: nil),
                       ", reason: Health analyze, info: \"3 errors <3C><22>x<22><3E><0A>\"")
        XCTAssertEqual(CheckLog.stateChange(backend: "be", server: "s", backup: false, up: false, check: nil,
                                            remaining: .init(active: 0, backup: 1), sessions: 4, wasDraining: true),
                       .init(text: "Server be/s is DOWN. 0 active and 1 backup servers left. Running on backup. 4 sessions active, 0 requeued, 0 remaining in queue.", level: .notice))
    }
}
