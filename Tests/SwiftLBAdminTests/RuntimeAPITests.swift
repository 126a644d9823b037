import SwiftLBAdmin
import XCTest

/// The command layer, line in, answer out, on the in-memory actions: HAProxy's answers,
/// levels, the `;` separator, prompt mode, and what reaches the actions.
final class RuntimeAPITests: XCTestCase {
    var actions: InMemoryActions!
    var log: LogCapture!
    var api: RuntimeAPI!

    override func setUp() {
        actions = InMemoryActions()
        log = LogCapture()
        api = RuntimeAPI(actions: actions, logger: log.logger)
    }

    /// Runs lines on one session; returns the answers.
    func session(_ level: AccessLevel = .admin, _ lines: String...) async -> (answers: [String], session: CLISession) {
        var s = CLISession(level: level)
        var answers: [String] = []
        for line in lines where !s.isClosed {
            answers.append(await api.run(line: line, session: &s))
        }
        return (answers, s)
    }

    func one(_ line: String, level: AccessLevel = .admin) async -> String {
        await session(level, line).answers[0]
    }

    func testOneShotLineClosesAndEveryAnswerEndsWithABlankLine() async {
        let (answers, s) = await session(.admin, "show servers state nodes", "show info")
        XCTAssertEqual(answers.count, 1, "without prompt, one line per connection")
        XCTAssertTrue(s.isClosed)
        XCTAssertTrue(answers[0].hasPrefix("1\n# be_id be_name srv_id"))
        XCTAssertTrue(answers[0].hasSuffix(" - - 0\n\n"))
    }

    func testSeveralCommandsOnOneLine() async {
        let answer = await one("set server nodes/node1 state drain; get weight nodes/node3;show stat -1 4 1")
        // set server answers nothing (a blank line), get weight one line, show stat the CSV.
        XCTAssertTrue(answer.hasPrefix("\n50 (initial 50)\n\n# pxname,svname,"), answer)
        let csv = answer.dropFirst("\n50 (initial 50)\n\n".count).split(separator: "\n")
        XCTAssertEqual(csv.count, 3, "header, nodes/node1 and redis/r1 (server id 1 of every proxy)")
        XCTAssertTrue(csv[1].hasPrefix("nodes,node1,") && csv[1].contains(",DRAIN,"), String(csv[1]))
        XCTAssertTrue(answer.hasSuffix(",\n\n"))
        XCTAssertEqual(actions.calls, ["state nodes/node1 drain"])
        XCTAssertTrue(log.text.contains("Server nodes/node1 admin state READY -> DRAIN (control socket)"), log.text)
    }

    func testPromptModeKeepsTheSessionOpenUntilQuit() async {
        let (answers, s) = await session(.admin, "prompt", "get weight nodes/node1", "bogus", "quit")
        XCTAssertEqual(answers[0], "\n> ")
        XCTAssertEqual(answers[1], "100 (initial 100)\n\n> ")
        XCTAssertTrue(answers[2].hasPrefix("Unknown command. Please enter one of the following commands only:\n"))
        XCTAssertTrue(answers[2].hasSuffix("\n\n> "))
        XCTAssertEqual(answers[3], "", "quit answers nothing and closes")
        XCTAssertTrue(s.isClosed)
        let off = await session(.admin, "prompt", "prompt", "show info")
        XCTAssertEqual(off.answers, ["\n> ", "\n"], "prompt toggles back and the line then ends the session")
    }

