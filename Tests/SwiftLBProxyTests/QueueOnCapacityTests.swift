import Foundation
import NIOConcurrencyHelpers
import XCTest

/// The backend queue follows a server that may take more clients, and outlives a reload, as
/// HAProxy 2.6's queue.c and server.c: `set maxconn server` raising a limit serves waiters at
/// once (`process_srv_queue`), a weight raised from 0 too; clients queued when SwiftLB reloads
/// are still answered. Python servers on loopback; haproxy beside SwiftLB where it is the spec.
final class QueueOnCapacityTests: XCTestCase {
    /// A configuration with an admin `stats socket` and frontend `fe` on `port` sending to
    /// backend `app`, whose lines (after `backend app`) are `app`; `more` follows.
    private func adminConfig(socket: String, port: Int, app: String, more: String = "") -> String {
        "global\n    stats socket \(socket) level admin\n" + differentialHTTPDefaults + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
            \(app)
            \(more)

            """
    }

    /// One command to the control socket: the exit status of socat and the answer, trimmed.
    private func say(_ command: String, to socket: String) -> (status: Int32, out: String) {
        let r = runCommand("/bin/sh", ["-c", "echo '\(command)' | socat -t 2 - UNIX-CONNECT:\(socket)"])
        return (r.status, r.out.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    /// When each of `clients` got its answer, in seconds after `start` (read side by side).
    private func answerTimes(_ clients: [RawClient], since start: Date) -> [(status: Int?, time: Double)] {
        let results = NIOLockedValueBox([(status: Int?, time: Double)](repeating: (nil, 0), count: clients.count))
        DispatchQueue.concurrentPerform(iterations: clients.count) { i in
            let status = statusCode(clients[i].readResponse())
            let time = Date().timeIntervalSince(start)
            results.withLockedValue { $0[i] = (status, time) }
        }
        return results.withLockedValue { $0 }
    }

    /// Backend `app` (its lines from `app`, given s1's and s2's ports) in SwiftLB or HAProxy: a
    /// client holds a slot for `holdMs`, `queued` clients of `queuedMs` each queue behind it, and
    /// at 0.5 s `command` goes to the control socket (its answer must be empty), or `change`
    /// runs. Returns when each queued client was answered, in seconds from the first request.
    private func queuedBehindAHolder(haproxy: Bool, app: (Int, Int) -> String, holdMs: Int, queued count: Int, queuedMs: Int,
                                     command: String = "", change: () throws -> Void = {}) throws -> [(status: Int?, time: Double)] {
        let dir = try TempDirectory()
        let s1 = try StreamBackend(in: dir), s2 = try StreamBackend(in: dir)
        defer { s1.stop(); s2.stop() }
        let port = freePort()
        let socket = dir.file(haproxy ? "haproxy.sock" : "swiftlb.sock")
        let child = try startOnSameFile(adminConfig(socket: socket, port: port, app: app(s1.port, s2.port)), haproxy: haproxy, port: port, in: dir)
        defer { child.stop() }
        let start = Date()
        let holder = try RawClient(port: port, timeout: 20)
        holder.send("GET /sleep?ms=\(holdMs) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        usleep(100_000)
        let queued = try (0..<count).map { _ in try RawClient(port: port, timeout: 20) }
        for client in queued {
            client.send("GET /sleep?ms=\(queuedMs) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            usleep(50_000)
        }
        usleep(UInt32(max(0, 0.5 - Date().timeIntervalSince(start)) * 1_000_000))
        if command.isEmpty {
            try change()
        } else {
            let control = say(command, to: socket)
            XCTAssertEqual(control.status, 0)
            XCTAssertEqual(control.out, "", "\(command): no answer but the empty one")
        }
        let times = answerTimes(queued, since: start)
        XCTAssertEqual(statusCode(holder.readAll().text), 200)
        return times
    }

    /// s1 (`maxconn 1`) holds a 1.5 s request; three clients queue (1 s each); at 0.5 s
    /// `set maxconn server app/s1 3`: two of them start at once (answered ~1.5 s), the third
    /// when the first request frees its slot (~2.5 s). Without the wake, none before 2.5 s.
    private func raisedMaxconn(haproxy: Bool) throws -> [(status: Int?, time: Double)] {
        try queuedBehindAHolder(haproxy: haproxy, app: { s1, _ in "    timeout queue 10s\n    server s1 127.0.0.1:\(s1) maxconn 1" },
                                holdMs: 1500, queued: 3, queuedMs: 1000, command: "set maxconn server app/s1 3")
    }

    /// Two of three queued clients start at the change (~1.5 s), the third when the 1.5 s
    /// request ends (~2.5 s).
    private func twoAtOnce(_ times: [(status: Int?, time: Double)], _ side: String) {
        XCTAssertEqual(times.map(\.status), [200, 200, 200], side)
        let sorted = times.map(\.time).sorted()
        XCTAssertEqual(sorted.filter { $0 < 2.1 }.count, 2, "\(side): two start at the change (~1.5 s), the third when the 1.5 s request ends (~2.5 s): \(sorted)")
        XCTAssertGreaterThan(sorted[2], 2.2, "\(side): \(sorted)")
    }

    func testRaisingMaxconnOverTheSocketServesQueuedClientsAtOnceAsHAProxy() throws {
        twoAtOnce(try raisedMaxconn(haproxy: false), "SwiftLB")
        try requireHAProxy()
        twoAtOnce(try raisedMaxconn(haproxy: true), "HAProxy")
    }

    /// The same through an agent (`agent-check`, every 100 ms) whose answer becomes
    /// `maxconn:3` at 0.5 s: HAProxy's tcpcheck.c applies it with the CLI's function, which
    /// runs process_srv_queue.
    func testAnAgentRaisingMaxconnServesQueuedClientsAtOnceAsHAProxy() throws {
        func run(haproxy: Bool) throws -> [(status: Int?, time: Double)] {
            let dir = try TempDirectory()
            let agentPort = freePort()
            let reply = try dir.write("reply", "up\n")
            let script = """
                import socket
                s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", \(agentPort))); s.listen(16)
                for _ in range(500):
                    c, _ = s.accept()
                    c.sendall(open("\(reply)", "rb").read())
                    c.close()
                """
            let agent = try ChildProcess("/usr/bin/env", ["python3", "-c", script], logDirectory: dir, name: "agent")
            defer { agent.stop() }
            XCTAssertTrue(waitForPort(agentPort))
            return try queuedBehindAHolder(haproxy: haproxy, app: { s1, _ in
                "    timeout queue 10s\n    server s1 127.0.0.1:\(s1) maxconn 1 agent-check agent-port \(agentPort) agent-inter 100ms"
            }, holdMs: 1500, queued: 3, queuedMs: 1000) {
                try "maxconn:3\n".write(toFile: reply, atomically: true, encoding: .utf8)
            }
        }
        twoAtOnce(try run(haproxy: false), "SwiftLB")
        try requireHAProxy()
        twoAtOnce(try run(haproxy: true), "HAProxy")
    }

    /// s1 (`maxconn 4 slowstart 4s`) starts in maintenance, s2 (`maxconn 1`) holds an 8 s
    /// request, four 5 s clients queue; at 0.5 s `enable server app/s1`: its limit ramps with
    /// the slowstart (HAProxy's srv_dynamic_maxconn: about 1, 1, 2, 3, then 4 each second) and the
    /// ramp hands it queued clients as it grows (server_warmup's pendconn_grab_from_px), so they
    /// start one by one over 4 s, not all four at once nor only when a slot frees.
    private func slowstartRamp(haproxy: Bool) throws -> [(status: Int?, time: Double)] {
        try queuedBehindAHolder(haproxy: haproxy, app: { s1, s2 in """
                timeout queue 20s
                timeout server 15s
                server s1 127.0.0.1:\(s1) maxconn 4 slowstart 4s disabled
                server s2 127.0.0.1:\(s2) maxconn 1
            """ }, holdMs: 8000, queued: 4, queuedMs: 5000, command: "enable server app/s1")
    }

    func testSlowstartRampsTheLimitAndHandsQueuedClientsOnAsItGrowsAsHAProxy() throws {
        func check(_ times: [(status: Int?, time: Double)], _ side: String) {
            XCTAssertEqual(times.map(\.status), [200, 200, 200, 200], side)
            let sorted = times.map(\.time).sorted()
            XCTAssertLessThan(sorted[0], 6.3, "\(side): one at the enable (~5.5 s): \(sorted)")
            XCTAssertEqual(sorted.filter { $0 < sorted[0] + 0.8 }.count, 1, "\(side): only one at first: \(sorted)")
            // (HAProxy counts whole seconds since the server came back: its steps can jump.)
            XCTAssertGreaterThan(sorted[3] - sorted[0], 1.5, "\(side): ramped over seconds: \(sorted)")
            XCTAssertLessThan(sorted[1], 8.5, "\(side): the second by the ramp (~7.5 s), not when the first's slot frees (10.5 s): \(sorted)")
            XCTAssertLessThan(sorted[3], 10.3, "\(side): the last by the ramp's end (~9.5 s): \(sorted)")
        }
        check(try slowstartRamp(haproxy: false), "SwiftLB")
        try requireHAProxy()
        check(try slowstartRamp(haproxy: true), "HAProxy")
    }

    /// Refusals with HAProxy's words; a backend that cannot queue refuses plainly.
    func testSetMaxconnServerRefusesGarbageAndABackendWithoutAQueue() throws {
        let dir = try TempDirectory()
        let s1 = try StreamBackend(in: dir)
        defer { s1.stop() }
        let port = freePort()
        let socket = dir.file("swiftlb.sock")
        let lb = try SwiftLBInstance(config: adminConfig(socket: socket, port: port, app: "    server s1 127.0.0.1:\(s1.port) maxconn 1",
                                                         more: "backend plain\n    server p1 127.0.0.1:\(s1.port)"), waitPort: port, in: dir)
        defer { lb.stop() }
        func say(_ command: String) -> String { self.say(command, to: socket).out }
        XCTAssertEqual(say("set maxconn server app/s1 x2"), "maxconn string empty or preceded by garbage")
        XCTAssertEqual(say("set maxconn server app/s1 2x"), "Trailing garbage in maxconn string")
        XCTAssertEqual(say("set maxconn server app/s1"), "Require <maxconn>.")
        XCTAssertEqual(say("set maxconn server app/nope 2"), "No such server.")
        XCTAssertTrue(say("set maxconn server plain/p1 2").hasPrefix("'set maxconn server' is not supported by SwiftLB"))
        XCTAssertEqual(say("set maxconn server app/s1 5"), "")
        XCTAssertTrue(say("show stat").split(separator: "\n").contains { $0.hasPrefix("app,s1,") && $0.split(separator: ",", omittingEmptySubsequences: false)[6] == "5" },
                      "slim 5: \(say("show stat"))")
    }

    /// s1 (`maxconn 1`) and s2 (weight 0); s1 holds a 1.5 s request, one client queues; at
    /// 0.4 s `set weight app/s2 1`: s2 serves it at once. (HAProxy 2.6.12's srv_update_status
    /// moves no queued client on a weight change: there it waits for s1, ~1.5 s.)
    func testAWeightRaisedFromZeroServesQueuedClientsAtOnce() throws {
        let dir = try TempDirectory()
        let s1 = try StreamBackend(in: dir), s2 = try StreamBackend(in: dir)
        defer { s1.stop(); s2.stop() }
        let port = freePort()
        let socket = dir.file("swiftlb.sock")
        let lb = try SwiftLBInstance(config: adminConfig(socket: socket, port: port, app: """
                timeout queue 10s
                server s1 127.0.0.1:\(s1.port) maxconn 1
                server s2 127.0.0.1:\(s2.port) maxconn 1 weight 0
            """), waitPort: port, in: dir)
        defer { lb.stop() }
        let start = Date()
        let holder = try RawClient(port: port, timeout: 10)
        holder.send("GET /sleep?ms=1500 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        usleep(100_000)
        let queued = try RawClient(port: port, timeout: 10)
        queued.send("GET /whoami HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        usleep(300_000)
        XCTAssertEqual(say("set weight app/s2 1", to: socket).status, 0)
        let answer = queued.readAll().text
        let waited = Date().timeIntervalSince(start)
        XCTAssertEqual(statusCode(answer), 200, answer)
        XCTAssertTrue(answer.contains("stream_server \(s2.port)"), "served by s2: \(answer)")
        XCTAssertLessThan(waited, 1.2, "at the weight change (~0.4 s), not when s1 frees (1.5 s)")
        XCTAssertEqual(statusCode(holder.readAll().text), 200)
    }

    /// `maxconn 1`, a 1 s server, one request in flight and three queued; lb.conf is rewritten
    /// (a new frontend) and SIGHUP reloads it: all four are answered 200 in turn by the retired
    /// runtime's backend, whose queue keeps being served (as HAProxy's old process serves its
    /// own queue), and a request made after the reload is answered too.
    func testClientsQueuedBeforeAReloadAreAllServed() throws {
        try clientsQueuedBefore(reloads: 1)
    }

    /// The same with two reloads 100 ms apart: the middle runtime may be gone while the first
    /// still has clients queued, and the request made after them waits in the third — a slot
    /// freed in any of them reaches the others.
    func testClientsQueuedBeforeTwoReloadsInARowAreAllServed() throws {
        try clientsQueuedBefore(reloads: 2)
    }

    private func clientsQueuedBefore(reloads: Int) throws {
        let dir = try TempDirectory()
        let s1 = try StreamBackend(in: dir)
        defer { s1.stop() }
        let port = freePort(), extra = (0..<reloads).map { _ in freePort() }
        func config(extraFrontends: Int) -> String {
            differentialHTTPDefaults + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    default_backend app
                \(extra.prefix(extraFrontends).map { "frontend more\($0)\n    bind 127.0.0.1:\($0)\n    default_backend app" }.joined(separator: "\n"))
                backend app
                    timeout queue 15s
                    server s1 127.0.0.1:\(s1.port) maxconn 1

                """
        }
        let lb = try SwiftLBInstance(config: config(extraFrontends: 0), waitPort: port, in: dir)
        defer { lb.stop() }
        let start = Date()
        let clients = try (0..<4).map { _ in try RawClient(port: port, timeout: 15) }
        for client in clients {
            client.send("GET /sleep?ms=1000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            usleep(50_000)
        }
        usleep(200_000)
        for reload in 1...reloads {
            if reload > 1 { usleep(100_000) }
            try config(extraFrontends: reload).write(toFile: lb.configPath, atomically: true, encoding: .utf8)
            lb.child.signal(SIGHUP)
        }
        XCTAssertNotNil(waitUntil(timeout: 5) { lb.child.stderr.components(separatedBy: "SIGHUP: configuration reloaded").count > reloads },
                        lb.child.stderr)
        XCTAssertTrue(waitForPort(extra.last!), "the new frontend listens")
        let after = try RawClient(port: extra.last!, timeout: 15)
        after.send("GET /whoami HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let times = answerTimes(clients + [after], since: start)
        XCTAssertEqual(times.map(\.status), [200, 200, 200, 200, 200], "\(times)")
        let sorted = times.prefix(4).map(\.time).sorted()
        XCTAssertGreaterThan(sorted[3], 3.5, "one at a time (maxconn 1 held across the reloads): \(sorted)")
        XCTAssertLessThan(sorted[3], 8, "served in turn, not at timeout queue: \(sorted)")
        XCTAssertLessThan(times[4].time, 9, "the one after the reloads too: \(times)")
    }
}
