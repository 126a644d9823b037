import Foundation
import XCTest

/// What a backend's log targets receive about its servers, against HAProxy 2.6 with the same
/// configuration text: with `option log-health-checks` each change of a check's status or of
/// the rise/fall count ("Health check for server … failed, reason: Layer4 connection problem,
/// info: \"Connection refused\" …"), and with or without it the state changes ("Server … is
/// DOWN", "is UP", "backend … has no server available!") at HAProxy's levels. One server is
/// a live nginx, the other a port nobody listens on until the test starts nginx there.
final class HealthCheckLogTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// `be1` logs each check to UDP syslog (local0); `be2` only its state changes, to a unix
    /// socket (local1); `be3` (one dead server) says when it has none left.
    private func config(front: Int, live: Int, dead: Int, udp: Int, unix: String) -> String {
        """
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 5s
            timeout check 1s
        frontend fe
            bind 127.0.0.1:\(front)
            default_backend be1
        backend be1
            log 127.0.0.1:\(udp) local0
            option log-health-checks
            option httpchk GET /health
            default-server check inter 200ms rise 2 fall 1
            server srv1 127.0.0.1:\(live)
            server srv2 127.0.0.1:\(dead)
        backend be2
            log \(unix) local1
            option httpchk GET /health
            default-server check inter 200ms rise 2 fall 1
            server srv1 127.0.0.1:\(live)
            server srv2 127.0.0.1:\(dead)
        backend be3
            log 127.0.0.1:\(udp) local0
            server only 127.0.0.1:\(dead) check inter 200ms rise 2 fall 1

        """
    }

    private func lines(_ receiver: SyslogReceiver, count: Int, within seconds: Double) -> [String] {
        receiver.serverLines(count: count, within: seconds)
    }

    func testCheckAndStateLinesAgreeWithHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let nginx = try NginxBackends(count: 2, in: dir, separate: true)
        defer { nginx.stop() }
        nginx.kill(1)  // the dead server, until phase 2
        let (live, dead) = (nginx.ports[0], nginx.ports[1])
        let (hudp, sudp) = (try SyslogReceiver(), try SyslogReceiver())
        let (hunix, sunix) = (try SyslogReceiver(unixPath: dir.file("h.sock")), try SyslogReceiver(unixPath: dir.file("s.sock")))
        let (hfront, sfront) = (freePort(), freePort())

        let hcfg = try dir.write("haproxy.cfg", config(front: hfront, live: live, dead: dead, udp: hudp.port, unix: dir.file("h.sock")))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hfront), haproxy.stderr)
        let lb = try SwiftLBInstance(config: config(front: sfront, live: live, dead: dead, udp: sudp.port, unix: dir.file("s.sock")), waitPort: sfront, in: dir)
        defer { lb.stop() }

        // Phase 1: srv1 passes, srv2 fails and goes DOWN (fall 1); be3 has nothing left.
        let expectedUDP = [
            #"<128>backend be3 has no server available!"#,
            #"<129>Server be1/srv2 is DOWN. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."#,
            #"<129>Server be3/only is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: Nms. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."#,
            #"<133>Health check for server be1/srv1 succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 1/1 UP."#,
            #"<133>Health check for server be1/srv2 failed, reason: Layer4 connection problem, info: "Connection refused", check duration: Nms, status: 0/2 DOWN."#,
        ]
        let expectedUnix = [
            #"<137>Server be2/srv2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: Nms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."#,
        ]
        /// Both receivers of both proxies get the expected lines; returns SwiftLB's unix ones.
        func expect(udp: [String], unix: [String], file: StaticString = #filePath, line: UInt = #line) -> [String] {
            let (h, s) = (lines(hudp, count: udp.count, within: 5), lines(sudp, count: udp.count, within: 5))
            let (hu, su) = (lines(hunix, count: unix.count, within: 2), lines(sunix, count: unix.count, within: 2))
            XCTAssertEqual(h, udp, "HAProxy, \(haproxy.stderr)", file: file, line: line)
            XCTAssertEqual(s, udp, "SwiftLB, \(lb.child.stderr)", file: file, line: line)
            XCTAssertEqual(hu, unix, "HAProxy", file: file, line: line)
            XCTAssertEqual(su, unix, "SwiftLB", file: file, line: line)
            return su
        }
        let su1 = expect(udp: expectedUDP, unix: expectedUnix)

        // Nothing more while nothing changes: the same results are not logged again.
        usleep(600_000)
        XCTAssertEqual(lines(sudp, count: 1, within: 0.1), [], "SwiftLB repeats itself")
        XCTAssertEqual(lines(sunix, count: 1, within: 0.1), [], "SwiftLB repeats itself")
        _ = lines(hudp, count: 1, within: 0.1)
        _ = lines(hunix, count: 1, within: 0.1)

        // Phase 2: a listener on the dead port; two passed checks bring srv2 back (rise 2).
        try nginx.start(1)
        let expectedUDP2 = [
            #"<133>Health check for server be1/srv2 succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 1/1 UP."#,
            #"<133>Health check for server be1/srv2 succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 1/2 DOWN."#,
            #"<133>Server be1/srv2 is UP. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."#,
            #"<133>Server be3/only is UP, reason: Layer4 check passed, check duration: Nms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."#,
        ]
        let expectedUnix2 = [
            #"<141>Server be2/srv2 is UP, reason: Layer7 check passed, code: 200, check duration: Nms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."#,
        ]
        let su2 = expect(udp: expectedUDP2, unix: expectedUnix2)
        // Without the option, no single check is logged.
        XCTAssertFalse((su1 + su2).contains { $0.contains("Health check for") })
    }
}
