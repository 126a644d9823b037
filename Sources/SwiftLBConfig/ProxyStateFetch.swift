/// The fetches of a proxy's or a server's state that ACLs of real configurations read —
/// `acl dead nbsrv(be_app) lt 1` then `use_backend sorry if dead` — as HAProxy 2.6 defines
/// them (src/backend.c, src/frontend.c): `nbsrv`, `be_conn`, `connslots`, `queue`,
/// `avg_queue` of a backend, `fe_conn` of a frontend, `srv_conn` and `srv_is_up` of a server.
/// The data path reads the per-server and per-backend atomics the balancers keep
/// (SwiftLBProxy/Rules/ProxyStates.swift).
public struct ProxyStateFetch: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case nbsrv, connslots, queue
        case backendConnections = "be_conn"
        case averageQueue = "avg_queue"
        case frontendConnections = "fe_conn"
        case serverConnections = "srv_conn"
        case serverIsUp = "srv_is_up"

        /// Its argument names a server (`BACKEND/SERVER`, or `SERVER` of the rule's proxy).
        public var namesServer: Bool { self == .serverConnections || self == .serverIsUp }
    }

    public let kind: Kind
    /// The proxy the argument names; nil: the proxy whose rule reads it (HAProxy fills the
    /// optional argument with it, and refuses it where that proxy has no such capability).
    public let proxy: String?
    /// `srv_conn`, `srv_is_up`: the server.
    public let server: String?
    /// The proxy whose rule reads it (fixed where the rule is written, as HAProxy fills the
    /// argument when it loads the file): what `proxy` nil reads. nil in a `defaults` section,
    /// whose rules read the proxy that runs them.
    public let owner: String?

    public init(kind: Kind, proxy: String?, server: String?, owner: String? = nil) {
        self.kind = kind
        self.proxy = proxy
        self.server = server
        self.owner = owner
    }

    /// `nbsrv`, `nbsrv(be_app)`, `srv_is_up(be_app/s1)`: nil when `name` is not one of these.
    /// `owner`: the proxy whose rule it is.
    init?(name: String, argument: String?, owner: String?) throws(ParseFailure) {
        guard let kind = Kind(rawValue: name) else { return nil }
        self.kind = kind
        self.owner = owner
        guard kind.namesServer else {
            proxy = argument.flatMap { $0.isEmpty ? nil : $0 }
            server = nil
            return
        }
        // HAProxy: "missing arguments (got 0/1)" for a server fetch without one.
        guard let argument, !argument.isEmpty else { throw ParseFailure("fetch '\(name)' expects a server, as in \(name)(backend/server)") }
        if let slash = argument.firstIndex(of: "/") {
            proxy = String(argument[..<slash])
            server = String(argument[argument.index(after: slash)...])
        } else {
            proxy = nil
            server = argument
        }
    }

    /// `srv_is_up` is a boolean; the others are integers.
    public var isBoolean: Bool { kind == .serverIsUp }

    /// As written, for messages.
    public var written: String {
        let argument = [proxy, server].compactMap { $0 }.joined(separator: "/")
        return argument.isEmpty ? kind.rawValue : "\(kind.rawValue)(\(argument))"
    }
}
