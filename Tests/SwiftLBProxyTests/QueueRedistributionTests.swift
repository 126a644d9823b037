import Foundation
import XCTest

/// Clients queued when a server changes state, as HAProxy 2.6's queue.c moves them: a server
/// put in maintenance gives the clients queued for it (pinned by its cookie) back to the
/// balancer at once with `option redispatch` (`pendconn_redistribute`); without it they wait
/// for it — a slot it frees still serves them, even in maintenance, else `timeout queue`
/// answers 503; a server taken out of maintenance takes unpinned queued clients at once
/// (`pendconn_grab_from_px`). The same file and the same control-socket commands run in
/// HAProxy and in SwiftLB, with two `maxconn 1` Python servers on loopback; the answers agree.
final class QueueRedistributionTests: XCTestCase {
    struct Answer: Equatable, CustomStringConvertible {
        let status: Int
        /// "s1", "s2" or "-" (no server's answer).
        let servedBy: String
        let waited: TimeInterval
        /// The line the command sent to the backend's log (priority and text).
        let logLine: String
        var description: String { "\(status) from \(servedBy) after \(String(format: "%.2f", waited)) s" }
    }

    /// s1 holds a request for `holdMs` (its `maxconn 1` slot); a second client is queued
    /// (with s1's cookie when `pinned`); 0.3 s later `command` goes to the control socket —
    /// or, with `checkFails`, the port s1's checks go to closes, so they mark it DOWN.
    /// `timeout queue 1500ms`. Returns the queued client's answer, timed from its request.
    private func queuedClient(redispatch: Bool, holdMs: Int, pinned: Bool = true, s2Disabled: Bool = false,
                              command: String = "", checkFails: Bool = false, persist: Bool = false, haproxy: Bool) throws -> Answer {
        let dir = try TempDirectory()
        let s1 = try StreamBackend(in: dir), s2 = try StreamBackend(in: dir), s1Check = try StreamBackend(in: dir)
        defer { s1.stop(); s2.stop(); s1Check.stop() }
        let checks = checkFails ? " check inter 100ms fall 1 rise 1 port \(s1Check.port)" : ""
        let port = freePort()
        let socket = dir.file(haproxy ? "haproxy.sock" : "swiftlb.sock")
        let syslog = try SyslogReceiver()
        let config = "global\n    stats socket \(socket) level admin\n" + differentialHTTPDefaults + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                log 127.0.0.1:\(syslog.port) local0
                timeout queue 1500ms
                \(redispatch ? "option redispatch" : "")
                \(persist ? "option persist" : "")
                cookie SRV insert indirect nocache
                server s1 127.0.0.1:\(s1.port) cookie a maxconn 1\(checks)
                server s2 127.0.0.1:\(s2.port) cookie b maxconn 1\(s2Disabled ? " disabled" : "")

            """
        let child = try startOnSameFile(config, haproxy: haproxy, port: port, in: dir)
        defer { child.stop() }
        let cookie = "Cookie: SRV=a\r\n"
        let holder = try RawClient(port: port, timeout: 8)
        holder.send("GET /sleep?ms=\(holdMs) HTTP/1.1\r\nHost: a\r\n\(cookie)Connection: close\r\n\r\n")
        usleep(300_000)  // it holds s1's slot
        let start = Date()
        let queued = try RawClient(port: port, timeout: 8)
        queued.send("GET /whoami HTTP/1.1\r\nHost: a\r\n\(pinned ? cookie : "")Connection: close\r\n\r\n")
        usleep(300_000)  // it waits in the queue
        _ = syslog.receive(count: 10, within: 0.05)
        if checkFails {
            s1Check.stop()
        } else {
            let control = runCommand("/bin/sh", ["-c", "echo '\(command)' | socat -t 2 - UNIX-CONNECT:\(socket)"])
            XCTAssertEqual(control.status, 0, "\(command): \(control.err)")
        }
        let text = queued.readAll().text
        let waited = Date().timeIntervalSince(start)
        XCTAssertEqual(statusCode(holder.readAll().text), 200, "the holder is served by s1 whatever happens to it")
        let servedBy = text.contains("stream_server \(s1.port)") ? "s1" : text.contains("stream_server \(s2.port)") ? "s2" : "-"
        // The syslog header's date, tag and pid vary; the priority (facility and level) stays.
        let line = syslog.receive(count: 1, within: 2).first?
            .replacingOccurrences(of: #"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [a-z]+\[\d+\]: "#, with: "<$1>", options: .regularExpression)
        return Answer(status: statusCode(text), servedBy: servedBy, waited: waited, logLine: line ?? "")
    }

    /// Runs the scenario in SwiftLB, checks `expect` on its answer, then the same in HAProxy
    /// (when installed): same status, same server.
    private func agree(_ run: (Bool) throws -> Answer, _ expect: (Answer) -> Void) throws {
        let ours = try run(false)
        expect(ours)
        try requireHAProxy()
        let theirs = try run(true)
        expect(theirs)
        XCTAssertEqual([String(ours.status), ours.servedBy], [String(theirs.status), theirs.servedBy], "HAProxy: \(theirs), SwiftLB: \(ours)")
        // (A check's line says how long it took: 0 or 1 ms.)
        XCTAssertEqual(ours.logLine.replacingOccurrences(of: "duration: 1ms", with: "duration: 0ms"),
                       theirs.logLine.replacingOccurrences(of: "duration: 1ms", with: "duration: 0ms"), "the change's log line, with what moved in the queue")
    }

    /// The queued client was balanced to s2 when its server stopped taking clients (`when`),
    /// well before `timeout queue`, and the state change's log line says what moved.
    private func movedToS2(_ a: Answer, _ when: String, logLineEnd: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.status, 200, "\(a)", file: file, line: line)
        XCTAssertEqual(a.servedBy, "s2", "\(a)", file: file, line: line)
        XCTAssertLessThan(a.waited, 1.2, "\(when), not at timeout queue (1.5 s): \(a)", file: file, line: line)
        XCTAssertTrue(a.logLine.hasSuffix(logLineEnd), a.logLine, file: file, line: line)
    }

    func testWithRedispatchClientsQueuedForAServerPutInMaintenanceGoToAnotherAtOnce() throws {
        try agree({ try queuedClient(redispatch: true, holdMs: 3000, command: "disable server app/s1", haproxy: $0) }) { a in
            movedToS2(a, "at the disable (~0.3 s)", logLineEnd: "1 sessions active, 1 requeued, 0 remaining in queue.")
        }
    }

    func testWithRedispatchClientsQueuedForAServerItsChecksMarkDownGoToAnotherAtOnce() throws {
        try agree({ try queuedClient(redispatch: true, holdMs: 3000, checkFails: true, haproxy: $0) }) { a in
            movedToS2(a, "once the check fails (~0.4 s)", logLineEnd: "1 sessions active, 1 requeued, 0 remaining in queue.")
        }
    }

    /// `set server … state drain` moves the queue as maintenance does, and logs HAProxy's
    /// "enters drain state" line with what moved.
    func testWithRedispatchClientsQueuedForADrainedServerGoToAnotherAndTheLineSaysSo() throws {
        try agree({ try queuedClient(redispatch: true, holdMs: 3000, command: "set server app/s1 state drain", haproxy: $0) }) { a in
            movedToS2(a, "at the drain (~0.3 s)", logLineEnd: "Server app/s1 enters drain state. 1 active and 0 backup servers online. 1 sessions requeued, 0 total in queue.")
        }
    }

    func testWithoutRedispatchTheyWaitForItsSlotUntilTimeoutQueue() throws {
        try agree({ try queuedClient(redispatch: false, holdMs: 3000, command: "disable server app/s1", haproxy: $0) }) { a in
            XCTAssertEqual(a.status, 503, "\(a)")
            XCTAssertGreaterThan(a.waited, 1.3, "timeout queue (1.5 s): \(a)")
            XCTAssertLessThan(a.waited, 2.8, "before s1's slot frees (3 s): \(a)")
            XCTAssertTrue(a.logLine.hasSuffix("1 sessions active, 0 requeued, 1 remaining in queue."), a.logLine)
        }
    }

    func testWithoutRedispatchASlotItsServerFreesServesThemEvenInMaintenance() throws {
        try agree({ try queuedClient(redispatch: false, holdMs: 800, command: "disable server app/s1", haproxy: $0) }) { a in
            XCTAssertEqual(a.status, 200, "\(a)")
            XCTAssertEqual(a.servedBy, "s1", "HAProxy's process_srv_queue gives a server's waiters its slot: \(a)")
        }
    }

    /// `option persist`: even with `option redispatch`, clients queued for a server put in
    /// maintenance stay for it (HAProxy's pendconn_redistribute moves none), and its freed slot
    /// serves them.
    func testWithPersistClientsQueuedForAServerPutInMaintenanceStayForIt() throws {
        try agree({ try queuedClient(redispatch: true, holdMs: 800, command: "disable server app/s1", persist: true, haproxy: $0) }) { a in
            XCTAssertEqual(a.status, 200, "\(a)")
            XCTAssertEqual(a.servedBy, "s1", "\(a)")
            XCTAssertTrue(a.logLine.hasSuffix("1 sessions active, 0 requeued, 1 remaining in queue."), a.logLine)
        }
    }

    func testAServerLeavingMaintenanceTakesQueuedClientsAtOnce() throws {
        try agree({ try queuedClient(redispatch: false, holdMs: 3000, pinned: false, s2Disabled: true,
                                     command: "enable server app/s2", haproxy: $0) }) { a in
            XCTAssertEqual(a.status, 200, "\(a)")
            XCTAssertEqual(a.servedBy, "s2", "\(a)")
            XCTAssertLessThan(a.waited, 1.2, "at the enable (~0.3 s), not when s1 frees (3 s): \(a)")
        }
    }
}
