import Foundation
import XCTest

/// What the tests of this target need to run the real `swiftlb` binary and real peers.
enum Binaries {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `swift build --build-tests` puts the executable beside the test bundle.
    static var swiftlb: String {
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("swiftlb").path
        return FileManager.default.isExecutableFile(atPath: beside) ? beside : repository.appendingPathComponent(".build/debug/swiftlb").path
    }

    /// The first of `names` found on PATH (or in /usr/sbin, where Debian puts daemons).
    static func which(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init) + ["/usr/sbin", "/sbin"]
        return dirs.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

struct CommandResult {
    let status: Int32
    let out: String
    let err: String
}

/// A child process started with posix_spawn (Foundation's Process can miss the exit of a
/// child that starts a daemon of its own): stdout and stderr go to files.
final class Spawned {
    let pid: pid_t
    let outFile: String
    let errFile: String
    private var status: Int32?

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, directory: String) throws {
        outFile = directory + "/spawn-\(UUID().uuidString.prefix(8)).out"
        errFile = outFile.replacingOccurrences(of: ".out", with: ".err")
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errFile, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let env = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard rc == 0 else { throw NSError(domain: "spawn", code: Int(rc), userInfo: [NSLocalizedDescriptionKey: "\(executable): \(String(cString: strerror(rc)))"]) }
        self.pid = pid
    }

    var out: String { (try? String(contentsOfFile: outFile, encoding: .utf8)) ?? "" }
    var err: String { (try? String(contentsOfFile: errFile, encoding: .utf8)) ?? "" }

    /// The exit status once it has exited (a signal counts as 128 + signal), else nil.
    var exitStatus: Int32? {
        if let status { return status }
        var raw: Int32 = 0
        guard waitpid(pid, &raw, WNOHANG) == pid else { return nil }
        status = raw & 0x7f == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        return status
    }

    var isRunning: Bool { exitStatus == nil }

    /// Waits at most `seconds`, then SIGKILLs; the exit status.
    @discardableResult
    func wait(_ seconds: TimeInterval) -> Int32 {
        if !eventually(seconds, { !isRunning }) {
            kill(pid, SIGKILL)
            _ = eventually(5) { !isRunning }
        }
        return exitStatus ?? -1
    }

    /// SIGTERM, then the exit status (SIGKILL after 10 s).
    @discardableResult
    func stop() -> Int32 {
        if isRunning { kill(pid, SIGTERM) }
        return wait(10)
    }

    deinit {
        if isRunning { kill(pid, SIGKILL); _ = eventually(5) { !isRunning } }
        try? FileManager.default.removeItem(atPath: outFile)
        try? FileManager.default.removeItem(atPath: errFile)
    }
}

/// Runs a command to completion (killed after `timeout` seconds) and collects its output.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: TimeInterval = 60) -> CommandResult {
    let directory = FileManager.default.temporaryDirectory.path
    guard let child = try? Spawned(executable, arguments, environment: environment, directory: directory) else {
        return CommandResult(status: -1, out: "", err: "cannot start \(executable)")
    }
    let status = child.wait(timeout)
    return CommandResult(status: status, out: child.out, err: child.err)
}

/// A scratch directory, removed at the end of the test.
final class Scratch {
    let path: String
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftlb-config-\(UUID().uuidString.prefix(8))").path
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

/// A TCP socket bound to a free loopback port (listening if asked); the caller closes it.
func boundLoopbackSocket(listening: Bool = false) -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length); _ = getsockname(fd, $0, &length) }
    }
    if listening { listen(fd, 1) }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}

/// A loopback port nothing listens on right now.
func unusedPort() -> Int {
    let (fd, port) = boundLoopbackSocket()
    close(fd)
    return port
}

/// Polls `condition` every 20 ms for at most `seconds`.
func eventually(_ seconds: TimeInterval, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    repeat {
        if condition() { return true }
        usleep(20_000)
    } while Date() < deadline
    return condition()
}

/// `/proc/PID/task/*/status` of a process: one dictionary per thread, with `comm`.
func threadStatuses(_ pid: Int32) -> [[String: String]] {
    let dir = "/proc/\(pid)/task"
    let tids = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
    return tids.compactMap { tid in
        guard let text = try? String(contentsOfFile: "\(dir)/\(tid)/status", encoding: .utf8) else { return nil }
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return fields
    }
}

func processAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 || errno == EPERM }

/// `haproxy -c` and `swiftlb check` on one configuration text, for the tests that hold SwiftLB
/// to HAProxy's verdict and words (the file is written to a scratch directory).
struct CheckedBeside {
    let path: String
    let theirs: CommandResult
    let ours: CommandResult
    /// Exit 0 (valid) or 2 (valid with warnings).
    var theyAccept: Bool { theirs.status == 0 || theirs.status == 2 }
    var weAccept: Bool { ours.status == 0 || ours.status == 2 }
    var said: String { "haproxy \(theirs.status) \(theirs.err)\nswiftlb \(ours.status) \(ours.out)\(ours.err)" }

    /// Skips the test when haproxy is not installed.
    static func check(_ text: String, named name: String, in scratch: Scratch) throws -> CheckedBeside {
        let haproxy = "/usr/sbin/haproxy"
        guard FileManager.default.isExecutableFile(atPath: haproxy) else { throw XCTSkip("no \(haproxy)") }
        let path = scratch.file(name)
        try (text.hasSuffix("\n") ? text : text + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return CheckedBeside(path: path, theirs: runCommand(haproxy, ["-c", "-f", path], timeout: 30),
                             ours: runCommand(Binaries.swiftlb, ["check", "-c", path], timeout: 30))
    }
}

/// A frontend on 127.0.0.1:`port` that answers every request itself (200, `body`), with the
/// harness's timeouts: an instance to start when only the process around it is under test.
func answeringConfiguration(port: Int, body: String, global: String = "") -> String {
    (global.isEmpty ? "" : "global\n\(global)") + """
        defaults
            timeout client 5s
            timeout connect 5s
            timeout server 5s
        frontend f
            bind 127.0.0.1:\(port)
            mode http
            http-request return status 200 content-type text/plain string "\(body)"

        """
}
