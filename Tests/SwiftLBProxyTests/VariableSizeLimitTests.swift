import Foundation
import XCTest

/// `tune.vars.*-max-size`: a `set-var` that would pass the limit of its scope, or of a scope
/// around it, is not done — beside HAProxy 2.6, which counts 80 bytes per variable plus a
/// string's bytes.
final class VariableSizeLimitTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testSetVarOverALimitIsNotDoneAsInHAProxy() throws {
        // (global line, the rules' variables, what the answer shows), each asked twice: the
        // first request's bytes are given back when it ends.
        let rules = """
                http-request set-var(sess.a) int(1)
                http-request set-var(txn.s) str(abcd)
                http-request set-var(req.r) str(0123456789)
                http-request set-var(txn.b) int(2)
                http-request set-var(txn.s) str(abcdefgh)
            """
        // `?`: a variable whose entry fitted but not its string — HAProxy leaves it a boolean of
        // undefined value (it prints its memory: a pointer, then 0), SwiftLB `false` (0).
        let cases: [(String, String)] = [
            ("tune.vars.txn-max-size 80", "a=1 s=? r= b="),
            ("tune.vars.txn-max-size 175", "a=1 s=? r=0123456789 b="),
            ("tune.vars.txn-max-size 350", "a=1 s=abcdefgh r=0123456789 b=2"),
            ("tune.vars.reqres-max-size 85", "a=1 s=abcdefgh r=? b=2"),
            ("tune.vars.sess-max-size 164", "a=1 s=? r= b="),
            ("tune.vars.sess-max-size 500", "a=1 s=abcdefgh r=0123456789 b=2"),
            ("tune.vars.global-max-size 254", "a=1 s=? r=0123456789 b="),
            ("tune.vars.proc-max-size 100", "a=1 s= r= b="),
        ]
        for (limit, expected) in cases {
            let both = try SideBySide({ port in
                """
                global
                    \(limit)
                frontend fe
                    bind 127.0.0.1:\(port)
                \(rules)
                    http-request return status 200 hdr X-Vars "a=%[var(sess.a)] s=%[var(txn.s)] r=%[var(req.r)] b=%[var(txn.b)]"

                """
            }, in: dir)
            defer { both.stop() }
            for (port, isHAProxy) in zip(both.ports, [false, true]) {
                let pattern = "x-vars: " + NSRegularExpression.escapedPattern(for: expected).replacingOccurrences(of: "\\?", with: isHAProxy ? "[0-9]+" : "0") + "\r\n"
                for round in 1...2 {
                    let out = curl(["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]).out.lowercased()
                    XCTAssertNotNil(out.range(of: pattern, options: .regularExpression), "\(limit), port \(port), request \(round): \(out)")
                }
            }
        }
    }

    /// A `sess.` or `proc.` variable whose entry fits but not its value keeps its entry,
    /// charged once: set again and again on one keep-alive connection, it leaves room for a
    /// `txn.` variable on every request (SwiftLB charged a new entry each time until every
    /// set-var was refused).
    func testAValueThatDoesNotFitIsChargedItsEntryOnce() throws {
        let long = String(repeating: "v", count: 150)
        for (limit, scope) in [("sess-max-size", "sess"), ("proc-max-size", "proc")] {
            let both = try SideBySide({ port in
                """
                global
                    tune.vars.\(limit) 200
                frontend fe
                    bind 127.0.0.1:\(port)
                    http-request set-var(\(scope).long) str(\(long))
                    http-request set-var(txn.t) int(7)
                    http-request return status 200 hdr X-T "t=%[var(txn.t)]"

                """
            }, in: dir)
            defer { both.stop() }
            for port in both.ports {
                // Five requests on one connection (curl reuses it for the URLs of one run).
                let urls = (1...5).map { "http://127.0.0.1:\(port)/\($0)" }
                let out = curl(["-s", "-D", "-", "-w", "connects=%{num_connects}\n"] + urls).out.lowercased()
                XCTAssertEqual(out.components(separatedBy: "x-t: t=7\r\n").count - 1, 5, "\(limit), port \(port): \(out)")
                XCTAssertEqual(out.components(separatedBy: "connects=1").count - 1, 1, "one connection answers all: \(out)")
            }
        }
    }

    /// No value reads as 0 (no limit) and one past a long as the largest, as strtol reads them:
    /// both files load, in HAProxy as in SwiftLB.
    func testAnEmptyOrOverflowingSizeIsAcceptedAsByHAProxy() throws {
        for value in ["", "99999999999999999999999", "-99999999999999999999999"] {
            let file = try dir.write("lb.conf", """
                global
                    tune.vars.txn-max-size \(value)
                defaults
                    mode http
                    timeout connect 1s
                    timeout client 1s
                    timeout server 1s
                frontend fe
                    bind 127.0.0.1:\(freePort())
                    http-request return status 200

                """)
            let result = runCommand(Paths.swiftlb, ["check", "--config", file])
            XCTAssertEqual(result.status, 0, "'\(value)': \(result.err)")
            let haproxy = runCommand("/usr/sbin/haproxy", ["-c", "-f", file])
            XCTAssertEqual(haproxy.status, 0, "haproxy, '\(value)': \(haproxy.err)")
        }
    }

    /// HAProxy reads the size with strtol: no unit.
    func testASizeWithAUnitIsRefusedAsByHAProxy() throws {
        let file = try dir.write("lb.conf", """
            global
                tune.vars.txn-max-size 10k

            """)
        let message = "tune.vars.txn-max-size: '10k' is an invalid size"
        let result = runCommand(Paths.swiftlb, ["check", "--config", file])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.err.contains(message), result.err)
        let haproxy = runCommand("/usr/sbin/haproxy", ["-c", "-f", file])
        XCTAssertTrue(haproxy.err.contains(message), haproxy.err)
    }
}
