import Foundation
import XCTest

/// The preempt-back (lb1 restarted, higher priority, takes the VIP back from a live lb2) as
/// the client sees it when it processes the new master's gratuitous ARP late — what a client
/// namespace on a loaded machine (its softirq work deferred) or a slow switch does. The new
/// master announces, then sends its heartbeat; the old one used to drop the address the
/// moment it heard that heartbeat, so a SYN the client still sent to the old MAC was lost
/// (a failed connection; in the full suite, now and then). Make-before-break: the old master
/// keeps the address a little (`Elector.handOverLinger`), asks the new one to announce again
/// halfway, and only then lets go.
///
/// The lateness is made deterministic: the client drops every ARP from the VIP until lb1
/// holds it (its first bursts, and the one it sends when lb2 yields, are lost), then accepts
/// them again, well within the linger.
final class VIPHandOverTests: VIPLabTestCase {
    func testAPreemptBackLosesNoConnectionWhenTheClientHearsTheNewMasterLate() throws {
        guard VIPLab.shell("command -v nft").status == 0 else { return XCTFail("nft is needed (apt-get install nftables; .ci/run does)") }
        // 300 ms adverts: a 600 ms linger, the second announcement at 300 ms — room for this
        // test to lift the block on a loaded machine.
        let probe = try startPair(advert: "300ms")
        lab.instances["lb1"]!.signal(SIGTERM)
        XCTAssertTrue(probe.waitFor(Probe.lb2), "lb2 should answer after lb1 resigned")
        XCTAssertEqual(lab.instances["lb1"]!.waitForExit(timeout: 10), 0, lab.instances["lb1"]!.stderr)

        let client = "ip netns exec \(lab.ns("client")) nft"
        try lab.run("\(client) add table arp late && \(client) add chain arp late in '{ type filter hook input priority 0; }' && " +
                    "\(client) add rule arp late in arp saddr ip \(VIPLab.vip) drop")
        let back = Date().timeIntervalSince1970
        try lab.startSwiftLB("lb1")
        // Lift the block as soon as lb1 holds the VIP (polled every 10 ms, bounded).
        var held = false
        for _ in 0..<1000 where !held {
            held = lab.holders().contains("lb1")
            if !held { usleep(10_000) }
        }
        let lifted = Date().timeIntervalSince1970
        try lab.run("\(client) delete table arp late")
        XCTAssertTrue(held, "lb1 preempts: \(lab.holders())")
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "lb2 lets go after the linger: \(lab.holders())")
        XCTAssertTrue(probe.waitFor(Probe.lb1, timeout: 5), "the second announcement moves the client; last: \(probe.last ?? "nothing")")
        usleep(300_000)
        let failures = probe.failures(since: back)
        XCTAssertEqual(failures.filter { $0.hasPrefix("FAIL:connect_") }, [],
                       "no SYN lost at the old master (block lifted \(Int((lifted - back) * 1000)) ms after lb1's start)")
        XCTAssertLessThanOrEqual(failures.count, 1, "at most the request in flight at the one ARP move: \(failures)")
        XCTAssertTrue(lab.vrrpStatus("lb2").contains("state: BACKUP"), lab.vrrpStatus("lb2"))
    }
}
