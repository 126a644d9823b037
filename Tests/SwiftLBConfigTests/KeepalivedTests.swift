import Foundation
import XCTest
@testable import SwiftLBConfig

/// keepalived.conf's blocks read verbatim in lb.conf, `include`, and HAProxy's environment
/// variables.
final class KeepalivedTests: XCTestCase {
    /// keepalived's own sample, with a unicast peer.
    private let sample = """
        ! Configuration File for keepalived
        global_defs {
           notification_email {
             acassen@firewall.loc
           }
           router_id LVS_DEVEL
        }

        vrrp_script chk_haproxy {
            script "/usr/bin/killall -0 haproxy"   # cheaper than pidof
            interval 2
            weight -20
            fall 2
            rise 3
        }

        vrrp_instance VI_1 {
            state MASTER
            interface eth0
            virtual_router_id 51
            priority 101
            advert_int 1
            unicast_src_ip 192.168.122.11
            unicast_peer {
                192.168.122.12
            }
            virtual_ipaddress {
                192.168.122.10/24 dev eth0
                192.168.122.20
            }
            track_script {
                chk_haproxy weight 10
            }
            track_interface {
                eth1 weight -5
            }
            auth_key_file /etc/swiftlb/vrrp.key
        }
        """

    private func parse(_ text: String, pending: Bool = false, environment: [String: String] = [:], line: UInt = #line) throws -> Configuration {
        try parseOrFail(text, file: "k.conf", pending: pending, environment: environment, line: line)
    }

    private func errors(_ text: String) -> [ConfigError] { parseErrors(text, file: "k.conf") }

    func testKeepalivedBlocksFillTheModel() throws {
        let config = try parse(sample, pending: true)
        XCTAssertEqual(config.routerID, "LVS_DEVEL")
        let v = try XCTUnwrap(config.vrrp)
        XCTAssertEqual(config.vrrpInstances.count, 1)
        XCTAssertEqual(v.name, "VI_1")
        XCTAssertEqual(v.line, 17)
        XCTAssertEqual(v.initialState, .master)
        XCTAssertEqual(v.interface, "eth0")
        XCTAssertEqual(v.virtualRouterID, 51)
        XCTAssertEqual(v.priority, 101)
        XCTAssertEqual(v.advertInterval, .seconds(1))
        XCTAssertEqual(v.unicastSourceIP, "192.168.122.11")
        XCTAssertEqual(v.unicastPeers, ["192.168.122.12"])
        XCTAssertFalse(v.multicast)
        XCTAssertEqual(v.virtualAddresses, [VirtualAddress(cidr: "192.168.122.10/24", interface: "eth0"),
                                            VirtualAddress(cidr: "192.168.122.20/32", interface: nil)], "a bare address is a /32")
        XCTAssertEqual(v.trackScripts, [TrackScript(script: "chk_haproxy", weight: 10, line: 32)])
        XCTAssertEqual(v.trackInterfaces, [TrackInterface(interface: "eth1", weight: -5, line: 35)])
        XCTAssertEqual(v.authKeyFile, "/etc/swiftlb/vrrp.key")
        let script = try XCTUnwrap(config.vrrpScripts["chk_haproxy"])
        XCTAssertEqual(script.script, "/usr/bin/killall -0 haproxy")
        XCTAssertEqual(script.interval, .seconds(2))
        XCTAssertEqual(script.weight, -20)
        XCTAssertEqual(script.fall, 2)
        XCTAssertEqual(script.rise, 3)
        XCTAssertEqual(config.smtpAlert.recipients, ["acassen@firewall.loc"], "stored, for smtp_alert")
        XCTAssertFalse(config.warnings.contains { $0.line == 3 }, "notification_email is read, not warned about")
        XCTAssertTrue(config.warnings.contains { $0.keyword == "state" && $0.message.contains("'state MASTER' starts as BACKUP in SwiftLB") })
    }

    func testTheSampleIsAcceptedWhole() throws {
        XCTAssertEqual(errors(sample), [], "vrrp_script, track_script and track_interface are active")
        let reversed = sample.replacingOccurrences(of: "weight -20", with: "weight 20 reverse")
            .replacingOccurrences(of: "chk_haproxy weight 10", with: "chk_haproxy weight 5 reverse")
        let config = try parse(reversed)
        XCTAssertEqual(config.vrrpScripts["chk_haproxy"]?.weight, 20)
        XCTAssertEqual(config.vrrpScripts["chk_haproxy"]?.reverse, true, "'reverse' is kept apart from the weight's sign")
        XCTAssertEqual(config.vrrp?.trackScripts, [TrackScript(script: "chk_haproxy", weight: 5, reverse: true, line: 32)])
        let user = errors(sample.replacingOccurrences(of: "    rise 3\n", with: "    rise 3\n    user nobody\n"))
        XCTAssertEqual(user.map(\.line), [15], "\(user)")
        XCTAssertTrue(user.first?.message.contains("scripts run as SwiftLB's own user") == true, "\(user)")
    }

