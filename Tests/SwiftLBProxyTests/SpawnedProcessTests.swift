import Foundation
import SwiftLBTestSupport
import XCTest

/// The tests' process runner (Tests/SwiftLBTestSupport): children get their environment
/// explicitly and the test process's stays as it was; both output pipes drain at once; a
/// child that outlives its time is killed; nothing of the test process's descriptors leaks
/// into a child; and spawning from several threads while the test process's environment
/// changes (through `TestEnvironment`) gives every child what it was given.
final class SpawnedProcessTests: XCTestCase {
    func testEnvironmentsArePassedNotShared() {
        let run = runProcess("/bin/sh", ["-c", "printf %s \"$SPAWN_TEST_VALUE\""], environment: ["SPAWN_TEST_VALUE": "given"])
        XCTAssertEqual(run.status, 0)
        XCTAssertEqual(run.out, "given")
        XCTAssertNil(getenv("SPAWN_TEST_VALUE"), "the test process's environment is untouched")
        let alone = runProcess("/usr/bin/env", [], environment: ["ONLY": "this"], inheritEnvironment: false)
        XCTAssertEqual(alone.out, "ONLY=this\n")
        XCTAssertEqual(runProcess("/bin/pwd", [], directory: "/tmp").out, "/tmp\n")
        XCTAssertEqual(runProcess("/bin/sh", ["-c", "exit 3"]).status, 3)
        XCTAssertEqual(runProcess("/nonexistent/tool", []).status, -1)
    }

    func testBothPipesDrainAndInputIsFed() {
        // 1 MiB on each stream: a runner that read one pipe to its end first would block.
        let big = runProcess("/bin/sh", ["-c", "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2; echo done"])
        XCTAssertEqual(big.status, 0)
        XCTAssertEqual(big.output.count, 1_048_576 + 5)
        XCTAssertEqual(big.errorOutput.count, 1_048_576)
        XCTAssertEqual(runProcess("/bin/cat", [], input: Array("echoed".utf8)).out, "echoed")
        // A child that exits without reading its input is no error of the test process (EPIPE).
        XCTAssertEqual(runProcess("/bin/true", [], input: [UInt8](repeating: 0x61, count: 1 << 20)).status, 0)
        // An input larger than both pipes, echoed while it is fed: neither side blocks.
        let echoed = runProcess("/bin/cat", [], input: [UInt8](repeating: 0x62, count: 1 << 20), timeout: 20)
        XCTAssertEqual(echoed.output.count, 1 << 20)
        XCTAssertFalse(echoed.timedOut)
        let merged = runProcess("/bin/sh", ["-c", "echo out; echo err >&2"], mergeStderr: true)
        XCTAssertEqual(merged.out, "out\nerr\n")
    }

    func testAChildThatOutlivesItsTimeIsKilled() {
        let started = Date()
        let run = runProcess("/bin/sleep", ["30"], timeout: 0.5)
        XCTAssertTrue(run.timedOut)
        XCTAssertEqual(run.status, SIGKILL)
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)

        let child = try? SpawnedProcess("/bin/sleep", ["30"])
        XCTAssertEqual(child?.isRunning, true)
        child?.stop()
        XCTAssertEqual(child?.poll(), SIGTERM)
    }

    func testTheTestProcesssDescriptorsStayOut() throws {
        let fd = open("/dev/null", O_RDONLY)  // no O_CLOEXEC
        defer { close(fd) }
        let listing = runProcess("/bin/sh", ["-c", "ls /proc/$$/fd"]).out.split(separator: "\n").compactMap { Int($0) }
        XCTAssertTrue(listing.contains(1), listing.description)
        XCTAssertFalse(listing.contains(Int(fd)), "descriptor \(fd) leaked into the child: \(listing)")
    }

    /// Children spawned from four threads while the test process's environment grows (glibc
    /// reallocating `environ`): each child prints what it was given.
    func testSpawningWhileTheEnvironmentChanges() {
        let wrong = ManagedCounter()
        let group = DispatchGroup()
        for thread in 0..<4 {
            group.enter()
            Thread {
                for i in 0..<10 {
                    let value = "\(thread)-\(i)"
                    let run = runProcess("/bin/sh", ["-c", "printf %s \"$SPAWN_STRESS\""], environment: ["SPAWN_STRESS": value], timeout: 30)
                    if run.out != value { wrong.add() }
                }
                group.leave()
            }.start()
        }
        for i in 0..<20 { TestEnvironment.set("SWIFTLB_SPAWN_TEST_\(i)", "x") }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(wrong.value, 0)
    }
}

/// A counter several threads add to.
private final class ManagedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
