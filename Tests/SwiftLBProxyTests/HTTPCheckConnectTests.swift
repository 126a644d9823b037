import Foundation
import XCTest

/// `http-check connect` (HAProxy 2.2+'s check sequences, checks/http-check.vtc): the check goes
/// where the connect rule says, not to the traffic port, and the server's state follows that
/// answer — in SwiftLB as in HAProxy 2.6 running the same file.
final class HTTPCheckConnectTests: XCTestCase {
    /// The state (`status` of `show stat`) s1 settles in when its checks go to `checkPort`
    /// while its traffic port answers 200.
    private func state(checkPort: Int, haproxy: Bool, dir: TempDirectory,
                       connect: String? = nil, server: ((Int) -> String)? = nil) throws -> String {
        let traffic = try StreamBackend(in: dir)
        defer { traffic.stop() }
        let serverLine = server?(traffic.port) ?? "server s1 127.0.0.1:\(traffic.port) check inter 100ms rise 1 fall 1"
        let port = freePort()
        let socket = dir.file(haproxy ? "h.sock" : "s.sock")
        let config = "global\n    stats socket \(socket) level admin\n" + differentialHTTPDefaults + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                option httpchk
                \(connect ?? "http-check connect port \(checkPort)")
                http-check send meth GET uri /whoami
                http-check expect status 200
                \(serverLine)

            """
        let child = try startOnSameFile(config, haproxy: haproxy, port: port, in: dir)
        defer { child.stop() }
        let ask = haproxy ? ["/bin/sh", "-c", "echo 'show stat' | socat -t 2 - UNIX-CONNECT:\(socket)"] : [Paths.swiftlb, "ctl", "-s", socket, "show", "stat"]
        func field(_ name: String) -> String {
            let rows = runCommand(ask[0], Array(ask.dropFirst())).out.split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false) }
            guard let header = rows.first, let i = header.firstIndex(of: Substring(name)), let row = rows.first(where: { $0.count > i && $0[1] == "s1" }) else { return "" }
            return String(row[i])
        }
        // A server not checked yet reads UP too (check_status INI), so wait (bounded) for a
        // finished check rather than for a state and a fixed sleep: with rise 1 and fall 1 each
        // check settles the state.
        let checked = waitUntil(timeout: 10) {
            let check = field("check_status").replacingOccurrences(of: "* ", with: "")
            return !check.isEmpty && check != "INI"
        }
        XCTAssertNotNil(checked, "\(haproxy ? "haproxy" : "swiftlb"): no check finished: \(field("check_status"))")
        return field("status")
    }

    func testTheCheckGoesWhereConnectSays() throws {
        let dir = try TempDirectory()
        let healthy = try StreamBackend(in: dir)
        defer { healthy.stop() }
        let closed = refusedPort()
        XCTAssertEqual(try state(checkPort: healthy.port, haproxy: false, dir: dir), "UP", "checks on the connect port, which answers")
        XCTAssertEqual(try state(checkPort: closed, haproxy: false, dir: dir), "DOWN", "checks on a closed connect port, the traffic port answering")
        try requireHAProxy()
        XCTAssertEqual(try state(checkPort: healthy.port, haproxy: true, dir: dir), "UP", "HAProxy")
        XCTAssertEqual(try state(checkPort: closed, haproxy: true, dir: dir), "DOWN", "HAProxy")
    }

    /// A connect rule without `port`/`addr` goes to the server's check `port` (not its traffic
    /// port), with or without `default`, as HAProxy's tcpcheck_eval_connect.
    func testAConnectWithoutPortUsesTheServersCheckPort() throws {
        let dir = try TempDirectory()
        let healthy = try StreamBackend(in: dir)
        defer { healthy.stop() }
        let closed = refusedPort()
        let server: (Int) -> String = { _ in "server s1 127.0.0.1:\(closed) check port \(healthy.port) inter 100ms rise 1 fall 1" }
        for connect in ["http-check connect", "http-check connect default"] {
            XCTAssertEqual(try state(checkPort: 0, haproxy: false, dir: dir, connect: connect, server: server), "UP", connect)
        }
        try requireHAProxy()
        XCTAssertEqual(try state(checkPort: 0, haproxy: true, dir: dir, connect: "http-check connect", server: server), "UP", "HAProxy")
    }
}