    /// keepalived's `authentication { auth_type PASS  auth_pass … }` runs as it is: the
    /// heartbeat keeps its HMAC, under a key derived from the password's first 8 characters
    /// (what keepalived reads of it), with a warning that a key file is stronger.
    func testAuthenticationPASSDerivesTheHeartbeatKey() throws {
        let text = "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress { 10.0.0.10 }\n  authentication {\n    auth_type PASS\n    auth_pass 1234567890\n  }\n}\n"
        let config = try parse(text)
        let v = try XCTUnwrap(config.vrrpInstances.first)
        XCTAssertEqual(v.authPass, "12345678")
        XCTAssertNil(v.authKeyFile)
        XCTAssertTrue(v.isAuthenticated)
        let warning = try XCTUnwrap(config.warnings.first { $0.keyword == "auth_pass" })
        XCTAssertEqual(warning.line, 8)
        XCTAssertTrue(warning.message.contains("HMAC-SHA256") && warning.message.contains("auth_key_file"), warning.message)
        // AH is read the same way; another type, or a block without a password, is not a key.
        XCTAssertNoThrow(try parse(text.replacingOccurrences(of: "auth_type PASS", with: "auth_type AH")))
        XCTAssertEqual(errors(text.replacingOccurrences(of: "auth_type PASS", with: "auth_type MD5")).first?.keyword, "auth_type")
        let noPass = errors(text.replacingOccurrences(of: "    auth_pass 1234567890\n", with: ""))
        XCTAssertEqual(noPass.map(\.keyword), ["auth_key_file"], "\(noPass)")
        // `auth none` after it turns authentication off.
        XCTAssertFalse(try parse(text.replacingOccurrences(of: "  }\n}", with: "  }\n  auth none\n}")).vrrpInstances[0].isAuthenticated)
    }

    /// A vrrp_script whose program is not there is refused with its line, as `keepalived -t`
    /// refuses it (keepalived would disable the script); shell builtins and syntax are left to
    /// /bin/sh, which runs the command.
    func testAVRRPScriptWhoseProgramIsMissingIsRefused() {
        func script(_ command: String) -> [ConfigError] {
            errors("vrrp_script chk {\n  script \"\(command)\"\n}\n")
        }
        let missing = script("/nonexistent/check_haproxy.sh")
        XCTAssertEqual(missing.map(\.line), [1], "\(missing)")
        XCTAssertTrue(missing.first?.message.contains("'/nonexistent/check_haproxy.sh' is not an executable file") == true, "\(missing)")
        XCTAssertTrue(script("no-such-program-swiftlb -0 haproxy").first?.message.contains("not found in PATH") == true)
        XCTAssertTrue(script("/etc/passwd").first?.message.contains("not an executable file") == true, "a file that cannot run")
        for fine in ["killall -0 haproxy", "test ! -e /tmp/x", "[ -f /etc/passwd ]", "</dev/tcp/127.0.0.1/80", "/bin/sh -c true"] {
            XCTAssertEqual(script(fine), [], fine)
        }
    }

    func testMulticastAndSeveralInstances() throws {
        let text = "vrrp_instance A {\n  interface eth0\n  virtual_router_id 5\n  mcast_src_ip 10.0.0.1\n  virtual_ipaddress { 10.0.0.10 }\n  auth_key_file /k\n}\n"
            + "vrrp_instance B {\n  interface eth0\n  virtual_router_id 6\n  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress { 10.0.0.11 }\n  auth none\n}\n"
        let config = try parse(text)
        XCTAssertEqual(config.vrrpInstances.map(\.name), ["A", "B"])
        XCTAssertEqual(config.vrrp?.name, "A", "vrrp is the first instance")
        XCTAssertTrue(config.vrrpInstances[0].multicast)
        XCTAssertEqual(config.vrrpInstances[0].mcastSourceIP, "10.0.0.1")
        XCTAssertEqual(config.virtualAddresses, ["10.0.0.10", "10.0.0.11"])
        // Multicast is heard by every host on the link: only a key tells the sibling apart.
        let found = errors(text.replacingOccurrences(of: "auth_key_file /k", with: "auth none"))
        XCTAssertEqual(found.map(\.line), [1], "\(found)")
        XCTAssertTrue(found.first?.message.contains("multicast advertisements (no 'unicast_peer') need 'auth_key_file FILE'") == true, "\(found)")
    }

    /// keepalived's sync groups: members named in `group { … }` (declared before or after),
    /// the group's notify scripts; an unknown member, a member of two groups, or a keyword
    /// SwiftLB does not run in a group is an error on its line.
    func testSyncGroups() throws {
        let instances = "vrrp_instance EXT {\n  interface eth0\n  virtual_router_id 5\n  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress { 10.0.0.10 }\n  auth none\n}\n"
            + "vrrp_instance INT {\n  interface eth1\n  virtual_router_id 6\n  unicast_peer { 10.0.1.2 }\n  virtual_ipaddress { 10.0.1.10 }\n  auth none\n}\n"
        let group = "vrrp_sync_group G1 {\n  group {\n    EXT\n    INT\n  }\n  notify_master \"/etc/fw/primary.sh master\"\n  notify /etc/fw/notify.sh\n}\n"
        let config = try parse(group + instances)
        XCTAssertEqual(config.vrrpSyncGroups.count, 1)
        XCTAssertEqual(config.vrrpSyncGroups[0].members, ["EXT", "INT"])
        XCTAssertEqual(config.vrrpSyncGroups[0].notifyMaster, "/etc/fw/primary.sh master")
        XCTAssertEqual(config.vrrpSyncGroups[0].notify, "/etc/fw/notify.sh")
        XCTAssertEqual(config.vrrpSyncGroups[0].line, 1)

        let unknown = errors(group.replacingOccurrences(of: "    INT\n", with: "    INTT\n") + instances)
        XCTAssertTrue(unknown.contains { $0.line == 1 && $0.keyword == "vrrp_sync_group" && $0.message.contains("no vrrp_instance named 'INTT'") }, "\(unknown)")
        let twice = errors(group + group.replacingOccurrences(of: "G1", with: "G2") + instances)
        XCTAssertTrue(twice.contains { $0.line == 9 && $0.message.contains("'EXT' is already in vrrp_sync_group 'G1'") }, "\(twice)")
        let tracked = errors(group.replacingOccurrences(of: "  notify /etc/fw/notify.sh\n", with: "  track_script {\n    chk\n  }\n") + instances)
        XCTAssertTrue(tracked.contains { $0.line == 7 && $0.message.contains("track scripts and interfaces in each vrrp_instance") }, "\(tracked)")
        let smtp = try parse(group.replacingOccurrences(of: "  notify /etc/fw/notify.sh\n", with: "  smtp_alert\n") + instances)
        XCTAssertEqual(smtp.vrrpSyncGroups[0].smtpAlert, true, "a group's smtp_alert mails the group's transitions")
        XCTAssertEqual(smtp.vrrpInstances.map(\.smtpAlert), [false, false], "not its members'")
        let badSMTP = errors(group.replacingOccurrences(of: "  notify /etc/fw/notify.sh\n", with: "  smtp_alert maybe\n") + instances)
        XCTAssertTrue(badSMTP.contains { $0.line == 7 && $0.keyword == "smtp_alert" && $0.message.contains("yes|no") }, "\(badSMTP)")
        XCTAssertTrue(errors("vrrp_sync_group G {\n}\n" + instances).contains { $0.line == 1 && $0.message.contains("has no 'group") })
    }

