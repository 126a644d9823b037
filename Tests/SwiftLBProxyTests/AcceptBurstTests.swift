import Foundation
import XCTest

/// A burst of clients over `maxconn`, side by side with haproxy 2.6: those over the limit wait
/// in the kernel's backlog and are served (here: each given its 408) as slots free up — none
/// is accepted and dropped unanswered. SwiftLB used to take up to 64 sockets per accept read and close
/// the ones over the limit at once.
final class AcceptBurstTests: XCTestCase {
    func testABurstOverMaxconnWaitsInTheBacklogAndNoneIsDropped() throws {
        let dir = try TempDirectory()
        let sides = try SideBySide({ port in
            """
            global
                maxconn 4
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
                timeout http-request 1s
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
}
