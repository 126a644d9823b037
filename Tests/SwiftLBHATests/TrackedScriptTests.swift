import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwiftLBConfig
import XCTest
@testable import SwiftLBHA

/// `vrrp_script` runs with real /bin/sh processes: results through rise/fall, a timeout that
/// kills the script's whole process group, the event loop never blocked by a running script,
/// and nothing of ours inherited by the child.
final class TrackedScriptTests: XCTestCase {
    var group: MultiThreadedEventLoopGroup!
    var dir: URL!
    var running: [TrackedScript] = []

    override func setUpWithError() throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tracked-script-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for script in running { try? script.stop().wait() }
        try group.syncShutdownGracefully()
        try? FileManager.default.removeItem(at: dir)
    }

    func make(_ command: String, interval: Int64 = 50, timeout: Int64? = nil, rise: Int = 1, fall: Int = 1) -> TrackedScript {
        var settings = VRRPScript(name: "chk", line: 1)
        settings.script = command
        settings.interval = .milliseconds(interval)
        settings.timeout = timeout.map { .milliseconds($0) }
        settings.rise = rise
        settings.fall = fall
        let script = TrackedScript(settings: settings, loop: group.next(), logger: Logger(label: "tracked-script-test"))
        running.append(script)
        return script
    }

    func state(_ script: TrackedScript) -> ScriptHealth.State { script.status.withLockedValue(\.state) }

    func testTheFirstResultDecidesThenFallAndRiseFilter() throws {
        let flag = dir.appendingPathComponent("fail").path
        // An explicit timeout: the default (the interval, 50 ms) would count a /bin/sh that a
        // loaded machine starts slowly as a failure.
        let script = make("test ! -e \(flag)", timeout: 1000, rise: 2, fall: 3)
        let changes = NIOLockedValueBox(0)
        script.onChange = { changes.withLockedValue { $0 += 1 } }
        try script.start().wait()
        XCTAssertEqual(state(script), .ok, "start() returns after the first result")
        XCTAssertEqual(changes.withLockedValue { $0 }, 1)
        FileManager.default.createFile(atPath: flag, contents: nil)
        XCTAssertTrue(poll { self.state(script) == .failed }, script.statusLine)
        XCTAssertGreaterThanOrEqual(script.status.withLockedValue(\.failures), 3, "fall 3: three failed runs before FAILED")
        XCTAssertEqual(script.status.withLockedValue(\.lastOutcome), .exited(1))
        XCTAssertTrue(try script.loop.submit { script.downReason }.wait().contains("script 'chk' failed (exit 1)"))
        try FileManager.default.removeItem(atPath: flag)
        XCTAssertTrue(poll { self.state(script) == .ok }, script.statusLine)
        XCTAssertEqual(changes.withLockedValue { $0 }, 3)
        XCTAssertTrue(script.statusLine.contains("vrrp_script chk: OK, every 50ms, timeout 1s, rise 2, fall 3; last run: exit 0"), script.statusLine)
    }

    /// A script that overruns its timeout is killed with everything it started, and the loop
    /// answers while it runs.
    func testATimeoutKillsTheWholeProcessGroupAndTheLoopNeverWaits() throws {
        let pids = dir.appendingPathComponent("pids").path
        // The script runs 1 s before its timeout: a loop it blocked would take that long to answer.
        let script = make("sleep 30 & echo $$ $! > \(pids); wait", interval: 2000, timeout: 1000)
        let started = Date()
        let first = script.start()
        XCTAssertTrue(poll { FileManager.default.fileExists(atPath: pids) })
        // The script is running: the loop still answers at once.
        let asked = Date()
        try group.next().submit {}.wait()
        XCTAssertLessThan(Date().timeIntervalSince(asked), 0.2, "the script runs off the loop")
        try first.wait()
        XCTAssertEqual(state(script), .failed)
        XCTAssertEqual(script.status.withLockedValue(\.lastOutcome), .timedOut(milliseconds: 1000))
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 1.0)
        let text = try String(contentsOfFile: pids, encoding: .utf8).split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        XCTAssertEqual(text.count, 2)
        for pid in text {
            // Dead: gone, or a zombie waiting for the init of this container to reap it.
            XCTAssertTrue(poll(2) { kill(pid, 0) != 0 || Self.processState(pid) == "Z" }, "process \(pid) of the script's group is dead")
        }
    }

    /// The child gets /dev/null on 0-2, none of our descriptors, default signal dispositions.
    /// The state letter of /proc/PID/stat ("R", "S", "Z"…), nil when the process is gone.
    static func processState(_ pid: pid_t) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
    }

    func testTheChildInheritsNothingOfOurs() throws {
        let fd = open("/dev/null", O_RDONLY)   // no O_CLOEXEC: would leak without closefrom
        defer { close(fd) }
        XCTAssertGreaterThan(fd, 2)
        signal(SIGHUP, SIG_IGN)
        defer { signal(SIGHUP, SIG_DFL) }
        let out = dir.appendingPathComponent("out").path
        // /proc/PID/status's SigIgn is a hex mask: SIGHUP is bit 0.
        let script = make("ls /proc/$$/fd > \(out); grep SigIgn /proc/$$/status >> \(out); test ! -e /proc/$$/fd/\(fd)", interval: 5000)
        try script.start().wait()
        let text = try String(contentsOfFile: out, encoding: .utf8)
        XCTAssertEqual(state(script), .ok, text)
        let sigIgn = text.split(separator: "\n").first { $0.hasPrefix("SigIgn") }.map { $0.split(separator: "\t").last.map(String.init) ?? "" } ?? ""
        XCTAssertFalse((UInt64(sigIgn.trimmingCharacters(in: .whitespaces), radix: 16) ?? 1) & 1 == 1, "SIGHUP back to its default: \(text)")
    }

    func testACommandThatCannotRunIsAFailure() throws {
        let script = make("/nonexistent/check", interval: 5000)
        try script.start().wait()
        XCTAssertEqual(state(script), .failed)
        XCTAssertEqual(script.status.withLockedValue(\.lastOutcome), .exited(127), "sh: not found")
    }
}
