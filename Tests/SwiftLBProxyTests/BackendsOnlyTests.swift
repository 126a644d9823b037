import Foundation
import XCTest

/// A file of backends and a `stats socket`, no frontend: HAProxy runs it (its control socket is
/// a listener), checking the servers and answering the runtime API; SwiftLB does the same.
/// Without the socket there is nothing to listen on, and both exit 2.
final class BackendsOnlyTests: XCTestCase {
    func testBackendsWithAControlSocketRunTheirChecks() throws {
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let socket = dir.file("lb.sock")
        let body = testDefaults() + """
            backend app
                server up 127.0.0.1:\(nginx.ports[0]) check inter 200ms
                server down 127.0.0.1:\(freePort()) check inter 200ms fall 1

            """
        let path = try dir.write("lb.conf", "global\n    stats socket \(socket) level admin\n" + body)
        let lb = try ChildProcess(Paths.swiftlb, ["run", "-c", path], logDirectory: dir, name: "swiftlb")
        defer { lb.stop() }
        var state = ""
        _ = waitUntil(timeout: 10) {
            state = runCommand(Paths.swiftlb, ["ctl", "-s", socket, "show", "servers", "state"]).out
            return state.contains(" app 2 down ") && state.split(separator: "\n").contains { $0.contains(" down ") && $0.split(separator: " ")[5] == "0" }
        }
        XCTAssertTrue(state.contains(" app 1 up 127.0.0.1 2 "), "the checked server is running: \(state)\n\(lb.stderr)")
        XCTAssertTrue(state.split(separator: "\n").contains { $0.contains(" app 2 down ") && $0.split(separator: " ")[5] == "0" }, "the dead one is stopped: \(state)")
        lb.signal(SIGTERM)
        XCTAssertEqual(lb.waitForExit(timeout: 10), 0, lb.stderr)

        let none = try dir.write("none.conf", body)
        let refused = try ChildProcess(Paths.swiftlb, ["run", "-c", none], logDirectory: dir, name: "none")
        defer { refused.stop() }
        XCTAssertEqual(refused.waitForExit(timeout: 10), 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("will not start (no listener) => exit(2)"), refused.stderr)
    }

    /// A file whose only frontend is `disabled` opens nothing: haproxy -c finds no listener
    /// (exit 2), and so does `swiftlb check`; with a second frontend that listens, both pass.
    func testADisabledFrontendIsNoListener() throws {
        let dir = try TempDirectory()
        // (No `option httplog`: without a `log` line haproxy warns that it is ignored.)
        let body = "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n" + """
            frontend off
                disabled
                bind 127.0.0.1:\(freePort())
                default_backend app
            backend app
                server s 127.0.0.1:\(freePort())

            """
        let on = "frontend on\n    bind 127.0.0.1:\(freePort())\n    default_backend app\n"
        for (name, text, status) in [("off.conf", body, Int32(2)), ("on.conf", body + on, Int32(0))] {
            let path = try dir.write(name, text)
            let reference = runCommand("/usr/sbin/haproxy", ["-c", "-f", path])
            let ours = runCommand(Paths.swiftlb, ["check", "-c", path])
            XCTAssertEqual(reference.status, status, "haproxy on \(name): \(reference.out)\(reference.err)")
            XCTAssertEqual(ours.status, reference.status, "\(name): \(ours.out)\(ours.err)")
            XCTAssertEqual(ours.out, reference.out, name)
        }
    }

    /// A file with only a `peers` section: haproxy -c counts the local peer's address as a
    /// listener (valid, exit 0) and, when this process is none of the peers, removes the section
    /// with a warning and finds no listener (exit 2). `swiftlb check` says the same, and `run`
    /// listens for the peers.
    func testAPeersSectionAloneIsAListenerForItsLocalPeer() throws {
        let dir = try TempDirectory()
        let (one, two) = (freePort(), freePort())
        let path = try dir.write("peers.conf", "peers mesh\n    peer lb1 127.0.0.1:\(one)\n    peer lb2 127.0.0.1:\(two)\n")
        for local in ["lb1", "elsewhere"] {
            let reference = runCommand("/usr/sbin/haproxy", ["-c", "-L", local, "-f", path])
            let ours = runCommand(Paths.swiftlb, ["check", "-L", local, "-c", path])
            XCTAssertEqual(reference.status, local == "lb1" ? 0 : 2, "haproxy -L \(local): \(reference.out)\(reference.err)")
            XCTAssertEqual(ours.status, reference.status, "-L \(local): \(ours.out)\(ours.err)")
            XCTAssertEqual(ours.out, reference.out, "-L \(local)")
        }
        let lb = try ChildProcess(Paths.swiftlb, ["run", "-L", "lb1", "-c", path], logDirectory: dir, name: "swiftlb")
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(one), "the local peer's address listens: \(lb.stderr)")
        lb.signal(SIGTERM)
        XCTAssertEqual(lb.waitForExit(timeout: 10), 0, lb.stderr)
    }
}
