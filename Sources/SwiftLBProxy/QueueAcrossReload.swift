import Atomics
import NIOConcurrencyHelpers

/// A backend's queue across a reload. Clients queued in the retired runtime's backend stay
/// there (their streams keep the snapshot they started with, as a stream always does) and are
/// served by its servers' slots as they free up — HAProxy's old process serves its own queue
/// until it is empty. Where a server is carried over unchanged, both runtimes share its
/// in-flight count (its `maxconn` holds across the reload), so a slot it frees in either
/// runtime goes to the retired backend's waiters first (they are older), then to the new
/// backend's: neither queue waits for a slot only the other runtime's streams free.
/// Linked when the new runtime is built; costs one atomic load per freed slot otherwise.
final class QueueLineage: Sendable {
    private struct Links {
        weak var older: RuntimeBackend?
        weak var newer: RuntimeBackend?
    }
    private let links = NIOLockedValueBox(Links())
    private let linked = ManagedAtomic<Bool>(false)

    /// `newer` replaces `older` (same name, both can queue).
    static func link(older: RuntimeBackend, newer: RuntimeBackend) {
        older.lineage.links.withLockedValue { $0.newer = newer }
        newer.lineage.links.withLockedValue { $0.older = older }
        older.lineage.linked.store(true, ordering: .relaxed)
        newer.lineage.linked.store(true, ordering: .relaxed)
    }

    /// The other runtime's backend, while it lives (nil: unlinked, or it is gone).
    fileprivate func other(older: Bool) -> RuntimeBackend? {
        guard linked.load(ordering: .relaxed) else { return nil }
        return links.withLockedValue { l in
            if l.older == nil && l.newer == nil { linked.store(false, ordering: .relaxed) }
            return older ? l.older : l.newer
        }
    }
}

extension RuntimeBackend {
    /// A slot of `server` (shared with a linked runtime) came free: the retired runtime's
    /// waiters first (`older`), or, when none here took it, the new runtime's. True: one was
    /// woken there.
    func relaySlot(of server: RuntimeServer, older: Bool) -> Bool {
        guard let other = lineage.other(older: older), other.queue?.count ?? 0 > 0,
              let same = other.servers.first(where: { $0.health === server.health }) else { return false }
        return other.offerSlot(of: same) > 0
    }
}
