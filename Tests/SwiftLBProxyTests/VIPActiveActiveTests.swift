import Foundation
import XCTest

/// Active-active (issue #15): two VIPs, lb1 master of one (10.77.0.10, `vip_a`) and lb2 of
/// the other (10.77.0.20, `vip_b`), DNS naming both so both machines serve. Each instance
/// elects on its own; they share one heartbeat socket and one peer link. A stop hands over
/// only what the stopping node held; a killed node's VIP is taken over through the shared
/// link in milliseconds, the other VIP never moves.
final class VIPActiveActiveTests: VIPLabTestCase {
    /// Both lbs up with both instances; one probe per VIP, each answered by its master.
    func startActiveActive(advert: String = "100ms", period: Double = 0.01) throws -> (a: Probe, b: Probe) {
        try lab.startBackend("lb1")
        try lab.startBackend("lb2")
        try lab.startSwiftLB("lb2", config: lab.activeActiveConfig("lb2", advertInterval: advert))
        try lab.startSwiftLB("lb1", config: lab.activeActiveConfig("lb1", advertInterval: advert))
        XCTAssertTrue(lab.waitForHolders(["lb1"], vip: VIPLab.vip), "lb1 (150) holds vip_a: \(lab.holders(VIPLab.vip))")
        XCTAssertTrue(lab.waitForHolders(["lb2"], vip: VIPLab.vip2), "lb2 (150) holds vip_b: \(lab.holders(VIPLab.vip2))")
        let a = try lab.startProbe("probe-a", vip: VIPLab.vip, period: period)
        let b = try lab.startProbe("probe-b", vip: VIPLab.vip2, period: period)
        XCTAssertTrue(a.waitFor(Probe.lb1), "vip_a reaches lb1; last: \(a.last ?? "nothing")")
        XCTAssertTrue(b.waitFor(Probe.lb2), "vip_b reaches lb2; last: \(b.last ?? "nothing")")
        XCTAssertTrue(linkUp("lb1") && linkUp("lb2"), lab.vrrpStatus("lb2"))
        return (a, b)
    }

