import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOPosix
import SwiftLBConfig
import SwiftLBTestSupport
import XCTest
@testable import SwiftLBHA

/// `vrrp_track_process`: keepalived's matching rules and the quorum with its delays as pure
/// functions on an injected clock, then the /proc scan against real processes this test starts.
final class TrackedProcessTests: XCTestCase {
    let ms: Int64 = 1_000_000

    func pattern(_ process: String, _ parameters: [String]? = nil, match: VRRPTrackProcess.ParamMatch? = nil,
                 full: Bool = false) -> ProcessPattern {
        var t = VRRPTrackProcess(name: "p", line: 1)
        t.process = process
        t.parameters = parameters
        t.paramMatch = match ?? (parameters == nil ? .none : .exact)
        t.fullCommand = full || parameters != nil || match != nil
        return ProcessPattern(t)
    }

    func cmdline(_ argv: String...) -> [UInt8] { argv.flatMap { Array($0.utf8) + [0] } }

    /// The command name exactly (pgrep "^NAME$", not a substring); argv[0] exactly with
    /// full_command; arguments exact, as a prefix of whole arguments (partial), or with the
    /// last one a prefix (initial).
    func testMatchingFollowsKeepalived() {
        XCTAssertTrue(pattern("sshd").matches(comm: "sshd", cmdline: nil))
        XCTAssertFalse(pattern("ssh").matches(comm: "sshd", cmdline: nil), "no substring match")
        XCTAssertFalse(pattern("/usr/sbin/sshd").matches(comm: "sshd", cmdline: nil), "a path is not a command name")

        let full = pattern("/usr/sbin/haproxy", full: true)
        XCTAssertTrue(full.matches(comm: "haproxy", cmdline: cmdline("/usr/sbin/haproxy", "-f", "/etc/haproxy.cfg")), "argv[0], any arguments")
        XCTAssertFalse(full.matches(comm: "haproxy", cmdline: cmdline("haproxy", "-f", "x")), "argv[0] as written, not resolved")
        XCTAssertFalse(full.matches(comm: "haproxy", cmdline: nil))

        let exact = pattern("sleep", ["30"])
        XCTAssertTrue(exact.matches(comm: "sleep", cmdline: cmdline("sleep", "30")))
        XCTAssertFalse(exact.matches(comm: "sleep", cmdline: cmdline("sleep", "30", "x")), "exact: no more arguments")
        XCTAssertFalse(exact.matches(comm: "sleep", cmdline: cmdline("sleep", "300")))
        XCTAssertFalse(exact.matches(comm: "sleep", cmdline: cmdline("sleep")))
        let none = pattern("sleep", match: .exact)
        XCTAssertTrue(none.matches(comm: "sleep", cmdline: cmdline("sleep")), "param_match alone, no arguments: none may be given")
        XCTAssertFalse(none.matches(comm: "sleep", cmdline: cmdline("sleep", "1")))

        let partial = pattern("python3", ["worker.py", "--q"], match: .partial)
        XCTAssertTrue(partial.matches(comm: "python3", cmdline: cmdline("python3", "worker.py", "--q", "more")))
        XCTAssertFalse(partial.matches(comm: "python3", cmdline: cmdline("python3", "worker.py", "--queue")), "partial: whole arguments")
        let initial = pattern("python3", ["worker.py", "--q"], match: .initial)
        XCTAssertTrue(initial.matches(comm: "python3", cmdline: cmdline("python3", "worker.py", "--queue")), "initial: the last one may be longer")
        XCTAssertFalse(initial.matches(comm: "python3", cmdline: cmdline("python3", "worker.pyc", "--q")), "only the last one")
        XCTAssertFalse(initial.matches(comm: "python3", cmdline: cmdline("python3", "worker.py")))

        XCTAssertEqual(ProcessScan.parseStat(Array("4242 (a) b) S 1 4242".utf8))?.comm, "a) b", "a name may hold ')'")
        XCTAssertEqual(ProcessScan.parseStat(Array("4242 (sleep) Z 1".utf8))?.state, UInt8(ascii: "Z"))
    }