    /// keepalived 2.2's `vrrp_track_process` and an instance's `track_process { … }`, with its
    /// defaults (weight 0, quorum 1, no maximum) and its rules: arguments on `process` make an
    /// exact command-line match, `param_match` alone is exact, `quorum_max 0` means "none may
    /// run"; what keepalived reports and ignores is an error on its line here.
    func testTrackProcessBlocks() throws {
        let instance = "vrrp_instance VI {\n  interface eth0\n  virtual_router_id 5\n  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress { 10.0.0.10 }\n  auth none\n"
            + "  track_process {\n    haproxy\n    workers weight 10 reverse\n    api weight -20 noreverse\n  }\n}\n"
        let blocks = """
            vrrp_track_process haproxy {
                process haproxy
            }
            vrrp_track_process workers {
                process "/usr/bin/python3" worker.py --queue
                param_match partial
                quorum 2
                quorum_max 4
                delay 0.5
                fork_delay 2
            }
            vrrp_track_process api {
                process api-server
                weight 30 reverse
                quorum_max 0
                full_command
            }

            """
        let config = try parse(blocks + instance)
        let haproxy = try XCTUnwrap(config.vrrpTrackProcesses["haproxy"])
        XCTAssertEqual(haproxy.process, "haproxy")
        XCTAssertEqual(haproxy.line, 1)
        XCTAssertEqual(haproxy.weight, 0, "keepalived's default: FAULT without the quorum")
        XCTAssertEqual(haproxy.quorum, 1)
        XCTAssertEqual(haproxy.quorumMax, Int(UInt32.max))
        XCTAssertEqual(haproxy.paramMatch, .none)
        XCTAssertFalse(haproxy.fullCommand, "the command name, not argv")
        let workers = try XCTUnwrap(config.vrrpTrackProcesses["workers"])
        XCTAssertEqual(workers.process, "/usr/bin/python3")
        XCTAssertEqual(workers.parameters, ["worker.py", "--queue"])
        XCTAssertEqual(workers.paramMatch, .partial)
        XCTAssertTrue(workers.fullCommand)
        XCTAssertEqual([workers.quorum, workers.quorumMax], [2, 4])
        XCTAssertEqual(workers.forkDelay, .seconds(2), "fork_delay after delay overrides its half")
        XCTAssertEqual(workers.terminateDelay, .milliseconds(500))
        let api = try XCTUnwrap(config.vrrpTrackProcesses["api"])
        XCTAssertEqual([api.quorum, api.quorumMax], [0, 0], "quorum_max 0: failure while any runs")
        XCTAssertEqual(api.weight, 30)
        XCTAssertTrue(api.reverse)
        XCTAssertTrue(api.fullCommand)
        XCTAssertNil(api.parameters)
        let v = try XCTUnwrap(config.vrrp)
        XCTAssertEqual(v.trackProcesses, [TrackProcess(process: "haproxy", weight: nil, reverse: nil, line: 25),
                                          TrackProcess(process: "workers", weight: 10, reverse: true, line: 26),
                                          TrackProcess(process: "api", weight: -20, reverse: false, line: 27)])

        // keepalived's own example: a quoted item is one element (here the name and an argument).
        let quoted = try parse("vrrp_track_process q {\n  process \"/tmp/a b\" param1 \"param 2\"\n}\n").vrrpTrackProcesses["q"]
        XCTAssertEqual(quoted?.process, "/tmp/a b")
        XCTAssertEqual(quoted?.parameters, ["param1", "param 2"])

        // Arguments alone: an exact match of them.
        let exact = try parse("vrrp_track_process s {\n  process sleep 30\n}\n")
        XCTAssertEqual(exact.vrrpTrackProcesses["s"]?.paramMatch, .exact)
        XCTAssertEqual(exact.vrrpTrackProcesses["s"]?.fullCommand, true)
        XCTAssertEqual(try parse("vrrp_track_process s {\n  process sleep\n  param_match\n}\n").vrrpTrackProcesses["s"]?.paramMatch, .exact,
                       "param_match alone: exactly the arguments given (here none)")

        func error(_ body: String, _ expected: String, line: Int = 2, file: StaticString = #filePath, sourceLine: UInt = #line) {
            let found = errors("vrrp_track_process p {\n\(body)\n}\n")
            XCTAssertTrue(found.contains { $0.line == line && $0.message.contains(expected) }, "\(found)", file: file, line: sourceLine)
        }
        error("  process a\n  param_match exact", "write 'param_match' alone", line: 3)
        error("  process a\n  weight 255", "-254...254", line: 3)
        error("  process a\n  weight 5 backwards", "-254...254", line: 3)
        error("  process a\n  quorum_max 2\n  quorum 3", "quorum 3 is above quorum_max 2", line: 4)
        error("  process a\n  quorum 3\n  quorum_max 2", "quorum_max 2 is below quorum 3", line: 4)
        error("  process a\n  quorum 0", "from 1 to 65535", line: 3)
        error("  process a\n  delay 0", "0.000001 to 3600", line: 3)
        error("  process a\n  terminate_delay 3601", "0.000001 to 3600", line: 3)
        error("  process a\n  process b", "already set ('a')", line: 3)
        error("  weight 1", "has no 'process NAME'", line: 1)
        XCTAssertTrue(errors("vrrp_track_process p {\n  process a\n}\nvrrp_track_process p {\n  process b\n}\n").contains { $0.line == 4 && $0.message.contains("declared twice") })
        XCTAssertTrue(errors("track_process p {\n  process a\n}\n").first?.message.contains("keepalived names the block 'vrrp_track_process") == true)

        // The instance's list: a name that no block declares, a name tracked twice, a bad weight.
        let unknown = errors(blocks.replacingOccurrences(of: "vrrp_track_process api", with: "vrrp_track_process apis") + instance)
        XCTAssertTrue(unknown.contains { $0.line == 27 && $0.keyword == "track_process" && $0.message.contains("no vrrp_track_process named 'api'") }, "\(unknown)")
        let twice = errors(blocks + instance.replacingOccurrences(of: "    api weight -20 noreverse\n", with: "    haproxy weight 5\n"))
        XCTAssertTrue(twice.contains { $0.line == 27 && $0.message.contains("'haproxy' is already tracked") }, "\(twice)")
        let weight = errors(blocks + instance.replacingOccurrences(of: "weight -20", with: "weight -255"))
        XCTAssertTrue(weight.contains { $0.line == 27 && $0.message.contains("-254...254") }, "\(weight)")

        // In a `vrrp` section (no braces), `track_process NAME` is the section's keyword.
        let section = try parse("vrrp_track_process p {\n  process a\n}\nvrrp v1\n  interface eth0\n  virtual_router_id 5\n  unicast_peer 10.0.0.2\n"
                                + "  virtual_ipaddress 10.0.0.10\n  auth none\n  track_process p weight -5\n")
        XCTAssertEqual(section.vrrp?.trackProcesses, [TrackProcess(process: "p", weight: -5, reverse: nil, line: 10)])

        // A command name is at most 15 characters in the kernel: a longer one never matches.
        let long = try parse("vrrp_track_process p {\n  process kube-controller-manager\n}\n")
        XCTAssertTrue(long.warnings.contains { $0.line == 1 && $0.message.contains("add 'full_command'") }, "\(long.warnings)")
        XCTAssertFalse(try parse("vrrp_track_process p {\n  process kube-controller-manager\n  full_command\n}\n").warnings.contains { $0.message.contains("full_command") })
    }

