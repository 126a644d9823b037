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
/// Exists only for backends with a `maxconn` server, so the common path takes no lock.
final class BackendQueue: Sendable {
    final class Waiter: Sendable {
        let loop: any EventLoop
        /// The server index it waits for; nil: any server of the backend.
        let target: Int?
        /// Called on `loop` with the index of the server whose slot woke it (nil: unknown).
        let wake: @Sendable (Int?) -> Void
        private let state = ManagedAtomic<Bool>(false)
        init(loop: any EventLoop, target: Int? = nil, wake: @escaping @Sendable (Int?) -> Void) {
            self.loop = loop
            self.target = target
            self.wake = wake
        }
        /// Claims the waiter once: by the queue (to wake it) or by its owner (to give up).
        func claim() -> Bool { state.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged }
    }

    private let waiters = NIOLockedValueBox<(list: [Waiter], longest: Int)>(([], 0))

    func enqueue(_ waiter: Waiter) {
        waiters.withLockedValue { q in
            q.list.append(waiter)
            q.longest = max(q.longest, q.list.count)
        }
    }

    var count: Int { waiters.withLockedValue { $0.list.count } }
    /// The longest the queue has been (the stats' `qmax`).
    var longest: Int { waiters.withLockedValue { $0.longest } }

    /// A slot of server `freed` came free (nil: of some server): wake the oldest waiter that
    /// has not given up and can take it. Waiters that gave up are dropped on the way.
    func wakeOne(freed: Int?) {
        let next: Waiter? = waiters.withLockedValue { q in
            var i = 0
            while i < q.list.count {
                let w = q.list[i]
                guard w.target == nil || freed == nil || w.target == freed else {
                    i += 1
                    continue
                }
                q.list.remove(at: i)
                if w.claim() { return w }
            }
            return nil
        }
        if let next { next.loop.execute { next.wake(freed) } }
    }
}
