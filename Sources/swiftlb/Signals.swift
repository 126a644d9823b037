import Dispatch
import FoundationEssentials
import Glibc

/// What a signal asks of the running instance. No signal a user can send kills it uncleanly:
/// the ones HAProxy gives a meaning are handled (graceful stop, soft stop, reload), the rest
/// whose default would end the process are ignored with a log line.
enum SignalRequest: Sendable {
    /// SIGTERM, SIGINT: hand the VIP over, stop accepting, finish in-flight requests.
    case stop(String)
    /// SIGUSR1: HAProxy's soft stop — the same here.
    case softStop
    /// SIGHUP, SIGUSR2 (Debian's haproxy unit reloads with USR2): parse lb.conf again and swap.
    case reload(String)
    /// Anything else that reached us: logged.
    case ignored(String)
}

enum Signals {
    /// Signals whose default action would end the process and that have no meaning here
    /// (SIGPIPE above all: a peer that closed must never kill the proxy).
    static let ignoredByDefault: [(Int32, String)] = [
        (SIGPIPE, "SIGPIPE"), (SIGALRM, "SIGALRM"), (SIGVTALRM, "SIGVTALRM"), (SIGIO, "SIGIO"), (SIGPWR, "SIGPWR"),
        (SIGSTKFLT, "SIGSTKFLT"), (SIGXCPU, "SIGXCPU"), (SIGXFSZ, "SIGXFSZ"),
        // A SIGSYS a seccomp filter raises for a forbidden call is forced by the kernel
        // (an ignored disposition is reset), so only one sent with kill(2) is ignored.
        (SIGSYS, "SIGSYS"),
    ]
    /// Received and logged, no action (HAProxy: SIGQUIT dumps pools, SIGTTOU/SIGTTIN pause and
    /// resume listeners for a takeover by a new process — not SwiftLB's reload model).
    static let loggedOnly: [(Int32, String)] = [(SIGQUIT, "SIGQUIT"), (SIGTTOU, "SIGTTOU"), (SIGTTIN, "SIGTTIN")]

    /// The dispatch sources, held for the life of the process. A source that is released stops
    /// delivering, and an optimised build releases a local the code no longer reads (`_ = x`
    /// at the end of a function is not a use): SIGTERM was lost that way in release builds.
    nonisolated(unsafe) private static var installed: [any DispatchSourceSignal] = []

    /// Installs everything (once, at start, before any other thread reads `installed`); the
    /// requests arrive on the returned stream.
    static func install() -> AsyncStream<SignalRequest> {
        let (stream, continuation) = AsyncStream<SignalRequest>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        func watch(_ signal: Int32, _ request: SignalRequest) {
            Glibc.signal(signal, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signal, queue: .global())
            source.setEventHandler { continuation.yield(request) }
            source.resume()
            sources.append(source)
        }
        watch(SIGTERM, .stop("SIGTERM"))
        watch(SIGINT, .stop("SIGINT"))
        watch(SIGUSR1, .softStop)
        watch(SIGHUP, .reload("SIGHUP"))
        watch(SIGUSR2, .reload("SIGUSR2"))
        for (signal, name) in loggedOnly { watch(signal, .ignored(name)) }
        for (signal, _) in ignoredByDefault { Glibc.signal(signal, SIG_IGN) }
        // The real-time signals above those glibc keeps for itself end a process by default.
        // (SIGRTMIN and SIGRTMAX are glibc functions Swift does not import: 34 and 64 on Linux;
        // 32 and 33 are the threads library's own.)
        for signal in Int32(34)...Int32(64) { Glibc.signal(signal, SIG_IGN) }
        installed = sources
        return stream
    }

    /// SIGPROF ends a process by default; the privilege drop borrows it for a moment, so it is
    /// ignored only once that is done.
    static func ignoreProfilingSignal() { Glibc.signal(SIGPROF, SIG_IGN) }
}
