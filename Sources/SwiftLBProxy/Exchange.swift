import Atomics
import NIOCore
import NIOHTTP1

/// One request/response pair in flight on a client connection: where it goes, what has been
/// sent each way, and what the access log will say about it.
final class Exchange {
    let clientHead: HTTPRequestHead
    let upstreamHead: HTTPRequestHead
    let backend: RuntimeBackend
    var server: RuntimeServer?
    var upstream: UpstreamHandler?
    /// Request parts received before an upstream connection was ready; written once it is.
    var pending: [HTTPClientRequestPart] = []
    /// Whether the request head has been written to the current upstream connection.
    var headSent = false
    var requestEnded = false
    var responseHeadSent = false
    var responseEnded = false
    /// A request whose body has not started can be sent again on another connection when
    /// nothing came back; with a body, only while every part is still in `pending`.
    var bodyBytes = 0
    var excluded = ServerSet()
    var attempts = 0
    /// The client connection closes after this exchange.
    var closeClient: Bool
    /// Response framing towards the client: HTTP/1.0 clients get close-delimited bodies.
    var log: AccessLogRecord
    let start: NIODeadline
    var connectStart: NIODeadline?
    var requestSentAt: NIODeadline?
    var lastServerActivity: NIODeadline
    var lastClientActivity: NIODeadline
    /// The server the client's sticky cookie names, if it names one.
    var pinned: RuntimeServer?
    /// What response rules evaluate their conditions and %[…] values against.
    var facts: RequestFacts?
    var presentedCookie: StickyCookie.Presented?
    var client: SocketAddress?
    /// The server whose in-flight count this exchange holds.
    private var activeOn: RuntimeServer?
    /// Set while the request waits in the backend queue.
    var waiter: BackendQueue.Waiter?
    var queuedAt: NIODeadline?
    /// The answer to give if no further attempt succeeds.
    var lastFailure: ErrorResponse?

    init(clientHead: HTTPRequestHead, upstreamHead: HTTPRequestHead, backend: RuntimeBackend, closeClient: Bool, log: AccessLogRecord, start: NIODeadline) {
        self.clientHead = clientHead
        self.upstreamHead = upstreamHead
        self.backend = backend
        self.closeClient = closeClient
        self.log = log
        self.start = start
        self.lastServerActivity = start
        self.lastClientActivity = start
    }

    func countActive(on server: RuntimeServer) {
        releaseActive()
        server.active.wrappingIncrement(ordering: .relaxed)
        activeOn = server
    }

    func releaseActive() {
        guard let server = activeOn else { return }
        server.active.wrappingDecrement(ordering: .relaxed)
        activeOn = nil
        backend.queue?.wakeOne()
    }

    /// Leaves the queue (timeout, client gone); false if the queue already woke us.
    func leaveQueue() {
        if let waiter, waiter.claim() { self.waiter = nil }
    }

    /// RFC 9110 §9.2.2: methods a client expects may be repeated.
    var isIdempotent: Bool {
        switch clientHead.method {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: true
        default: false
        }
    }

}
