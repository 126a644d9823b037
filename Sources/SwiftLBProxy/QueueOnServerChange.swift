/// What a backend's queue does when one of its servers changes state (checks, the operator,
/// an agent), as HAProxy's server.c does after `srv_update_status`: a server that stops taking
/// new clients (DOWN, NOLB, maintenance, drain) gives the clients queued for it back to the
/// balancer when the backend has `option redispatch` (`pendconn_redistribute`; SwiftLB has no
/// `option persist` nor `force-persist`, which would keep them) — without it they keep waiting
/// for it, for a slot or `timeout queue`; a server that takes clients again takes queued
/// unpinned clients up to its free slots (`pendconn_grab_from_px`). Never on the data path: it
/// runs on the thread that changed the state.
extension RuntimeBackend {
    func serverAvailabilityChanged(_ server: RuntimeServer) {
        guard let queue else { return }
        if server.health.takesTraffic {
            queue.grab(server: server.index, slots: server.health.maxconn.map { max(0, $0 - server.active.load(ordering: .relaxed)) })
        } else if config.options.redispatch {
            queue.redistribute(server: server.index)
        }
    }
}
