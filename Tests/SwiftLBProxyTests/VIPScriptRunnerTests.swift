import Foundation
import XCTest

/// A copied Debian haproxy.cfg says `chroot /var/lib/haproxy`; a keepalived.conf beside it has
/// a `vrrp_script` and notify scripts. Inside the chroot there is no /bin/sh, so swiftlb runs
/// them through its script runner, a process started before the chroot that stays outside
/// it. Without it, the weight-0 script below fails forever and holds lb1 in FAULT.
final class VIPScriptRunnerTests: VIPLabTestCase {
    /// `test -e UP`, every 100 ms, weight 0: lb1 is in FAULT while UP is missing.
    private func preamble(up: String) -> String {
        """
        vrrp_script chk_up {
            script "test -e \(up)"
            interval 100ms
            fall 2
            rise 2
            weight 0
        }
        """
    }

    /// The pid of `parent`'s child whose command line holds `script-runner`, or nil.
    private func runnerPID(of parent: Int32) -> Int32? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent,
                  let cmdline = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  String(decoding: cmdline, as: UTF8.self).contains("script-runner") else { continue }
            return pid
        }
        return nil
    }

    private func statusField(_ pid: Int32, _ name: String) -> String {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix(name + ":") }.map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) } ?? ""
    }

    func testScriptsAndNotifyRunOutsideTheChroot() throws {
        let jail = lab.dir.file("jail"), up = lab.dir.file("up")
        try FileManager.default.createDirectory(atPath: jail, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: up, contents: nil)
        let probe = try startPair(lb1Extra: "    track_script chk_up", preamble: preamble(up: up), lb1Global: "    chroot \(jail)")
        var status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("state: MASTER") && status.contains("vrrp_script chk_up: OK"), status)
        // The first run waited for nothing: swiftlb went on once the runner said it was ready.
        XCTAssertFalse(lab.instances["lb1"]!.stderr.contains("-> FAULT"), lab.instances["lb1"]!.stderr)

        // The notify scripts ran (outside the jail: /bin/sh and the lab's files are not in it).
        XCTAssertNotNil(waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: self.lab.dir.file("lb1.was-master")) }, "notify_master ran")
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.notifications.contains("lb1 INSTANCE lab_vip MASTER 150") }, "\(lab.notifications)")

        // swiftlb is in the jail, its runner is not.
        let lb1 = lab.instances["lb1"]!
        let runner = try XCTUnwrap(runnerPID(of: lb1.pid), "swiftlb's script runner: \(lb1.stderr)")
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(lb1.pid)/root"), jail)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(runner)/root"), "/")
        XCTAssertTrue(lb1.stderr.contains("script runner started, pid \(runner)"), lb1.stderr)

        // The script's verdict still moves the VIP: UP gone is a FAULT, back is MASTER again.
        try FileManager.default.removeItem(atPath: up)
        assertLB1Faults("fault: script 'chk_up' failed (exit 1)", probe)
        FileManager.default.createFile(atPath: up, contents: nil)
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "UP is back: lb1 (150) preempts: \(lab.holders())")
        XCTAssertTrue(probe.waitFor(Probe.lb1))
        status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("state: MASTER"), status)

        // TERM: notify_stop and `notify … STOP` still run, although swiftlb's exit ends the
        // runner; the runner ends with it.
        lb1.signal(SIGTERM)
        XCTAssertEqual(lb1.waitForExit(timeout: 10), 0, lb1.stderr)
        XCTAssertNotNil(waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: self.lab.dir.file("lb1.was-stopped")) }, "notify_stop ran")
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.notifications.contains("lb1 INSTANCE lab_vip STOP 150") }, "\(lab.notifications)")
        XCTAssertNotNil(waitUntil(timeout: 5) { !self.statusField(runner, "State").hasPrefix("S") && !self.statusField(runner, "State").hasPrefix("R") },
                        "the runner ended with swiftlb (gone or a zombie)")
    }

    /// swiftlb becomes `user`; the runner becomes keepalived's `script_user` (another user,
    /// whose processes swiftlb cannot trace) with that user's group only, and keeps no
    /// capability. Killed, it takes nothing down: scripts now fail with a clear cause (a
    /// weight-0 one is a FAULT, which hands the VIP to lb2), and swiftlb serves and answers.
    func testTheRunnerBecomesScriptUserAndItsDeathFailsScriptsNotSwiftLB() throws {
        // (getpwnam's answer lives in static storage: read each one before the next call.)
        guard let nobodyUID = getpwnam("nobody")?.pointee.pw_uid, let daemon = getpwnam("daemon")?.pointee else {
            throw XCTSkip("no user 'nobody' or 'daemon' here")
        }
        let (daemonUID, daemonGID) = (daemon.pw_uid, daemon.pw_gid)
        let jail = lab.dir.file("jail"), up = lab.dir.file("up")
        try FileManager.default.createDirectory(atPath: jail, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: up, contents: nil)
        let probe = try startPair(lb1Extra: "    track_script chk_up", preamble: "global_defs {\n    script_user daemon\n}\n" + preamble(up: up),
                                  lb1Global: "    chroot \(jail)\n    user nobody")
        let lb1 = lab.instances["lb1"]!
        let runner = try XCTUnwrap(runnerPID(of: lb1.pid), "swiftlb's script runner: \(lb1.stderr)")
        XCTAssertEqual(statusField(lb1.pid, "Uid").split(separator: "\t").map(String.init), Array(repeating: "\(nobodyUID)", count: 4))
        XCTAssertEqual(statusField(runner, "Uid").split(separator: "\t").map(String.init), Array(repeating: "\(daemonUID)", count: 4))
        XCTAssertEqual(statusField(runner, "Gid").split(separator: "\t").map(String.init), Array(repeating: "\(daemonGID)", count: 4))
        XCTAssertEqual(statusField(runner, "Groups"), "\(daemonGID)")
        XCTAssertEqual(statusField(runner, "CapEff"), "0000000000000000")
        XCTAssertEqual(statusField(runner, "CapPrm"), "0000000000000000")

        kill(runner, SIGKILL)
        assertLB1Faults("fault: script 'chk_up' failed (could not start: script runner exited)", probe)
        XCTAssertNotNil(waitUntil(timeout: 5) { lb1.stderr.contains("script runner (pid \(runner)) exited (killed by signal 9)") }, lb1.stderr)
        XCTAssertTrue(lb1.process.isRunning, "swiftlb lives on: \(lb1.stderr)")
        XCTAssertTrue(lab.vrrpStatus("lb1").contains("state: FAULT"), "and answers its socket")
        XCTAssertNil(runnerPID(of: lb1.pid), "no new runner: swiftlb cannot start one from inside the jail")
    }
}
