import SwiftLBHealth

/// What a backend's queue does when one of its servers changes state (checks, the operator,
/// an agent), as HAProxy's server.c does after `srv_update_status`: a server that stops taking
/// new clients (DOWN, NOLB, maintenance, drain) gives the clients queued for it back to the
/// balancer when the backend has `option redispatch` (`pendconn_redistribute`; SwiftLB has no
/// `option persist` nor `force-persist`, which would keep them) — without it they keep waiting
/// for it, for a slot or `timeout queue`; a server that takes clients again takes queued
/// unpinned clients up to its free slots (`pendconn_grab_from_px`). Never on the data path: it
/// runs on the thread that changed the state.
extension RuntimeBackend {
    /// Returns what moved, for the log line of the change (the clients woken still count in
    /// `server.queued` until they run on their loops).
    func serverAvailabilityChanged(_ server: RuntimeServer) -> QueueMove {
        guard let queue else { return QueueMove() }
        let queued = server.queued.load(ordering: .relaxed)
        if server.health.takesTraffic {
            guard servesItsQueue(server) else { return QueueMove(requeued: 0, remaining: queued) }
            let grabbed = queue.grab(server: server.index, slots: server.health.maxconn.map {
                max(0, server.limit(maxconn: $0, asking: false) - server.active.load(ordering: .relaxed))
            })
            return QueueMove(requeued: grabbed, remaining: queued)
        }
        let requeued = config.options.redispatch ? queue.redistribute(server: server.index) : 0
        return QueueMove(requeued: requeued, remaining: max(0, queued - requeued))
    }

    /// A slot of `server` came free: the oldest waiter that can use it is woken (only one
    /// pinned to it unless `servesItsQueue`).
    func offerSlot(of server: RuntimeServer) {
        queue?.wakeOne(freed: server.index, pinnedOnly: !servesItsQueue(server))
    }

    /// HAProxy's `px_ok`: a slot of `server` may go to a client queued for any server — it
    /// takes new clients, and is no backup while an active server does.
    func servesItsQueue(_ server: RuntimeServer) -> Bool {
        guard server.health.takesTraffic else { return false }
        return !server.backup || !servers.contains { !$0.backup && $0.health.takesTraffic }
    }
}
