import Foundation
import XCTest

/// A burst of clients over `maxconn`, side by side with haproxy 2.6: those over the limit wait
/// in the kernel's backlog and are served (here: each given its 408) as slots free up — none
/// is accepted and dropped unanswered. SwiftLB used to take up to 64 sockets per accept read and close
/// the ones over the limit at once.
final class AcceptBurstTests: XCTestCase {
    /// Four slots for the process, and a client that sends nothing has 1 s.
    private let preamble = """
        global
            maxconn 4
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 5s
            timeout http-request 1s

        """

    func testABurstOverMaxconnWaitsInTheBacklogAndNoneIsDropped() throws {
        let dir = try TempDirectory()
        let sides = try SideBySide({ port in
            self.preamble + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                server s 127.0.0.1:9
            """
        }, in: dir)
        defer { sides.stop() }
        Thread.sleep(forTimeInterval: 0.3)  // the harness's readiness probes have closed
        for (side, port) in zip(["SwiftLB", "haproxy"], sides.ports) {
            // Nine clients at once, none sending a byte: four are taken, five wait.
            let clients = try (0..<9).map { _ in try RawClient(port: port, timeout: 0.2) }
            Thread.sleep(forTimeInterval: 0.4)
            let early = clients.map { $0.readAll() }
            XCTAssertEqual(early.filter { $0.closed && $0.text.isEmpty }.count, 0, "\(side): closed unanswered: \(early.map(\.text))")
            // Each is answered in turn: those taken at `timeout http-request`, the others after
            // (haproxy may answer some idle ones at once to make room: a 408 all the same).
            for client in clients { client.setReceiveTimeout(6) }
            let answers = zip(early, clients).map { first, client in statusCode(first.closed ? first.text : first.text + client.readAll().text) }
            XCTAssertEqual(answers, Array(repeating: 408, count: 9), side)
        }
    }

    /// Two listeners: the process's slots taken on one, a burst on the other waits too — also
    /// when that listener's read was armed before the slots went (it used to accept up to its
    /// batch and close them). And a frontend's `maxconn` bounds its binds together (it was
    /// counted per bind). Each program in turn on the same text.
    func testOtherListenersWaitWhenTheSlotsAreGone() throws {
        let dir = try TempDirectory()
        let server = try ScriptedBackend(.raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false))
        defer { server.stop() }
        for who in ["swiftlb", "haproxy"] {
            let (a, b, c1, c2) = (freePort(), freePort(), freePort(), freePort())
            let config = preamble + """
                frontend fa
                    bind 127.0.0.1:\(a)
                    default_backend be
                frontend fb
                    bind 127.0.0.1:\(b)
                    default_backend be
                frontend fc
                    maxconn 2
                    bind 127.0.0.1:\(c1)
                    bind 127.0.0.1:\(c2)
                    default_backend be
                backend be
                    server s 127.0.0.1:\(server.port)

                """
            let child = try startEither(who, config, port: a, in: dir)
            defer { child.stop() }
            XCTAssertTrue(waitForPort(b) && waitForPort(c2), who)
            Thread.sleep(forTimeInterval: 0.3)  // the readiness probes have closed
            // The process's four slots, taken on `fa`; then nine clients on `fb`.
            let holders = try (0..<4).map { _ in try RawClient(port: a, timeout: 0.2) }
            Thread.sleep(forTimeInterval: 0.2)
            let burst = try (0..<9).map { _ in try RawClient(port: b, timeout: 0.2) }
            Thread.sleep(forTimeInterval: 0.4)
            let early = burst.map { $0.readAll() }
            XCTAssertEqual(early.filter { $0.closed && $0.text.isEmpty }.count, 0, "\(who): dropped on fb: \(early.map(\.text))")
            for client in holders + burst { client.setReceiveTimeout(6) }
            let answers = zip(early, burst).map { first, client in statusCode(first.closed ? first.text : first.text + client.readAll().text) }
            XCTAssertEqual(answers, Array(repeating: 408, count: 9), "\(who): fb's clients, each answered in turn")
            _ = holders.map { $0.readAll() }
            // `fc`'s two slots, taken on its first bind: a request on the second waits for one.
            let fcHolders = try (0..<2).map { _ in try RawClient(port: c1, timeout: 0.2) }
            Thread.sleep(forTimeInterval: 0.2)
            let second = try RawClient(port: c2, timeout: 0.5)
            second.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            XCTAssertEqual(second.readAll().text, "", "\(who): served on fc's second bind while its maxconn was taken on the first")
            second.setReceiveTimeout(6)
            XCTAssertEqual(statusCode(second.readAll().text), 200, "\(who): served once fc's holders timed out")
            _ = fcHolders
        }
    }
}
