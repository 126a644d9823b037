import Synchronization

/// The fetches of a proxy's or a server's state that ACLs of real configurations read —
/// `acl dead nbsrv(be_app) lt 1` then `use_backend sorry if dead` — as HAProxy 2.6 defines
/// them (src/backend.c, src/frontend.c): `nbsrv`, `be_conn`, `connslots`, `queue`,
/// `avg_queue`, `be_sess_rate` of a backend, `fe_conn`, `fe_sess_rate`, `fe_req_rate` of a
/// frontend, `srv_conn` and `srv_is_up` of a server.
/// The data path reads the per-server and per-backend atomics the balancers keep, and the
/// shared rate counters (SwiftLBProxy/Rules/ProxyStates.swift, ProxyRates.swift).
public struct ProxyStateFetch: Sendable, Hashable {
    public enum Kind: String, Sendable, CaseIterable {
        case nbsrv, connslots, queue
        case backendConnections = "be_conn"
        case averageQueue = "avg_queue"
        case frontendConnections = "fe_conn"
        case serverConnections = "srv_conn"
        case serverIsUp = "srv_is_up"
        case frontendSessionRate = "fe_sess_rate"
        case frontendRequestRate = "fe_req_rate"
        case backendSessionRate = "be_sess_rate"

        /// Its argument names a server (`BACKEND/SERVER`, or `SERVER` of the rule's proxy).
        public var namesServer: Bool { self == .serverConnections || self == .serverIsUp }
        /// It reads a frontend (its argument names one), not a backend.
        public var readsFrontend: Bool { self == .frontendConnections || self == .frontendSessionRate || self == .frontendRequestRate }
        /// An event rate: the runtime counts the events only when a rule reads one.
        public var isRate: Bool { self == .frontendSessionRate || self == .frontendRequestRate || self == .backendSessionRate }
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
    /// Its place in the process's table of the state fetches ever read (`registered`), given
    /// when it is parsed: a runtime resolves each place once to the backend, server or counter
    /// it names (ProxyStates), so a request reads it by index, never by name.
    public let slot: Int

    public init(kind: Kind, proxy: String?, server: String?, owner: String? = nil) {
        self.kind = kind
        self.proxy = proxy
        self.server = server
        self.owner = owner
        slot = Self.slot(kind, proxy, server, owner)
    }

    /// `nbsrv`, `nbsrv(be_app)`, `srv_is_up(be_app/s1)`: nil when `name` is not one of these.
    /// `owner`: the proxy whose rule it is.
    init?(name: String, argument: String?, owner: String?) throws(ParseFailure) {
        guard let kind = Kind(rawValue: name) else { return nil }
        guard kind.namesServer else {
            self.init(kind: kind, proxy: argument.flatMap { $0.isEmpty ? nil : $0 }, server: nil, owner: owner)
            return
        }
        // HAProxy: "missing arguments (got 0/1)" for a server fetch without one.
        guard let argument, !argument.isEmpty else { throw ParseFailure("fetch '\(name)' expects a server, as in \(name)(backend/server)") }
        if let slash = argument.firstIndex(of: "/") {
            self.init(kind: kind, proxy: String(argument[..<slash]), server: String(argument[argument.index(after: slash)...]), owner: owner)
        } else {
            self.init(kind: kind, proxy: nil, server: argument, owner: owner)
        }
    }

    /// `nbsrv(be)` as a sample expression's fetch is written (name, arguments split at commas):
    /// nil when `name` is no state fetch. An expression is compiled for the proxy whose rule it
    /// is (`owner`), as an ACL's fetch.
    public init?(expressionFetch name: String, arguments: [String], owner: String?) throws(Refusal) {
        guard Kind(rawValue: name) != nil else { return nil }
        guard arguments.count <= 1 else { throw Refusal(message: "fetch '\(name)' takes one argument at most") }
        do { try self.init(name: name, argument: arguments.first, owner: owner) } catch { throw Refusal(message: error.message) }
    }

    /// Why an expression's state fetch was refused.
    public struct Refusal: Error {
        public let message: String
    }

    /// The state fetch a sample expression's text starts with (`be_conn(app),add(1)`), or nil.
    init?(leadingFetchOf expression: String, owner: String?) throws(ParseFailure) {
        let head = expression.prefix { $0 != "," && $0 != "(" }
        guard Kind(rawValue: String(head)) != nil else { return nil }
        var argument: String?
        let rest = expression.dropFirst(head.count)
        if rest.first == "(" {
            guard let close = rest.firstIndex(of: ")") else { throw ParseFailure("missing ')' in '\(expression)'") }
            argument = String(rest[rest.index(after: rest.startIndex)..<close])
        }
        try self.init(name: String(head), argument: argument, owner: owner)
    }

    /// The state fetches of the process, by slot: what each runtime resolves. Grows only with a
    /// fetch never seen before (a handful per configuration); taken when files are read and
    /// runtimes built, never per request.
    private static let table = Mutex<(slots: [Key: Int], fetches: [ProxyStateFetch])>(([:], []))

    private struct Key: Hashable {
        let kind: Kind, proxy: String?, server: String?, owner: String?
    }

    private static func slot(_ kind: Kind, _ proxy: String?, _ server: String?, _ owner: String?) -> Int {
        let key = Key(kind: kind, proxy: proxy, server: server, owner: owner)
        return table.withLock { table in
            if let known = table.slots[key] { return known }
            let slot = table.fetches.count
            table.slots[key] = slot
            table.fetches.append(ProxyStateFetch(key: key, slot: slot))
            return slot
        }
    }

    private init(key: Key, slot: Int) {
        (kind, proxy, server, owner, self.slot) = (key.kind, key.proxy, key.server, key.owner, slot)
    }

    /// Every state fetch parsed so far, each at its slot.
    public static var registered: [ProxyStateFetch] { table.withLock { $0.fetches } }

    /// `srv_is_up` is a boolean; the others are integers.
    public var isBoolean: Bool { kind == .serverIsUp }

    /// As written, for messages.
    public var written: String {
        let argument = [proxy, server].compactMap { $0 }.joined(separator: "/")
        return argument.isEmpty ? kind.rawValue : "\(kind.rawValue)(\(argument))"
    }
}
