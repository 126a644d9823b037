import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// Requests waiting for a server slot when every eligible server of a backend is at its
/// `maxconn` (HAProxy's backend queue). FIFO across all event loops: a finishing request
/// wakes the oldest waiter that can use the slot it freed — one the balancer places (any
/// server), or one pinned to that server (its cookie, a stick table: HAProxy's per-server
/// queue) — on that waiter's own loop, which then dispatches again. A pinned waiter is never
/// woken for another server's slot (it would only queue again, and the slot go unused).
///
/// A server's state changes move waiters too (queue.c): one that stops taking clients gives
/// its pinned waiters back to the balancer with `option redispatch` (`redistribute`), one that
/// comes up takes unpinned waiters up to its free slots (`grab`).
///
/// Exists only for backends with a `maxconn` server, so the common path takes no lock.
final class BackendQueue: Sendable {
    final class Waiter: Sendable {
        /// Why the queue woke a waiter.
        enum Wake: Equatable, Sendable {
            /// A slot of this server came free, or it came up (nil: some server).
            case slot(Int?)
            /// Its server stopped taking clients: the balancer places it (HAProxy's
            /// `pendconn_redistribute`, which clears the stream's SF_DIRECT and SF_ASSIGNED).
            case redistributed
        }

        let loop: any EventLoop
        /// The server index it waits for; nil: any server of the backend.
        let target: Int?
        /// The servers its stream will not try again (`Dispatch.excluded`: they refused it): a
        /// slot of one of them is no slot for it (it would queue again at once, and spin).
        let excluded: ServerSet
        /// `option persist` or `force-persist`: it keeps waiting for its server when that one
        /// stops taking clients (HAProxy's `pendconn_redistribute` leaves such streams).
        let persistent: Bool
        /// Called on `loop` with why it was woken.
        let wake: @Sendable (Wake) -> Void
        private let state = ManagedAtomic<Bool>(false)
        /// The count of clients waiting for its pinned server (`RuntimeServer.queued`): it
        /// counts in it from its creation until it is claimed — woken (HAProxy's
        /// pendconn_process_next_strm takes it off the server's queue then) or given up.
        private let queued: ManagedAtomic<Int>?
        /// `Wake` as a number, written by the queue before the wake is scheduled: ≥ 0 a slot
        /// of that server, -1 a slot of some server, -2 redistributed, `Int.min` not woken.
        private let reason = ManagedAtomic<Int>(Int.min)
        init(loop: any EventLoop, target: Int? = nil, excluded: ServerSet = ServerSet(), queued: ManagedAtomic<Int>? = nil,
             persistent: Bool = false, wake: @escaping @Sendable (Wake) -> Void) {
            self.loop = loop
            self.persistent = persistent
            self.target = target
            self.excluded = excluded
            self.queued = queued
            self.wake = wake
            queued?.wrappingIncrement(ordering: .relaxed)
        }
        /// Claims the waiter once: by the queue (to wake it) or by its owner (to give up).
        func claim() -> Bool {
            guard claimOnly() else { return false }
            leaveServerQueue()
            return true
        }

        /// The claim without leaving the server's count: the queue leaves it once the slot is
        /// held (`takeOldest`).
        fileprivate func claimOnly() -> Bool {
            state.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        }

        fileprivate func leaveServerQueue() { queued?.wrappingDecrement(ordering: .releasing) }

        /// Whether it counts among the waiters for any server (`unpinnedCount`): not pinned,
        /// and refused by no server — one that excluded a server waits for the others only,
        /// so it is no sign that every server is full, and newcomers need not queue behind it.
        fileprivate var waitsForAny: Bool { target == nil && excluded.isEmpty }

        /// Whether a slot of server `server` is one it can use, as a waiter for any server.
        fileprivate func takesAny(_ server: Int) -> Bool { target == nil && !excluded.contains(server) }

        /// Why the queue woke it (nil: it has not), read on `loop` once the wake ran.
        var wokenBy: Wake? {
            switch reason.load(ordering: .relaxed) {
            case Int.min: nil
            case -2: .redistributed
            case -1: .slot(nil)
            case let i: .slot(i)
            }
        }

        fileprivate func run(_ why: Wake) {
            let raw = switch why {
            case .redistributed: -2
            case .slot(let i): i ?? -1
            }
            reason.store(raw, ordering: .relaxed)
            loop.execute { self.wake(why) }
        }
    }

    private let waiters = NIOLockedValueBox<(list: [Waiter], longest: Int)>(([], 0))
    /// The list's length, kept beside it so that reading it (a `minconn` server's limit, on
    /// each pick) takes no lock.
    private let size = ManagedAtomic<Int>(0)
    /// How many of them wait for any server (HAProxy's proxy queue, apart from the servers'
    /// queues of pinned waiters): a new request of a `first`/`roundrobin` backend queues
    /// behind them. Read without a lock.
    private let anyServer = ManagedAtomic<Int>(0)
    /// The waiters of every linked generation of this backend (`QueueLineage.waiting`).
    private let family: ManagedAtomic<Int>

    init(counting family: ManagedAtomic<Int> = ManagedAtomic(0)) {
        self.family = family
    }

    func enqueue(_ waiter: Waiter) {
        waiters.withLockedValue { q in
            q.list.append(waiter)
            q.longest = max(q.longest, q.list.count)
            size.store(q.list.count, ordering: .relaxed)
            family.wrappingIncrement(ordering: .relaxed)
            if waiter.waitsForAny { anyServer.wrappingIncrement(ordering: .relaxed) }
        }
    }

