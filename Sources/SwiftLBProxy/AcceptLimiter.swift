import Atomics
import Logging
import NIOConcurrencyHelpers
import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// Enforces `maxconn` on one listening socket: when the frontend (all its listeners together)
/// or the whole process holds its maximum of client connections, the listener stops
/// accepting; new clients wait in the kernel's backlog, as with HAProxy, instead of being
/// refused. Accepting resumes when a client connection closes.
///
/// Sits in the server channel's pipeline, in front of NIO's accept handler. One accept read
/// takes up to `AcceptBatch.full` sockets (HAProxy's `tune.maxaccept`); near the limit only as
/// many as there are free slots, as HAProxy's `listener_accept` does. A read armed earlier can
/// still bring sockets when the slots are gone (another listener, on another loop, took them
/// meanwhile): those are parked, not served nor closed — to their clients just like the
/// backlog — and served first as slots free up.
///
/// accept(2) failing for want of descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM)
/// pauses the listener until a connection closes or 100 ms pass, as HAProxy's listener does,
/// with HAProxy's warning (at most once a second): the socket stays readable, and accepting
/// again at once would spin the loop and starve the connections whose close frees a descriptor.
final class AcceptLimiter: ChannelDuplexHandler {
    typealias InboundIn = any Channel
    typealias OutboundIn = Never

    /// The frontend's `maxconn` (at most the global one) in the runtime in force: read at use,
    /// cached per generation, so a reload's new limit applies to the listeners it keeps.
    private let limitOf: @Sendable (ProxyRuntime) -> Int
    private let holder: RuntimeHolder
    private var cachedLimit: (generation: Int, limit: Int)?
    /// The frontend's open connections, shared by all its listeners.
    private let open: ManagedAtomic<Int>
    private let processWide: ProcessConnectionCount
    private var context: ChannelHandlerContext?
    /// A read held back for want of a slot.
    private var readPending = false
    /// Accepted sockets waiting for a slot, oldest first.
    private var parked: [NIOAny] = []
    /// Counted in `processWide.paused` (a read held back or sockets parked): woken on a close.
    private var waiting = false
    private let batch: AcceptBatch
    /// The frontend, for the starvation warning.
    private let frontend: String
    /// Set while accepting pauses after a failure for want of resources.
    private var starved: Scheduled<Void>?
    private var lastStarvationWarning: NIODeadline?
    static let starvationPause = TimeAmount.milliseconds(100)

    init(frontend: String, holder: RuntimeHolder, limit: @escaping @Sendable (ProxyRuntime) -> Int, open: ManagedAtomic<Int>,
         processWide: ProcessConnectionCount, batch: AcceptBatch) {
        self.frontend = frontend
        self.holder = holder
        self.limitOf = limit
        self.open = open
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
        starved?.cancel()
        starved = nil
        processWide.unregister(self)
        setWaiting(false)
        // The listener is gone (a reload dropped its address, or the stop): its parked
        // clients would wait for nothing.
        for data in parked { unwrapInboundIn(data).close(promise: nil) }
        parked.removeAll()
    }

    private var limit: Int {
        let generation = holder.generation
        if let cachedLimit, cachedLimit.generation == generation { return cachedLimit.limit }
        let limit = limitOf(holder.current)
        cachedLimit = (generation, limit)
        return limit
    }

    /// Slots left under the frontend's limit and the process's.
    private var freeSlots: Int { min(limit - open.load(ordering: .relaxed), processWide.freeSlots) }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if parked.isEmpty && freeSlots > 0 { return admit(data, context) }
        parked.append(data)
        drain(context)
    }

    private func admit(_ data: NIOAny, _ context: ChannelHandlerContext) {
        let child = unwrapInboundIn(data)
        open.wrappingIncrement(ordering: .relaxed)
        processWide.count.wrappingIncrement(ordering: .relaxed)
        child.closeFuture.whenComplete { [open, processWide] _ in
            open.wrappingDecrement(ordering: .relaxed)
            processWide.connectionClosed()
        }
        context.fireChannelRead(data)
    }

    func read(context: ChannelHandlerContext) {
        readPending = true
        drain(context)
    }

    /// Runs on the listener's event loop after a connection closed somewhere.
    func resumeIfPossible() {
        guard waiting, let context else { return }
        // A close gave a descriptor back: accepting may work again.
        endStarvation()
        drain(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let io = error as? IOError, let why = Self.starvation(io.errnoCode) {
            starve(context, why)
        }
        context.fireErrorCaught(error)
    }

    /// HAProxy's warning for an accept(2) that failed for want of resources; nil for any other error.
    static func starvation(_ code: Int32) -> String? {
        switch code {
        case EMFILE: "reached process FD limit. Please check 'ulimit-n' and restart."
        case ENFILE: "reached system FD limit. Please check system tunables."
        case ENOBUFS, ENOMEM: "reached system memory limit. Please check system tunables."
        default: nil
        }
    }

    private func starve(_ context: ChannelHandlerContext, _ why: String) {
        let now = NIODeadline.now()
        if lastStarvationWarning.map({ now - $0 >= .seconds(1) }) ?? true {
            lastStarvationWarning = now
            Logger(label: "swiftlb").warning("Proxy \(frontend) \(why) Accepting pauses for up to 100 ms.")
        }
        if starved == nil {
            // NIO leaves the failed read pending and the socket registered for reading, so it
            // would accept again at once without asking this handler: turning autoRead off
            // is what drops that interest. Accepting resumes with a read of this handler's.
            try? context.channel.syncOptions?.setOption(.autoRead, value: false)
            readPending = true
        }
        starved?.cancel()
        starved = context.eventLoop.assumeIsolated().scheduleTask(in: Self.starvationPause) { [weak self] in
            guard let self, let context = self.context else { return }
            self.endStarvation()
            self.drain(context)
        }
        drain(context)
    }

    private func endStarvation() {
        guard let starved else { return }
        starved.cancel()
        self.starved = nil
        try? context?.channel.syncOptions?.setOption(.autoRead, value: true)
    }

    /// Parked sockets take the free slots first, then a held-back read is let go, bounded by
    /// what is left. Whatever must still wait is counted in `processWide.paused` BEFORE the
    /// last look at the slots: a close that frees one after that look wakes this listener, and
    /// one that freed it before the flag went up is seen by the look.
    private func drain(_ context: ChannelHandlerContext) {
        while true {
            while !parked.isEmpty && freeSlots > 0 {
                admit(parked.removeFirst(), context)
            }
            if parked.isEmpty && readPending && starved == nil {
                let free = freeSlots
                if free > 0 {
                    readPending = false
                    batch.bound(slots: free, context)
                    context.read()
                }
            }
            guard !parked.isEmpty || readPending else { return setWaiting(false) }
            if waiting { return }
            setWaiting(true)
            if freeSlots <= 0 || starved != nil { return }
        }
    }

    private func setWaiting(_ now: Bool) {
        guard now != waiting else { return }
        waiting = now
        if now {
            processWide.paused.wrappingIncrement(ordering: .relaxed)
        } else {
            processWide.paused.wrappingDecrement(ordering: .relaxed)
        }
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
        wakeWaiting()
    }

    /// Lets every waiting listener look at the slots again (a connection closed; a reload
    /// changed a limit).
    func wakeWaiting() {
        guard paused.load(ordering: .relaxed) > 0 else { return }
        for limiter in listeners.withLockedValue({ Array($0.values) }) {
            limiter.eventLoop.execute { limiter.value.resumeIfPossible() }
        }
    }
}
