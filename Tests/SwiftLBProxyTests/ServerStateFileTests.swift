import Foundation
import XCTest

/// `server-state-file` + `load-server-state-from-file`: what an operator set on one run
/// (maintenance, drain, a weight) and what the checks found (a server down) is saved with `show
/// servers state`, and a second instance started with that file begins in the same state.
/// HAProxy 2.6 (Debian's) reads the same file with the same configuration, and both dumps agree.
final class ServerStateFileTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        dir = try TempDirectory()
    }
    override func tearDown() { dir = nil }

    /// `show servers state` rows by server name: the columns that carry state.
    private func states(_ dump: String) -> [String: (op: String, admin: String, uweight: String, iweight: String)] {
        var out: [String: (String, String, String, String)] = [:]
        for line in dump.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: " ").map(String.init)
            guard f.count >= 20 else { continue }
            out[f[3]] = (f[5], f[6], f[7], f[8])
        }
        return out
    }

    private func ctl(_ socket: String, _ command: String) -> String {
        runCommand(Paths.swiftlb, ["ctl", "-s", socket] + command.split(separator: " ").map(String.init)).out
    }

    func testStatesCarryOverToTheNextStartAsInHAProxy() throws {
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        let dead = refusedPort()  // nothing listens: s4's checks fail
        let stateFile = dir.file("servers.state")
        func config(port: Int, socket: String, withState: Bool) -> String {
            (withState ? "global\n    stats socket \(socket) level admin\n    server-state-file \(stateFile)\n" : "global\n    stats socket \(socket) level admin\n")
                + """
                defaults
                    mode http
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                    \(withState ? "load-server-state-from-file global" : "")
                frontend fe
                    bind 127.0.0.1:\(port)
                    default_backend be
                backend be
                    server s1 127.0.0.1:\(nginx.ports[0]) weight 10
                    server s2 127.0.0.1:\(nginx.ports[1]) weight 10
                    server s3 127.0.0.1:\(nginx.ports[2]) weight 10
                    server s4 127.0.0.1:\(dead) check inter 200ms fall 2 rise 2

                """
        }
        // First run: the operator's changes and a failed server, saved.
        let firstSocket = dir.file("first.sock")
        let firstPort = freePort()
        let first = try SwiftLBInstance(config: config(port: firstPort, socket: firstSocket, withState: false), waitPort: firstPort, in: dir, name: "first")
        _ = ctl(firstSocket, "set server be/s1 state maint")
        _ = ctl(firstSocket, "set server be/s2 state drain")
        _ = ctl(firstSocket, "set weight be/s3 3")
        XCTAssertNotNil(waitUntil(timeout: 10) { self.states(self.ctl(firstSocket, "show servers state"))["s4"]?.op == "0" }, "s4's checks fail")
        let saved = ctl(firstSocket, "show servers state")
        first.stop()
        _ = try dir.write("servers.state", saved)
        let before = states(saved)
        XCTAssertEqual(before["s1"]?.admin, "1")
        XCTAssertEqual(before["s2"]?.admin, "8")
        XCTAssertEqual(before["s3"]?.uweight, "3")

        // Second run with the file: the same states from the start.
        let secondSocket = dir.file("second.sock")
        let secondPort = freePort()
        let second = try SwiftLBInstance(config: config(port: secondPort, socket: secondSocket, withState: true), waitPort: secondPort, in: dir, name: "second")
        defer { second.stop() }
        let after = states(ctl(secondSocket, "show servers state"))
        for name in ["s1", "s2", "s3", "s4"] {
            XCTAssertEqual(after[name]?.admin, before[name]?.admin, "\(name) admin state")
            XCTAssertEqual(after[name]?.uweight, before[name]?.uweight, "\(name) weight")
        }
        XCTAssertEqual(after["s4"]?.op, "0", "down from the start, before any check")
        XCTAssertTrue(second.child.stderr.contains("Server be/s4 is DOWN, changed from server-state after a reload."), second.child.stderr)
        // Traffic: s1 in maintenance and s2 draining get no new client; s3 takes them all.
        for _ in 0..<6 {
            XCTAssertEqual(curl(["-s", "http://127.0.0.1:\(secondPort)/"]).out, "node3\n")
        }

        // HAProxy with the same configuration and the same file.
        let haSocket = dir.file("haproxy.sock")
        let haPort = freePort()
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("haproxy.cfg", config(port: haPort, socket: haSocket, withState: true))],
                                       logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(haPort), haproxy.stderr)
        let reference = states(runCommand("/bin/sh", ["-c", "echo 'show servers state' | socat -t 2 - UNIX-CONNECT:\(haSocket)"]).out)
        for name in ["s1", "s2", "s3", "s4"] {
            XCTAssertEqual(after[name]?.admin, reference[name]?.admin, "\(name) admin state, as HAProxy applies it")
            XCTAssertEqual(after[name]?.uweight, reference[name]?.uweight, "\(name) weight, as HAProxy applies it")
            XCTAssertEqual(after[name]?.op, reference[name]?.op, "\(name) operational state, as HAProxy applies it")
        }
        XCTAssertEqual(reference["s4"]?.op, "0")
        XCTAssertTrue(haproxy.stderr.contains("Server be/s4 is DOWN, changed from server-state after a reload."), haproxy.stderr)
    }

    /// A file that cannot be read is a warning, not a refusal to start (HAProxy's behaviour).
    func testAMissingFileIsAWarning() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            global
                server-state-base \(dir.path)
                server-state-file nowhere.state
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
                load-server-state-from-file global
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                server s1 127.0.0.1:\(nginx.ports[0])

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(lb.child.stderr.contains("Can't open global server state file '\(dir.path)/nowhere.state'"), lb.child.stderr)
        XCTAssertEqual(curl(["-s", "http://127.0.0.1:\(port)/"]).out, "node1\n")
    }
}
