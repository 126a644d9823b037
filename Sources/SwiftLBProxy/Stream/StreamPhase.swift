/// Where one stream (a request and its response, a tunnel, or a TCP session) is, as HAProxy
/// names its stream states: waiting for the request, queued for a server slot, connecting,
/// waiting for the response head, moving data, done. Transitions are named; a move the
/// machine cannot make is a bug — `assertionFailure` in debug builds, and in release builds the
/// stream ends with an internal-error cause instead of crashing the process.
///
/// The access log's two termination letters are derived from the phase a stream ended in and
/// the cause that ended it, never written by hand.
struct StreamPhase: Equatable {
    enum Phase: Equatable {
        /// The request head is not complete yet (log letter R).
        case request
        /// Waiting in the backend queue for a server slot (Q).
        case queued
        /// A server is assigned; connecting to it, or writing the request (C).
        case connecting
        /// The request went out; waiting for the response head (H).
        case waitingResponse
        /// The response (or tunnel) is flowing (D).
        case data
        /// Ended (the letters are fixed).
        case done
    }

    private(set) var phase: Phase = .request
    /// Debug builds stop at an impossible move (a bug to fix); release builds end the stream
    /// with `.internalError` instead. Unit tests of that release behaviour turn this off.
    var assertsOnIllegalMove = true
    /// Set once when the stream ends.
    private(set) var cause: TerminationCause?
    /// The phase in which it ended.
    private(set) var endedIn: Phase?

    // MARK: transitions

    /// The request head was parsed and routed: a server is needed.
    mutating func requestReceived() -> Bool { move(from: [.request], to: .connecting) }
    /// Every eligible server is full: wait in the queue.
    mutating func queue() -> Bool { move(from: [.connecting, .queued], to: .queued) }
    /// A server slot is ours again (queue woke, or a retry).
    mutating func assign() -> Bool { move(from: [.queued, .connecting, .waitingResponse], to: .connecting) }
    /// The request went out on a connection.
    mutating func requestSent() -> Bool { move(from: [.connecting], to: .waitingResponse) }
    /// The response head (or the tunnel) started towards the client.
    mutating func responseStarted() -> Bool { move(from: [.waitingResponse, .connecting], to: .data) }

    /// Ends the stream with `cause`; the first end wins.
    mutating func end(_ cause: TerminationCause) {
        guard self.cause == nil else { return }
        self.cause = cause
        endedIn = phase
        phase = .done
    }

    private mutating func move(from allowed: [Phase], to next: Phase) -> Bool {
        guard allowed.contains(phase) else {
            if assertsOnIllegalMove { assertionFailure("stream phase: cannot go from \(phase) to \(next)") }
            end(.internalError)
            return false
        }
        phase = next
        return true
    }

    // MARK: the log's termination state

    /// HAProxy's two letters: who or what ended the stream, and in which phase.
    var terminationFlags: String {
        guard let cause, let endedIn else { return "--" }
        if cause == .completed { return "--" }
        return String(cause.letter) + String(Self.letter(endedIn, cause: cause))
    }

    private static func letter(_ phase: Phase, cause: TerminationCause) -> Character {
        switch phase {
        case .request: "R"
        case .queued: "Q"
        case .connecting: "C"
        case .waitingResponse: "H"
        case .data: "D"
        case .done: "-"
        }
    }
}

/// Why a stream ended (HAProxy's first termination letter).
enum TerminationCause: Equatable {
    /// Normal end.
    case completed
    /// The client closed or reset the connection (C).
    case clientAborted
    /// The client timed out (c).
    case clientTimeout
    /// The server closed, reset, refused or sent garbage (S).
    case serverAborted
    /// The server timed out (s).
    case serverTimeout
    /// SwiftLB refused or answered the request itself: bad request, no backend, redirect (P).
    case proxy
    /// Out of a resource: queue timeout counts as a server-side timeout in HAProxy (s…Q); memory,
    /// sockets (R).
    case resource
    /// A bug met at run time: an impossible transition (I).
    case internalError
    /// Closed on purpose by an operator (K).
    case killed
    /// Closed because its server was marked DOWN (`on-marked-down shutdown-sessions`), or a
    /// backup's because a primary came back (D).
    case serverDown

    var letter: Character {
        switch self {
        case .completed: "-"
        case .clientAborted: "C"
        case .clientTimeout: "c"
        case .serverAborted: "S"
        case .serverTimeout: "s"
        case .proxy: "P"
        case .resource: "R"
        case .internalError: "I"
        case .killed: "K"
        case .serverDown: "D"
        }
    }
}