    var count: Int { size.load(ordering: .acquiring) }
    /// Waiters for any server (not pinned to one).
    var unpinnedCount: Int { anyServer.load(ordering: .acquiring) }
    /// The longest the queue has been (the stats' `qmax`).
    var longest: Int { waiters.withLockedValue { $0.longest } }

    /// A waiter that gave up (and claimed itself) leaves the list at once, so that `count`
    /// and `unpinnedCount` hold only clients still waiting.
    func remove(_ waiter: Waiter) {
        waiters.withLockedValue { q in
            guard let i = q.list.firstIndex(where: { $0 === waiter }) else { return }
            q.list.remove(at: i)
            dropped(waiter, remaining: q.list.count)
        }
    }

    /// A slot of server `freed` came free (nil: of some server): wake the oldest waiter that
    /// has not given up and can take it. `pinnedOnly`: the server takes no new clients (down,
    /// maintenance, drain, a backup while actives are up): only a waiter pinned to it can use
    /// the slot (HAProxy's `process_srv_queue` without `px_ok`).
    func wakeOne(freed: Int?, pinnedOnly: Bool = false) {
        takeOldest(1) { w in w.target == freed || !pinnedOnly && (freed.map(w.takesAny) ?? true) }.first?.run(.slot(freed))
    }

    /// HAProxy's `process_srv_queue`: server `server` has `slots` free (nil: no maxconn): that
    /// many of the oldest waiters that can use them — pinned to it, or (unless `pinnedOnly`)
    /// waiting for any server that did not refuse them — are woken. `hold` is told how many,
    /// under the queue's lock, before any runs (`RuntimeBackend.handOut`). Returns how many were.
    @discardableResult
    func wake(server: Int, slots: Int?, pinnedOnly: Bool, hold: (Int) -> Void = { _ in }) -> Int {
        wake(server: server, slots: slots, hold: hold) { $0.target == server || !pinnedOnly && $0.takesAny(server) }
    }

    /// HAProxy's `pendconn_redistribute`: server `server` stopped taking clients (DOWN, NOLB,
    /// maintenance, drain) and the backend has `option redispatch`: every waiter pinned to it
    /// is woken at once to be balanced. Returns how many were (HAProxy's "N requeued").
    /// (A state change is rare: one scan per waiter is cheap enough.)
    @discardableResult
    func redistribute(server: Int) -> Int {
        let woken = takeOldest(.max) { $0.target == server && !$0.persistent }
        for w in woken { w.run(.redistributed) }
        return woken.count
    }

    /// HAProxy's `pendconn_grab_from_px`: server `server` came up (or out of maintenance) with
    /// `slots` free (nil: no maxconn): that many unpinned waiters, oldest first, are woken to
    /// dispatch again. Returns how many were.
    @discardableResult
    func grab(server: Int, slots: Int?, hold: (Int) -> Void = { _ in }) -> Int {
        wake(server: server, slots: slots, hold: hold) { $0.takesAny(server) }
    }

    /// Wakes up to `slots` of the oldest waiters that `matches` with a slot of `server`.
    private func wake(server: Int, slots: Int?, hold: (Int) -> Void, where matches: (Waiter) -> Bool) -> Int {
        let taken = takeOldest(slots ?? .max, hold: hold, where: matches)
        for w in taken { w.run(.slot(server)) }
        return taken.count
    }

    /// A waiter leaves the counts. Releasing: a reader that sees it gone (acquiring, without
    /// the lock) also sees the slot `hold` took for it before.
    private func dropped(_ waiter: Waiter, remaining: Int) {
        size.store(remaining, ordering: .releasing)
        family.wrappingDecrement(ordering: .releasing)
        if waiter.waitsForAny { anyServer.wrappingDecrement(ordering: .releasing) }
    }

    /// Removes and claims up to `limit` of the oldest waiters that `matches` and have not given
    /// up (waiters that gave up are dropped on the way), and tells `hold` how many under the
    /// lock: a newcomer that queues meanwhile either is among them or sees the slots they hold
    /// — never a slot held for a waiter that turned out not to want it (a lost wake-up). The
    /// taken ones leave the counts (`count`, `unpinnedCount`, their server's `queued`) only
    /// after `hold`: a newcomer that reads the counts without the lock never sees them gone
    /// and their slots still free (it would take a slot that `hold` then takes again).
    private func takeOldest(_ limit: Int, hold: (Int) -> Void = { _ in }, where matches: (Waiter) -> Bool) -> [Waiter] {
        waiters.withLockedValue { q in
            var taken: [Waiter] = []
            var i = 0
            while i < q.list.count, taken.count < limit {
                let w = q.list[i]
                guard matches(w) else {
                    i += 1
                    continue
                }
                q.list.remove(at: i)
                if w.claimOnly() {
                    taken.append(w)
                } else {
                    // It gave up: it held nothing (the taken ones still count until `hold`).
                    dropped(w, remaining: q.list.count + taken.count)
                }
            }
            guard !taken.isEmpty else { return taken }
            hold(taken.count)
            for w in taken {
                dropped(w, remaining: q.list.count)
                w.leaveServerQueue()
            }
            return taken
        }
    }
}
