import SwiftLBConfig

/// HAProxy's dynamic server limit (`srv_dynamic_maxconn`): a server with `minconn` below its
/// `maxconn` takes `minconn` requests at once while its backend is quiet, more as the backend's
/// load (its streams on servers and in its queue: HAProxy's `beconn`) grows, and its full
/// `maxconn` once that load reaches the backend's `fullconn`. It protects a server that is
/// fastest with few requests in flight from a burst it would handle badly, while letting it
/// take its share when everyone is busy. Read on each pick of such a server only.
final class DynamicMaxconn: @unchecked Sendable {
    let minconn: Int
    let fullconn: Int
    /// Set once by the backend being built, before any stream can read it.
    weak var backend: RuntimeBackend?

    /// Nil unless `minconn` is below `maxconn` (validation turned any other `minconn` into the
    /// static `maxconn`).
    init?(_ parameters: ServerParameters, fullconn: Int?) {
        guard let min = parameters.minconn, min > 0, let max = parameters.maxconn, min < max else { return nil }
        self.minconn = min
        self.fullconn = Swift.max(1, fullconn ?? 1)
        self.backend = nil
    }

    /// The limit now, for a `maxconn` of `maxconn` (an agent may have changed it).
    /// `asking`: a stream that is neither on a server nor queued yet asks (HAProxy's beconn
    /// counts it); false for a re-check once it is queued (counted there already).
    func limit(maxconn: Int, asking: Bool) -> Int {
        guard let backend, minconn < maxconn else { return maxconn }
        let load = backend.active.load(ordering: .relaxed) + (backend.queue?.count ?? 0) + (asking ? 1 : 0)
        guard load < fullconn else { return maxconn }
        return Swift.max(1, Swift.max(minconn, load * maxconn / fullconn))
    }
}
