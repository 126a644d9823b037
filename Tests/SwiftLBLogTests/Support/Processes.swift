import Foundation
import SwiftLBTestSupport

/// A scratch directory, removed when the test ends.
final class ScratchDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "swiftlb-log-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    @discardableResult
    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
        return file(name)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A child process the test started, stdout and stderr into `output`, the environment the
/// test process's plus `environment`; stopped (by its pid) when the test ends.
final class Child {
    private let process: SpawnedProcess

    init(_ executable: String, _ arguments: [String], output: String, environment: [String: String] = [:]) throws {
        process = try SpawnedProcess(executable, arguments, environment: environment, stdout: .file(output), stderr: .stdout)
    }

    var pid: Int32 { process.pid }

    func stop() { process.stop() }

    deinit { stop() }
}

/// Runs a command to completion, feeding `input` on stdin; returns status and output.
@discardableResult
func runTool(_ executable: String, _ arguments: [String], input: String = "") -> (status: Int32, out: String, err: String) {
    let run = runProcess(executable, arguments, input: Array(input.utf8))
    return (run.status, run.out, run.err)
}

/// curl with a hard time limit.
@discardableResult
func curl(_ arguments: [String]) -> String {
    runTool("/usr/bin/curl", ["-sS", "-g", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}"] + arguments).out
}

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("fixtures").path
}
