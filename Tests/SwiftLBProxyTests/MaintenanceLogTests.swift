import Foundation
import XCTest

/// An operator puts servers in maintenance and takes one out again over the runtime API: the
/// backend's log targets get HAProxy's lines ("Server app/s1 is going DOWN for maintenance. …",
/// "backend app has no server available!", "Server app/s1 is UP/READY (leaving forced
/// maintenance).") at HAProxy's levels. The same configuration and commands through HAProxy 2.6
/// (its socket driven with socat) and SwiftLB (`swiftlb ctl`) must send the same lines.
final class MaintenanceLogTests: XCTestCase {
    func config(socket: String, servers: [Int], syslog: Int) -> String {
        """
        global
            stats socket \(socket) level admin
        defaults
            mode http
            timeout connect 2s
            timeout client 5s
            timeout server 5s
        backend app
            log 127.0.0.1:\(syslog) local0
            server s1 127.0.0.1:\(servers[0]) check inter 200ms
            server s2 127.0.0.1:\(servers[1]) check inter 200ms

        """
    }

    func testMaintenanceLinesAgreeWithHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/socat"), "socat is installed by scripts/test.sh")
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let hsyslog = try SyslogReceiver(), ssyslog = try SyslogReceiver()
        let hsock = dir.file("haproxy.sock"), ssock = dir.file("swiftlb.sock")
        let hcfg = try dir.write("haproxy.cfg", config(socket: hsock, servers: nginx.ports, syslog: hsyslog.port))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        let scfg = try dir.write("swiftlb.conf", config(socket: ssock, servers: nginx.ports, syslog: ssyslog.port))
        let lb = try ChildProcess(Paths.swiftlb, ["run", "-c", scfg], logDirectory: dir, name: "swiftlb")
        defer { lb.stop() }
        XCTAssertNotNil(waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: hsock) && FileManager.default.fileExists(atPath: ssock) },
                        haproxy.stderr + lb.stderr)
        usleep(800_000)  // both servers checked UP on both
        _ = hsyslog.receive(count: 100, within: 0.3)
        _ = ssyslog.receive(count: 100, within: 0.1)

        let commands = ["disable server app/s1", "disable server app/s2", "enable server app/s1"]
        func lines(_ send: (String) -> Void, _ syslog: SyslogReceiver) -> [String] {
            var out: [String] = []
            for (i, command) in commands.enumerated() {
                send(command)
                out += syslog.receive(count: i == 1 ? 2 : 1, within: 3)
            }
            // The syslog header's date, tag and pid vary; the priority (facility and level) stays.
            return out.map { $0.replacingOccurrences(of: #"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [a-z]+\[\d+\]: "#, with: "<$1>", options: .regularExpression) }
        }
        let reference = lines({ command in
            _ = runCommand("/bin/sh", ["-c", "echo '\(command)' | socat -t 2 - UNIX-CONNECT:\(hsock)"])
        }, hsyslog)
        let ours = lines({ command in
            let r = runCommand(Paths.swiftlb, ["ctl", "-s", ssock] + command.split(separator: " ").map(String.init))
            XCTAssertEqual(r.status, 0, "\(command): \(r.out)\(r.err)")
        }, ssyslog)
        XCTAssertEqual(reference, [
            "<129>Server app/s1 is going DOWN for maintenance. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
            "<129>Server app/s2 is going DOWN for maintenance. 0 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.",
            "<128>backend app has no server available!",
            "<133>Server app/s1 is UP/READY (leaving forced maintenance).",
        ], "HAProxy 2.6 is the reference: \(haproxy.stderr)")
        XCTAssertEqual(ours, reference, lb.stderr)
    }
}