    /// In [quorum, quorum_max] is OK; the first count decides at once; with no delay a change
    /// is at once; fork_delay holds a change caused by new processes, terminate_delay one
    /// caused by processes that ended; turning back before the delay cancels it.
    func testQuorumAndItsDelays() {
        var q = ProcessQuorum(quorum: 2, quorumMax: 3, forkDelay: 0, terminateDelay: 0)
        XCTAssertNil(q.hasQuorum)
        XCTAssertTrue(q.observe(count: 0, now: 0), "the first count decides")
        XCTAssertEqual(q.hasQuorum, false)
        XCTAssertFalse(q.observe(count: 1, now: 1))
        XCTAssertTrue(q.observe(count: 2, now: 2))
        XCTAssertEqual(q.hasQuorum, true)
        XCTAssertFalse(q.observe(count: 3, now: 3))
        XCTAssertTrue(q.observe(count: 4, now: 4), "above quorum_max is a failure")
        XCTAssertEqual(q.hasQuorum, false)

        var none = ProcessQuorum(quorum: 0, quorumMax: 0, forkDelay: 0, terminateDelay: 0)
        XCTAssertTrue(none.observe(count: 0, now: 0))
        XCTAssertEqual(none.hasQuorum, true, "quorum_max 0: OK while none runs")
        XCTAssertTrue(none.observe(count: 1, now: 1))
        XCTAssertEqual(none.hasQuorum, false)

        var d = ProcessQuorum(quorum: 1, quorumMax: 1, forkDelay: 2000 * ms, terminateDelay: 500 * ms)
        XCTAssertTrue(d.observe(count: 1, now: 0))
        XCTAssertFalse(d.observe(count: 0, now: 100 * ms), "lost by an exit: waits terminate_delay")
        XCTAssertEqual(d.hasQuorum, true)
        XCTAssertEqual(d.deadline, 600 * ms)
        XCTAssertFalse(d.observe(count: 0, now: 599 * ms))
        XCTAssertTrue(d.observe(count: 0, now: 600 * ms))
        XCTAssertEqual(d.hasQuorum, false)
        XCTAssertNil(d.deadline)
        XCTAssertFalse(d.observe(count: 1, now: 1000 * ms), "gained by a new process: waits fork_delay")
        XCTAssertEqual(d.deadline, 3000 * ms)
        XCTAssertFalse(d.observe(count: 0, now: 1500 * ms), "gone again before the delay: nothing changed")
        XCTAssertNil(d.deadline, "the pending change is cancelled")
        XCTAssertEqual(d.hasQuorum, false)
        XCTAssertFalse(d.observe(count: 1, now: 4000 * ms))
        XCTAssertTrue(d.observe(count: 1, now: 6000 * ms))
        XCTAssertEqual(d.hasQuorum, true)
        XCTAssertFalse(d.observe(count: 2, now: 6100 * ms), "one too many, by a fork: fork_delay")
        XCTAssertEqual(d.deadline, 8100 * ms)
        XCTAssertFalse(d.observe(count: 1, now: 6200 * ms), "a reload's short overlap never fails the quorum")
        XCTAssertEqual(d.hasQuorum, true)
        XCTAssertNil(d.deadline)
    }