    /// keepalived 2.2's `track_file` (and its old name `vrrp_track_file`) and an instance's
    /// `track_file { … }`: weight 1 by default, `init_file [VALUE] [overwrite]`; a block
    /// without `file`, or whose file's directory does not exist, is refused (keepalived drops it).
    func testTrackFileBlocks() throws {
        let instance = "vrrp_instance VI {\n  interface eth0\n  virtual_router_id 5\n  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress { 10.0.0.10 }\n  auth none\n"
            + "  track_file {\n    prio\n    maint weight 0 noreverse\n  }\n}\n"
        let blocks = """
            track_file prio {
                file /tmp/swiftlb-prio
                init_file
            }
            vrrp_track_file maint {
                file "/tmp/swiftlb maint"
                weight 0 reverse
                init_file overwrite -5
            }

            """
        let config = try parse(blocks + instance)
        let prio = try XCTUnwrap(config.vrrpTrackFiles["prio"])
        XCTAssertEqual(prio.path, "/tmp/swiftlb-prio")
        XCTAssertEqual(prio.weight, 1, "keepalived's default")
        XCTAssertFalse(prio.reverse)
        XCTAssertEqual(prio.initial, VRRPTrackFile.Initial(value: 0, overwrite: false))
        let maint = try XCTUnwrap(config.vrrpTrackFiles["maint"])
        XCTAssertEqual(maint.path, "/tmp/swiftlb maint")
        XCTAssertEqual(maint.line, 5)
        XCTAssertEqual(maint.weight, 0)
        XCTAssertTrue(maint.reverse)
        XCTAssertEqual(maint.initial, VRRPTrackFile.Initial(value: -5, overwrite: true))
        XCTAssertEqual(config.vrrp?.trackFiles, [TrackFile(file: "prio", weight: nil, reverse: nil, line: 17),
                                                 TrackFile(file: "maint", weight: 0, reverse: false, line: 18)])

        func error(_ body: String, _ expected: String, line: Int = 3, file: StaticString = #filePath, sourceLine: UInt = #line) {
            let found = errors("track_file f {\n  file /tmp/f\n\(body)\n}\n")
            XCTAssertTrue(found.contains { $0.line == line && $0.message.contains(expected) }, "\(found)", file: file, line: sourceLine)
        }
        error("  file /tmp/g", "already set ('/tmp/f')")
        error("  weight 255", "-254...254")
        error("  weight 2\n  weight 3", "weight of track_file 'f' is already set", line: 4)
        error("  init_file twice", "'twice' is neither a number nor 'overwrite'")
        error("  init_file 99999999999", "neither a number")
        XCTAssertTrue(errors("track_file f {\n  weight 2\n}\n").contains { $0.line == 1 && $0.message.contains("has no 'file PATH'") })
        XCTAssertTrue(errors("track_file f {\n  file /nonexistent-dir-swiftlb/f\n}\n").contains { $0.line == 1 && $0.message.contains("directory of '/nonexistent-dir-swiftlb/f' does not exist") })
        let outside = try parse("track_file f {\n  file /tmp/f\n  init_file 300\n}\n")
        XCTAssertTrue(outside.warnings.contains { $0.line == 1 && $0.message.contains("outside -254...254") }, "\(outside.warnings)")
        let unknown = errors(blocks + instance.replacingOccurrences(of: "    prio\n", with: "    pri\n"))
        XCTAssertTrue(unknown.contains { $0.line == 17 && $0.keyword == "track_file" && $0.message.contains("no track_file named 'pri' (did you mean 'prio'?)") }, "\(unknown)")
        let twice = errors(blocks + instance.replacingOccurrences(of: "    maint weight 0 noreverse\n", with: "    prio weight 2\n"))
        XCTAssertTrue(twice.contains { $0.line == 18 && $0.message.contains("'prio' is already tracked") }, "\(twice)")

        // In a sync group keepalived applies no file weight: only weight 0 means the same there.
        let grouped = blocks + instance + "vrrp_sync_group G {\n  group {\n    VI\n  }\n}\n"
        let weighted = errors(grouped)
        XCTAssertEqual(weighted.map(\.line), [17], "\(weighted)")
        XCTAssertTrue(weighted.first?.message.contains("the instance is in vrrp_sync_group 'G', where keepalived applies no file weight") == true, "\(weighted)")
        XCTAssertNoThrow(try parse(grouped.replacingOccurrences(of: "    prio\n", with: "    prio weight 0\n")))

        // In a `vrrp` section, `track_file NAME` is the section's keyword.
        let section = try parse("track_file p {\n  file /tmp/p\n}\nvrrp v1\n  interface eth0\n  virtual_router_id 5\n  unicast_peer 10.0.0.2\n"
                                + "  virtual_ipaddress 10.0.0.10\n  auth none\n  track_file p weight -5 reverse\n")
        XCTAssertEqual(section.vrrp?.trackFiles, [TrackFile(file: "p", weight: -5, reverse: true, line: 10)])
        // After a `vrrp` section, a block whose '{' stands on the next line (a comment between)
        // is a keepalived block, as keepalived reads it: not the section's keyword.
        let after = try parse("vrrp v1\n  interface eth0\n  virtual_router_id 5\n  unicast_peer 10.0.0.2\n  virtual_ipaddress 10.0.0.10\n  auth none\n"
                              + "track_file q\n! the maintenance flag\n{\n  file /tmp/q\n  weight 0\n}\n"
                              + "vrrp_track_process w\n{\n  process w\n}\n")
        XCTAssertEqual(after.vrrp?.trackFiles, [])
        XCTAssertEqual(after.vrrpTrackFiles["q"]?.path, "/tmp/q")
        XCTAssertEqual(after.vrrpTrackFiles["q"]?.weight, 0)
        XCTAssertEqual(after.vrrpTrackProcesses["w"]?.process, "w")
    }

