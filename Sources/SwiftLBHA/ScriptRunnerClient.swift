#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import NIOConcurrencyHelpers

/// swiftlb's side of the script runner (`swiftlb script-runner`, see `ScriptRunner`): starts
/// it before the chroot, waits until it says `ready`, asks it to run commands, and hands each
/// outcome to whoever asked.
///
/// Replies are read by one blocking recv loop on a thread of its own rather than on a NIO
/// loop: NIO has no SOCK_SEQPACKET channel (a stream channel would merge or, with a short
/// buffer, truncate datagrams), and a few messages a second need nothing more. Requests are
/// sent without blocking, from whichever loop asks: a runner that stops reading fails the run
/// instead of stalling the heartbeats.
///
/// The runner ends when swiftlb does: swiftlb's end of the socket is close-on-exec and held by
/// no other process, so its exit, however it comes, is the runner's end of file. A runner
/// that is gone (crashed, killed) fails every pending and later run with
/// `couldNotStart("script runner exited")`, logged once at error level: a tracked script then
/// counts as failed, and swiftlb goes on serving.
public final class ScriptRunnerClient: @unchecked Sendable {
    typealias Finished = @Sendable (ScriptProcess.Outcome) -> Void
    public static let exitedReason = "script runner exited"

    /// The runner's pid.
    public let pid: pid_t
    private let socket: Int32
    private let logger: Logger
    private let state = NIOLockedValueBox(State())

    private struct State {
        var nextID: UInt32 = 1
        var pending: [UInt32: Finished] = [:]
        var dead = false
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    private init(pid: pid_t, socket: Int32, logger: Logger) {
        self.pid = pid
        self.socket = socket
        self.logger = logger
    }

    /// How long the runner has to say `ready`: it parses lb.conf and drops privileges first.
    static let readyWithin: Int32 = 10_000

    /// Spawns `executable` with `argv` (argv[0] included), one end of a socketpair as its fd 3
    /// and stderr shared with this process (its log); waits for its `ready`, then reads its
    /// replies. A runner that exits or says anything else first is a failure to start (what
    /// it printed on stderr says why).
    public static func start(executable: String, argv: [String], logger: Logger) throws(StartFailure) -> ScriptRunnerClient {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw StartFailure(description: "socketpair: \(String(cString: strerror(errno)))")
        }
        // The child's end above 3: dup2 onto 3 then clears its FD_CLOEXEC.
        let childEnd = fcntl(pair[1], F_DUPFD_CLOEXEC, 10)
        close(pair[1])
        let ownEnd = pair[0]
        guard childEnd >= 0 else {
            close(ownEnd)
            throw StartFailure(description: "fcntl(F_DUPFD_CLOEXEC): \(String(cString: strerror(errno)))")
        }
        let spawned = ScriptProcess.spawn(executable, argv, ownGroup: false, descriptor3: childEnd, keepStderr: true)
        close(childEnd)
        let pid: pid_t
        switch spawned {
        case .failure(let why):
            close(ownEnd)
            throw StartFailure(description: "cannot start \(executable): \(why)")
        case .success(let p): pid = p
        }
        if let problem = awaitReady(ownEnd) {
            close(ownEnd)
            Glibc.kill(pid, SIGKILL)
            throw StartFailure(description: "the script runner did not start: \(problem) (\(reap(pid)))")
        }
        let client = ScriptRunnerClient(pid: pid, socket: ownEnd, logger: logger)
        DispatchQueue(label: "swiftlb.script-runner-client").async { client.readReplies() }
        return client
    }

