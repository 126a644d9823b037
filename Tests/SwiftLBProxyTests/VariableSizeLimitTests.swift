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
        // undefined value (it prints its memory: a pointer, then 0), SwiftLB without a value.
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
                let pattern = "x-vars: " + NSRegularExpression.escapedPattern(for: expected).replacingOccurrences(of: "\\?", with: isHAProxy ? "[0-9]+" : "") + "\r\n"
                for round in 1...2 {
                    let out = curl(["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]).out.lowercased()
                    XCTAssertNotNil(out.range(of: pattern, options: .regularExpression), "\(limit), port \(port), request \(round): \(out)")
                }
            }
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