    /// A sync group's `track_process { … }` and `track_file { … }`: every member tracks them
    /// with the group's weights (keepalived adds them to each member, weights kept); a member
    /// that tracks the same block itself, or a name no block declares, is refused.
    func testSyncGroupTrackingReachesEveryMember() throws {
        let blocks = "vrrp_track_process app {\n  process app\n}\ntrack_file prio {\n  file /tmp/prio\n}\n"
        let instances = "vrrp_instance EXT {\n  interface eth0\n  virtual_router_id 5\n  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress { 10.0.0.10 }\n  auth none\n}\n"
            + "vrrp_instance INT {\n  interface eth1\n  virtual_router_id 6\n  unicast_peer { 10.0.1.2 }\n  virtual_ipaddress { 10.0.1.10 }\n  auth none\n}\n"
        let group = "vrrp_sync_group G {\n  group {\n    EXT\n    INT\n  }\n  track_process {\n    app weight -20\n  }\n  track_file {\n    prio weight 5 reverse\n  }\n}\n"
        let config = try parse(blocks + group + instances)
        for v in config.vrrpInstances {
            XCTAssertEqual(v.trackProcesses, [TrackProcess(process: "app", weight: -20, reverse: nil, line: 13)], v.name)
            XCTAssertEqual(v.trackFiles, [TrackFile(file: "prio", weight: 5, reverse: true, line: 16)], v.name)
        }
        let unknown = errors(blocks + group.replacingOccurrences(of: "app weight", with: "ap weight") + instances)
        XCTAssertTrue(unknown.contains { $0.line == 13 && $0.message.contains("vrrp_sync_group 'G': no vrrp_track_process named 'ap' (did you mean 'app'?)") }, "\(unknown)")
        let both = errors(blocks + group + instances.replacingOccurrences(of: "  auth none\n}\nvrrp_instance INT", with: "  auth none\n  track_file {\n    prio weight 0\n  }\n}\nvrrp_instance INT"))
        XCTAssertTrue(both.contains { $0.line == 16 && $0.message.contains("vrrp 'EXT' tracks track_file 'prio' itself too") }, "\(both)")
        let bad = errors(blocks + group.replacingOccurrences(of: "app weight -20", with: "app weight -300") + instances)
        XCTAssertTrue(bad.contains { $0.line == 13 && $0.message.contains("-254...254") }, "\(bad)")
    }

