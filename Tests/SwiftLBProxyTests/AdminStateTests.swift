import Foundation
import XCTest

/// Drain and maintenance, driven through the control socket with `swiftlb ctl`.
final class AdminStateTests: XCTestCase {
    func testDrainKeepsStickyClientsAndMaintRedispatchesThem() throws {
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let port = freePort()
        let socket = dir.file("admin.sock")
        let lb = try SwiftLBInstance(config: """
            global
                stats socket \(socket) mode 600 level admin

            """ + testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend nodes
            backend nodes
                cookie SERVERID insert indirect
                option redispatch
                server node1 127.0.0.1:\(nginx.ports[0]) cookie n1
                server node2 127.0.0.1:\(nginx.ports[1]) cookie n2
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func ctl(_ words: String...) -> (status: Int32, out: String) {
            let r = runCommand(Paths.swiftlb, ["ctl", "-s", socket] + words)
            return (r.status, r.out)
        }
        func newClients(_ n: Int) -> Set<Substring> {
            Set(curl((0..<n).map { _ in "http://127.0.0.1:\(port)/" }).out.split(separator: "\n"))
        }
        XCTAssertEqual(newClients(6), ["node1", "node2"])

        XCTAssertEqual(ctl("set", "server", "nodes/node1", "state", "drain").status, 0)
        XCTAssertTrue(ctl("show", "stat").out.split(separator: "\n").contains { $0.hasPrefix("nodes,node1,") && $0.contains(",DRAIN,") })
        XCTAssertEqual(newClients(6), ["node2"], "a draining server got a new client")
        XCTAssertEqual(curl(["-b", "SERVERID=n1", "http://127.0.0.1:\(port)/"]).out, "node1\n", "drain must keep sticky clients")

        XCTAssertEqual(ctl("set", "server", "nodes/node1", "state", "maint").status, 0)
        let moved = curl(["-D", "-", "-b", "SERVERID=n1", "http://127.0.0.1:\(port)/"]).out
        XCTAssertTrue(moved.hasSuffix("node2\n"), moved)
        XCTAssertTrue(moved.contains("SERVERID=n2"), "the redispatched client gets the new server's cookie")

        XCTAssertEqual(ctl("enable", "server", "nodes/node1").status, 0)
        XCTAssertEqual(newClients(6), ["node1", "node2"])
        XCTAssertTrue(lb.child.stderr.contains("Server nodes/node1 admin state READY -> DRAIN (control socket)"), lb.child.stderr)

        let unknown = ctl("set", "server", "nodes/node9", "state", "drain")
        XCTAssertEqual(unknown.status, 1)
        XCTAssertTrue(unknown.out.contains("No such server"))
        XCTAssertEqual(ctl("frobnicate").status, 1)
    }
}