    func testLevelsAreEnforcedPerCommand() async {
        let r1 = await one("set weight nodes/node1 10", level: .user)
        XCTAssertEqual(r1, "Permission denied\n\n")
        let r2 = await one("set server nodes/node1 state maint", level: .operator_)
        XCTAssertEqual(r2, "Permission denied\n\n")
        let r3 = await one("reload", level: .operator_)
        XCTAssertEqual(r3, "Permission denied\n\n")
        let r4 = await one("clear counters", level: .user)
        XCTAssertEqual(r4, "Permission denied\n\n")
        let r5 = await one("clear counters", level: .operator_)
        XCTAssertEqual(r5, "\n")
        let r6 = await one("clear counters all", level: .operator_)
        XCTAssertEqual(r6, "Permission denied\n\n")
        let r7 = await one("show stat", level: .user)
        XCTAssertTrue(r7.hasPrefix("# pxname"))
        XCTAssertEqual(actions.calls, ["clear false"], "nothing refused reached the actions")
        // A session can lower its level, never raise it.
        let lowered = await session(.admin, "prompt", "user", "set weight nodes/node1 3", "operator")
        XCTAssertEqual(lowered.answers[2], "Permission denied\n\n> ")
        XCTAssertEqual(lowered.answers[3], "Permission denied!\n\n> ")
        XCTAssertEqual(lowered.session.level, .user)
        // The help lists what the level allows.
        let userHelp = await one("help", level: .user)
        XCTAssertTrue(userHelp.hasPrefix("The following commands are valid at this level:\n"))
        XCTAssertTrue(userHelp.contains("  show stat"))
        XCTAssertFalse(userHelp.contains("set server"))
        let r8 = await one("help")
        XCTAssertTrue(r8.contains("  set server <bk>/<srv> [opts]            : change a server's"))
        XCTAssertTrue(userHelp.hasSuffix("  quit                                    : disconnect\n\n"))
    }

    func testAddressesAndLegendsFollowTheLevel() async {
        let r9 = await one("show stat")
        XCTAssertTrue(r9.contains("127.0.0.1:8081"))
        let r10 = await one("show stat", level: .user)
        XCTAssertFalse(r10.contains("127.0.0.1:8081"), "HAProxy shows addresses from operator up")
    }

    func testWeights() async {
        let r11 = await one("set weight nodes/node1 7")
        XCTAssertEqual(r11, "\n")
        let r12 = await one("get weight nodes/node1")
        XCTAssertEqual(r12, "7 (initial 100)\n\n")
        let r13 = await one("set weight nodes/node3 50%")
        XCTAssertEqual(r13, "\n")
        let r14 = await one("get weight nodes/node3")
        XCTAssertEqual(r14, "25 (initial 50)\n\n")
        let r15 = await one("set server nodes/node1 weight 0")
        XCTAssertEqual(r15, "\n")
        let r16 = await one("set weight nodes/node1 300")
        XCTAssertEqual(r16, "Absolute weight can only be between 0 and 256 inclusive.\n\n")
        let r17 = await one("set weight nodes/node1 -5%")
        XCTAssertEqual(r17, "Relative weight must be positive.\n\n")
        let r18 = await one("set weight nodes/node1 7x")
        XCTAssertEqual(r18, "Trailing garbage in weight string\n\n")
        let r19 = await one("set weight nodes/nodeX 7")
        XCTAssertEqual(r19, "No such server.\n\n")
        let r20 = await one("set weight nowhere/node1 7")
        XCTAssertEqual(r20, "No such backend.\n\n")
        let r21 = await one("set weight node1 7")
        XCTAssertEqual(r21, "Require 'backend/server'.\n\n")
        let r22 = await one("set weight fe/node1 7")
        XCTAssertEqual(r22, "No such backend.\n\n", "a frontend is no backend")
        XCTAssertEqual(actions.calls, ["weight nodes/node1 7", "weight nodes/node3 25", "weight nodes/node1 0"])
        XCTAssertTrue(log.text.contains("Server nodes/node1 weight 100 -> 7 (control socket)"), log.text)
    }

    func testSetServer() async {
        let r23 = await one("set server nodes/node2 state maint")
        XCTAssertEqual(r23, "\n")
        let r24 = await one("set server nodes/node2 state sleepy")
        XCTAssertEqual(r24, "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n\n")
        let r25 = await one("set server nodes/node2 addr 127.0.0.9 port 9000")
        XCTAssertEqual(r25,
                       "IP changed from '127.0.0.1' to '127.0.0.9', port changed from '8082' to '9000' by 'stats socket command'\n\n")
        let r26 = await one("set server nodes/node2 addr 127.0.0.9")
        XCTAssertEqual(r26, "no need to change the addr by 'stats socket command'\n\n")
        let r27 = await one("set server nodes/node2 addr example.com")
        XCTAssertEqual(r27, "Invalid addr 'example.com'\n\n")
        let r28 = await one("set server nodes/node2 addr ::2 port 70000")
        XCTAssertEqual(r28, "problem converting port '70000' to an int\n\n")
        let r29 = await one("set server nodes/node2")
        XCTAssertEqual(r29, "usage: set server <backend>/<server> addr | health | state | weight\n\n")
        let r30 = await one("set server nodes/node2 health down")
        XCTAssertEqual(r30, "\n")
        let r31 = await one("disable health nodes/node1")
        XCTAssertEqual(r31, "\n")
        let r32 = await one("enable health nodes/node5")
        XCTAssertEqual(r32, "Health check was not configured on this server, cannot enable.\n\n")
        let r33 = await one("enable server nodes/node2")
        XCTAssertEqual(r33, "\n")
        let r34 = await one("disable server nodes/node1")
        XCTAssertEqual(r34, "\n")
        XCTAssertEqual(actions.calls, ["state nodes/node2 maint", "addr nodes/node2 127.0.0.9 9000", "addr nodes/node2 127.0.0.9 -",
                                       "health nodes/node2 false", "health nodes/node1 false", "state nodes/node2 ready", "state nodes/node1 maint"])
        let state = actions.current.server("nodes", "node2")!.2
        XCTAssertEqual(state.address, "127.0.0.9")
        XCTAssertEqual(state.port, 9000)
        XCTAssertEqual(state.admin, .ready)
    }

