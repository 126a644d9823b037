import Foundation
import XCTest

/// What keepalived's stock keepalived.conf asks for, between two real SwiftLB processes in
/// network namespaces: `smtp_alert` mails each transition to a real SMTP listener, and a mail
/// that cannot go changes nothing; `dont_track_primary` keeps the instance out of FAULT when
/// its own interface loses its link.
final class VIPKeepalivedSampleTests: VIPLabTestCase {
    /// smtp_recorder.py on 127.0.0.1:2525 in lb1's namespace (stopped with the lab); the
    /// dialogue's log file.
    private func startMailServer() throws -> String {
        let log = lab.dir.file("smtp.log")
        lab.keep(try lab.spawn("lb1", "smtp", ["python3", Paths.fixtures.appendingPathComponent("smtp_recorder.py").path, "127.0.0.1", "2525", log]))
        XCTAssertNotNil(waitUntil(timeout: 10) { VIPLab.shell("ip netns exec \(self.lab.ns("lb1")) python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", 2525), 1).close()'").status == 0 },
                        "the listener is up")
        return log
    }

    /// The subjects of the mails recorded in `log`, in order.
    private func mailSubjects(_ log: String) -> [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").filter { $0.hasPrefix("C: Subject: ") }.map { String($0.dropFirst(12)) }
    }

