#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import NIOCore

/// How `vrrp_script` and notify commands are started: here, by posix_spawn (`direct`), or by
/// the script runner outside the chroot (`runner`) once `chroot` would hide /bin/sh and the
/// scripts from this process. TrackedScript and NotifyScripts see one interface either way:
/// start, kill on timeout, one outcome.
public enum ScriptLauncher: Sendable {
    case direct
    case runner(ScriptRunnerClient)

    /// Starts `/bin/sh -c command arguments…`; `finished` is called once with how it ended,
    /// on `loop` when one is given (never before this call returns). `detached`: a notify
    /// script, which may outlive swiftlb.
    func start(_ command: String, arguments: [String] = [], detached: Bool, on loop: (any EventLoop)?,
               finished: @escaping @Sendable (ScriptProcess.Outcome) -> Void) -> ScriptRun {
        let deliver: @Sendable (ScriptProcess.Outcome) -> Void = { outcome in
            if let loop { loop.execute { finished(outcome) } } else { finished(outcome) }
        }
        switch self {
        case .direct:
            switch ScriptProcess.spawn(command, arguments: arguments) {
            case .failure(let why):
                deliver(.couldNotStart(why.description))
                return ScriptRun(handle: .none)
            case .success(let pid):
                let child = DirectChild(pid: pid)
                ScriptProcess.whenExited(pid) {
                    let reapAndTell: @Sendable () -> Void = {
                        // Not when `stop` reaped it already: the pid may be another's by now.
                        guard child.claim() else { return }
                        finished(ScriptProcess.reap(pid, blocking: true) ?? .couldNotStart("still running"))
                    }
                    if let loop { loop.execute(reapAndTell) } else { reapAndTell() }
                }
                return ScriptRun(handle: .process(child))
            }
        case .runner(let client):
            return ScriptRun(handle: .runner(client, client.run(command, arguments: arguments, detached: detached, finished: deliver)))
        }
    }
}

/// One started command, for its timeout and for stopping.
struct ScriptRun: Sendable {
    enum Handle: Sendable {
        /// Not started: its outcome says why.
        case none
        case process(DirectChild)
        case runner(ScriptRunnerClient, UInt32)
    }

    let handle: Handle

    /// SIGKILL to its process group (a timeout); its outcome still arrives.
    func kill() {
        switch handle {
        case .none: break
        case .process(let child): if !child.isReaped { ScriptProcess.killGroup(child.pid) }
        case .runner(let client, let id): client.kill(id)
        }
    }

    /// Kills it for good, its outcome no longer wanted: the loop that would receive it is
    /// ending. A direct child is reaped here, the runner reaps its own.
    func stop() {
        switch handle {
        case .none: break
        case .process(let child):
            guard child.claim() else { return }
            ScriptProcess.killGroup(child.pid)
            _ = ScriptProcess.reap(child.pid, blocking: true)
        case .runner(let client, let id): client.cancel(id)
        }
    }
}

/// A child this process started itself, reaped exactly once: by its exit's notice or by
/// `ScriptRun.stop`, whichever claims it first (a second waitpid could take the status of
/// another child that reused the pid).
final class DirectChild: Sendable {
    let pid: pid_t
    private let reaped = NIOLockedValueBox(false)

    init(pid: pid_t) { self.pid = pid }

    /// True for the one caller that may reap it.
    func claim() -> Bool { reaped.withLockedValue { was in defer { was = true }; return !was } }

    var isReaped: Bool { reaped.withLockedValue { $0 } }
}
