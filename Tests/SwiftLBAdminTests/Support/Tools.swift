import Foundation
import Logging
import NIOPosix
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
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    p.standardInput = stdin
    p.standardOutput = stdout
    p.standardError = stderr
    do { try p.run() } catch { return Outcome(status: -1, out: "", err: "\(error)") }
    let pid = p.processIdentifier
    let watchdog = DispatchWorkItem { if p.isRunning { kill(pid, SIGKILL) } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    // A tool that exits before reading (socat finding no socket yet) must not crash the tests:
    // write(contentsOf:) throws on EPIPE where write(_:) traps.
    if let input { try? stdin.fileHandleForWriting.write(contentsOf: Data(input.utf8)) }
    try? stdin.fileHandleForWriting.close()
    // stderr drains on another thread so that neither pipe can fill and block the child.
    final class Box: @unchecked Sendable { var data = Data() }
    let errBox = Box()
    let collected = DispatchGroup()
    collected.enter()
    DispatchQueue.global().async {
        errBox.data = stderr.fileHandleForReading.readDataToEndOfFile()
        collected.leave()
    }
    let outData = stdout.fileHandleForReading.readDataToEndOfFile()
    collected.wait()
    let errData = errBox.data
    p.waitUntilExit()
    watchdog.cancel()
    return Outcome(status: p.terminationStatus, out: String(decoding: outData, as: UTF8.self), err: String(decoding: errData, as: UTF8.self))
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
        return Logger(label: "admin-test") { _ in CaptureHandler(capture: capture) }
    }

    struct CaptureHandler: LogHandler {
        let capture: LogCapture
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            capture.append("\(event.level): \(event.message)")
        }
    }
}

/// One event-loop group per test class, shut down at the end.
let testGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
