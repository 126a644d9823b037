import Foundation
import Logging
import SwiftLBConfig
import XCTest
@testable import SwiftLBHA

/// The script runner's loop in this process, on a real SOCK_SEQPACKET pair and real children:
/// it says `ready` first, what lb.conf lists runs and its exit comes back, anything else is
/// refused, a kill reaches the child, and the loop ends when swiftlb's end closes.
final class ScriptRunnerTests: XCTestCase {
    private var dir = ""

    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "script-runner-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    private func configuration(scripts: [String], notify: String? = nil) throws -> Configuration {
        try scriptTestConfiguration(scripts: scripts, instanceLines: notify.map { ["notify \"\($0)\""] } ?? [])
    }

    /// The runner serving one end of a socketpair on a thread of its own, past its `ready`.
    private final class Harness: @unchecked Sendable {
        let socket: Int32
        let done = DispatchSemaphore(value: 0)

        init(list: ScriptAllowList) throws {
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                throw POSIXError(.init(rawValue: errno)!)
            }
            socket = pair[0]
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(socket, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            // Used by the thread below only.
            nonisolated(unsafe) let runner = ScriptRunner(socket: pair[1], allowList: list, logger: Logger(label: "test"))
            let runnerEnd = pair[1]
            let done = self.done
            Thread.detachNewThread {
                runner.serve()
                Glibc.close(runnerEnd)
                done.signal()
            }
            XCTAssertEqual(receive(), .ready, "the runner's first word")
        }

        func send(_ message: ScriptRunnerMessage) {
            let bytes = message.encoded
            XCTAssertEqual(bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }, bytes.count)
        }

        /// The next reply (within 10 s), or nil.
        func receive() -> ScriptRunnerMessage? {
            var buffer = [UInt8](repeating: 0, count: ScriptRunnerMessage.maximumSize)
            var n: Int
            // EINTR: a child of this test process exited (Foundation's Process handles SIGCHLD).
            repeat { n = buffer.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) } } while n < 0 && errno == EINTR
            guard n > 0 else { return nil }
            return try? ScriptRunnerMessage.decode(Array(buffer[0..<n]))
        }

        /// Closes swiftlb's end: the runner must return from `serve` (within 10 s).
        func close() -> Bool {
            Glibc.close(socket)
            return done.wait(timeout: .now() + 10) == .success
        }
    }

    func testAListedScriptRunsAndItsExitComesBack() throws {
        let marker = dir + "/ran"
        let harness = try Harness(list: ScriptAllowList(configuration: configuration(scripts: ["touch \(marker); exit 3"])))
        harness.send(.run(id: 1, command: "touch \(marker); exit 3", arguments: [], detached: false))
        XCTAssertEqual(harness.receive(), .started(id: 1))
        XCTAssertEqual(harness.receive(), .exited(id: 1, .exited(3)))
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker), "the command ran")
        XCTAssertTrue(harness.close(), "the runner ends when swiftlb's end closes")
    }

    func testAnythingLbConfDoesNotListIsRefusedAndNotRun() throws {
        let marker = dir + "/ran"
        let harness = try Harness(list: ScriptAllowList(configuration: configuration(scripts: ["true"], notify: "/bin/echo")))
        // Another command, a listed one with arguments it is never given, and `notify` with a
        // state that is not one.
        harness.send(.run(id: 1, command: "touch \(marker)", arguments: [], detached: false))
        harness.send(.run(id: 2, command: "true", arguments: ["x"], detached: false))
        harness.send(.run(id: 3, command: "/bin/echo \"$@\"", arguments: ["notify", "INSTANCE", "vi", "; touch \(marker)", "100"], detached: true))
        for id: UInt32 in 1...3 {
            guard case .failed(id, let reason)? = harness.receive() else { return XCTFail("run \(id) was not refused") }
            XCTAssertTrue(reason.contains("refused by the script runner"), reason)
        }
        // `notify` for another instance, with a priority that is not one, or without STATE.
        let wrong: [[String]] = [["notify", "INSTANCE", "other", "MASTER", "100"], ["notify", "INSTANCE", "vi", "MASTER", "+5"],
                                 ["notify", "INSTANCE", "vi", "MASTER", "256"], ["notify", "INSTANCE", "vi", "MASTER", "007"],
                                 ["notify", "GROUP", "vi", "MASTER"], ["notify", "INSTANCE", "vi"], ["x", "INSTANCE", "vi", "MASTER"]]
        for (n, arguments) in wrong.enumerated() {
            harness.send(.run(id: UInt32(10 + n), command: "/bin/echo \"$@\"", arguments: arguments, detached: true))
            guard case .failed(UInt32(10 + n), _)? = harness.receive() else { return XCTFail("\(arguments) was not refused") }
        }
        // The notify form lb.conf gives is allowed.
        harness.send(.run(id: 4, command: "/bin/echo \"$@\"", arguments: ["notify", "INSTANCE", "vi", "MASTER", "100"], detached: true))
        XCTAssertEqual(harness.receive(), .started(id: 4))
        XCTAssertEqual(harness.receive(), .exited(id: 4, .exited(0)))
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "nothing refused ran")
        XCTAssertTrue(harness.close())
    }

    func testAKillReachesTheScriptsProcessGroup() throws {
        let harness = try Harness(list: ScriptAllowList(configuration: configuration(scripts: ["sleep 30 & wait"])))
        harness.send(.run(id: 9, command: "sleep 30 & wait", arguments: [], detached: false))
        XCTAssertEqual(harness.receive(), .started(id: 9))
        let start = Date()
        harness.send(.kill(id: 9))
        XCTAssertEqual(harness.receive(), .exited(id: 9, .signaled(SIGKILL)))
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "killed, not waited for")
        XCTAssertTrue(harness.close())
    }

    /// Garbage on the socket is logged and skipped; the runner goes on serving.
    func testAnUnreadableRequestIsSkipped() throws {
        let harness = try Harness(list: ScriptAllowList(configuration: configuration(scripts: ["exit 0"])))
        let garbage: [UInt8] = [99, 1, 2, 3]
        XCTAssertEqual(garbage.withUnsafeBytes { Glibc.send(harness.socket, $0.baseAddress, $0.count, 0) }, garbage.count)
        harness.send(.run(id: 5, command: "exit 0", arguments: [], detached: false))
        XCTAssertEqual(harness.receive(), .started(id: 5))
        XCTAssertEqual(harness.receive(), .exited(id: 5, .exited(0)))
        XCTAssertTrue(harness.close())
    }
}

/// `vrrp_script s0…` running `scripts`, and instance `vi` with `instanceLines` (its notify
/// commands): the allow-list's and the runner's tests' configuration.
func scriptTestConfiguration(scripts: [String], instanceLines: [String]) throws -> Configuration {
    let blocks = scripts.enumerated().map { "vrrp_script s\($0.offset) {\n    script \"\($0.element)\"\n}\n" }.joined()
    return try ConfigParser.parse(text: blocks + """
        vrrp vi
            interface lo
            virtual_router_id 5
            priority 100
            virtual_ipaddress 10.9.9.9/24
            auth none
            unicast_peer 10.9.9.8

        """ + instanceLines.map { "    " + $0 + "\n" }.joined(), file: "t.conf")
}
