import Glibc
import Synchronization

/// The test process's environment, changed only here and read only here when a child is
/// spawned: glibc's `setenv` of a new name reallocates `environ` and frees the old array, so a
/// thread copying `environ` meanwhile (Foundation's `Process.run()` did, in a `memcpy`) reads
/// freed memory. Children get what they need explicitly (`SpawnedProcess(environment:)`);
/// what the test process itself needs (`TZ` for the log tests' `localtime_r`) is set under
/// the lock every spawn holds while it copies `environ`.
public enum TestEnvironment {
    static let lock = Mutex(())

    /// Sets `name` in the test process's own environment (and `tzset()`s for `TZ`).
    public static func set(_ name: String, _ value: String) {
        lock.withLock { _ in
            if let current = getenv(name), String(cString: current) == value { return }
            setenv(name, value, 1)
        }
        if name == "TZ" { tzset() }
    }

    /// `environ` as NAME=VALUE strings with `overrides` set (`inherit: false`: only them).
    static func entries(inherit: Bool, overrides: [String: String]) -> [String] {
        var result: [String] = []
        if inherit {
            lock.withLock { _ in
                var pointer = environ
                while let entry = pointer.pointee {
                    result.append(String(cString: entry))
                    pointer += 1
                }
            }
        }
        guard !overrides.isEmpty else { return result }
        result.removeAll { entry in
            let name = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? entry
            return overrides.keys.contains(name)
        }
        for (name, value) in overrides.sorted(by: { $0.key < $1.key }) { result.append("\(name)=\(value)") }
        return result
    }
}

/// A child process started with posix_spawn — instead of Foundation's `Process`, whose
/// `run()` copies the whole environment and registers the child with a manager thread's run
/// loop — ended by its PID. Its standard streams go where the test says (`Stream`); output
/// captured through pipes is read by the test (`readToEnd`, `readAvailable`) or by
/// `runProcess`, which drains both pipes at once with a bounded wait.
public final class SpawnedProcess: @unchecked Sendable {
    /// Where one of the child's standard streams goes.
    public enum Stream {
        case null
        /// A pipe whose other end the test holds (`input`, `output`, `errorOutput`).
        case pipe
        /// A file, created (emptied) by the parent before the spawn.
        case file(String)
        /// The test process's own stream.
        case inherit
        /// stderr only: wherever stdout goes.
        case stdout
    }

    public let pid: pid_t
    /// The test's end of the child's stdin, stdout and stderr pipes (-1 without a pipe).
    public private(set) var input: Int32 = -1
    public let output: Int32
    public let errorOutput: Int32
    /// The exit status once reaped: the exit code, or the signal that ended it (as
    /// Foundation's `terminationStatus`).
    private let state = Mutex<Int32?>(nil)

