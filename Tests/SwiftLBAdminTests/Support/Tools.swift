import Foundation
import Logging
import NIOPosix
import SwiftLBTestSupport
import XCTest

/// A scratch directory under /tmp, removed with its contents when the test ends.
final class Scratch {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "swiftlb-admin-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Where artefacts a person may want to look at after a run (the stats page's screenshot)
/// are kept: outside the checkout, one fixed name per artefact, overwritten by the next run.
enum Artefacts {
    static func path(_ name: String) throws -> String {
        let dir = NSTemporaryDirectory() + "swiftlb-test-artefacts"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return dir + "/" + name
    }
}

struct Outcome {
    var status: Int32
    var out: String
    var err: String
}

/// Runs a tool with `input` on its stdin, killed (by its PID) if it outlives `timeout`.
@discardableResult
func runTool(_ executable: String, _ arguments: [String], input: String? = nil, timeout: TimeInterval = 30) -> Outcome {
    let run = runProcess(executable, arguments, input: input.map { Array($0.utf8) }, timeout: timeout)
    return Outcome(status: run.status, out: run.out, err: run.err)
}

/// A Python 3 script on stdin (the csv, json and prometheus_client parsers check our output).
func python(_ script: String, _ arguments: [String] = []) -> Outcome {
    runTool("/usr/bin/env", ["python3", "-c", script] + arguments)
}

/// Skips a test whose outside tool is missing, naming how to get it (scripts/lib/deps.sh
/// installs them all).
func requireTool(_ path: String) throws {
    guard FileManager.default.isExecutableFile(atPath: path) else {
        throw XCTSkip("\(path) is missing: run scripts/lib/deps.sh's 'deps_install build test' (or apt-get install it)")
    }
}

func requirePythonModule(_ module: String) throws {
    guard python("import \(module)").status == 0 else {
        throw XCTSkip("python3 module \(module) is missing: pip install \(module) (scripts/lib/deps.sh lists it)")
    }
}

/// A quiet logger whose lines a test can read.
final class LogCapture: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    var text: String { lock.withLock { lines.joined(separator: "\n") } }
    func append(_ s: String) { lock.withLock { lines.append(s) } }

    var logger: Logger {
        let capture = self
        return Logger(label: "admin-test") { _ in LineLogHandler { capture.append("\($0.level): \($0.message)") } }
    }
}

/// One event-loop group per test class, shut down at the end.
let testGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
