import Foundation
import XCTest

/// Global `set-var` / `set-var-fmt` (HAProxy's ssl_errors.vtc and vars.vtc set process
/// variables this way): the same file run by HAProxy 2.6 and by SwiftLB answers a request with
/// the same variables, read back by `http-request return … lf-string`.
final class GlobalSetVarTests: XCTestCase {
    func testProcessVariablesAreSetAtLoadAsHAProxySetsThem() throws {
        let dir = try TempDirectory()
        func config(_ port: Int) -> String {
            """
            global
                set-var proc.mask str(7FFFFF),hex2i
                set-var proc.word str("a phrase")
                set-var proc.copy var(proc.word)
                set-var-fmt proc.line "%[var(proc.copy)] and %[var(proc.mask)]"
            defaults
                mode http
                timeout client 2s
                timeout connect 2s
                timeout server 2s
            frontend f
                bind 127.0.0.1:\(port)
                http-request return status 200 content-type text/plain lf-string "mask=%[var(proc.mask)] line=%[var(proc.line)] unset=%[var(proc.unset)]."

            """
        }
        let ours = freePort()
        let swiftlb = try SwiftLBInstance(config: config(ours), waitPort: ours, in: dir)
        defer { swiftlb.stop() }
        let ourAnswer = curl(["-s", "http://127.0.0.1:\(ours)/"], maxTime: 5).out
        XCTAssertEqual(ourAnswer, "mask=8388607 line=a phrase and 8388607 unset=.")

        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let theirs = freePort()
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("h.cfg", config(theirs))], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(theirs), "haproxy did not start: \(haproxy.stderr)")
        XCTAssertEqual(curl(["-s", "http://127.0.0.1:\(theirs)/"], maxTime: 5).out, ourAnswer, "HAProxy's answer to the same file")
    }

    /// A request's fetch has no value when the file loads: both refuse it at that line.
    func testAFetchOfTheRequestIsRefusedAsHAProxyRefusesIt() throws {
        let dir = try TempDirectory()
        let path = try dir.write("v.cfg", "global\n    set-var proc.host req.hdr(host)\ndefaults\n    mode http\n")
        let ours = runCommand(Paths.swiftlb, ["check", "-c", path])
        XCTAssertEqual(ours.status, 1)
        XCTAssertTrue(ours.err.contains("v.cfg:2] : 'set-var' : 'req.hdr(host)': a fetch of a connection or a request is not available"), ours.err)
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let theirs = runCommand("/usr/sbin/haproxy", ["-c", "-f", path])
        XCTAssertEqual(theirs.status, 1)
        XCTAssertTrue(theirs.err.contains("v.cfg:2] : fetch method 'set-var(proc.host)' extracts information from 'HTTP request headers'"), theirs.err)
    }
}
