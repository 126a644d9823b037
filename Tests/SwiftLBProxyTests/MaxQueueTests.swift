import Foundation
import NIOConcurrencyHelpers
import XCTest

/// `server … maxqueue N` (the kubeadm HA guide's `default-server … maxconn 250 maxqueue 256`
/// and its copies): how many clients pinned to a full server may wait for it. The same file
/// runs in HAProxy 2.6 and in SwiftLB; the client one past the bound gets the same answer.
final class MaxQueueTests: XCTestCase {
    /// s1 holds one request (`maxconn 1`) and lets one more wait (`maxqueue 1`); three clients
    /// carry s1's cookie. The third finds s1 full and its queue full: 503 at once, or with
    /// `option redispatch`, s2.
    private func third(redispatch: Bool, haproxy: Bool) throws -> (status: Int, body: String, waited: TimeInterval, log: String) {
        let dir = try TempDirectory()
        let stream1 = try StreamBackend(in: dir)
        let stream2 = try StreamBackend(in: dir)
        defer { stream1.stop(); stream2.stop() }
        let port = freePort()
        let config = "global\n    log stdout format raw local0\n" + differentialHTTPDefaults + """
                log global
                option httplog
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                timeout queue 5s
                \(redispatch ? "option redispatch" : "")
                cookie SRV insert indirect nocache
                server s1 127.0.0.1:\(stream1.port) cookie a maxconn 1 maxqueue 1
                server s2 127.0.0.1:\(stream2.port) cookie b

            """
        let child = try startOnSameFile(config, haproxy: haproxy, port: port, in: dir)
        defer { child.stop() }
        let request = "HTTP/1.1\r\nHost: a\r\nCookie: SRV=a\r\nConnection: close\r\n\r\n"
        let first = try RawClient(port: port, timeout: 8)
        first.send("GET /sleep?ms=2500 " + request)
        usleep(300_000)  // it holds s1's slot (2.5 s)
        let second = try RawClient(port: port, timeout: 8)
        second.send("GET /whoami " + request)
        usleep(300_000)  // it waits for s1
        let start = Date()
        let third = try RawClient(port: port, timeout: 8)
        third.send("GET /whoami " + request)
        let (text, _) = third.readAll()
        let waited = Date().timeIntervalSince(start)
        XCTAssertEqual(statusCode(first.readAll().text), 200)
        XCTAssertEqual(statusCode(second.readAll().text), 200, "the one that waited for s1")
        let body = text.components(separatedBy: "\r\n\r\n").dropFirst().joined()
        // The third's log line, from the backend on: `app/s1 0/-1/-1/-1/0 503 … SQVN`.
        _ = waitUntil(timeout: 5) { child.stdout.split(separator: "\n").count >= 3 }
        let line = child.stdout.split(separator: "\n").first { $0.contains(" 503 ") || $0.contains("app/s2") }
        let log = line.map { l in l.split(separator: " ").dropFirst(3).prefix(3).joined(separator: " ") + " " + (l.split(separator: " ").dropFirst(9).first ?? "") } ?? ""
        return (statusCode(text), body.replacingOccurrences(of: "\(stream2.port)", with: "S2"), waited, log)
    }

    func testAClientPastMaxqueueIsRefusedAsInHAProxy() throws {
        let ours = try third(redispatch: false, haproxy: false)
        XCTAssertEqual(ours.status, 503)
        XCTAssertLessThan(ours.waited, 2.0, "refused at once, not after waiting for s1 (2.5 s)")
        try requireHAProxy()
        let theirs = try third(redispatch: false, haproxy: true)
        XCTAssertEqual(theirs.status, ours.status, "HAProxy's answer")
        XCTAssertEqual(ours.log, "app/s1 0/-1/-1/-1/0 503 SQVN")
        XCTAssertEqual(ours.log, theirs.log, "HAProxy's log")
    }

