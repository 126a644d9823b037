import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// Enforces `maxconn` on one listening socket: when the frontend (or the whole process) holds
/// its maximum of client connections, the listener stops accepting; new clients wait in the
/// kernel's backlog, as with HAProxy, instead of being refused. Accepting resumes when a
/// client connection closes.
///
/// Sits in the server channel's pipeline, in front of NIO's accept handler. One accept read
/// takes up to `maxBatch` sockets (HAProxy's `tune.maxaccept`); near the limit it takes only
/// as many as there are free slots, as HAProxy's `listener_accept` does, so a burst at the
/// limit waits in the backlog instead of being accepted and closed. Only a race between
/// listeners on different loops for the process-wide last slots can still bring one over the
/// limit: that one is closed.
final class AcceptLimiter: ChannelDuplexHandler {

    typealias InboundIn = any Channel
    typealias OutboundIn = Never

    private let limit: Int
    private let open = ManagedAtomic<Int>(0)
    private let processWide: ProcessConnectionCount
    private var context: ChannelHandlerContext?
    private var readPending = false
    private let batch: AcceptBatch

    init(limit: Int, processWide: ProcessConnectionCount, batch: AcceptBatch) {
        self.limit = limit
        self.processWide = processWide
        self.batch = batch
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        // NIO's first read (autoRead turned on) does not pass through `read(context:)`.
        batch.bound(slots: freeSlots, context)
        processWide.register(NIOLoopBound(self, eventLoop: context.eventLoop))
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        processWide.unregister(self)
    }

    private var full: Bool { open.load(ordering: .relaxed) >= limit || processWide.full }

    /// Slots left under this listener's limit and the process's.
    private var freeSlots: Int { min(limit - open.load(ordering: .relaxed), processWide.freeSlots) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let child = unwrapInboundIn(data)
        if full {
            child.close(promise: nil)
            return
        }
        open.wrappingIncrement(ordering: .relaxed)
        processWide.count.wrappingIncrement(ordering: .relaxed)
        child.closeFuture.whenComplete { [open, processWide] _ in
            open.wrappingDecrement(ordering: .relaxed)
            processWide.connectionClosed()
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        let free = freeSlots
        if free <= 0 {
            if !readPending {
                readPending = true
                processWide.paused.wrappingIncrement(ordering: .relaxed)
            }
        } else {
            batch.bound(slots: free, context)
            context.read()
        }
    }

    /// Runs on the listener's event loop after a connection closed somewhere.
    func resumeIfPossible() {
        guard readPending, let context else { return }
        let free = freeSlots
        guard free > 0 else { return }
        readPending = false
        processWide.paused.wrappingDecrement(ordering: .relaxed)
        batch.bound(slots: free, context)
        context.read()
    }
}

/// The process-wide connection count behind `global maxconn`, and the listeners to wake when
/// it drops. Waking costs nothing while no listener is paused (the common case).
final class ProcessConnectionCount: Sendable {
    private let limitValue: ManagedAtomic<Int>
    let count = ManagedAtomic<Int>(0)
    let paused = ManagedAtomic<Int>(0)
    private let listeners = NIOLockedValueBox<[ObjectIdentifier: NIOLoopBound<AcceptLimiter>]>([:])

    init(limit: Int) { limitValue = ManagedAtomic(limit) }

    var limit: Int { limitValue.load(ordering: .relaxed) }
    /// A reload's new `maxconn` (connections over it are not closed; new ones wait).
    func setLimit(_ limit: Int) { limitValue.store(limit, ordering: .relaxed) }

    var full: Bool { count.load(ordering: .relaxed) >= limit }
    var freeSlots: Int { limit - count.load(ordering: .relaxed) }

    func register(_ limiter: NIOLoopBound<AcceptLimiter>) {
        listeners.withLockedValue { $0[ObjectIdentifier(limiter.value)] = limiter }
    }

    /// A listener closed (a reload dropped its address).
    func unregister(_ limiter: AcceptLimiter) {
        _ = listeners.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(limiter)) }
    }

    func connectionClosed() {
        count.wrappingDecrement(ordering: .relaxed)
        guard paused.load(ordering: .relaxed) > 0 else { return }
        for limiter in listeners.withLockedValue({ Array($0.values) }) {
            limiter.eventLoop.execute { limiter.value.resumeIfPossible() }
        }
    }
}