    /// keepalived's weights on a process verdict, as for a script: 0 is a FAULT while the
    /// quorum is lost (with reverse: while it holds), a positive weight is added while it
    /// holds, a negative one while it is lost; reverse turns each around.
    func testWeightsAndReverseOnTheVerdict() {
        func outcome(_ weight: Int, reverse: Bool, quorum: Bool) -> Tracking.Outcome {
            Tracking.evaluate(configured: 100, inputs: [Tracking.input("process 'p'", weight: weight, reverse: reverse, up: quorum,
                                                                       downReason: "lost", upReason: "holds")])
        }
        XCTAssertEqual(outcome(0, reverse: false, quorum: false).fault, "lost")
        XCTAssertNil(outcome(0, reverse: false, quorum: true).fault)
        XCTAssertEqual(outcome(0, reverse: true, quorum: true).fault, "holds")
        XCTAssertNil(outcome(0, reverse: true, quorum: false).fault)
        XCTAssertEqual(outcome(10, reverse: false, quorum: true).priority, 110)
        XCTAssertEqual(outcome(10, reverse: false, quorum: false).priority, 100)
        XCTAssertEqual(outcome(-30, reverse: false, quorum: false).priority, 70)
        XCTAssertEqual(outcome(-30, reverse: false, quorum: true).priority, 100)
        XCTAssertEqual(outcome(10, reverse: true, quorum: true).priority, 90)
        XCTAssertEqual(outcome(10, reverse: true, quorum: false).priority, 100)
        XCTAssertEqual(outcome(-30, reverse: true, quorum: false).priority, 130)
        XCTAssertEqual(outcome(-30, reverse: true, quorum: true).priority, 100)
    }

    /// The scan against real processes: a `sleep` with an argument no one else uses, matched
    /// by its command line (exact, partial, initial) and counted; its exit and a second copy
    /// move the watcher's verdict, which calls `onChange`.
    func testTheScanCountsRealProcessesAndTheWatcherReports() throws {
        let tag = "\(31_000_000 + Int(getpid()) % 1_000_000).5"   // sleep takes a fraction: an argv no one else has
        func settings(_ name: String, _ configure: (inout VRRPTrackProcess) -> Void) -> VRRPTrackProcess {
            var t = VRRPTrackProcess(name: name, line: 1)
            t.process = "/bin/sleep"   // argv[0] as Foundation's Process writes it: the path
            configure(&t)
            return t
        }
        let exact = settings("exact") { $0.parameters = [tag]; $0.paramMatch = .exact; $0.fullCommand = true }
        let initial = settings("initial") { $0.parameters = [String(tag.dropLast(2))]; $0.paramMatch = .initial; $0.fullCommand = true }
        let partial = settings("partial") { $0.parameters = [String(tag.dropLast(2))]; $0.paramMatch = .partial; $0.fullCommand = true }
        let one = settings("one") { $0.parameters = [tag]; $0.paramMatch = .exact; $0.fullCommand = true; $0.quorumMax = 1 }
        let patterns = [exact, initial, partial].map(ProcessPattern.init)
        let scanner = ProcessScan()
        XCTAssertEqual(scanner.count(patterns), .success([0, 0, 0]))

        let first = Process()
        first.executableURL = URL(fileURLWithPath: "/bin/sleep")
        first.arguments = [tag]
        try first.run()
        defer { if first.isRunning { first.terminate(); first.waitUntilExit() } }
        XCTAssertTrue(poll { scanner.count(patterns) == .success([1, 1, 0]) }, "exact and initial match, partial wants the whole argument: \(scanner.count(patterns))")

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let watcher = TrackedProcesses(settings: ["exact": exact, "one": one], loop: group.next(), logger: Logger(label: "tracked-process-test"))
        let changes = NIOLockedValueBox<[[String]]>([])
        watcher.onChange = { names in changes.withLockedValue { $0.append(names) } }
        try watcher.start().wait()
        defer { try? watcher.stop().wait() }
        XCTAssertEqual(changes.withLockedValue { $0 }, [["exact", "one"]], "start() returns after the first scan's verdicts")
        XCTAssertTrue(try group.next().submit { watcher.hasQuorum("exact") && watcher.hasQuorum("one") }.wait())
        XCTAssertTrue(watcher.statusLine("exact").hasPrefix("vrrp_track_process exact: OK, 1 running, quorum 1+; matching argv '/bin/sleep \(tag)', param_match exact"), watcher.statusLine("exact"))

        let second = Process()
        second.executableURL = URL(fileURLWithPath: "/bin/sleep")
        second.arguments = [tag]
        try second.run()
        defer { if second.isRunning { second.terminate(); second.waitUntilExit() } }
        XCTAssertTrue(poll { changes.withLockedValue { $0.last } == ["one"] }, "two running: above quorum_max 1: \(changes.withLockedValue { $0 })")
        XCTAssertFalse(try group.next().submit { watcher.hasQuorum("one") }.wait())
        XCTAssertTrue(try group.next().submit { watcher.downReason("one") }.wait() == "process 'one': 2 running, quorum 1-1")

        second.terminate(); second.waitUntilExit()
        first.terminate(); first.waitUntilExit()
        XCTAssertTrue(poll { changes.withLockedValue { $0.count } >= 3 && !((try? group.next().submit { watcher.hasQuorum("exact") }.wait()) ?? true) },
                      "both gone: exact lost its quorum: \(changes.withLockedValue { $0 })")
        XCTAssertTrue(watcher.statusLine("exact").contains("FAILED, 0 running"), watcher.statusLine("exact"))
    }