    func testUnknownCommandsGetTheList() async {
        let unknown = await one("frobnicate")
        XCTAssertTrue(unknown.hasPrefix("Unknown command. Please enter one of the following commands only:\n  abort ssl c"), unknown)
        XCTAssertTrue(unknown.contains("\n  clear counters [all]"), unknown)
        XCTAssertTrue(unknown.contains("  show servers state [<backend>]"))
        let near = await one("show sessions")
        XCTAssertTrue(near.hasPrefix("Unknown command, but maybe one of the following ones is a better match:\n"), near)
        XCTAssertTrue(near.contains("  show info") && !near.contains("  set weight"), near)
        let empty = await one("")
        XCTAssertTrue(empty.hasPrefix("Unknown command. Please enter one of the following commands only:"), empty)
    }

    func testReloadVRRPAndTheRest() async {
        let r35 = await one("reload")
        XCTAssertEqual(r35, "Success=1\n--\nlb.conf reloaded: 2 frontends, 1 backend\n\n")
        let refused = RuntimeAPI(actions: InMemoryActions(reload: ReloadOutcome(success: false, messages: ["lb.conf:12: 'server' : cannot resolve 'nodeX'"])), logger: log.logger)
        var s = CLISession(level: .admin)
        let refusedAnswer = await refused.run(line: "reload", session: &s)
        XCTAssertEqual(refusedAnswer, "Success=0\n--\nlb.conf:12: 'server' : cannot resolve 'nodeX'\n\n")
        let r36 = await one("show vrrp")
        XCTAssertEqual(r36, "instance: hipchat_vip\nstate: MASTER\n\n")
        let r37 = await one("rotate ssl tickets")
        XCTAssertEqual(r37, "Rotated the ticket keys of 2 TLS listeners.\n\n")
        let r38 = await one("debug dev loop 20")
        XCTAssertEqual(r38, "Blocked one proxy event loop for 20 ms.\n\n")
        let r39 = await one("debug dev loop 0")
        XCTAssertEqual(r39, "'debug dev loop' expects 1 to 10000 milliseconds.\n\n")
        let r40 = await one("show version")
        XCTAssertEqual(r40, "0.1.0\n\n")
        let noVRRP = RuntimeAPI(actions: InMemoryActions(vrrp: nil), logger: log.logger)
        s = CLISession(level: .user)
        let noVRRPAnswer = await noVRRP.run(line: "show vrrp", session: &s)
        XCTAssertEqual(noVRRPAnswer, "No vrrp section in this configuration.\n\n")
        XCTAssertEqual(actions.calls, ["reload", "rotate", "block 20"])
    }

    func testShowStatSelectorsAndJSON() async {
        let servers = await one("show stat nodes 4 -1")
        XCTAssertEqual(servers.split(separator: "\n").count, 7, "header + 6 servers")
        let r41 = await one("show stat nothing 4 -1")
        XCTAssertEqual(r41, "No such proxy.\n\n")
        let json = await one("show stat json")
        XCTAssertTrue(json.hasPrefix("{\"info\":{\"Name\":\"SwiftLB\""), json)
        let r42 = await one("show servers state nowhere")
        XCTAssertEqual(r42, "Can't find backend.\n\n")
        let r43 = await one("show servers state 3")
        XCTAssertEqual(r43.split(separator: "\n").count, 8, "a backend by its id")
    }

