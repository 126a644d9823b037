import Foundation
import XCTest

/// keepalived's `vrrp_sync_group` in the namespace lab: two VIPs whose master is lb1, grouped
/// on both nodes. A pulled cable on an interface only vip_a tracks puts vip_a in FAULT, and the
/// group takes vip_b with it, so lb2 holds both; the group's own notify runs with `GROUP NAME
/// STATE`; the cable back, both return to lb1. A node that stops runs the group's STOP
/// notification (`notify … GROUP NAME STOP` and `notify_stop`), as keepalived does.
final class VIPSyncGroupTests: VIPLabTestCase {
    func testAMemberInFaultTakesItsGroupWithIt() throws {
        let n = lab.ns("lb1")
        try lab.run("ip -n \(n) link add trk0 type veth peer name trk1 && ip -n \(n) link set trk0 up && ip -n \(n) link set trk1 up")
        func config(_ node: String) -> String {
            let group = """
                vrrp_sync_group lab_group {
                    group {
                        vip_a
                        vip_b
                    }
                    notify "/bin/sh \(lab.dir.file("notify.sh")) \(node)"
                    notify_stop "/bin/sh \(lab.dir.file("notify.sh")) \(node) notify_stop"
                }
                """
            return lab.config(node, vrrp: group + "\n"
                + lab.vrrpSection(node, name: "vip_a", routerID: 77, vip: VIPLab.vip, extra: node == "lb1" ? "    track_interface trk0" : "")
                + "\n" + lab.vrrpSection(node, name: "vip_b", routerID: 78, vip: VIPLab.vip2),
                vips: [VIPLab.vip, VIPLab.vip2])
        }
        try startNodes(config)
        XCTAssertTrue(lab.waitForHolders(["lb1"], vip: VIPLab.vip), "\(lab.holders(VIPLab.vip))")
        XCTAssertTrue(lab.waitForHolders(["lb1"], vip: VIPLab.vip2), "\(lab.holders(VIPLab.vip2))")
        XCTAssertNotNil(waitUntil(timeout: 5) { [lab] in lab!.notifications.contains("lb1 GROUP lab_group MASTER") }, "\(lab.notifications)")
        XCTAssertNotNil(waitUntil(timeout: 5) { [lab] in lab!.notifications.contains("lb2 GROUP lab_group BACKUP") }, "\(lab.notifications)")

        try lab.run("ip -n \(n) link set trk1 down")
        XCTAssertTrue(lab.waitForHolders(["lb2"], vip: VIPLab.vip), "vip_a's own fault: \(lab.holders(VIPLab.vip))")
        XCTAssertTrue(lab.waitForHolders(["lb2"], vip: VIPLab.vip2), "vip_b follows its group: \(lab.holders(VIPLab.vip2))")
        let status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("instance: vip_b\nstate: FAULT"), status)
        XCTAssertTrue(status.contains("vrrp_sync_group lab_group: vrrp vip_a is in fault (tracked interface trk0 is down)"), status)
        XCTAssertNotNil(waitUntil(timeout: 5) { [lab] in lab!.notifications.contains("lb1 GROUP lab_group FAULT") }, "\(lab.notifications)")
        XCTAssertNotNil(waitUntil(timeout: 5) { [lab] in lab!.notifications.contains("lb2 GROUP lab_group MASTER") }, "\(lab.notifications)")

        try lab.run("ip -n \(n) link set trk1 up")
        XCTAssertTrue(lab.waitForHolders(["lb1"], vip: VIPLab.vip), "the link is back: lb1 preempts vip_a: \(lab.holders(VIPLab.vip))")
        XCTAssertTrue(lab.waitForHolders(["lb1"], vip: VIPLab.vip2), "and vip_b: \(lab.holders(VIPLab.vip2))")

        XCTAssertFalse(lab.notifications.contains { $0.hasPrefix("lb2 notify_stop") || $0 == "lb2 GROUP lab_group STOP" }, "\(lab.notifications)")
        lab.instances["lb2"]!.signal(SIGTERM)
        XCTAssertNotNil(lab.instances["lb2"]!.waitForExit(timeout: 10), "lb2 did not stop")
        XCTAssertNotNil(waitUntil(timeout: 5) { [lab] in lab!.notifications.contains("lb2 GROUP lab_group STOP") }, "\(lab.notifications)")
        XCTAssertNotNil(waitUntil(timeout: 5) { [lab] in lab!.notifications.contains("lb2 notify_stop") }, "\(lab.notifications)")
        XCTAssertEqual(lab.notifications.filter { $0 == "lb2 GROUP lab_group STOP" }.count, 1, "once: \(lab.notifications)")
    }
}
