import Foundation
import XCTest

/// keepalived's runtime inputs on the VIP (issue #13): a `vrrp_script` whose failure lowers
/// the priority below the peer's moves the VIP and its recovery brings it back; a tracked
/// interface that goes down puts the instance in FAULT; and a pair without `unicast_peer`
/// elects and fails over by authenticated multicast advertisements.
final class VIPTrackingTests: VIPLabTestCase {
    /// `test ! -e FILE`, every 100 ms, 2 failures to FAILED, 2 successes back to OK, weight
    /// -60: lb1 (150) drops to 90, under lb2's 100.
    func scriptBlock(failFile: String) -> String {
        """
        vrrp_script chk_local {
            script "test ! -e \(failFile)"
            interval 100ms
            fall 2
            rise 2
            weight -60
        }
        """
    }

    func testAFailingTrackScriptMovesTheVIPAndItsRecoveryBringsItBack() throws {
        let failFile = lab.dir.file("lb1.fail")
        let probe = try startPair(lb1Extra: "    track_script chk_local", preamble: scriptBlock(failFile: failFile))
        var status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("vrrp_script chk_local: OK, every 100ms, timeout 100ms, rise 2, fall 2; last run: exit 0"), status)
        XCTAssertTrue(status.contains("track: script 'chk_local' (-60 when down): up"), status)