    func testBraceForms() throws {
        let text = "vrrp_instance VI_1\n{\n  interface eth0\n  virtual_router_id 5\n  unicast_peer {10.0.0.2 10.0.0.3}\n  virtual_ipaddress {\n 10.0.0.10\n }\n  auth none}\n"
        let v = try XCTUnwrap(try parse(text).vrrp)
        XCTAssertEqual(v.line, 1, "a '{' on the next line belongs to the line before")
        XCTAssertEqual(v.unicastPeers, ["10.0.0.2", "10.0.0.3"])
        XCTAssertEqual(v.virtualAddresses.map(\.cidr), ["10.0.0.10/32"])
        XCTAssertEqual(errors("vrrp_instance X {\n  interface eth0\n").first?.message, "end of file inside a '{ … }' block: a '}' is missing")
        XCTAssertTrue(errors("virtual_server 10.0.0.1 80 {\n  delay_loop 6\n}\n").first?.message.contains("write 'frontend' + 'backend'") == true)
        XCTAssertTrue(errors("vrrp_instance X {\n  interfaec eth0\n}\n").contains { $0.line == 2 && $0.message.contains("did you mean 'interface'?") })
        XCTAssertTrue(errors("vrrp_instance X {\n  use_vmac\n}\n").contains { $0.line == 2 && $0.message.contains("not supported by SwiftLB") })
    }

    func testIncludeReadsFilesInPlaceWithTheirOwnNames() throws {
        let dir = try Scratch()
        try FileManager.default.createDirectory(atPath: dir.file("conf.d"), withIntermediateDirectories: true)
        try dir.write("conf.d/10-vip.conf", "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 5\n  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress { 10.0.0.10 }\n  auth none\n}\n")
        try dir.write("conf.d/20-backend.conf", "backend b\n    server s 127.0.0.1:80\n")
        let main = try dir.write("lb.conf", "global\n    maxconn 100\ninclude conf.d/*.conf\n")
        let config = try ConfigParser.parse(contentsOf: main)
        XCTAssertEqual(config.vrrp?.name, "VI_1")
        XCTAssertEqual(config.vrrp?.file, dir.file("conf.d/10-vip.conf"))
        XCTAssertNotNil(config.backends["b"])
        try dir.write("conf.d/30-bad.conf", "backend c\n    balanse roundrobin\n")
        do {
            _ = try ConfigParser.parse(contentsOf: main)
            XCTFail("accepted")
        } catch {
            XCTAssertEqual(error.errors.first?.description, "parsing [\(dir.file("conf.d/30-bad.conf")):2] : 'balanse' : unknown keyword in 'backend' section (did you mean 'balance'?)")
        }
        let missing = try dir.write("missing.conf", "include nope.conf\n")
        XCTAssertThrowsError(try ConfigParser.parse(contentsOf: missing)) { error in
            XCTAssertEqual((error as! ConfigErrors).errors.first?.description,
                           "parsing [\(missing):1] : 'include' : Cannot open configuration file/directory \(dir.file("nope.conf")) : No such file or directory")
        }
        let looping = try dir.write("loop.conf", "include loop.conf\n")
        XCTAssertThrowsError(try ConfigParser.parse(contentsOf: looping)) { error in
            XCTAssertTrue((error as! ConfigErrors).errors.first?.message.contains("includes itself") == true, "\(error)")
        }
    }

    func testEnvironmentVariablesInDoubleQuotes() throws {
        let env = ["ADDR": "127.0.0.1", "TC": "7s", "EMPTY": "", "WORDS": "a b"]
        let lines = try ConfigLexer.lines(of: """
            bind "${ADDR}:8080" "$ADDR:1" ${ADDR} '${ADDR}'
            timeout "${NOPE-5s}" "${EMPTY-x}" "${TC}" "${NOPE}" "$"
            words "${WORDS[*]}" "${WORDS}"
            """, file: "e.conf", environment: env)
        XCTAssertEqual(lines[0].words, ["bind", "127.0.0.1:8080", "127.0.0.1:1", "${ADDR}", "${ADDR}"], "unquoted and single-quoted stay literal, as in HAProxy")
        XCTAssertEqual(lines[1].words, ["timeout", "5s", "", "7s", "", "$"], "the default replaces an unset variable, not an empty one")
        XCTAssertEqual(lines[2].words, ["words", "a", "b", "a b"])
        let config = try parse("frontend f\n    bind \"${ADDR}:${PORT-8080}\"\n    timeout client \"${TC}\"\n    redirect location /x\n", environment: env)
        XCTAssertEqual(config.frontends[0].binds.map { "\($0.host):\($0.port)" }, ["127.0.0.1:8080"])
        XCTAssertEqual(config.frontends[0].options.timeouts.client, .seconds(7))
    }

