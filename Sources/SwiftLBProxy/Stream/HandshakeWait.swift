import NIOCore

/// A server connection over TLS counts as made once its handshake is done (a refused handshake
/// is a failed connect: retried, then 503). What waits for it: the dialling exchange
/// (`ServerConnection`) or the streams of an HTTP/2 connection (`H2ServerSession`). One waiter
/// at a time; the handler that owns this reports the handshake's end or the connection's.
struct HandshakeWait {
    private(set) var done: Bool
    private var waiter: EventLoopPromise<Void>?

    init(done: Bool) { self.done = done }

    /// Succeeds at once when done; else with the waiter `completed()` hands back; `abandoned()` hands it back to fail.
    mutating func wait(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        if done { return eventLoop.makeSucceededFuture(()) }
        let promise = waiter ?? eventLoop.makePromise()
        waiter = promise
        return promise.futureResult
    }

    /// `TLSHandshakeCompleted` came: the waiter, for the caller to succeed once this value's
    /// mutation is over (its callbacks read `done`: succeeding it in here would overlap the two
    /// accesses, which Swift's exclusivity checks trap on).
    mutating func completed() -> EventLoopPromise<Void>? {
        done = true
        defer { waiter = nil }
        return waiter
    }

    /// The connection failed or closed before the handshake ended: the waiter, to fail.
    mutating func abandoned() -> EventLoopPromise<Void>? {
        defer { waiter = nil }
        return waiter
    }
}