    /// Waits for the runner's first message, which must be `ready`; nil, or what went wrong.
    private static func awaitReady(_ socket: Int32) -> String? {
        var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0)]
        var ready: Int32
        repeat { ready = poll(&fds, 1, readyWithin) } while ready < 0 && errno == EINTR
        guard ready > 0 else { return ready == 0 ? "no word from it in \(readyWithin / 1000) s" : "poll: \(String(cString: strerror(errno)))" }
        switch ScriptRunnerMessage.receive(from: socket, dontWait: true) {
        case .message(.ready): return nil
        case .message, .refused: return "its first message was not 'ready'"
        case .closed: return "it exited"
        case .failed(let code): return "recv: \(String(cString: strerror(code)))"
        }
    }

    /// Reaps the runner (blocking: it exited, or was just killed); how it ended.
    private static func reap(_ pid: pid_t) -> String {
        ScriptProcess.reap(pid, blocking: true)?.description ?? "still running"
    }

    /// Asks for a run; `finished` gets its outcome (on the reader's thread). The run's id.
    func run(_ command: String, arguments: [String], detached: Bool, finished: @escaping Finished) -> UInt32 {
        let id: UInt32? = state.withLockedValue { s in
            guard !s.dead else { return nil }
            let id = s.nextID
            s.nextID = s.nextID == .max ? 1 : s.nextID + 1
            s.pending[id] = finished
            return id
        }
        guard let id else {
            finished(.couldNotStart(Self.exitedReason))
            return 0
        }
        let message = ScriptRunnerMessage.run(id: id, command: command, arguments: arguments, detached: detached).encoded
        if message.count > ScriptRunnerMessage.maximumSize {
            complete(id, .couldNotStart("the command is longer than the script runner accepts (\(ScriptRunnerMessage.maximumSize) bytes)"))
        } else if let problem = send(message) {
            complete(id, .couldNotStart(problem))
        }
        return id
    }

    /// SIGKILL to the run's process group; its outcome still comes.
    func kill(_ id: UInt32) {
        guard state.withLockedValue({ $0.pending[id] != nil }) else { return }
        if let problem = send(ScriptRunnerMessage.kill(id: id).encoded) { logger.error("script runner: cannot ask for a kill of run \(id): \(problem)") }
    }

    /// Kills the run and forgets it: nobody waits for its outcome any more.
    func cancel(_ id: UInt32) {
        guard state.withLockedValue({ $0.pending.removeValue(forKey: id) }) != nil else { return }
        _ = send(ScriptRunnerMessage.kill(id: id).encoded)
    }

    /// Sends one request without blocking; nil, or why it was not sent. (A request is far
    /// smaller than the socket's buffer: only a runner that stopped reading fills it.)
    private func send(_ bytes: [UInt8]) -> String? {
        while true {
            let n = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n == bytes.count { return nil }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) { return "the script runner is not reading its requests" }
            // The runner is going away; its reader reports it.
            return Self.exitedReason
        }
    }

    private func complete(_ id: UInt32, _ outcome: ScriptProcess.Outcome) {
        state.withLockedValue { $0.pending.removeValue(forKey: id) }?(outcome)
    }

    /// The reader loop, until the runner's end closes.
    private func readReplies() {
        reading: while true {
            let message: ScriptRunnerMessage
            switch ScriptRunnerMessage.receive(from: socket, dontWait: false) {
            case .message(let m): message = m
            case .refused(let why):
                logger.error("script runner: a reply ignored: \(why)")
                continue
            case .closed, .failed: break reading
            }
            switch message {
            case .started: break
            case .failed(let id, let reason): complete(id, .couldNotStart(reason))
            case .exited(let id, .exited(let status)): complete(id, .exited(status))
            case .exited(let id, .signaled(let signal)): complete(id, .signaled(signal))
            case .run, .kill, .ready: logger.error("script runner: a request where a reply was expected, ignored")
            }
        }
        runnerGone()
    }

    /// Marks the runner dead (once), reaps it and fails every pending run.
    private func runnerGone() {
        let pending: [Finished]? = state.withLockedValue { s in
            guard !s.dead else { return nil }
            s.dead = true
            defer { s.pending = [:] }
            return Array(s.pending.values)
        }
        guard let pending else { return }
        // Its socket closes as it exits: the wait is short (the reader's own thread).
        let how = Self.reap(pid)
        logger.error("script runner (pid \(pid)) exited (\(how)): vrrp_script and notify scripts cannot run until swiftlb restarts")
        for finished in pending { finished(.couldNotStart(Self.exitedReason)) }
    }
}
