/// Where a backend reads the server states saved before a restart (HAProxy 2.6's
/// `load-server-state-from-file global|local|none` and `server-state-file-name`): the states
/// `show servers state` wrote, so that servers put in maintenance, drained or reweighted by an
/// operator stay so across a restart.
public struct ServerStateSource: Sendable, Equatable {
    public enum Load: String, Sendable {
        /// The `global` section's `server-state-file`, lines matched by backend and server name.
        case global
        /// A file of this backend's own (`server-state-file-name`, else the backend's name,
        /// under `server-state-base`), lines matched by backend id or name.
        case local
        /// Nothing is loaded: HAProxy's default when the keyword is not written.
        case none
    }

    public var load: Load = .none
    /// `server-state-file-name NAME` (nil: the backend's name, also `use-backend-name`).
    public var fileName: String?

    public init() {}
}
