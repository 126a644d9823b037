import Foundation
import SwiftLBTestSupport
import XCTest

/// Paths every loopback test needs: the repository, the built `swiftlb`, the fixtures.
enum Paths {
    static let repository: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `swift test` builds the executable next to the test bundle.
    static var swiftlb: String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swiftlb").path
        if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
        return repository.appendingPathComponent(".build/debug/swiftlb").path
    }

    static let fixtures = repository.appendingPathComponent("Tests/fixtures")
}

/// A scratch directory removed when the test ends.
final class TempDirectory {
    let path: String
    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlb-test-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        path = base.path
    }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    func write(_ name: String, _ text: String) throws -> String {
        let p = file(name)
        try text.write(toFile: p, atomically: true, encoding: .utf8)
        return p
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A free loopback TCP port (bound to 0, read back, released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = loopback(0)
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// A loopback port that refuses connections for the rest of the test run, for a server that
/// must be dead. A port from `freePort()` is only free for a moment: the kernel may hand it
/// out again as a connection's source port, and a connect from 127.0.0.1:P to 127.0.0.1:P
/// connects to itself (a CI run saw a "dead" server time out, 504, instead of refusing,
/// 503). This one stays bound and never listens; its descriptor is left open on purpose.
func refusedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = loopback(0)
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Whether 127.0.0.1:`port` can be bound now, as a listener binds it (SO_REUSEADDR): a port
/// nobody listens on may still be some connection's local end.
func canBind(_ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var one: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    var addr = loopback(port)
    return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
}

/// Waits until something listens for TCP connections on the port, reachable on 127.0.0.1
/// (bounded). It reads the kernel's socket table (/proc/net/tcp, tcp6) instead of connecting:
/// a probe connection would be a client of its own — HAProxy and SwiftLB answer and log a
/// connection that sends nothing (400 `CR--`), which would show in every test's logs and
/// counters. Connections made once the socket listens wait in its backlog until accepted.
func waitForPort(_ port: Int, timeout: TimeInterval = 15) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if isListening(port) { return true }
        usleep(50_000)
    }
    return false
}

/// Whether a TCP socket listens on `port` at 127.0.0.1, 0.0.0.0, :: or ::ffff:127.0.0.1.
func isListening(_ port: Int) -> Bool {
    let hexPort = String(format: "%04X", port)
    let reachable: Set<String> = ["0100007F", "00000000", String(repeating: "0", count: 32), "0000000000000000FFFF00000100007F"]
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        guard let text = wholeKernelFile(table) else { continue }
        for line in text.split(separator: "\n").dropFirst() {
            let fields = line.split(separator: " ")
            // sl local_address rem_address st …; st 0A is LISTEN.
            guard fields.count > 3, fields[3] == "0A" else { continue }
            let local = fields[1].split(separator: ":")
            if local.count == 2, local[1] == hexPort, reachable.contains(String(local[0])) { return true }
        }
    }
    return false
}

/// A /proc file read to its end. `String(contentsOfFile:)` reads such a file once (its size
/// is 0 to stat), so it got only the first 4 KB of /proc/net/tcp: with more than ~26 sockets
/// on the machine (TIME_WAIT included), a listener further down was never seen.
func wholeKernelFile(_ path: String) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n == 0 { return String(decoding: bytes, as: UTF8.self) }
        if n < 0 { if errno == EINTR { continue }; return nil }
        bytes += chunk[0..<n]
    }
}

/// A child process the test started and will end by its PID, whatever happens: stdout and
/// stderr in files of `logDirectory`, stdin a pipe held open for its life (some peers, as
/// openssl s_server, exit at end of input), the environment the test process's plus
/// `environment`.
final class ChildProcess {
    let process: SpawnedProcess
    let stdoutPath: String
    let stderrPath: String

    init(_ executable: String, _ arguments: [String], logDirectory: TempDirectory, name: String, environment: [String: String] = [:]) throws {
        stdoutPath = logDirectory.file("\(name).out")
        stderrPath = logDirectory.file("\(name).err")
        process = try SpawnedProcess(executable, arguments, environment: environment,
                                     stdin: .pipe, stdout: .file(stdoutPath), stderr: .file(stderrPath))
    }

    var pid: Int32 { process.pid }
    var stdout: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) { process.signal(sig) }

    /// Waits for exit (bounded); returns the exit status or nil if still running.
    func waitForExit(timeout: TimeInterval) -> Int32? { process.wait(timeout: timeout) }

    /// Resident set size in KiB, from /proc.
    var rssKiB: Int { statusKiB("VmRSS") }

    /// A field of /proc/PID/status in KiB (`VmRSS`; `VmHWM`, the peak resident size), 0 once
    /// the process is gone.
    func statusKiB(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
        }
        return 0
    }

    func stop() { process.stop() }

    deinit { stop() }
}

/// Runs a command to completion (bounded by the command's own options, and killed after
/// `timeout`) and returns its output.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                timeout: TimeInterval = 120) -> (status: Int32, out: String, err: String) {
    let run = runProcess(executable, arguments, environment: environment, timeout: timeout)
    return (run.status, run.out, run.err)
}

/// curl with a hard time limit, so no test can hang on it.
@discardableResult
func curl(_ arguments: [String], maxTime: Int = 30) -> (status: Int32, out: String, err: String) {
    runCommand("/usr/bin/curl", ["-sS", "--max-time", "\(maxTime)"] + arguments)
}
