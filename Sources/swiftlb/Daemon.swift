#if canImport(Glibc)
import Glibc
#endif

/// `daemon`: `swiftlb run` returns once the instance serves, leaving it detached.
///
/// fork() would keep only the calling thread of a process whose Swift runtime already runs
/// threads, so the parent starts a fresh copy of itself instead (same executable and
/// arguments, in a new session, stdin/stdout on /dev/null, stderr on a pipe), relays what
/// that copy prints while it starts, and exits 0 when it reports ready — or with its exit
/// status if it fails. The copy writes the pidfile, serves, and once ready points stderr at
/// /dev/null too.
enum Daemon {
    /// Set in the detached copy's environment.
    static let childVariable = "SWIFTLB_DAEMON_CHILD"
    static let readyLine = "swiftlb: daemon ready"

    static var isDetachedChild: Bool { getenv(childVariable) != nil }

    /// systemd's notify mode supervises the process itself (HAProxy's -Ws ignores `daemon`).
    static var underSystemdNotify: Bool { getenv("NOTIFY_SOCKET") != nil }

    /// In the parent: starts the detached copy and waits for its verdict; the parent's exit
    /// status.
    static func spawnAndWait() -> Int32 {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { report(.alert, "daemon: pipe: \(String(cString: strerror(errno)))"); return 1 }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, fds[1], 2)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(0x80))  // POSIX_SPAWN_SETSID: a new session, no terminal

        let executable = (try? String(contentsOfSymlink: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var environment = ProcessEnvironment.current
        environment.append("\(childVariable)=1")
        let argv = CommandLine.arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        close(fds[1])
        defer { close(fds[0]) }
        guard rc == 0 else { report(.alert, "daemon: cannot start \(executable): \(String(cString: strerror(rc)))"); return 1 }

        // Relay the copy's messages until it is ready or gone.
        var pending = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            pending += buffer[0..<n]
            while let newline = pending.firstIndex(of: 10) {
                let line = String(decoding: pending[..<newline], as: UTF8.self)
                pending.removeSubrange(...newline)
                if line == readyLine { return 0 }
                writeStderr(line + "\n")
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return exited ? (status >> 8) & 0xff : 1
    }

    /// /dev/null, opened at start: after a chroot it may not exist.
    nonisolated(unsafe) private static var devNull: Int32 = -1

    /// In the detached copy, before anything else: keeps /dev/null at hand for detaching.
    static func prepareDetach() {
        devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
    }

    /// In the detached copy, once it serves: tells the parent, then leaves the parent's pipe
    /// for /dev/null (the parent exits on the ready line).
    static func reportReadyAndDetach() {
        writeStderr(readyLine + "\n")
        if devNull >= 0 {
            dup2(devNull, 2)
            close(devNull)
            devNull = -1
        }
    }
}

/// `environ` as "NAME=VALUE" strings.
enum ProcessEnvironment {
    static var current: [String] {
        var result: [String] = []
        var pointer = environ
        while let entry = pointer.pointee {
            result.append(String(cString: entry))
            pointer += 1
        }
        return result
    }
}

private extension String {
    init(contentsOfSymlink path: String) throws {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink(path, &buffer, buffer.count - 1)
        guard n > 0 else { throw PIDFile.Failure(description: "readlink \(path)") }
        self = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// One write(2) on stderr: no buffering between the parent and the detached copy.
func writeStderr(_ text: String) {
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let n = bytes[offset...].withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        offset += n
    }
}
