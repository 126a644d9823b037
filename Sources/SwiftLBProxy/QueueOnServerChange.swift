import NIOCore
import SwiftLBHealth

/// What a backend's queue does when one of its servers changes state (checks, the operator,
/// an agent), as HAProxy's server.c does after `srv_update_status`: a server that stops taking
/// new clients (DOWN, NOLB, maintenance, drain) gives the clients queued for it back to the
/// balancer when the backend has `option redispatch` (`pendconn_redistribute`; those queued
/// under `option persist` or `force-persist` stay) — without it they keep waiting
/// for it, for a slot or `timeout queue`; a server that takes clients again takes queued
/// unpinned clients up to its free slots (`pendconn_grab_from_px`); one that may take more
/// clients (`set maxconn server`, an agent) takes queued ones at once (`process_srv_queue`).
/// State changes run on the thread that changed the state; on the data path, a finishing
/// stream's `slotFreed` reads one atomic when nobody waits.
extension RuntimeBackend {
    /// Returns what moved, for the log line of the change (a woken client leaves
    /// `server.queued` at its wake).
    func serverAvailabilityChanged(_ server: RuntimeServer) -> QueueMove {
        guard let queue else { return QueueMove() }
        let queued = server.queued.load(ordering: .relaxed)
        if server.health.takesTraffic {
            guard servesItsQueue(server) else { return QueueMove(requeued: 0, remaining: queued) }
            let grabbed = handOut(freeSlots(of: server, leaving: false) ?? .max, of: server) { queue, slots, hold in
                queue.grab(server: server.index, slots: slots, hold: hold)
            }
            return QueueMove(requeued: grabbed, remaining: queued)
        }
        let requeued = config.options.redispatch ? queue.redistribute(server: server.index) : 0
        return QueueMove(requeued: requeued, remaining: max(0, queued - requeued))
    }

    /// HAProxy's `process_srv_queue` after `set maxconn server`, an agent's `maxconn:N` or
    /// weight, `set weight` from 0: `server` may take more clients now, so the oldest waiters
    /// that can use its free slots are woken at once instead of at the next freed slot.
    /// Returns how many were.
    @discardableResult
    func serverCapacityGrew(_ server: RuntimeServer) -> Int {
        guard let free = freeSlots(of: server, leaving: false) else { return serveQueue(of: server, free: .max) }
        return serveQueue(of: server, free: free)
    }

    /// HAProxy's server_warmup task: while `server` (with `slowstart` and `maxconn`) ramps up
    /// after it came back, every max(1 s, slowstart / 20) its limit has grown and the queue
    /// gives it waiters up to it (`pendconn_grab_from_px`), until the ramp ends or it stops
    /// taking clients. Started by the change that brought it back.
    func rampQueue(of server: RuntimeServer, on loop: any EventLoop) {
        guard queue != nil, let slowstart = server.parameters.slowstart, server.health.maxconn != nil,
              server.health.takesTraffic, server.health.slowstartFraction < 1 else { return }
        let step = TimeAmount.nanoseconds(max(1_000_000_000, slowstart.nanoseconds / 20))
        loop.scheduleRepeatedTask(initialDelay: step, delay: step) { [weak self, weak server] task in
            guard let self, let server, server.health.takesTraffic else { return task.cancel() }
            if server.health.slowstartFraction >= 1 { task.cancel() }
            serverCapacityGrew(server)
        }
    }

    /// A stream is done with its slot on `server` (or a woken client no longer wants the one it
    /// was handed): the slot goes to the oldest waiters that can use it.
    func slotFreed(on server: RuntimeServer) {
        give(1, on: server)
        guard queue != nil else { return }
        // Clients queued before a reload are older (QueueAcrossReload).
        if relaySlot(of: server, older: true) { return }
        // HAProxy's beconn still counts the leaving stream when process_srv_queue runs. (No
        // slot when a dynamic limit (`minconn`) fell with the load.)
        if serveQueue(of: server, free: freeSlots(of: server, leaving: true) ?? 1) == 0 {
            _ = relaySlot(of: server, older: false)
        }
    }

    /// A slot of `server` is (maybe) free: the oldest waiter that can use it is woken (only one
    /// pinned to it unless `servesItsQueue`). Returns how many were.
    @discardableResult
    func offerSlot(of server: RuntimeServer) -> Int {
        serveQueue(of: server, free: freeSlots(of: server, leaving: false) ?? 1)
    }

    /// HAProxy's `px_ok`: a slot of `server` may go to a client queued for any server — it
    /// takes new clients, and is no backup while an active server does.
    func servesItsQueue(_ server: RuntimeServer) -> Bool {
        guard server.health.takesTraffic else { return false }
        return !server.backup || !servers.contains { !$0.backup && $0.health.takesTraffic }
    }

    /// Holds `count` slots of `server` (a stream's, or those handed to woken waiters).
    func take(_ count: Int, on server: RuntimeServer) {
        server.mostActive.raise(to: server.active.wrappingIncrementThenLoad(by: count, ordering: .relaxed))
        mostActive.raise(to: active.wrappingIncrementThenLoad(by: count, ordering: .relaxed))
    }

    func give(_ count: Int, on server: RuntimeServer) {
        server.active.wrappingDecrement(by: count, ordering: .relaxed)
        active.wrappingDecrement(by: count, ordering: .relaxed)
    }

    /// Slots `server` has free now (nil: no maxconn). `leaving`: a stream that just gave its
    /// slot back still counts in the backend's load (a `minconn` limit).
    private func freeSlots(of server: RuntimeServer, leaving: Bool) -> Int? {
        server.health.maxconn.map { max(0, server.limit(maxconn: $0, asking: leaving) - server.active.load(ordering: .relaxed)) }
    }

    /// Up to `free` of the oldest waiters that can use `server`'s slots are woken.
    @discardableResult
    private func serveQueue(of server: RuntimeServer, free: Int) -> Int {
        handOut(free, of: server) { queue, slots, hold in
            queue.wake(server: server.index, slots: slots, pinnedOnly: !servesItsQueue(server), hold: hold)
        }
    }

    /// Each woken waiter gets one of `server`'s slots at once (counted in `active` before it runs,
    /// as HAProxy counts a dequeued stream in `served`), so no newcomer takes it meanwhile; the
    /// waiter adopts it (`Dispatch.wokeFromQueue`) or gives it back (`slotFreed`). Slots are
    /// held under the queue's lock for exactly the waiters woken: none is held for a waiter that
    /// gave up or waits for another server, which a newcomer queueing meanwhile would take for
    /// a full server (and wait beside an idle one).
    private func handOut(_ free: Int, of server: RuntimeServer, _ wake: (BackendQueue, Int, (Int) -> Void) -> Int) -> Int {
        guard let queue, free > 0, queue.count > 0 else { return 0 }
        return wake(queue, free) { take($0, on: server) }
    }
}
