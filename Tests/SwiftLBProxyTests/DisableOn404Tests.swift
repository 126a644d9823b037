import Foundation
import XCTest

/// `http-check disable-on-404` against HAProxy 2.6 with the same configuration text: an nginx
/// serves the check URI from a file; removing the file makes the check answer 404, and the
/// server goes NOLB (HAProxy's "stopping"): clients stuck to it by their cookie stay, new
/// clients go elsewhere; the stats say NOLB and the log lines are HAProxy's ("is stopping",
/// "conditionally succeeded"). Putting the file back brings the server UP again.
final class DisableOn404Tests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// `be1` logs each check (local0) and takes the traffic (`s1` checked, `s2` not); `be2`
    /// checks the same server alone and logs only its state changes (local1).
    private func config(front: Int, nginx: NginxBackends, udp: Int, socket: String) -> String {
        """
        global
            stats socket \(socket) level admin
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
            option httpchk GET /up
            http-check disable-on-404
            cookie SRV insert indirect nocache
            server s1 127.0.0.1:\(nginx.ports[0]) check inter 200ms cookie s1
            server s2 127.0.0.1:\(nginx.ports[1]) cookie s2
        backend be2
            log 127.0.0.1:\(udp) local1
            option httpchk GET /up
            http-check disable-on-404
            server s1 127.0.0.1:\(nginx.ports[0]) check inter 200ms

        """
    }

    private func lines(_ receiver: SyslogReceiver, count: Int, within seconds: Double) -> [String] {
        receiver.serverLines(count: count, within: seconds)
    }

    /// `show stat`'s status cell of `backend/server` over a stats socket (HAProxy's or SwiftLB's).
    private func status(_ socket: String, _ backend: String, _ server: String) -> String? {
        let out = runCommand("/bin/sh", ["-c", "echo 'show stat' | socat -t 2 - UNIX-CONNECT:\(socket)"]).out
        let header = out.split(separator: "\n").first.map { $0.dropFirst(2).split(separator: ",", omittingEmptySubsequences: false) } ?? []
        guard let column = header.firstIndex(of: "status") else { return nil }
        for row in out.split(separator: "\n") {
            let cells = row.split(separator: ",", omittingEmptySubsequences: false)
            if cells.count > column, cells[0] == backend, cells[1] == server { return String(cells[column]) }
        }
        return nil
    }

    /// Who answers `count` requests, with or without the cookie that pins `s1`.
    private func answers(_ port: Int, cookie: String?, count: Int = 6) -> Set<String> {
        var args = cookie.map { ["-H", "Cookie: SRV=\($0)"] } ?? []
        args += (0..<count).map { _ in "http://127.0.0.1:\(port)/" }
        return Set(curl(args).out.split(separator: "\n").map(String.init))
    }

    func testA404PutsTheServerInNOLBAsHAProxyDoes() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let upFile = nginx.root + "/www/up"
        FileManager.default.createFile(atPath: upFile, contents: Data("up\n".utf8))
        let (hudp, sudp) = (try SyslogReceiver(), try SyslogReceiver())
        let (hfront, sfront) = (freePort(), freePort())
        let (hsock, ssock) = (dir.file("h.sock"), dir.file("s.sock"))
        let hcfg = try dir.write("haproxy.cfg", config(front: hfront, nginx: nginx, udp: hudp.port, socket: hsock))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hfront), haproxy.stderr)
        let lb = try SwiftLBInstance(config: config(front: sfront, nginx: nginx, udp: sudp.port, socket: ssock), waitPort: sfront, in: dir)
        defer { lb.stop() }

        func expect(_ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(lines(hudp, count: expected.count, within: 5), expected, "HAProxy, \(haproxy.stderr)", file: file, line: line)
            XCTAssertEqual(lines(sudp, count: expected.count, within: 5), expected, "SwiftLB, \(lb.child.stderr)", file: file, line: line)
        }
        // Phase 1: the first check passes (logged once with log-health-checks); both serve.
        expect([#"<133>Health check for server be1/s1 succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 3/3 UP."#])
        for port in [hfront, sfront] { XCTAssertEqual(answers(port, cookie: nil), ["node1", "node2"], "port \(port)") }
        XCTAssertEqual(status(hsock, "be1", "s1"), "UP")
        XCTAssertEqual(status(ssock, "be1", "s1"), "UP")

        // Phase 2: the check answers 404: NOLB, new clients go to s2 only, s1's own stay.
        try FileManager.default.removeItem(atPath: upFile)
        expect([
            #"<133>Health check for server be1/s1 conditionally succeeded, reason: Layer7 check conditionally passed, code: 404, check duration: Nms, status: 3/3 UP."#,
            #"<133>Server be1/s1 is stopping. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."#,
            #"<136>backend be2 has no server available!"#,
            #"<141>Server be2/s1 is stopping, reason: Layer7 check conditionally passed, code: 404, check duration: Nms. 0 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."#,
        ])
        for (name, port, socket) in [("HAProxy", hfront, hsock), ("SwiftLB", sfront, ssock)] {
            XCTAssertEqual(status(socket, "be1", "s1"), "NOLB", name)
            XCTAssertEqual(answers(port, cookie: nil), ["node2"], "\(name): a NOLB server gets no new client")
            XCTAssertEqual(answers(port, cookie: "s1"), ["node1"], "\(name): a client stuck to a NOLB server keeps it")
        }
        // Nothing more while the 404s go on.
        usleep(600_000)
        XCTAssertEqual(lines(sudp, count: 1, within: 0.1), [], "SwiftLB repeats itself")
        _ = lines(hudp, count: 1, within: 0.1)

        // Phase 3: the check passes again: UP, new clients return to s1.
        FileManager.default.createFile(atPath: upFile, contents: Data("up\n".utf8))
        expect([
            #"<133>Health check for server be1/s1 succeeded, reason: Layer7 check passed, code: 200, check duration: Nms, status: 3/3 UP."#,
            #"<133>Server be1/s1 is UP. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."#,
            #"<141>Server be2/s1 is UP, reason: Layer7 check passed, code: 200, check duration: Nms. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."#,
        ])
        for (name, port, socket) in [("HAProxy", hfront, hsock), ("SwiftLB", sfront, ssock)] {
            XCTAssertEqual(status(socket, "be1", "s1"), "UP", name)
            XCTAssertEqual(answers(port, cookie: nil), ["node1", "node2"], name)
        }

        // Phase 4: a NOLB server whose checks fail goes DOWN at notice level (it was not
        // taking new traffic), as HAProxy logs it.
        try FileManager.default.removeItem(atPath: upFile)
        _ = lines(sudp, count: 4, within: 5)
        _ = lines(hudp, count: 4, within: 5)
        nginx.stop()
        let down = #"<133>Server be1/s1 is DOWN. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."#
        let (h, s) = (lines(hudp, count: 8, within: 3), lines(sudp, count: 8, within: 3))
        XCTAssertTrue(h.contains(down), "HAProxy: \(h)")
        XCTAssertTrue(s.contains(down), "SwiftLB: \(s)")
    }
}
