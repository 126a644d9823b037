import Atomics
import SwiftLBConfig

/// The proxies of one runtime, for the fetches of their state (`nbsrv(be_app)`, `be_conn`,
/// `srv_is_up(be_app/s1)`, `fe_conn`…), each resolved once, when the runtime is built, to the
/// backend, server or counter it names. Built only when an ACL or a sample expression reads
/// such a fetch (`Configuration.readsProxyStates`); then every frontend of the runtime holds it
/// and a request's facts carry it — otherwise nothing is built, stored or read per request.
/// The values are the atomics the balancers and the stats already keep, and the shared rate
/// counters (ProxyRates.swift): no lock.
final class ProxyStates: Sendable {
    /// What a state fetch reads, found once per runtime: the fetch's slot indexes these.
    enum Source: Sendable {
        case backend(RuntimeBackend)
        case server(RuntimeServer)
        case frontend(FrontendCounters)
        /// No argument and no owner (a `defaults` section's rule): the proxy running the rule,
        /// found by name when read.
        case running
        /// Names what this runtime does not have (the configuration check refuses that).
        case missing
    }

    private let backends: [String: RuntimeBackend]
    /// What a frontend's fetches read: its counters, not the frontend, which holds this
    /// directory.
    struct FrontendCounters: Sendable {
        /// Its open connections (`fe_conn`).
        let connections: ManagedAtomic<Int>
        /// `fe_sess_rate`, `fe_req_rate` (nil when no rule reads a rate).
        let rates: FrontendRates?

        func value(_ kind: ProxyStateFetch.Kind) -> Int {
            switch kind {
            case .frontendSessionRate: return rates?.sessions.read() ?? 0
            case .frontendRequestRate: return rates?.requests.read() ?? 0
            default: return connections.load(ordering: .relaxed)
            }
        }
    }
    private let frontendCounters: [String: FrontendCounters]
    /// By slot (`ProxyStateFetch.slot`): every state fetch parsed when this runtime was built.
    private let sources: [Source]

    /// The frontend that holds this copy: the proxy a `defaults` rule without argument reads
    /// until a backend is chosen.
    private let frontend: String

    private init(backends: [String: RuntimeBackend], frontendCounters: [String: FrontendCounters], sources: [Source], frontend: String) {
        self.backends = backends
        self.frontendCounters = frontendCounters
        self.sources = sources
        self.frontend = frontend
    }

    /// One for each frontend (sharing the tables).
    static func make(backends: [RuntimeBackend], frontends: [RuntimeFrontend]) -> [ProxyStates] {
        let byName = Dictionary(backends.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let counters = Dictionary(frontends.map { ($0.name, FrontendCounters(connections: $0.liveConnections, rates: $0.rates)) },
                                  uniquingKeysWith: { first, _ in first })
        let sources = ProxyStateFetch.registered.map { Self.source($0, backends: byName, frontends: counters) }
        return frontends.map { ProxyStates(backends: byName, frontendCounters: counters, sources: sources, frontend: $0.name) }
    }

    private static func source(_ fetch: ProxyStateFetch, backends: [String: RuntimeBackend], frontends: [String: FrontendCounters]) -> Source {
        guard let name = fetch.proxy ?? fetch.owner else { return .running }
        if fetch.kind.readsFrontend { return frontends[name].map { .frontend($0) } ?? .missing }
        guard let backend = backends[name] else { return .missing }
        guard fetch.kind.namesServer else { return .backend(backend) }
        return backend.servers.first { $0.name == fetch.server }.map { .server($0) } ?? .missing
    }

    /// The fetch's value: of the proxy it names, else of the proxy whose rule reads it (fixed
    /// when the file was read). Only a `defaults` section's rule has neither: it reads the proxy
    /// running it, `backend` (the backend chosen so far, "" before) or this frontend. nil when
    /// the proxy or server is not there (the configuration check refuses that).
    func value(_ fetch: ProxyStateFetch, backend: String) -> Int? {
        // A fetch parsed after this runtime was built (none today) is found by name.
        switch fetch.slot < sources.count ? sources[fetch.slot] : .running {
        case .backend(let b): return Self.value(fetch.kind, of: b)
        case .server(let server): return Self.value(fetch.kind, of: server)
        case .frontend(let counters): return counters.value(fetch.kind)
        case .missing: return nil
        case .running:
            let name = fetch.proxy ?? fetch.owner ?? (backend.isEmpty ? frontend : backend)
            if fetch.kind.readsFrontend { return frontendCounters[name]?.value(fetch.kind) }
            guard let b = backends[name] else { return nil }
            guard fetch.kind.namesServer else { return Self.value(fetch.kind, of: b) }
            return b.servers.first { $0.name == fetch.server }.map { Self.value(fetch.kind, of: $0) }
        }
    }

    private static func value(_ kind: ProxyStateFetch.Kind, of backend: RuntimeBackend) -> Int {
        switch kind {
        case .nbsrv: return usableServers(backend)
        // HAProxy's beconn: the streams of the backend, on a server or waiting for one (as
        // DynamicMaxconn counts its load).
        case .backendConnections: return backend.active.load(ordering: .relaxed) + (backend.queue?.count ?? 0)
        case .queue: return backend.queue?.count ?? 0
        case .averageQueue:
            // Rounded up per usable server; with none, twice the queue (HAProxy's "as if we had
            // half a running server").
            let waiting = backend.queue?.count ?? 0
            let servers = usableServers(backend)
            return servers > 0 ? (waiting + servers - 1) / servers : waiting * 2
        case .connslots: return connectionSlots(backend)
        case .backendSessionRate: return backend.sessionRate?.read() ?? 0
        case .frontendConnections, .frontendSessionRate, .frontendRequestRate, .serverConnections, .serverIsUp:
            return 0  // not a backend's (sources never pair them)
        }
    }

    private static func value(_ kind: ProxyStateFetch.Kind, of server: RuntimeServer) -> Int {
        if kind == .serverConnections { return server.active.load(ordering: .relaxed) }
        // Up unless in maintenance or found down by its checks (a server without checks is
        // up while not in maintenance).
        return server.health.admin != .maint && server.health.isUp ? 1 : 0
    }

    /// HAProxy's be_usable_srv: the primaries that take traffic; with none, 1 if a backup
    /// does (its first backup serves alone without `option allbackups`, which SwiftLB
    /// refuses); 0 for a disabled backend.
    static func usableServers(_ backend: RuntimeBackend) -> Int {
        if backend.config.options.disabled { return 0 }
        var primaries = 0, backups = 0
        for server in backend.servers where server.health.takesTraffic {
            if server.backup { backups += 1 } else { primaries += 1 }
        }
        return primaries > 0 ? primaries : min(backups, 1)
    }

    /// HAProxy's connslots: over the servers not down, the connections and queue places left
    /// (`maxconn` − current + `maxqueue` − queued); -1 as soon as one has no `maxconn` or no
    /// `maxqueue` (unlimited: HAProxy's own "stupid value").
    static func connectionSlots(_ backend: RuntimeBackend) -> Int {
        var slots = 0
        for server in backend.servers where server.health.isUp && server.health.admin != .maint {
            guard let maxconn = server.health.maxconn, let maxqueue = server.parameters.maxQueue, maxqueue > 0 else { return -1 }
            slots += (maxconn - server.active.load(ordering: .relaxed)) + (maxqueue - server.queued.load(ordering: .relaxed))
        }
        return slots
    }
}