    /// keepalived's stock keepalived.conf, the one tutorials copy (global_defs with the mail
    /// settings, smtp_alert, dont_track_primary, vrrp_strict…): it starts, and what it says
    /// is stored.
    private let stockSample = """
        global_defs {
           notification_email {
             acassen@firewall.loc
             failover@firewall.loc
           }
           notification_email_from Alexandre.Cassen@firewall.loc
           smtp_server 192.168.200.1
           smtp_connect_timeout 30
           router_id LVS_DEVEL
           vrrp_skip_check_adv_addr
           vrrp_strict
           vrrp_garp_interval 0
           vrrp_gna_interval 0
        }
        vrrp_instance VI_1 {
            state MASTER
            interface eth0
            virtual_router_id 51
            priority 100
            advert_int 1
            smtp_alert
            dont_track_primary
            nopreempt
            garp_master_delay 1
            authentication {
                auth_type PASS
                auth_pass 1111
            }
            unicast_src_ip 192.168.122.11
            unicast_peer {
                192.168.122.12
            }
            virtual_ipaddress {
                192.168.200.16
                192.168.200.17/24 dev eth0 label eth0:1
            }
            track_interface {
                eth0
            }
        }
        """

    func testKeepalivedsStockSampleStartsAndItsMailSettingsAreStored() throws {
        XCTAssertEqual(errors(stockSample), [])
        let config = try parse(stockSample)
        let mail = config.smtpAlert
        XCTAssertEqual(mail.recipients, ["acassen@firewall.loc", "failover@firewall.loc"])
        XCTAssertEqual(mail.from, "Alexandre.Cassen@firewall.loc")
        XCTAssertEqual(mail.server, "192.168.200.1")
        XCTAssertEqual(mail.port, 25, "keepalived's default port")
        XCTAssertEqual(mail.connectTimeout, .seconds(30))
        XCTAssertNil(mail.heloName, "the host name, at run time")
        XCTAssertEqual(config.routerID, "LVS_DEVEL")
        let v = try XCTUnwrap(config.vrrp)
        XCTAssertEqual(v.smtpAlert, true)
        XCTAssertTrue(v.dontTrackPrimary)
        XCTAssertFalse(v.preempt)
        XCTAssertEqual(v.trackInterfaces, [], "keepalived ignores a track_interface naming the instance's own interface")
        let ignored = try XCTUnwrap(config.warnings.first { $0.keyword == "track_interface" })
        XCTAssertEqual(ignored.line, 38)
        XCTAssertTrue(ignored.message.contains("track_interface eth0 is ignored: it is the instance's own interface"), ignored.message)
        XCTAssertFalse(config.warnings.contains { $0.keyword == "smtp_alert" }, "a server and recipients: nothing to warn about")

        // The other global_defs mail keywords, and the defaults of smtp_alert.
        let more = stockSample.replacingOccurrences(of: "   smtp_server 192.168.200.1\n", with: "   smtp_server mail.example.org 2525\n   smtp_helo_name lb1.example.org\n   no_email_faults\n   smtp_alert\n   smtp_alert_vrrp no\n")
            .replacingOccurrences(of: "    smtp_alert\n    dont_track_primary\n", with: "    dont_track_primary\n")
        let c2 = try parse(more)
        XCTAssertEqual(c2.smtpAlert.server, "mail.example.org")
        XCTAssertEqual(c2.smtpAlert.port, 2525)
        XCTAssertEqual(c2.smtpAlert.heloName, "lb1.example.org")
        XCTAssertTrue(c2.smtpAlert.noFaultMails)
        XCTAssertEqual(c2.vrrp?.smtpAlert, false, "smtp_alert_vrrp no wins over smtp_alert (keepalived's order)")
        XCTAssertEqual(try parse(more.replacingOccurrences(of: "   smtp_alert_vrrp no\n", with: "")).vrrp?.smtpAlert, true, "global smtp_alert is the default")
        XCTAssertEqual(try parse(more.replacingOccurrences(of: "dont_track_primary\n", with: "dont_track_primary\n        smtp_alert yes\n")).vrrp?.smtpAlert, true,
                       "the instance's own wins")
        XCTAssertEqual(try parse(stockSample.replacingOccurrences(of: "smtp_alert\n", with: "smtp_alert off\n")).vrrp?.smtpAlert, false)
        XCTAssertEqual(try parse(stockSample.replacingOccurrences(of: "   smtp_connect_timeout 30\n", with: "")).smtpAlert.connectTimeout, .seconds(30))

        // keepalived's checker mail and the global unicast source check.
        let globals = try parse(stockSample.replacingOccurrences(of: "   router_id LVS_DEVEL\n", with: "   router_id LVS_DEVEL\n   smtp_alert_checker\n   no_checker_emails\n   vrrp_check_unicast_src\n"))
        XCTAssertTrue(globals.warnings.contains { $0.line == 10 && $0.keyword == "smtp_alert_checker" && $0.message.contains("no LVS checkers") })
        XCTAssertTrue(globals.warnings.contains { $0.line == 11 && $0.keyword == "no_checker_emails" })
        XCTAssertFalse(globals.warnings.contains { $0.keyword == "vrrp_check_unicast_src" }, "what SwiftLB always does")

        // Mail asked for but impossible: a warning (keepalived silently sends none).
        let noServer = try parse(stockSample.replacingOccurrences(of: "   smtp_server 192.168.200.1\n", with: ""))
        let warning = try XCTUnwrap(noServer.warnings.first { $0.keyword == "smtp_alert" })
        XCTAssertEqual(warning.line, 14, "the instance's line")
        XCTAssertTrue(warning.message.contains("vrrp 'VI_1': 'smtp_alert' sends nothing without 'smtp_server'"), warning.message)

        // Errors name the line and the keyword.
        for (bad, line, keyword, text) in [
            ("   smtp_server 192.168.200.1 99999\n", 7, "smtp_server", "'99999' is not a port"),
            ("   smtp_server\n", 7, "smtp_server", "expects 'smtp_server ADDR|NAME [PORT]'"),
            ("   smtp_connect_timeout soon\n", 8, "smtp_connect_timeout", "expects a number of seconds"),
            ("   smtp_alert perhaps\n", 7, "smtp_alert", "yes|no"),
        ] {
            let original = bad.hasPrefix("   smtp_server") ? "   smtp_server 192.168.200.1\n" : bad.hasPrefix("   smtp_connect") ? "   smtp_connect_timeout 30\n" : "   smtp_server 192.168.200.1\n"
            let replacement = bad.hasPrefix("   smtp_alert") ? original + bad : bad
            let found = errors(stockSample.replacingOccurrences(of: original, with: replacement))
            XCTAssertTrue(found.contains { $0.line == line + (bad.hasPrefix("   smtp_alert") ? 1 : 0) && $0.keyword == keyword && $0.message.contains(text) }, "\(bad): \(found)")
            XCTAssertTrue(found.allSatisfy { $0.file == "k.conf" })
        }
    }