    /// `swiftlb ctl` exits 1 on a refusal: every refusal this layer answers is recognised, no
    /// success is.
    func testFailureClassification() async {
        let refusals = ["frobnicate", "set weight nodes/nodeX 1", "set weight nowhere/x 1", "set weight node1 1", "set weight nodes/node1 999",
                        "set weight nodes/node1 -1%", "set weight nodes/node1 x", "set server nodes/node1 state x", "set server nodes/node1",
                        "set server nodes/node1 addr nowhere", "set server nodes/node1 addr ::1 port x", "set server nodes/node1 addr",
                        "enable health nodes/node5", "show servers state nowhere", "show stat nowhere 1 1", "show stat typed", "show info json",
                        "debug dev loop 0", "clear counters some", "set timeout cli x", "get weight x", "reload now", "enable server",
                        "set server nodes/node1 health maybe"]
        for line in refusals {
            let answer = await one(line)
            XCTAssertTrue(RuntimeAPI.answerIsFailure(answer), "'\(line)' answered '\(answer)'")
        }
        // Every "not supported" refusal is built by one function and recognised whatever it names.
        for error in [RuntimeAPIError.unsupported("set weight", "change lb.conf"), .unsupported("enable health"), .unsupported("a command of tomorrow", "x")] {
            XCTAssertTrue(RuntimeAPI.answerIsFailure(error.message + "\n"), error.message)
        }
        XCTAssertFalse(RuntimeAPI.answerIsFailure("'abc' is a name, and this is not supported by SwiftLB only later\n"))
        let user = await one("set weight nodes/node1 1", level: .user)
        XCTAssertTrue(RuntimeAPI.answerIsFailure(user))
        let refusedReload = RuntimeAPI(actions: InMemoryActions(reload: ReloadOutcome(success: false, messages: ["bad"])), logger: log.logger)
        var s = CLISession(level: .admin)
        let reloadAnswer = await refusedReload.run(line: "reload", session: &s)
        XCTAssertTrue(RuntimeAPI.answerIsFailure(reloadAnswer))
        for line in ["show info", "show stat", "show servers state", "set weight nodes/node1 3", "set server nodes/node1 addr 127.0.0.2",
                     "get weight nodes/node1", "show vrrp", "reload", "help", "rotate ssl tickets", "disable server nodes/node1", "show stat json"] {
            let answer = await one(line)
            XCTAssertFalse(RuntimeAPI.answerIsFailure(answer), "'\(line)' answered '\(answer.prefix(80))'")
        }
    }

    func testTimeoutAndLineSyntax() async {
        let (_, s) = await session(.admin, "prompt", "set timeout cli 2m")
        XCTAssertEqual(s.timeoutNanoseconds, 120_000_000_000)
        let r44 = await one("set timeout cli soon")
        XCTAssertEqual(r44, "'set timeout cli' expects an integer value (in seconds, or with a unit: ms, s, m, h).\n\n")
        // Past HAProxy's longest timer: its words, never an overflow (this one trapped).
        for delay in ["9223372036854775807", "99999999999999999999999", "2147484s", "9223372036854775807d"] {
            let answer = await one("set timeout cli \(delay)")
            XCTAssertEqual(answer, "timer overflow in argument '\(delay)' to 'set timeout cli' (maximum value is 2147483647 ms or ~24.8 days)\n\n")
        }
        for delay in ["1e9", "-5", "+5", "0", "s"] {
            let answer = await one("set timeout cli \(delay)")
            XCTAssertTrue(answer.hasPrefix("'set timeout cli' expects an integer value"), "\(delay): \(answer)")
        }
        for (delay, nanoseconds) in [("2147483647ms", Int64(2_147_483_647_000_000)), ("2147483s", 2_147_483_000_000_000), ("1500us", 1_500_000)] {
            let (_, longest) = await session(.admin, "prompt", "set timeout cli \(delay)")
            XCTAssertEqual(longest.timeoutNanoseconds, nanoseconds, delay)
        }
        XCTAssertEqual(CLILine.commands("set  server a\\;b/c state\\ x ; quit;"), [["set", "server", "a;b/c", "state x"], ["quit"]])
        XCTAssertEqual(CLILine.commands("   "), [[]])
    }
}