    /// - environment: names to set on top of the test process's environment (or alone, with
    ///   `inheritEnvironment: false`).
    public init(_ executable: String, _ arguments: [String], environment: [String: String] = [:], inheritEnvironment: Bool = true,
                directory: String? = nil, stdin: Stream = .null, stdout: Stream = .null, stderr: Stream = .null) throws {
        _ = Self.ignoreSIGPIPE
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [Int32] = [-1, -1, -1]
        var childEnds: [Int32] = []
        defer { for fd in childEnds { close(fd) } }
        func abandon() { for fd in parentEnds where fd >= 0 { close(fd) } }
        for (target, stream) in [(Int32(0), stdin), (1, stdout), (2, stderr)] {
            switch stream {
            case .inherit:
                continue
            case .stdout:
                posix_spawn_file_actions_adddup2(&actions, 1, target)
            case .null:
                posix_spawn_file_actions_addopen(&actions, target, "/dev/null", target == 0 ? O_RDONLY : O_WRONLY, 0)
            case .file(let path):
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else { abandon(); throw SpawnError(executable, "cannot open \(path)", errno) }
                childEnds.append(fd)
                posix_spawn_file_actions_adddup2(&actions, fd, target)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { abandon(); throw SpawnError(executable, "pipe", errno) }
                for fd in ends { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }  // pipe2 is out of Swift's reach
                let (childEnd, parentEnd) = target == 0 ? (ends[0], ends[1]) : (ends[1], ends[0])
                childEnds.append(childEnd)
                parentEnds[Int(target)] = parentEnd
                posix_spawn_file_actions_adddup2(&actions, childEnd, target)
            }
        }
        // Nothing else of the test process leaks into the child (its listening sockets…).
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }
        if let directory { _ = Self.addChdir?(&actions, directory) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Default handling of every signal and none blocked in the child, whatever the spawning
        // thread had (the test process ignores SIGPIPE; a test may ignore SIGHUP; libdispatch's
        // threads block most signals): a child must die of the SIGTERM a test sends it.
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var unblocked = sigset_t()
        sigemptyset(&unblocked)
        posix_spawnattr_setsigmask(&attributes, &unblocked)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = TestEnvironment.entries(inherit: inheritEnvironment, overrides: environment).map { strdup($0) }
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, executable, &actions, &attributes, argv + [nil], envp + [nil])
        guard rc == 0 else { abandon(); throw SpawnError(executable, "posix_spawn", rc) }
        pid = child
        input = parentEnds[0]
        output = parentEnds[1]
        errorOutput = parentEnds[2]
    }

    /// Sends `signal` while the child has not been reaped (never to a recycled PID).
    public func signal(_ signal: Int32) {
        state.withLock { status in
            if status == nil { kill(pid, signal) }
        }
    }

    public func terminate() { signal(SIGTERM) }

    public var isRunning: Bool { poll() == nil }

    /// The exit status if the child has ended (reaping it), nil while it runs.
    @discardableResult
    public func poll() -> Int32? {
        state.withLock { status in
            if let status { return status }
            var raw: Int32 = 0
            var reaped: pid_t
            repeat { reaped = waitpid(pid, &raw, WNOHANG) } while reaped < 0 && errno == EINTR
            guard reaped == pid else { return nil }
            let code = raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
            status = code
            return code
        }
    }

    /// Waits up to `timeout` seconds for the child to end; its status, or nil if it still runs.
    @discardableResult
    public func wait(timeout: Double) -> Int32? {
        let deadline = Self.now() + timeout
        while true {
            if let status = poll() { return status }
            if Self.now() >= deadline { return nil }
            usleep(10_000)
        }
    }

    /// SIGTERM, then SIGKILL if it outlives `grace`; reaped either way (bounded).
    public func stop(grace: Double = 5) {
        guard isRunning else { return }
        signal(SIGTERM)
        if wait(timeout: grace) == nil {
            signal(SIGKILL)
            wait(timeout: 5)
        }
    }

    /// Writes `bytes` to the child's stdin and closes it (EPIPE, a child that exits before
    /// reading, is not an error).
    public func closeInput(after bytes: [UInt8] = []) {
        guard input >= 0 else { return }
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(input, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            offset += n
        }
        close(input)
        input = -1
    }

    /// What `fd` (`output` or `errorOutput`) gives until its end or until `timeout` passes.
    public func readToEnd(_ fd: Int32, timeout: Double = 60) -> [UInt8] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Self.now() + timeout
        while true {
            var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(0, (deadline - Self.now()) * 1000))
            if left == 0 || Glibc.poll(&waiting, 1, left) == 0 { return data }
            let n = read(fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return data }
            data += buffer[0..<n]
        }
    }

    /// What `fd` has now, waiting up to `timeout` for the first bytes (Foundation's
    /// `availableData`, bounded).
    public func readAvailable(_ fd: Int32, timeout: Double = 30) -> [UInt8] {
        var waiting = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard Glibc.poll(&waiting, 1, Int32(timeout * 1000)) > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = read(fd, &buffer, buffer.count)
        return n > 0 ? Array(buffer[0..<n]) : []
    }

    deinit {
        stop()
        for fd in [input, output, errorOutput] where fd >= 0 { close(fd) }
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Writing into a pipe whose reader has gone returns EPIPE instead of killing the tests.
    private static let ignoreSIGPIPE: Void = { _ = Glibc.signal(SIGPIPE, SIG_IGN) }()

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` and `…_addchdir_np`, looked up at run
    /// time: Swift's Glibc module leaves out the _GNU_SOURCE parts.
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private typealias Chdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
    private static let addCloseFrom: CloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map { unsafeBitCast($0, to: CloseFrom.self) }
    private static let addChdir: Chdir? = dlsym(nil, "posix_spawn_file_actions_addchdir_np").map { unsafeBitCast($0, to: Chdir.self) }
}

/// A spawn that failed: what, and errno's text.
public struct SpawnError: Error, CustomStringConvertible {
    public let description: String
    init(_ executable: String, _ what: String, _ code: Int32) {
        description = "\(executable): \(what): \(String(cString: strerror(code)))"
    }
}

/// What a tool run to completion gave.
public struct ProcessOutcome: Sendable {
    /// The exit code, the signal that ended it, or -1 if it could not be started.
    public var status: Int32
    public var output: [UInt8]
    public var errorOutput: [UInt8]
    /// It outlived its time and was killed (SIGKILL, by its PID).
    public var timedOut = false
    public var out: String { String(decoding: output, as: UTF8.self) }
    public var err: String { String(decoding: errorOutput, as: UTF8.self) }
}

/// Runs a tool to completion: `input` on its stdin (then closed; empty without), stdout and
/// stderr captured (stderr into stdout with `mergeStderr`) and drained together so that neither
/// pipe can fill and block it, killed if it outlives `timeout` seconds. The environment is the
/// test process's plus `environment` (or only `environment` with `inheritEnvironment: false`).
public func runProcess(_ executable: String, _ arguments: [String], input: [UInt8]? = nil, environment: [String: String] = [:],
                       inheritEnvironment: Bool = true, directory: String? = nil, mergeStderr: Bool = false,
                       timeout: Double = 120) -> ProcessOutcome {
    let child: SpawnedProcess
    do {
        child = try SpawnedProcess(executable, arguments, environment: environment, inheritEnvironment: inheritEnvironment, directory: directory,
                                   stdin: input == nil ? .null : .pipe, stdout: .pipe, stderr: mergeStderr ? .stdout : .pipe)
    } catch {
        return ProcessOutcome(status: -1, output: [], errorOutput: Array("\(error)".utf8))
    }
    // The input is fed from the same loop that drains the outputs (non-blocking), so a child
    // that writes while it reads (cat) never blocks on a full pipe while we block writing.
    var pending = input.map { $0[...] } ?? []
    if child.input >= 0 {
        _ = fcntl(child.input, F_SETFL, fcntl(child.input, F_GETFL) | O_NONBLOCK)
        if pending.isEmpty { child.closeInput() }
    }
    var outcome = ProcessOutcome(status: 0, output: [], errorOutput: [])
    var open = [child.output, child.errorOutput].filter { $0 >= 0 }
    var deadline = SpawnedProcess.now() + timeout
    var buffer = [UInt8](repeating: 0, count: 65536)
    while !open.isEmpty {
        var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        if child.input >= 0 { fds.append(pollfd(fd: child.input, events: Int16(POLLOUT), revents: 0)) }
        let left = Int32(max(0, (deadline - SpawnedProcess.now()) * 1000))
        if left == 0 || poll(&fds, nfds_t(fds.count), left) == 0 {
            if outcome.timedOut { break }  // killed, and its pipes are still held (by a grandchild)
            outcome.timedOut = true
            child.signal(SIGKILL)
            deadline = SpawnedProcess.now() + 2
            continue
        }
        for entry in fds where entry.revents != 0 {
            if entry.fd == child.input {
                let n = pending.withUnsafeBytes { write(child.input, $0.baseAddress, min($0.count, 65536)) }
                if n > 0 { pending = pending.dropFirst(n) }
                // Written, or the child closed its end (EPIPE): no more input.
                if pending.isEmpty || (n < 0 && errno != EAGAIN && errno != EINTR) { child.closeInput() }
                continue
            }
            let n = read(entry.fd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                open.removeAll { $0 == entry.fd }
            } else if entry.fd == child.output {
                outcome.output += buffer[0..<n]
            } else {
                outcome.errorOutput += buffer[0..<n]
            }
        }
    }
    child.closeInput()
    if child.wait(timeout: 10) == nil {
        child.signal(SIGKILL)
        child.wait(timeout: 5)
    }
    outcome.status = child.poll() ?? -1
    if outcome.timedOut { outcome.errorOutput += Array("\n[killed after \(timeout) s]\n".utf8) }
    return outcome
}
