import NIOCore

/// Writes held back, in order, until a connection may speak: HAProxy installs a connection's
/// protocol only once its session is validated (the PROXY header read, the TLS handshake
/// done, the `tcp-request session` rules passed), so nothing it would write goes out before.
/// The handler holding them drains it with `next()` — one write at a time, so that a write
/// made while the held ones go out (re-entrantly) joins the queue behind them.
struct HeldWrites {
    private var writes = CircularBuffer<(data: NIOAny, promise: EventLoopPromise<Void>?)>(initialCapacity: 0)
    private var flushRequested = false

    mutating func hold(_ data: NIOAny, promise: EventLoopPromise<Void>?) { writes.append((data, promise)) }
    mutating func holdFlush() { flushRequested = true }

    /// The oldest held write, removed.
    mutating func next() -> (data: NIOAny, promise: EventLoopPromise<Void>?)? { writes.popFirst() }

    /// Whether a flush was held (and forgets it).
    mutating func takeFlush() -> Bool {
        defer { flushRequested = false }
        return flushRequested
    }

    /// Fails every held write: the connection closed before it could speak. (The caller's
    /// state says closed first, so a write made by a failure callback fails too.)
    mutating func drop() {
        flushRequested = false
        let dropped = writes
        writes.removeAll()
        for (_, promise) in dropped { promise?.fail(ChannelError.ioOnClosedChannel) }
    }
}

/// An HTTP/2 connection whose session is not validated yet (`accept-proxy`, `ssl`): NIOHTTP2
/// writes its server preface as soon as it is installed, so this handler, just before it,
/// holds what it writes until `H2Connection` has run the `tcp-request session` rules (`open`,
/// which sends it and leaves the pipeline), and drops it when the connection closes first —
/// a session the rules refuse gets no SETTINGS, as with HAProxy.
///
/// States: `holding`, `open` (left or leaving; writes pass), `closed` (writes fail).
final class SessionWriteGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case holding
        case open
        case closed
    }

    private var state = State.holding
    private var held = HeldWrites()
    private var context: ChannelHandlerContext?

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// The session is validated: the held writes go out, in order, and the gate leaves.
    func open() {
        guard case .holding = state, let context else { return }
        while let (data, promise) = held.next() {
            context.write(data, promise: promise)
        }
        state = .open
        if held.takeFlush() { context.flush() }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch state {
        case .holding: held.hold(data, promise: promise)
        case .open: context.write(data, promise: promise)
        case .closed: promise?.fail(ChannelError.ioOnClosedChannel)
        }
    }

    func flush(context: ChannelHandlerContext) {
        switch state {
        case .holding: held.holdFlush()
        case .open: context.flush()
        case .closed: break
        }
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode != .input { drop() }
        context.close(mode: mode, promise: promise)
    }

    func channelInactive(context: ChannelHandlerContext) {
        drop()
        context.fireChannelInactive()
    }

    /// The session never started: what was held is never sent.
    private func drop() {
        guard case .holding = state else { return }
        state = .closed
        held.drop()
    }
}