    func testAClientPastMaxqueueGoesToAnotherServerWithRedispatch() throws {
        let ours = try third(redispatch: true, haproxy: false)
        XCTAssertEqual(ours.status, 200)
        XCTAssertTrue(ours.body.contains("S2"), "served by s2: \(ours.body)")
        XCTAssertLessThan(ours.waited, 2.0, "at once, not after waiting for s1")
        try requireHAProxy()
        let theirs = try third(redispatch: true, haproxy: true)
        XCTAssertEqual([theirs.status, theirs.body.contains("S2") ? 1 : 0], [ours.status, 1], "HAProxy's answer: \(theirs.body)")
    }

    /// A freed slot goes to a waiter that can use it: with s1 and s2 full, a client pinned to
    /// s1 queued first and an unpinned one after it, s2's slot freeing serves the unpinned one
    /// at once — the pinned one is not woken for a server it cannot use (and the slot left
    /// idle until s1 frees), as HAProxy's per-server queues behave.
    func testAFreedSlotGoesToTheWaiterThatCanUseIt() throws {
        let dir = try TempDirectory()
        let stream1 = try StreamBackend(in: dir)
        let stream2 = try StreamBackend(in: dir)
        defer { stream1.stop(); stream2.stop() }
        let port = freePort()
        let config = differentialHTTPDefaults + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                timeout queue 10s
                timeout server 20s
                cookie SRV insert indirect nocache
                server s1 127.0.0.1:\(stream1.port) cookie a maxconn 1
                server s2 127.0.0.1:\(stream2.port) cookie b maxconn 1

            """
        let child = try startOnSameFile(config, haproxy: false, port: port, in: dir)
        defer { child.stop() }
        func client(_ target: String, cookie: String?) throws -> RawClient {
            let c = try RawClient(port: port, timeout: 10)
            c.send("GET \(target) HTTP/1.1\r\nHost: a\r\n" + (cookie.map { "Cookie: SRV=\($0)\r\n" } ?? "") + "Connection: close\r\n\r\n")
            return c
        }
        let holdsS1 = try client("/sleep?ms=4000", cookie: "a")
        let holdsS2 = try client("/sleep?ms=800", cookie: "b")
        usleep(300_000)
        let pinned = try client("/whoami", cookie: "a")
        usleep(200_000)
        let start = Date()
        let unpinned = try client("/whoami", cookie: nil)
        let answer = unpinned.readAll().text
        let waited = Date().timeIntervalSince(start)
        XCTAssertEqual(statusCode(answer), 200, answer)
        XCTAssertTrue(answer.contains("\(stream2.port)"), "served by s2: \(answer)")
        XCTAssertLessThan(waited, 2.5, "served when s2 freed (~0.3 s), not when s1 did (~3.5 s)")
        XCTAssertEqual(statusCode(pinned.readAll().text), 200, "the pinned one waited for s1")
        XCTAssertEqual(statusCode(holdsS1.readAll().text), 200)
        XCTAssertEqual(statusCode(holdsS2.readAll().text), 200)
    }

    /// `minconn` with `fullconn` (HAProxy's dynamic maxconn): server s1 (`minconn 1 maxconn 4`,
    /// backend `fullconn 8`) takes one request while the backend is quiet and more as the
    /// backend fills (limit = load × maxconn / fullconn), so four concurrent requests to a server
    /// that answers in 0.6 s finish in the same three waves as on haproxy, not all at once.
    func testMinconnScalesTheServersLimitWithTheBackendsLoadAsHAProxy() throws {
        let dir = try TempDirectory()
        let slow = freePort()
        let server = try startHoldingServer(ports: [slow], holdMilliseconds: 600, in: dir, name: "slowserver")
        defer { server.stop() }
        let both = try SideBySide({ port in """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                fullconn 8
                timeout queue 10s
                server s1 127.0.0.1:\(slow) minconn 1 maxconn 4
            """ }, in: dir)
        defer { both.stop() }
        for (side, port) in zip(["SwiftLB", "HAProxy"], both.ports) {
            let start = Date()
            let clients = try (0..<4).map { _ in try RawClient(port: port, timeout: 10) }
            for client in clients {
                client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                usleep(20_000)  // in order
            }
            // Each answer timed as it comes (read side by side, not one after the other).
            let results = NIOLockedValueBox([(status: Int?, time: Double)](repeating: (nil, 0), count: clients.count))
            DispatchQueue.concurrentPerform(iterations: clients.count) { i in
                let status = statusCode(clients[i].readResponse())
                let time = Date().timeIntervalSince(start)
                results.withLockedValue { $0[i] = (status, time) }
            }
            XCTAssertEqual(results.withLockedValue { $0.map(\.status) }, [200, 200, 200, 200], side)
            let times = results.withLockedValue { $0.map(\.time) }.sorted()
            // Load 1: limit 1; the later three queue (the fourth behind the others although the
            // load of 4 raised the limit to 2: HAProxy's assign_server queues a new request of a
            // roundrobin backend whose queue is not empty); the first one ending, still counted
            // in the load of 4, hands 2 slots on; then 1 again as it empties: waves of exactly
            // 1, 2, 1 (0.6, 1.2, 1.2, 1.8 s) on both.
            let waves = [times.filter { $0 < 0.9 }.count, times.filter { $0 >= 0.9 && $0 < 1.5 }.count, times.filter { $0 >= 1.5 }.count]
            XCTAssertEqual(waves, [1, 2, 1], "\(side): \(times)")
            XCTAssertLessThan(times.last!, 2.2, "\(side): more than one at a time once loaded: \(times)")
        }
    }

    /// A backup (never picked while the active server is up) must not make the queue wake
    /// waiters who then queue again and wake the next: one request waits 1.2 s for the
    /// active server's only slot, and SwiftLB's CPU stays near idle meanwhile.
    func testAWaiterDoesNotSpinBesideABackupItCannotUse() throws {
        try assertTwoServedWithoutSpinning(pause: 0) { slow in
            "    server a 127.0.0.1:\(slow) maxconn 1\n    server sorry 127.0.0.1:\(slow) backup"
        }
    }

    /// A retry never waits for a slot of the server that refused it: roundrobin, `retries 3`,
    /// a and b with `maxconn 1`; a refuses connections (no checks to notice), b holds the
    /// first request 1.2 s. The second, refused by a, queues for b: a's free slot must not wake
    /// it (it would go nowhere and queue again, a busy loop until b frees up).
    func testARetryDoesNotSpinOnTheSlotOfTheServerThatRefusedIt() throws {
        let refusing = refusedPort()
        try assertTwoServedWithoutSpinning(pause: 200_000) { slow in
            "    balance roundrobin\n    retries 3\n    server a 127.0.0.1:\(refusing) maxconn 1\n    server b 127.0.0.1:\(slow) maxconn 1"
        }
    }

    /// Two requests to backend `app` (`timeout queue 10s` and the lines `backend` gives for the
    /// port of a server that holds each request 1.2 s), the second `pause` µs after the first:
    /// both are answered 200 in turn, and SwiftLB's CPU stays near idle over the 2.4 s.
    private func assertTwoServedWithoutSpinning(pause: useconds_t, _ backend: (Int) -> String) throws {
        let dir = try TempDirectory()
        let slow = freePort(), port = freePort()
        let server = try startHoldingServer(ports: [slow], holdMilliseconds: 1200, in: dir, name: "slowserver")
        defer { server.stop() }
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                timeout queue 10s
            \(backend(slow))

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let clients = try (0..<2).map { _ in try RawClient(port: port, timeout: 10) }
        let before = cpuTicks(lb.child.pid)
        for (i, client) in clients.enumerated() {
            if i > 0 { usleep(pause) }
            client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        }
        for client in clients { XCTAssertEqual(statusCode(client.readResponse()), 200) }
        let ticks = cpuTicks(lb.child.pid) - before
        // 2.4 s of waiting; a spinning loop burns most of it (100 ticks a second).
        XCTAssertLessThan(ticks, 60, "swiftlb used \(ticks) ticks of CPU while a request waited")
    }

    /// utime + stime of a process, in clock ticks.
    private func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}