    func testShowVRRPListsEveryInstanceOverOneSharedLink() throws {
        _ = try startActiveActive()
        let status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("instance: vip_a\nstate: MASTER"), status)
        XCTAssertTrue(status.contains("instance: vip_b\nstate: BACKUP"), status)
        XCTAssertEqual(status.components(separatedBy: "peer link: up (").count - 1, 1, "one link for both instances: \(status)")
        XCTAssertEqual(status.components(separatedBy: "peer link: to \(lab.address("lb2")):\(VIPLab.port) (shared").count - 1, 2, status)
        XCTAssertTrue(status.contains("peer link: 1 times up"), status)
        XCTAssertTrue(status.contains("dropped heartbeats: none"), "each socket packet reached its instance: \(status)")
    }

    /// The issue's test: SIGTERM of lb1 moves only its VIP, with 0 failed probes on both.
    func testTERMOfOneNodeMovesOnlyItsVIPWithoutAFailedProbe() throws {
        let (a, b) = try startActiveActive()
        let notesBefore = lab.notifications.count
        let term = Date().timeIntervalSince1970
        lab.instances["lb1"]!.signal(SIGTERM)
        XCTAssertTrue(a.waitFor(Probe.lb2), "lb2 answers on vip_a after lb1 resigned it")
        XCTAssertEqual(lab.instances["lb1"]!.waitForExit(timeout: 10), 0, lab.instances["lb1"]!.stderr)
        XCTAssertEqual(lab.holders(VIPLab.vip), ["lb2"], "lb1 released vip_a before exiting")
        XCTAssertEqual(lab.holders(VIPLab.vip2), ["lb2"], "vip_b never moved")
        let stderr = lab.instances["lb1"]!.stderr
        XCTAssertTrue(stderr.contains("vrrp vip_a: MASTER -> INIT: resigned: the peer is master"), stderr)
        XCTAssertTrue(stderr.contains("vrrp vip_b: BACKUP -> INIT: stopped"), stderr)
        let status = lab.vrrpStatus("lb2")
        XCTAssertTrue(status.contains("instance: vip_a\nstate: MASTER"), status)
        XCTAssertTrue(status.contains("the master resigned (priority 0)"), status)
        XCTAssertTrue(status.contains("instance: vip_b\nstate: MASTER"), status)
        XCTAssertTrue(status.contains("after its goodbye"), "the link closed with a goodbye, no death: \(status)")
        usleep(300_000)
        // No connection is refused; a request already on a connection when the client's ARP
        // entry flips reaches lb2, which never saw the connection, and is reset (VRRP moves
        // addresses, not connections: see VIPFailoverTests).
        let failures = a.failures(since: term)
        XCTAssertEqual(failures.filter { $0.hasPrefix("FAIL:connect_") }, [], "a graceful handover of vip_a refuses no connection")
        XCTAssertLessThanOrEqual(failures.count, 1, "at most the request in flight at vip_a's ARP move: \(failures)")
        XCTAssertEqual(b.failures(since: term), [], "vip_b is untouched")
        XCTAssertEqual(b.answers.filter { $0.start >= term }.map(\.answer).filter { $0 != Probe.lb2 }, [], "lb2 served vip_b throughout")
        _ = waitUntil(timeout: 5) { [lab] in lab!.notifications.contains("lb2 INSTANCE vip_a MASTER 100") }
        let after = Array(lab.notifications.dropFirst(notesBefore))
        XCTAssertEqual(after.filter { $0.hasPrefix("lb2 ") }, ["lb2 INSTANCE vip_a MASTER 100"], "lb2 changed vip_a only: \(after)")
        print("active-active TERM: vip_a \(a.answers.filter { $0.start >= term }.count) probes (\(failures.count) reset at the ARP move), vip_b \(b.answers.filter { $0.start >= term }.count) probes, 0 failed")
    }

    /// SIGKILL of lb1 at advert_int 1 s: its VIP moves through the shared peer link long
    /// before the heartbeat timeout (3.6 s); vip_b, whose master lb2 is, stays where it is.
    func testKILLOfOneNodeMovesItsVIPThroughTheSharedLink() throws {
        let (a, b) = try startActiveActive(advert: "1s", period: 0.005)
        let killed = Date().timeIntervalSince1970
        lab.kill("lb1")
        XCTAssertTrue(a.waitFor(Probe.lb2, timeout: 5), "lb2 answers on vip_a once lb1's process is gone")
        let first = try XCTUnwrap(a.answers.first { $0.start > killed && $0.answer == Probe.lb2 })
        print("active-active KILL (advert_int 1 s): vip_a answered by lb2 \(Int((first.start - killed) * 1000)) ms after the SIGKILL")
        // The heartbeat's 3.6 s run from the last advert heard, up to 1 s before the kill.
        XCTAssertLessThan(first.start - killed, 2.5, "the peer link, not the heartbeat timeout (at the earliest 2.6 s after the kill)")
        let status = lab.vrrpStatus("lb2")
        XCTAssertTrue(status.contains("instance: vip_a\nstate: MASTER"), status)
        XCTAssertTrue(status.contains("the master's process died"), status)
        XCTAssertTrue(status.contains("instance: vip_b\nstate: MASTER"), status)
        XCTAssertTrue(status.contains("1 peer process deaths seen"), status)
        XCTAssertEqual(lab.holders(VIPLab.vip2), ["lb2"])
        XCTAssertEqual(b.failures(since: killed), [], "vip_b is untouched")
        XCTAssertTrue(lab.instances["lb2"]!.stderr.contains("vrrp vip_b: MASTER stays MASTER: the backup's process died"), lab.instances["lb2"]!.stderr)

        // lb1 comes back: it takes vip_a back and stays backup of vip_b.
        try lab.startSwiftLB("lb1", config: lab.activeActiveConfig("lb1", advertInterval: "1s"))
        XCTAssertTrue(lab.waitForHolders(["lb1"], vip: VIPLab.vip), "\(lab.holders(VIPLab.vip))")
        XCTAssertTrue(a.waitFor(Probe.lb1))
        XCTAssertEqual(lab.holders(VIPLab.vip2), ["lb2"])
    }
}
