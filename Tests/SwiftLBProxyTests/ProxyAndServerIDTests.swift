import Foundation
import XCTest

/// `id N` on proxies and servers, as a copied haproxy.cfg writes them: the running SwiftLB
/// numbers its proxies and servers as HAProxy 2.6 does for the same file (its own `show
/// servers state` beside ours), written ids flagged as forced.
final class ProxyAndServerIDTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/socat"), "socat is installed by scripts/test.sh")
    }

    func testIDsMatchHAProxyOnTheSameFile() throws {
        let dir = try TempDirectory()
        func config(_ socket: String, _ ports: [Int]) -> String {
            preamble(socket) + """
            frontend f
                bind 127.0.0.1:\(ports[0])
                id 3
                default_backend b1
            backend b1
                server s1 127.0.0.1:9 id 7
                server s2 127.0.0.1:9
                server s3 127.0.0.1:9 id 2
                server s4 127.0.0.1:9
            backend b2
                id 1
                server s 127.0.0.1:9
            listen l
                bind 127.0.0.1:\(ports[1])
                server s 127.0.0.1:9

            """
        }
        let (theirs, ours) = try bothStates(config, in: dir) { text in
            // be_id be_name srv_id srv_name … bk_f_forced_id srv_f_forced_id.
            text.split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains(" ") }.map { line in
                let f = line.split(separator: " ", omittingEmptySubsequences: false)
                return [f[0], f[1], f[2], f[3], f[15], f[16]].joined(separator: " ")
            }.sorted()
        }
        XCTAssertEqual(theirs.count, 6, "HAProxy's servers: \(theirs)")
        XCTAssertEqual(ours, theirs)
        // What the file says, spelled out: b1's s2 and s4 take 3 and 5 around the written 7
        // and 2 (the counter passes every server); b2 is 1, b1 the next free after f's 3.
        XCTAssertTrue(ours.contains("4 b1 3 s2 0 0") && ours.contains("4 b1 5 s4 0 0") && ours.contains("4 b1 7 s1 0 1")
                      && ours.contains("1 b2 1 s 1 0"), "\(ours)")
    }

    /// A backend stopped by `disabled` is left out of the stats, yet HAProxy's `show servers
    /// state` lists its servers (by name only: unnumbered, last line first); ours does too,
    /// without resolving them: a host name is srv_fqdn with srv_addr `-`.
    func testDisabledBackendsServersAreListed() throws {
        let dir = try TempDirectory()
        func config(_ socket: String, _ ports: [Int]) -> String {
            preamble(socket) + """
            frontend f
                bind 127.0.0.1:\(ports[0])
                default_backend b1
            backend b1
                server s1 127.0.0.1:9
            backend b2
                disabled
                server s2 127.0.0.1:9
                server s3 127.0.0.1:9 disabled
                server s4 127.0.0.1:9 weight 7 check
                server s6 127.0.0.1:9 check disabled
                server s7 localhost:9
            listen l
                bind 127.0.0.1:\(ports[1])
                server s5 127.0.0.1:9

            """
        }
        // Every field but the seconds since the last change; all backends, then b2 alone.
        let rows = { (text: String) in
            text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { $0.split(separator: " ", omittingEmptySubsequences: false) }
                .filter { $0.count > 9 }.map { line in
                    var f = line
                    f[9] = "-"
                    return f.joined(separator: " ")
                }
        }
        let (theirs, ours) = try bothStates(config, in: dir, rows: rows)
        XCTAssertEqual(theirs.filter { $0.contains(" b2 ") }.count, 5, "HAProxy's servers: \(theirs)")
        XCTAssertEqual(ours, theirs)
        XCTAssertTrue(ours.contains { $0.contains(" b2 0 s7 - ") && $0.contains(" localhost 9 ") }, "\(ours)")
        let (theirsB2, oursB2) = try bothStates(config, in: dir, command: "show servers state b2", rows: rows)
        XCTAssertEqual(theirsB2.count, 5, "HAProxy's servers: \(theirsB2)")
        XCTAssertEqual(oursB2, theirsB2)
        // Its servers can be read, not changed.
        let lines = { (text: String) in text.split(separator: "\n").map(String.init) }
        for command in ["get weight b2/s4", "set weight b2/s2 3", "disable server b2/s2", "set server b2/s6 state ready", "get weight b2/nope"] {
            let (theirs, ours) = try bothStates(config, in: dir, command: command, rows: lines)
            XCTAssertFalse(theirs.isEmpty, command)
            XCTAssertEqual(ours, theirs, command)
        }
    }

    /// The stats socket both are asked through, and short timeouts.
    private func preamble(_ socket: String) -> String {
        "global\n    stats socket \(socket) level admin\ndefaults\n    timeout client 1s\n    timeout connect 1s\n    timeout server 1s\n"
    }

    /// Starts haproxy and SwiftLB on `config` (each with its own socket and two ports, the
    /// second one waited for) and returns both answers to `command`, through `rows`.
    private func bothStates(_ config: (String, [Int]) -> String, in dir: TempDirectory, command: String = "show servers state",
                            rows: (String) -> [String]) throws -> (theirs: [String], ours: [String]) {
        let theirPorts = [freePort(), freePort()]
        let ourPorts = [freePort(), freePort()]
        let theirSocket = dir.file("h.sock")
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("h.cfg", config(theirSocket, theirPorts))],
                                       logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        let ourSocket = dir.file("s.sock")
        let swiftlb = try SwiftLBInstance(config: config(ourSocket, ourPorts), waitPort: ourPorts[1], in: dir)
        defer { swiftlb.stop() }
        XCTAssertTrue(waitForPort(theirPorts[1]), "haproxy did not start: \(haproxy.stderr)")
        var theirs: [String] = []
        _ = waitUntil(timeout: 10) {
            theirs = rows(runCommand("/bin/sh", ["-c", "echo '\(command)' | socat -t 2 - UNIX-CONNECT:\(theirSocket)"]).out)
            return !theirs.isEmpty
        }
        let ours = rows(runCommand(Paths.swiftlb, ["ctl", "-s", ourSocket] + command.split(separator: " ").map(String.init)).out)
        return (theirs, ours)
    }
}
