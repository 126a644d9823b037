#if canImport(Glibc)
import Glibc
#endif
import Logging

/// The script runner's loop (`swiftlb script-runner`): runs, outside swiftlb's chroot, the
/// commands swiftlb asks for over its socket — only those `allowList` holds — and answers
/// `started`, `failed` and `exited` (`ScriptRunnerMessage`).
///
/// Single-threaded: one poll(2) over the socket and one pidfd per running child, so an exit
/// is seen without SIGCHLD handlers or threads, and a child is reaped (and its pid freed) only
/// here, after which no kill can reach it. Children are started as swiftlb starts them
/// (`ScriptProcess.spawn`: own process group, stdio on /dev/null, no inherited descriptor).
/// When swiftlb's end closes (it stopped, or died: its end is close-on-exec and nobody else
/// holds it), the requests still queued are served first — a `notify_stop` sent as swiftlb
/// exits still runs — then the `vrrp_script` runs are killed (nobody reads their result),
/// notify scripts are left to finish, as they would be without a runner, and `serve` returns.
///
/// The list is the one of the file swiftlb started with: a reload does not change the VIP's
/// settings (a restart does), so swiftlb never asks for a command of a newer file.
public final class ScriptRunner {
    /// More running children than this is a request flood, not lb.conf's scripts.
    public static let maximumRunning = 64

    private let socket: Int32
    private let logger: Logger
    private let allowList: ScriptAllowList
    private var children: [UInt32: Child] = [:]

    private struct Child {
        let pid: pid_t
        let pidfd: Int32
        let detached: Bool
    }

    public init(socket: Int32, allowList: ScriptAllowList, logger: Logger) {
        self.socket = socket
        self.allowList = allowList
        self.logger = logger
    }

    /// Says `ready`, then serves until swiftlb's end of the socket closes.
    public func serve() {
        send(.ready)
        serving: while true {
            let ids = Array(children.keys)
            var fds = [pollfd(fd: socket, events: Int16(POLLIN), revents: 0)]
                + ids.map { pollfd(fd: children[$0]!.pidfd, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), -1)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("poll: \(String(cString: strerror(errno)))")
                break
            }
            for (index, id) in ids.enumerated() where fds[index + 1].revents != 0 { reap(id) }
            guard fds[0].revents != 0 else { continue }
            switch ScriptRunnerMessage.receive(from: socket, dontWait: true) {
            case .message(let message): handle(message)
            case .refused(let why): logger.error("refused a request: \(why)")
            case .closed: break serving
            case .failed(let code) where code == EAGAIN: continue
            case .failed(let code):
                logger.error("recv: \(String(cString: strerror(code)))")
                break serving
            }
        }
        for child in children.values {
            if !child.detached {
                ScriptProcess.killGroup(child.pid)
                _ = ScriptProcess.reap(child.pid, blocking: true)
            }
            close(child.pidfd)
        }
        children = [:]
    }

    private func handle(_ message: ScriptRunnerMessage) {
        switch message {
        case .run(let id, let command, let arguments, let detached):
            send(start(id: id, command: command, arguments: arguments, detached: detached))
        case .kill(let id):
            if let child = children[id] { ScriptProcess.killGroup(child.pid) }
        case .ready, .started, .failed, .exited:
            logger.error("refused a reply where a request was expected")
        }
    }

    /// Starts an allowed command; the reply.
    private func start(id: UInt32, command: String, arguments: [String], detached: Bool) -> ScriptRunnerMessage {
        guard allowList.permits(command: command, arguments: arguments) else {
            // Quoted and escaped: a command is the requester's text, newlines included.
            logger.error("refused to run \(command.debugDescription) with arguments \(arguments.debugDescription): not a vrrp_script or notify command of lb.conf")
            return .failed(id: id, reason: "refused by the script runner: not a script of lb.conf")
        }
        guard children[id] == nil else { return .failed(id: id, reason: "run id \(id) is already running") }
        guard children.count < Self.maximumRunning else {
            return .failed(id: id, reason: "\(Self.maximumRunning) scripts are already running")
        }
        let pid: pid_t
        switch ScriptProcess.spawn(command, arguments: arguments) {
        case .failure(let why): return .failed(id: id, reason: why.description)
        case .success(let p): pid = p
        }
        let pidfd = ScriptProcess.pidfdOpen(pid)
        guard pidfd >= 0 else {
            let why = String(cString: strerror(errno))
            ScriptProcess.killGroup(pid)
            _ = ScriptProcess.reap(pid, blocking: true)
            return .failed(id: id, reason: "pidfd_open: \(why)")
        }
        children[id] = Child(pid: pid, pidfd: pidfd, detached: detached)
        return .started(id: id)
    }

    /// A child's pidfd is readable: it exited.
    private func reap(_ id: UInt32) {
        guard let child = children[id], let outcome = ScriptProcess.reap(child.pid) else { return }
        children[id] = nil
        close(child.pidfd)
        switch outcome {
        case .exited(let status): send(.exited(id: id, .exited(status)))
        case .signaled(let signal): send(.exited(id: id, .signaled(signal)))
        case .couldNotStart(let why): send(.failed(id: id, reason: why))
        case .timedOut: send(.failed(id: id, reason: "\(outcome)"))  // reap never says so
        }
    }

    private func send(_ message: ScriptRunnerMessage) {
        let bytes = message.encoded
        while bytes.withUnsafeBytes({ Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) < 0 && errno == EINTR {}
    }
}