    /// The scan runs off the VRRP loop: one that blocks (a process whose cmdline cannot be
    /// read) leaves the loop free and the verdict as it was, and no second scan starts under
    /// it; when it ends its count applies. A scan that cannot read /proc (a chroot without the
    /// descriptor) keeps the verdict instead of counting 0.
    func testABlockedOrFailingScanLeavesTheLoopAndTheVerdict() throws {
        var settings = VRRPTrackProcess(name: "app", line: 1)
        settings.process = "app"
        let results = NIOLockedValueBox<[Result<[Int], ProcessScan.ScanError>]>([.success([1]), .failure(.init(description: "cannot list /proc: test"))])
        let calls = NIOLockedValueBox(0)
        let blocked = DispatchSemaphore(value: 0)
        let scanner: TrackedProcesses.Scanner = { _ in
            let call = calls.withLockedValue { $0 += 1; return $0 }
            if call == 3 { blocked.wait() }
            return results.withLockedValue { $0.isEmpty ? .success([0]) : $0.removeFirst() }
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let watcher = TrackedProcesses(settings: ["app": settings], loop: loop, logger: Logger(label: "tracked-process-test"), scanner: scanner)
        let changes = NIOLockedValueBox<[[String]]>([])
        watcher.onChange = { names in changes.withLockedValue { $0.append(names) } }
        try watcher.start().wait()
        defer { blocked.signal(); try? watcher.stop().wait() }
        XCTAssertTrue(try loop.submit { watcher.hasQuorum("app") }.wait(), "first scan: 1 running")

        // The second scan fails, the third blocks: the verdict stays, the loop answers at once.
        XCTAssertTrue(poll(3) { calls.withLockedValue { $0 } == 3 })
        for _ in 0..<4 {
            // Not `.wait()`: a loop held by the scan would hang the test instead of failing it.
            let answered = DispatchSemaphore(value: 0)
            let held = NIOLockedValueBox<Bool?>(nil)
            loop.execute {
                held.withLockedValue { $0 = watcher.hasQuorum("app") }
                answered.signal()
            }
            guard answered.wait(timeout: .now() + 0.1) == .success else { return XCTFail("the loop is held by the scan") }
            XCTAssertEqual(held.withLockedValue { $0 }, true, "the verdict stays")
            usleep(200_000)
        }
        XCTAssertEqual(calls.withLockedValue { $0 }, 3, "no scan starts while one runs")
        XCTAssertEqual(changes.withLockedValue { $0 }, [["app"]])
        XCTAssertTrue(watcher.statusLine("app").contains("OK, 1 running"), watcher.statusLine("app"))

        blocked.signal()
        XCTAssertTrue(poll(3) { changes.withLockedValue { $0.count } == 2 }, "its count (0) applies when it ends")
        XCTAssertFalse(try loop.submit { watcher.hasQuorum("app") }.wait())
    }
}
