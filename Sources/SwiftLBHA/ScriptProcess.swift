#if canImport(Glibc)
import Glibc
#endif
import Dispatch

/// Runs one `vrrp_script` command without blocking any event loop: `/bin/sh -c COMMAND`
/// through posix_spawn, in a process group of its own (so a timeout kills the shell and
/// whatever it started), with stdin, stdout and stderr on /dev/null, no descriptor of ours
/// (the heartbeat and listening sockets stay ours), default signal dispositions and an empty
/// signal mask (swiftlb ignores SIGTERM/SIGINT/SIGHUP itself, and ignored signals are
/// inherited across exec).
///
/// Its exit is awaited on a dispatch thread with `waitid(WNOWAIT)`, which leaves the child a
/// zombie: the owner reaps it (`reap`) on its own loop. Until then the pid and the process
/// group cannot be reused, so a timeout's kill can never hit another process.
enum ScriptProcess {
    /// How a run ended.
    enum Outcome: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signaled(Int32)
        /// Killed by us after its timeout.
        case timedOut(milliseconds: Int64)
        case couldNotStart(String)

        var succeeded: Bool { self == .exited(0) }

        var description: String {
            switch self {
            case .exited(let status): "exit \(status)"
            case .signaled(let signal): "killed by signal \(signal)"
            case .timedOut(let ms): "timed out after \(ms) ms (killed)"
            case .couldNotStart(let why): "could not start: \(why)"
            }
        }
    }

    /// glibc ≥ 2.34's `posix_spawn_file_actions_addclosefrom_np`, looked up at run time: Swift's
    /// Glibc module leaves out the _GNU_SOURCE parts. Without it the child inherits only
    /// descriptors without FD_CLOEXEC (NIO sets it on every socket).
    private typealias AddCloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let closeFrom: AddCloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: AddCloseFrom.self)
    }

    /// Starts `command`; the pid, or why not. `arguments` become the script's `$0 $1 …`.
    static func spawn(_ command: String, arguments scriptArguments: [String] = []) -> Result<pid_t, ScriptSpawnFailure> {
        spawn("/bin/sh", ["/bin/sh", "-c", command] + scriptArguments, ownGroup: true, descriptor3: nil, keepStderr: false)
    }

    /// posix_spawn of `path` with stdin and stdout on /dev/null, stderr too unless
    /// `keepStderr`, every descriptor from 3 up closed except `descriptor3`, given to the child
    /// as its fd 3 (the script runner's socket), default signal dispositions and an empty mask.
    /// `ownGroup`: a process group of its own, which `killGroup` kills whole.
    static func spawn(_ path: String, _ argv: [String], ownGroup: Bool, descriptor3: Int32?, keepStderr: Bool) -> Result<pid_t, ScriptSpawnFailure> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        if !keepStderr { posix_spawn_file_actions_adddup2(&actions, 1, 2) }
        if let descriptor3 {
            // dup2 onto another number clears FD_CLOEXEC; the caller keeps the source above 3.
            precondition(descriptor3 > 3, "the descriptor given as fd 3 must be above 3")
            posix_spawn_file_actions_adddup2(&actions, descriptor3, 3)
        }
        _ = closeFrom.map { $0(&actions, descriptor3 == nil ? 3 : 4) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)
        var flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK
        if ownGroup {
            posix_spawnattr_setpgroup(&attributes, 0)
            flags |= POSIX_SPAWN_SETPGROUP
        }
        posix_spawnattr_setflags(&attributes, Int16(flags))

        let arguments: [UnsafeMutablePointer<CChar>?] = argv.map { (text: String) in strdup(text) }
        defer { arguments.forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, path, &actions, &attributes, arguments + [nil], environ)
        guard result == 0 else { return .failure(ScriptSpawnFailure(description: String(cString: strerror(result)))) }
        return .success(pid)
    }

    /// Calls `exited` (on a dispatch thread) once `pid` has exited, without reaping it.
    static func whenExited(_ pid: pid_t, _ exited: @escaping @Sendable () -> Void) {
        DispatchQueue.global().async {
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
            exited()
        }
    }

    /// Reaps an exited (or killed) child; nil if it is still running.
    static func reap(_ pid: pid_t, blocking: Bool = false) -> Outcome? {
        var status: Int32 = 0
        var reaped: pid_t
        repeat { reaped = waitpid(pid, &status, blocking ? 0 : WNOHANG) } while reaped < 0 && errno == EINTR
        if reaped == 0 { return nil }
        if reaped < 0 { return .couldNotStart("lost track of the process: \(String(cString: strerror(errno)))") }
        // <sys/wait.h>'s macros, which Swift does not import.
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signaled(signal)
    }

    /// A pidfd of a child (readable once it exited), or -1 with errno set. glibc ≥ 2.36 has
    /// `pidfd_open`, which Swift's Glibc module does not import; otherwise the system call.
    static func pidfdOpen(_ pid: pid_t) -> Int32 {
        if let pidfdOpenCall { return pidfdOpenCall(pid, 0) }
        return Int32(truncatingIfNeeded: syscallCall(434, Int(pid), 0))  // SYS_pidfd_open on x86-64 and arm64
    }

    private typealias PidfdOpen = @convention(c) (pid_t, UInt32) -> Int32
    private static let pidfdOpenCall: PidfdOpen? = dlsym(nil, "pidfd_open").map { unsafeBitCast($0, to: PidfdOpen.self) }
    /// syscall(2) is variadic; with integer arguments only, a fixed signature is sound on
    /// Linux's x86-64 and arm64 ABIs.
    private typealias Syscall = @convention(c) (Int, Int, Int) -> Int
    nonisolated(unsafe) private static let syscallCall: Syscall = unsafeBitCast(dlsym(nil, "syscall")!, to: Syscall.self)

    /// SIGKILL to the script's whole process group.
    static func killGroup(_ pid: pid_t) {
        kill(-pid, SIGKILL)
    }
}

struct ScriptSpawnFailure: Error, CustomStringConvertible {
    let description: String
}
