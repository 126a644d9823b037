import Atomics
import NIOConcurrencyHelpers

/// A backend's queue across reloads. Clients queued in a retired runtime's backend stay
/// there (their streams keep the snapshot they started with, as a stream always does) and are
/// served by its servers' slots as they free up — HAProxy's old process serves its own queue
/// until it is empty. Where a server is carried over unchanged, every runtime since shares its
/// in-flight count (its `maxconn` holds across the reloads), so a slot it frees in any of them
/// goes to the oldest living generation's waiters first, then to its own, then to the newer
/// ones' (nearest first): no queue waits for a slot only another runtime's streams free, even
/// after several reloads in a row (each generation knows all the living ones, not only its
/// neighbour, which may be gone while an older one still has clients).
///
/// The generations share one count of their waiters: a freed slot reads it (one atomic load)
/// and takes the links' lock only when clients wait in another generation — not for every
/// request while a retired runtime lives (a long TCP session keeps one for days).
final class QueueLineage: Sendable {
    private struct Link {
        weak var backend: RuntimeBackend?
    }
    /// The other generations, nearest first.
    private struct Links {
        var older: [Link] = []
        var newer: [Link] = []
    }
    private let links = NIOLockedValueBox(Links())
    /// Clients waiting in the queues of this backend's linked generations (the counter is
    /// shared by them; each `BackendQueue` counts its waiters in it).
    let waiting: ManagedAtomic<Int>

    /// `older`: the lineage of the backend this one replaces (its generations' count is ours).
    init(after older: QueueLineage? = nil) {
        waiting = older?.waiting ?? ManagedAtomic(0)
    }

    /// `newer` replaces `older` (same name, both can queue; `newer` was made `after` it).
    static func link(older: RuntimeBackend, newer: RuntimeBackend) {
        let generations = [older] + older.lineage.living(older: true)
        newer.lineage.links.withLockedValue { $0.older = generations.map { Link(backend: $0) } }
        for generation in generations { generation.lineage.links.withLockedValue { $0.newer.append(Link(backend: newer)) } }
    }

    /// Whether clients wait in another generation, `own` of the shared count being ours.
    fileprivate func othersWait(own: Int) -> Bool { waiting.load(ordering: .relaxed) > own }

    /// The other generations that still live, nearest first (the gone ones are forgotten).
    fileprivate func living(older: Bool) -> [RuntimeBackend] {
        links.withLockedValue { l in
            if older {
                l.older.removeAll { $0.backend == nil }
                return l.older.compactMap(\.backend)
            }
            l.newer.removeAll { $0.backend == nil }
            return l.newer.compactMap(\.backend)
        }
    }
}

extension RuntimeBackend {
    /// A slot of `server` (shared with linked runtimes) came free: the retired runtimes'
    /// waiters first, the oldest first (`older`), or, when none here took it, the newer
    /// runtimes', the nearest first. True: one was woken there.
    func relaySlot(of server: RuntimeServer, older: Bool) -> Bool {
        guard let queue, lineage.othersWait(own: queue.count) else { return false }
        let living = lineage.living(older: older)
        for other in older ? living.reversed() : living where other.queue?.count ?? 0 > 0 {
            guard let same = other.servers.first(where: { $0.health === server.health }) else { continue }
            if other.offerSlot(of: same) > 0 { return true }
        }
        return false
    }
}
