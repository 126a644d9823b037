import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// Requests waiting for a server slot when every eligible server of a backend is at its
/// `maxconn` (HAProxy's backend queue). FIFO across all event loops: a finishing request
/// wakes the oldest waiter on that waiter's own loop, which then dispatches again.
///
/// Exists only for backends with a `maxconn` server, so the common path takes no lock.
final class BackendQueue: Sendable {
    final class Waiter: Sendable {
        let loop: any EventLoop
        let wake: @Sendable () -> Void
        private let state = ManagedAtomic<Bool>(false)
        init(loop: any EventLoop, wake: @escaping @Sendable () -> Void) {
            self.loop = loop
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

    /// A slot freed up: wake the oldest waiter that has not given up.
    func wakeOne() {
        let next: Waiter? = waiters.withLockedValue { q in
            while !q.list.isEmpty {
                let w = q.list.removeFirst()
                if w.claim() { return w }
            }
            return nil
        }
        if let next { next.loop.execute { next.wake() } }
    }
}