    /// The rest of keepalived's vrrp_instance keywords: implemented, accepted with a warning
    /// where they cannot change SwiftLB's heartbeat, or refused with what to do instead.
    func testTheOtherVRRPInstanceKeywords() throws {
        let head = "vrrp_instance X {\n  interface eth0\n  virtual_router_id 5\n  unicast_peer { 10.0.0.2 }\n  virtual_ipaddress { 10.0.0.10 }\n  auth none\n"
        let v = try XCTUnwrap(try parse(head + "  unicast_ttl 7\n  check_unicast_src\n  kernel_rx_buf_size 262144\n  garp_lower_prio_repeat 2\n  garp_lower_prio_delay 3\n  notify_master_rx_lower_pri \"/bin/true lower\"\n}\n").vrrp)
        XCTAssertEqual(v.unicastTTL, 7)
        XCTAssertEqual(v.kernelReceiveBuffer, 262144)
        XCTAssertEqual(v.garpLowerPriorityRepeat, 2)
        XCTAssertEqual(v.garpLowerPriorityDelay, .seconds(3))
        XCTAssertEqual(v.notifyMasterRxLowerPriority, "/bin/true lower")
        XCTAssertTrue(errors(head + "  unicast_ttl 0\n}\n").contains { $0.line == 7 && $0.keyword == "unicast_ttl" })
        // global_defs' defaults reach the instances that write none (not one that writes its own).
        let globals = "global_defs {\n  vrrp_garp_lower_prio_repeat 3\n  vrrp_garp_lower_prio_delay 2\n}\n"
        let defaulted = try parse(head + "}\n" + globals + head.replacingOccurrences(of: "X {", with: "Y {").replacingOccurrences(of: "virtual_router_id 5", with: "virtual_router_id 6")
                                  .replacingOccurrences(of: "10.0.0.10", with: "10.0.0.11") + "  garp_lower_prio_repeat 0\n  garp_lower_prio_delay 0\n}\n")
        XCTAssertEqual(defaulted.vrrpInstances.map(\.garpLowerPriorityRepeat), [3, 0])
        XCTAssertEqual(defaulted.vrrpInstances.map(\.garpLowerPriorityDelay), [.seconds(2), .seconds(0)], "a written 0 stands")
        let multicast = try parse(head.replacingOccurrences(of: "  unicast_peer { 10.0.0.2 }\n", with: "").replacingOccurrences(of: "auth none", with: "auth_key_file /k") + "  unicast_ttl 7\n}\n")
        XCTAssertTrue(multicast.warnings.contains { $0.keyword == "unicast_ttl" && $0.message.contains("no effect without 'unicast_peer'") })

        for inert in ["debug 2", "skip_check_adv_addr", "strict_mode on", "old_unicast_checksum never", "no_accept"] {
            let config = try parse(head + "  \(inert)\n}\n")
            let keyword = String(inert.split(separator: " ")[0])
            XCTAssertTrue(config.warnings.contains { $0.line == 7 && $0.keyword == keyword && $0.message.contains("has no effect in SwiftLB") }, "\(inert): \(config.warnings)")
        }
        for (refused, reason) in [("native_ipv6", "IPv6 instances are not supported"), ("use_vmac", "virtual MAC"), ("vmac_xmit_base", "use_vmac"),
                                  ("virtual_routes {\n    10.1.0.0/16 via 10.0.0.1\n  }", "notify_master"), ("virtual_rules {\n    from 10.0.0.10 table 1\n  }", "rules"),
                                  ("lvs_sync_daemon_interface eth0", "no LVS"), ("track_bfd {\n    b1\n  }", "BFD"), ("track_src_ip", "unicast_src_ip")] {
            let found = errors(head + "  \(refused)\n}\n")
            let keyword = String(refused.split(separator: " ")[0])
            XCTAssertTrue(found.contains { $0.line == 7 && $0.keyword == keyword && $0.message.contains(reason) }, "\(refused): \(found)")
        }
    }
}
