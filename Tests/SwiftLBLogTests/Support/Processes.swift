import Foundation

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

/// A child process the test started; stopped (by its pid) when the test ends.
final class Child {
    private let process = Process()

    init(_ executable: String, _ arguments: [String], output: String) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = FileHandle(forWritingAtPath: output)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }

    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if process.isRunning { kill(pid, SIGKILL); process.waitUntilExit() }
    }

    deinit { stop() }
}

/// Runs a command to completion, feeding `input` on stdin; returns status and output.
@discardableResult
func runTool(_ executable: String, _ arguments: [String], input: String = "") -> (status: Int32, out: String, err: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let stdin = Pipe(), out = Pipe(), err = Pipe()
    p.standardInput = stdin
    p.standardOutput = out
    p.standardError = err
    do { try p.run() } catch { return (-1, "", "\(error)") }
    try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8))  // throws on EPIPE where write(_:) traps
    try? stdin.fileHandleForWriting.close()
    let o = out.fileHandleForReading.readDataToEndOfFile()
    let e = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
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