        let failed = Date().timeIntervalSince1970
        FileManager.default.createFile(atPath: failFile, contents: nil)
        XCTAssertTrue(probe.waitFor(Probe.lb2), "lb1 at 90 < 100: lb2 preempts; last: \(probe.last ?? "nothing")")
        XCTAssertTrue(lab.waitForHolders(["lb2"]), "\(lab.holders())")
        status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("state: BACKUP") && status.contains("priority: 90 (configured 150)"), status)
        XCTAssertTrue(status.contains("track: script 'chk_local' (-60 when down): script 'chk_local' failed (exit 1)"), status)
        XCTAssertTrue(status.contains("vrrp_script chk_local: FAILED"), status)
        XCTAssertTrue(lab.vrrpStatus("lb2").contains("preempting a lower-priority master (90 < 100)"), lab.vrrpStatus("lb2"))
        XCTAssertTrue(lab.instances["lb1"]!.stderr.contains("vrrp_script chk_local: OK -> FAILED (exit 1)"), lab.instances["lb1"]!.stderr)

        let recovered = Date().timeIntervalSince1970
        try FileManager.default.removeItem(atPath: failFile)
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "with preempt, lb1 (150 again) takes the VIP back: \(lab.holders())")
        XCTAssertTrue(probe.waitFor(Probe.lb1))
        XCTAssertTrue(lab.vrrpStatus("lb1").contains("preempting a lower-priority master (100 < 150)"), lab.vrrpStatus("lb1"))
        let failures = probe.failures(since: failed)
        XCTAssertEqual(failures.filter { $0.hasPrefix("FAIL:connect_") }, [], "no connection refused across both moves")
        XCTAssertLessThanOrEqual(failures.count, 2, "at most a request caught mid-connect at each ARP move: \(failures)")
        let away = probe.answers.first { $0.start > failed && $0.answer == Probe.lb2 }.map { Int(($0.start - failed) * 1000) } ?? -1
        let back = probe.answers.first { $0.start > recovered && $0.answer == Probe.lb1 }.map { Int(($0.start - recovered) * 1000) } ?? -1
        print("track_script (interval 100 ms, fall 2, rise 2): VIP moved away \(away) ms after the failure, back \(back) ms after the recovery, \(failures.count) failed probes")
    }

    /// keepalived's `vrrp_track_process` with real processes: two `sleep`s the test starts,
    /// each with an argument no other process has, matched by their command lines. The one
    /// tracked with weight -60 exits: lb1 (150) drops to 90 and lb2 preempts; a new copy brings
    /// lb1 back. The one tracked with weight 0 exits: lb1 enters FAULT.
    func testATrackedProcessThatExitsMovesTheVIPOrFaults() throws {
        let tag = "\(41_000_000 + Int(getpid()) % 1_000_000)"
        let preamble = """
            vrrp_track_process app {
                process sleep \(tag).1
                weight -60
            }
            vrrp_track_process guard {
                process sleep
                param_match initial
                process sleep \(tag).2
            }
            """
        // keepalived takes the first 'process' line only; SwiftLB refuses a second one.
        let refused = runCommand(Paths.swiftlb, ["check", "-c", try lab.dir.write("refused.conf", lab.config("lb1", preamble: preamble))])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.out.contains("already set ('sleep')") || refused.err.contains("already set ('sleep')"), refused.out + refused.err)

        let fixed = preamble.replacingOccurrences(of: "    process sleep\n    param_match initial\n", with: "    param_match initial\n")
        var app = try lab.spawn("lb1", "app-1", ["sleep", "\(tag).1"])
        let guardian = try lab.spawn("lb1", "guard", ["sleep", "\(tag).25"])   // 'initial': the last argument may be longer
        defer { app.stop(); guardian.stop() }
        let probe = try startPair(lb1Extra: "    track_process app\n    track_process guard", preamble: fixed)
        var status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("track: process 'app' (-60 when down): up"), status)
        XCTAssertTrue(status.contains("track: process 'guard' (FAULT when down): up"), status)
        XCTAssertTrue(status.contains("vrrp_track_process app: OK, 1 running, quorum 1+; matching argv 'sleep \(tag).1', param_match exact, scanned every 250ms"), status)

        let exited = Date().timeIntervalSince1970
        app.stop()
        XCTAssertTrue(probe.waitFor(Probe.lb2), "lb1 at 90 < 100: lb2 preempts; last: \(probe.last ?? "nothing")")
        XCTAssertTrue(lab.waitForHolders(["lb2"]), "\(lab.holders())")
        status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("state: BACKUP") && status.contains("priority: 90 (configured 150)"), status)
        XCTAssertTrue(status.contains("track: process 'app' (-60 when down): process 'app': 0 running, quorum 1+"), status)
        XCTAssertTrue(lab.instances["lb1"]!.stderr.contains("vrrp_track_process app: quorum lost (0 running, quorum 1+)"), lab.instances["lb1"]!.stderr)
        let away = probe.answers.first { $0.start > exited && $0.answer == Probe.lb2 }.map { Int(($0.start - exited) * 1000) } ?? -1

        app = try lab.spawn("lb1", "app-2", ["sleep", "\(tag).1"])
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "the process is back: lb1 (150) preempts: \(lab.holders())")
        XCTAssertTrue(probe.waitFor(Probe.lb1))

        guardian.stop()
        assertLB1Faults("fault: process 'guard': 0 running, quorum 1+", probe)
        print("track_process (scan every 250 ms): VIP moved away \(away) ms after the process exited")
    }

    /// keepalived's `track_file`: `prio` (weight 10) is created by init_file with 0; -6 in it
    /// lowers lb1 (150) to 90 and lb2 preempts; 0 again brings lb1 back. `maint` (weight 0,
    /// the old name vrrp_track_file) holding 1 puts lb1 in FAULT.
    func testATrackedFileMovesThePriorityOrFaults() throws {
        let prio = lab.dir.file("prio"), maint = lab.dir.file("maint")
        let preamble = """
            track_file prio {
                file \(prio)
                weight 10
                init_file
            }
            vrrp_track_file maint {
                file \(maint)
                weight 0
            }
            """
        let probe = try startPair(lb1Extra: "    track_file prio\n    track_file maint", preamble: preamble)
        XCTAssertEqual(try String(contentsOfFile: prio, encoding: .utf8), "0\n", "init_file wrote 0")
        var status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("track: file 'prio' (+0 now): up"), status)
        XCTAssertTrue(status.contains("track: file 'maint' (FAULT when not 0): up"), status)
        XCTAssertTrue(status.contains("track_file prio: \(prio) reads 0, weight 10, re-read when written (inotify)"), status)

        let written = Date().timeIntervalSince1970
        try "-6\n".write(toFile: prio, atomically: true, encoding: .utf8)
        XCTAssertTrue(probe.waitFor(Probe.lb2), "lb1 at 90 < 100: lb2 preempts; last: \(probe.last ?? "nothing")")
        XCTAssertTrue(lab.waitForHolders(["lb2"]), "\(lab.holders())")
        status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("state: BACKUP") && status.contains("priority: 90 (configured 150)"), status)
        XCTAssertTrue(status.contains("track: file 'prio' (-60 now): file 'prio' reads -6 (× 10)"), status)
        let away = probe.answers.first { $0.start > written && $0.answer == Probe.lb2 }.map { Int(($0.start - written) * 1000) } ?? -1

        try "0\n".write(toFile: prio, atomically: true, encoding: .utf8)
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "back to 150: lb1 preempts: \(lab.holders())")
        XCTAssertTrue(probe.waitFor(Probe.lb1))

        try "1\n".write(toFile: maint, atomically: true, encoding: .utf8)
        assertLB1Faults("fault: file 'maint' reads 1: FAULT", probe)
        print("track_file (inotify): VIP moved away \(away) ms after the file was written")
    }

    /// `cmd > file` truncates the file at once and writes it when cmd has run; keepalived reads
    /// it when it is closed (inotify), so a slow writer rewriting the same value moves nothing
    /// while the file sits empty for 0.6 s.
    /// `up` (weight 0 reverse: 0 is a FAULT) read between the two was 0: MASTER -> FAULT.
    func testASlowWriterRewritingATrackedFileMovesNothing() throws {
        let up = lab.dir.file("up")
        try "1\n".write(toFile: up, atomically: true, encoding: .utf8)
        let preamble = """
            track_file up {
                file \(up)
                weight 0 reverse
            }
            """
        let probe = try startPair(lb1Extra: "    track_file up", preamble: preamble)
        XCTAssertTrue(lab.vrrpStatus("lb1").contains("track: file 'up' (FAULT when 0): up"), lab.vrrpStatus("lb1"))

        let started = Date().timeIntervalSince1970
        // Spaced as a periodic job rewrites it: back to back, the next truncation would come a
        // millisecond after the last close, and a read of that close (keepalived's as much as
        // ours) that lands after it would see the file empty, as CI once did on a loaded machine.
        for _ in 0..<3 {
            let written = VIPLab.shell("sh -c 'sleep 0.6; echo 1' > \(up)")
            XCTAssertEqual(written.status, 0, written.err)
            usleep(400_000)
        }
        let status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("state: MASTER") && status.contains("track_file up: \(up) reads 1"), status)
        XCTAssertFalse(lab.instances["lb1"]!.stderr.contains("-> FAULT"), lab.instances["lb1"]!.stderr)
        XCTAssertFalse(probe.answers.contains { $0.start > started && $0.answer == Probe.lb2 }, "the VIP never moved")
        XCTAssertEqual(probe.failures(since: started), [])

        // A real change is still seen.
        try "0\n".write(toFile: up, atomically: true, encoding: .utf8)
        assertLB1Faults("fault: file 'up' reads 0: FAULT", probe)
    }

    /// Debian's haproxy.cfg has `chroot /var/lib/haproxy`: /proc and the tracked files are out
    /// of sight after it. Both are read through descriptors opened before it, so the process
    /// stays counted, a file's value moves the priority, and an exit is still seen.
    func testTrackingWorksInAChroot() throws {
        let tag = "\(43_000_000 + Int(getpid()) % 1_000_000)"
        let jail = lab.dir.file("jail"), prio = lab.dir.file("prio")
        try FileManager.default.createDirectory(atPath: jail, withIntermediateDirectories: true)
        try "0\n".write(toFile: prio, atomically: true, encoding: .utf8)
        let preamble = """
            vrrp_track_process app {
                process sleep \(tag).1
                weight -60
            }
            track_file prio {
                file \(prio)
                weight 10
            }
            """
        let app = try lab.spawn("lb1", "app", ["sleep", "\(tag).1"])
        defer { app.stop() }
        let probe = try startPair(lb1Extra: "    track_process app\n    track_file prio", preamble: preamble, lb1Global: "    chroot \(jail)")
        usleep(1_000_000)   // several scans after the chroot
        var status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("state: MASTER") && status.contains("vrrp_track_process app: OK, 1 running"), status)
        XCTAssertEqual(lab.holders(), ["lb1"])

        try "-6\n".write(toFile: prio, atomically: true, encoding: .utf8)
        XCTAssertTrue(probe.waitFor(Probe.lb2), "lb1 at 90 < 100: lb2 preempts; last: \(probe.last ?? "nothing")")
        status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("priority: 90 (configured 150)") && status.contains("track_file prio: \(prio) reads -6"), status)
        try "0\n".write(toFile: prio, atomically: true, encoding: .utf8)
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "back to 150: lb1 preempts: \(lab.holders())")
        XCTAssertTrue(probe.waitFor(Probe.lb1))

        app.stop()
        XCTAssertTrue(probe.waitFor(Probe.lb2), "the process exited: lb1 at 90; last: \(probe.last ?? "nothing")")
        XCTAssertTrue(lab.vrrpStatus("lb1").contains("process 'app': 0 running, quorum 1+"), lab.vrrpStatus("lb1"))
    }

    /// trk0 is one end of a veth pair in lb1's namespace; taking the other end down is a
    /// pulled cable: trk0 stays administratively up and loses its carrier.
    func testADownedTrackedInterfaceIsAFault() throws {
        let n = lab.ns("lb1")
        try lab.run("ip -n \(n) link add trk0 type veth peer name trk1 && ip -n \(n) link set trk0 up && ip -n \(n) link set trk1 up")
        let probe = try startPair(lb1Extra: "    track_interface trk0")
        XCTAssertTrue(lab.vrrpStatus("lb1").contains("track: interface trk0 (FAULT when down): up"), lab.vrrpStatus("lb1"))
        try lab.run("ip -n \(n) link set trk1 down")
        XCTAssertTrue(probe.waitFor(Probe.lb2), "lb1 in FAULT hands the VIP over")
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.vrrpStatus("lb1").contains("state: FAULT") }, lab.vrrpStatus("lb1"))
        XCTAssertTrue(lab.vrrpStatus("lb1").contains("fault: tracked interface trk0 is down"), lab.vrrpStatus("lb1"))
        XCTAssertTrue(lab.waitForHolders(["lb2"]), "\(lab.holders())")
        _ = waitUntil(timeout: 5) { [lab] in lab!.notifications.contains("lb1 INSTANCE lab_vip FAULT 150") }
        XCTAssertTrue(lab.notifications.contains("lb1 INSTANCE lab_vip FAULT 150"), "\(lab.notifications)")
        try lab.run("ip -n \(n) link set trk1 up")
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "the link is back: lb1 leaves FAULT and preempts: \(lab.holders())")
        XCTAssertTrue(probe.waitFor(Probe.lb1))
    }

    /// No unicast_peer: advertisements to 224.0.0.18, TTL 255, still under the key. The pair
    /// elects, hands over on TERM, and a killed master is taken over by the heartbeat timeout
    /// (no peer link without a known peer). A stranger's multicast heartbeat is dropped.
    func testAMulticastPairElectsAndFailsOver() throws {
        let probe = try startPair(multicast: true)
        var status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("heartbeat: \(lab.address("lb1")):\(VIPLab.port) -> 224.0.0.18 (multicast on veth0, ttl 255)"), status)
        XCTAssertTrue(status.contains("peer link: off (multicast"), status)
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.vrrpStatus("lb2").contains("peer: \(self.lab.address("lb1")) priority 150") }, lab.vrrpStatus("lb2"))

        // A host on the link that does not hold the key, claiming priority 254.
        let forge = Paths.fixtures.appendingPathComponent("heartbeat_forge.py").path
        let client = lab.address("client")
        try lab.run("ip -n \(lab.ns("client")) route add 224.0.0.0/4 dev veth0")
        let forged = VIPLab.shell("python3 \(forge) forge 77 254 \(client) not-the-key").out.trimmingCharacters(in: .whitespacesAndNewlines)
        for _ in 0..<3 {
            let sent = VIPLab.shell("ip netns exec \(lab.ns("client")) python3 \(forge) send \(client) 224.0.0.18 \(VIPLab.port) \(forged)")
            XCTAssertEqual(sent.status, 0, sent.err)
            usleep(50_000)
        }
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.vrrpStatus("lb2").contains("bad MAC 3") }, lab.vrrpStatus("lb2"))
        XCTAssertTrue(lab.vrrpStatus("lb1").contains("bad MAC 3"), lab.vrrpStatus("lb1"))
        XCTAssertEqual(lab.holders(), ["lb1"])

        // TERM: the priority-0 resignation goes by multicast too.
        let term = Date().timeIntervalSince1970
        lab.instances["lb1"]!.signal(SIGTERM)
        XCTAssertTrue(probe.waitFor(Probe.lb2))
        XCTAssertEqual(lab.instances["lb1"]!.waitForExit(timeout: 10), 0, lab.instances["lb1"]!.stderr)
        XCTAssertEqual(lab.holders(), ["lb2"])
        XCTAssertTrue(lab.vrrpStatus("lb2").contains("the master resigned (priority 0)"), lab.vrrpStatus("lb2"))
        let failures = probe.failures(since: term)
        XCTAssertEqual(failures.filter { $0.hasPrefix("FAIL:connect_") }, [], "a graceful handover refuses no connection")
        XCTAssertLessThanOrEqual(failures.count, 1, "at most the request in flight at the ARP move: \(failures)")

        // Back, then SIGKILL: no peer link, so the heartbeat timeout (3 × 100 ms + skew) decides.
        try lab.startSwiftLB("lb1", config: lab.config("lb1", vrrp: lab.vrrpSection("lb1", multicast: true)))
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "\(lab.holders())")
        XCTAssertTrue(probe.waitFor(Probe.lb1))
        let killed = Date().timeIntervalSince1970
        lab.kill("lb1")
        XCTAssertTrue(probe.waitFor(Probe.lb2, timeout: 5))
        let first = try XCTUnwrap(probe.answers.first { $0.start > killed && $0.answer == Probe.lb2 })
        print("multicast KILL (advert_int 100 ms): lb2 answered \(Int((first.start - killed) * 1000)) ms after the SIGKILL")
        XCTAssertLessThan(first.start - killed, 2.0)
        status = lab.vrrpStatus("lb2")
        XCTAssertTrue(status.contains("state: MASTER") && status.contains("no heartbeat from the master"), status)
    }
}