    /// lb1 starts BACKUP then becomes MASTER: two mails to the listener in lb1's namespace.
    /// lb2 names the same server, where nothing listens in its namespace: its mails fail,
    /// logged, and it still elects and takes over when lb1 stops (lb1's "Stopping" mail goes
    /// out before it exits).
    func testSMTPAlertMailsEachTransitionAndAFailedMailChangesNothing() throws {
        let log = try startMailServer()
        let globalDefs = """
            global_defs {
               notification_email {
                 ops@lab.test
                 oncall@lab.test
               }
               notification_email_from lb@lab.test
               smtp_server 127.0.0.1 2525
               smtp_helo_name lab.test
               smtp_connect_timeout 2
               router_id LAB
            }
            """
        let probe = try startPair(extraVRRP: "    smtp_alert", preamble: globalDefs)
        func subjects() -> [String] { mailSubjects(log) }
        XCTAssertNotNil(waitUntil(timeout: 10) { subjects().count >= 2 }, "\(subjects())")
        XCTAssertEqual(subjects(), ["[LAB] VRRP Instance lab_vip - Entering BACKUP state", "[LAB] VRRP Instance lab_vip - Entering MASTER state"])
        let dialogue = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        for line in ["C: HELO lab.test", "C: MAIL FROM:<lb@lab.test>", "C: RCPT TO:<ops@lab.test>", "C: RCPT TO:<oncall@lab.test>",
                     "C: To: ops@lab.test, oncall@lab.test", "C: X-Mailer: Keepalived", "C: => VRRP Instance is now owning VRRP VIPs <="] {
            XCTAssertTrue(dialogue.contains(line + "\n"), "\(line) in \(dialogue)")
        }
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.instances["lb1"]!.stderr.contains("\"[LAB] VRRP Instance lab_vip - Entering MASTER state\" sent to ops@lab.test, oncall@lab.test via 127.0.0.1:2525") },
                        lab.instances["lb1"]!.stderr)
        // lb2's server does not answer in its namespace: logged, and nothing else changes.
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.instances["lb2"]!.stderr.contains("\"[LAB] VRRP Instance lab_vip - Entering BACKUP state\" not sent via 127.0.0.1:2525: cannot connect") },
                        lab.instances["lb2"]!.stderr)
        XCTAssertTrue(lab.vrrpStatus("lb2").contains("state: BACKUP"), lab.vrrpStatus("lb2"))

        lab.instances["lb1"]!.signal(SIGTERM)
        XCTAssertTrue(probe.waitFor(Probe.lb2), "lb2 takes over though its mail fails")
        XCTAssertEqual(lab.instances["lb1"]!.waitForExit(timeout: 10), 0, lab.instances["lb1"]!.stderr)
        XCTAssertEqual(subjects().last, "[LAB] VRRP Instance lab_vip - Stopping", "the stop's mail goes out before the process exits: \(subjects())")
        XCTAssertTrue(lab.waitForHolders(["lb2"]), "\(lab.holders())")
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.instances["lb2"]!.stderr.contains("Entering MASTER state\" not sent via 127.0.0.1:2525") },
                        lab.instances["lb2"]!.stderr)
    }

    /// A `vrrp_sync_group` with `smtp_alert` (its members without): the group's agreed
    /// states are mailed as keepalived's "VRRP Group" mails, its members' are not, and the
    /// group's "Stopping" goes out when lb1 stops.
    func testASyncGroupsSMTPAlertMailsTheGroupsStates() throws {
        let log = try startMailServer()
        func config(_ node: String) -> String {
            let blocks = """
                global_defs {
                   notification_email {
                     ops@lab.test
                   }
                   smtp_server 127.0.0.1 2525
                   router_id LAB
                }
                vrrp_sync_group lab_group {
                    group {
                        vip_a
                        vip_b
                    }
                    smtp_alert
                }
                """
            return lab.config(node, vrrp: blocks + "\n" + lab.vrrpSection(node, name: "vip_a", routerID: 77, vip: VIPLab.vip)
                                  + "\n" + lab.vrrpSection(node, name: "vip_b", routerID: 78, vip: VIPLab.vip2),
                              vips: [VIPLab.vip, VIPLab.vip2])
        }
        try startNodes(config)
        XCTAssertTrue(lab.waitForHolders(["lb1"], vip: VIPLab.vip2), "\(lab.holders(VIPLab.vip2))")
        func subjects() -> [String] { mailSubjects(log) }
        XCTAssertNotNil(waitUntil(timeout: 10) { subjects().count >= 2 }, "\(subjects())")
        lab.instances["lb1"]!.signal(SIGTERM)
        XCTAssertEqual(lab.instances["lb1"]!.waitForExit(timeout: 10), 0, lab.instances["lb1"]!.stderr)
        XCTAssertEqual(subjects(), ["[LAB] VRRP Group lab_group - Entering BACKUP state", "[LAB] VRRP Group lab_group - Entering MASTER state",
                                    "[LAB] VRRP Group lab_group - Stopping"])
        XCTAssertTrue(((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("C: => All VRRP group instances are now in MASTER state <=\n"))
    }

    /// lb1's instance lives on trk0 (a veth pair in its namespace; heartbeats go from its
    /// unicast_src_ip on veth0, the VIP is `dev veth0`). trk0 loses its carrier: with
    /// `dont_track_primary` lb1 stays MASTER and keeps the VIP; without it, that is a FAULT
    /// and lb2 takes over.
    func testDontTrackPrimaryKeepsTheInstanceOutOfFaultWhenItsInterfaceGoesDown() throws {
        let n = lab.ns("lb1")
        try lab.run("ip -n \(n) link add trk0 type veth peer name trk1 && ip -n \(n) link set trk0 up && ip -n \(n) link set trk1 up")
        try lab.startBackend("lb1")
        try lab.startBackend("lb2")
        func lb1Config(_ extra: String) -> String {
            lab.config("lb1", vrrp: lab.vrrpSection("lb1", extra: extra)
                .replacingOccurrences(of: "    interface veth0\n", with: "    interface trk0\n")
                .replacingOccurrences(of: "virtual_ipaddress \(VIPLab.vip)/24", with: "virtual_ipaddress \(VIPLab.vip)/24 dev veth0"))
        }
        try lab.startSwiftLB("lb2")
        try lab.startSwiftLB("lb1", config: lb1Config("    dont_track_primary"))
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "\(lab.holders())")
        let probe = try lab.startProbe()
        XCTAssertTrue(probe.waitFor(Probe.lb1))

        let pulled = Date().timeIntervalSince1970
        try lab.run("ip -n \(n) link set trk1 down")
        XCTAssertNotNil(waitUntil(timeout: 5) { VIPLab.shell("ip -n \(n) link show trk0").out.contains("NO-CARRIER") }, "trk0 lost its carrier")
        usleep(1_000_000)  // ten advert intervals
        let status = lab.vrrpStatus("lb1")
        XCTAssertTrue(status.contains("state: MASTER") && status.contains("fault: none"), status)
        XCTAssertEqual(lab.holders(), ["lb1"])
        XCTAssertEqual(probe.failures(since: pulled), [])
        XCTAssertEqual(probe.last, Probe.lb1)

        // The same without dont_track_primary: the link down is a FAULT.
        lab.instances["lb1"]!.signal(SIGTERM)
        XCTAssertEqual(lab.instances["lb1"]!.waitForExit(timeout: 10), 0, lab.instances["lb1"]!.stderr)
        try lab.startSwiftLB("lb1", config: lb1Config(""))
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.vrrpStatus("lb1").contains("fault: interface trk0 is down") }, lab.vrrpStatus("lb1"))
        XCTAssertTrue(lab.waitForHolders(["lb2"]), "\(lab.holders())")
    }

    /// `unicast_ttl 7` and `kernel_rx_buf_size`, read off the wire and the socket: an nftables
    /// counter in lb2's namespace counts lb1's heartbeats by TTL, `ss` shows the receive
    /// buffer (the kernel doubles what is asked). Without unicast_ttl, heartbeats leave with
    /// 255, keepalived's VRRP_IP_TTL.
    func testUnicastTTLAndTheReceiveBufferReachTheSocket() throws {
        let n2 = "ip netns exec \(lab.ns("lb2")) nft"
        try lab.run("\(n2) add table inet ttl && \(n2) add chain inet ttl input '{ type filter hook input priority 0; }' && "
                    + "\(n2) add rule inet ttl input udp dport \(VIPLab.port) ip ttl 7 counter && \(n2) add rule inet ttl input udp dport \(VIPLab.port) ip ttl 255 counter")
        func counted() -> [Int] {
            let rules = VIPLab.shell("\(n2) list chain inet ttl input").out
            return rules.split(separator: "\n").filter { $0.contains("counter packets") }.compactMap { line in
                line.components(separatedBy: "counter packets ").last?.split(separator: " ").first.flatMap { Int($0) }
            }
        }
        _ = try startPair(lb1Extra: "    unicast_ttl 7\n    kernel_rx_buf_size 300000")
        XCTAssertTrue(lab.vrrpStatus("lb1").contains("heartbeat: \(lab.address("lb1")):\(VIPLab.port) -> \(lab.address("lb2")) (ttl 7)"), lab.vrrpStatus("lb1"))
        let before = counted()
        usleep(500_000)
        let after = counted()
        XCTAssertEqual(before.count, 2, "\(before)")
        XCTAssertGreaterThan(after[0] - before[0], 2, "lb1, master, sends every 100 ms with TTL 7: \(before) -> \(after)")
        let sockets = VIPLab.shell("ip netns exec \(lab.ns("lb1")) ss -uanm 'sport = :\(VIPLab.port)'").out
        XCTAssertTrue(sockets.contains("rb600000"), sockets)
        // lb2 (no unicast_ttl) answers lb1's shutdown as master, with TTL 255.
        lab.instances["lb1"]!.signal(SIGTERM)
        XCTAssertTrue(lab.waitForHolders(["lb2"]), "\(lab.holders())")
        let lb1Sockets = VIPLab.shell("ip netns exec \(lab.ns("lb1")) nft add table inet ttl1 && ip netns exec \(lab.ns("lb1")) nft add chain inet ttl1 input '{ type filter hook input priority 0; }' && ip netns exec \(lab.ns("lb1")) nft add rule inet ttl1 input udp dport \(VIPLab.port) ip ttl 255 counter")
        XCTAssertEqual(lb1Sockets.status, 0, lb1Sockets.err)
        usleep(500_000)
        let lb1Rules = VIPLab.shell("ip netns exec \(lab.ns("lb1")) nft list chain inet ttl1 input").out
        let lb2Beats = lb1Rules.components(separatedBy: "counter packets ").last?.split(separator: " ").first.flatMap { Int($0) } ?? 0
        XCTAssertGreaterThan(lb2Beats, 2, "lb2's heartbeats reach lb1's host with TTL 255: \(lb1Rules)")
    }

    /// A one-way split brain: lb2 (100), cut off from lb1's heartbeats, makes itself master;
    /// its heartbeats reach lb1 (150, master), which hears a lower priority and, as
    /// keepalived, re-announces the VIP with `garp_lower_prio_repeat` gratuitous ARPs (40 here,
    /// counted in the client's namespace: far more than garp_master_repeat's 5 per burst) and
    /// runs `notify_master_rx_lower_pri`.
    func testAMasterHearingALowerPriorityUsesGarpLowerPrioRepeatAndItsNotify() throws {
        let heard = lab.dir.file("lb1.heard-lower")
        _ = try startPair(lb1Extra: "    garp_lower_prio_repeat 40\n    garp_master_delay 0\n    notify_master_rx_lower_pri \"touch \(heard)\"")
        let nc = "ip netns exec \(lab.ns("client")) nft"
        try lab.run("\(nc) add table arp garp && \(nc) add chain arp garp input '{ type filter hook input priority 0; }' && "
                    + "\(nc) add rule arp garp input arp saddr ether \(lab.mac("lb1")) counter")
        func arps() -> Int {
            let rules = VIPLab.shell("\(nc) list chain arp garp input").out
            return rules.components(separatedBy: "counter packets ").last?.split(separator: " ").first.flatMap { Int($0) } ?? -1
        }
        // One way: lb2 no longer hears lb1, so it makes itself master, and lb1 hears its
        // heartbeats (lower priority) while master.
        XCTAssertFalse(FileManager.default.fileExists(atPath: heard))
        let before = arps()
        let n2 = "ip netns exec \(lab.ns("lb2")) nft"
        try lab.run("\(n2) add table inet hb && \(n2) add chain inet hb input '{ type filter hook input priority 0; }' && \(n2) add rule inet hb input udp dport \(VIPLab.port) drop")
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.vrrpStatus("lb2").contains("state: MASTER") }, lab.vrrpStatus("lb2"))
        XCTAssertNotNil(waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: heard) }, "notify_master_rx_lower_pri ran: \(lab.instances["lb1"]!.stderr)")
        // The first lower-priority heartbeat's burst (each later one, every 100 ms, sends one more).
        let firstBurst = arps() - before
        XCTAssertGreaterThanOrEqual(firstBurst, 40, "lb1's ARPs once it heard lb2: \(firstBurst)")
        try lab.heal("lb2", "hb")
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.vrrpStatus("lb2").contains("state: BACKUP") }, lab.vrrpStatus("lb2"))
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "\(lab.holders())")
    }
}
