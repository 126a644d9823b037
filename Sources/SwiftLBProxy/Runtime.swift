import Atomics
import NIOConcurrencyHelpers
import NIOCore
import SwiftLBAdmin
import SwiftLBConfig
import SwiftLBHealth
import SwiftLBLog
import SwiftLBTLS
#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials

/// The configuration turned into what the data path needs: servers with resolved socket
/// addresses, backends referenced directly instead of by name. Immutable and shared by every
/// event loop; a reload would build a new one while connections keep the old one.
public final class ProxyRuntime: Sendable {
    public let configuration: Configuration
    let frontends: [RuntimeFrontend]
    let backends: [RuntimeBackend]
    /// Not errors, but worth an operator's eye (`swiftlb check` prints them): certificates
    /// close to or past their dates.
    public let warnings: [ConfigError]
    /// Servers with `check`, for the health checker.
    let checkTargets: [CheckTarget]
    /// Servers with `agent-check`, for their agents.
    let agentTargets: [AgentTarget]
    /// Every server's shared state, for the control socket.
    public var serverStates: [ServerHealth] { backends.flatMap { $0.servers.map(\.health) } }

    /// `set weight B/S W`: the server's weight now, on every event loop at once (the
    /// balancer's precomputed order is rebuilt from the new weights). Nil: no such server;
    /// false: refused, as HAProxy refuses it, because the backend's algorithm is static
    /// (map-based hashing) and W is neither 0 nor the server's configured weight.
    public func setWeight(backend: String, server: String, weight: Int) -> Bool? {
        guard let b = backends.first(where: { $0.name == backend }), let s = b.servers.first(where: { $0.name == server }) else { return nil }
        if b.hasStaticWeights && weight != 0 && weight != s.parameters.weight { return false }
        return b.setWeight(server: server, weight: weight)
    }

    /// `set maxconn server B/S N`: see `RuntimeBackend.setMaxconn`. Nil: no such server; false:
    /// its backend cannot queue.
    public func setMaxconn(backend: String, server: String, maxconn: Int) -> Bool? {
        guard let b = backends.first(where: { $0.name == backend }), b.servers.contains(where: { $0.name == server }) else { return nil }
        return b.setMaxconn(server: server, maxconn: maxconn)
    }

    /// Process-wide server ids: a reload's new servers never take the id (the per-loop pool
    /// slot) of another server.
    private static let serverIDs = ManagedAtomic<Int>(0)
    /// Process-wide ids of frontends and backends for their per-loop counters; a reload keeps
    /// the id of a proxy that keeps its name, so its counters carry on.
    static let proxyCounterIDs = ManagedAtomic<Int>(0)
    /// The stick tables by proxy name (`show table`); empty when lb.conf declares none.
    let stickTables: [String: StickTable]
    /// The global `set-var`/`set-var-fmt` lines, set when this runtime is put in force (at
    /// start, or by a reload that succeeded: `RuntimeHolder`), never by one that failed.
    let globalVariables: GlobalVariables?
    /// `tune.vars.*-max-size`, applied with the global variables when this runtime is put in
    /// force — a reload refused after the runtime was built (a bind failure…) keeps the old.
    let variableSizeLimits: VariableSizeLimits
    /// When this runtime was built (for `show info`'s and the stats page's uptime).
    public let builtAt = NIODeadline.now()
    /// Its certificates and crt-lists, for the stats socket's `ssl` commands.
    public let certificates: CertificateRuntime

    /// Resolves every server address once (like HAProxy without `resolvers`); a name that does
    /// not resolve is an error naming the server's line.
    ///
    /// With `previous` (a reload), a server that still exists by backend/name keeps its health:
    /// the same `ServerHealth` when nothing about it changed (checks go on, in-flight counts stay
    /// right, its pooled connections stay usable), else a new one that starts in the old state.
    public init(configuration: Configuration, previous: ProxyRuntime? = nil) throws(ConfigErrors) {
        self.configuration = configuration
        var errors: [ConfigError] = []
        let store = CertificateStore(deleteExtension: configuration.global.sslLoadExtraDeleteExtension)
        CAFileStore.shared.beginConfigurationBuild()
        var backends: [RuntimeBackend] = []
        var byName: [String: RuntimeBackend] = [:]
        var checkTargets: [CheckTarget] = []
        var agentTargets: [AgentTarget] = []
        var before: [String: RuntimeServer] = [:]
        for backend in previous?.backends ?? [] {
            for server in backend.servers { before[backend.name + "/" + server.name] = server }
        }
        for (index, backend) in configuration.backends.values.sorted(by: { $0.line < $1.line }).enumerated() {
            var servers: [RuntimeServer] = []
            // Check targets wait for the backend's full list of servers (their log lines count them).
            var checked: [(CheckedBackend) -> CheckTarget] = []
            // Agents set weights, which the backend's balancer must hear of.
            var agents: [(RuntimeBackend) -> AgentTarget] = []
            let sids = backend.serverIDs
            // A `disabled` backend runs with no server: every request it gets is a 503, and
            // nothing is checked (HAProxy's stopped proxy).
            for server in backend.options.disabled ? [] : backend.servers {
                do {
                    let (address, addressless) = try Self.initialAddress(server)
                    // Checks go to the server's address (as `init-addr` found it) unless `addr`/`port`
                    // say otherwise; a unix server's on its socket unless they name an IP one.
                    let checkAddress = addressless || server.parameters.checkAddress == nil && server.parameters.checkPort == nil
                        ? address
                        : try SocketAddress.makeAddressResolvingHost(server.parameters.checkAddress ?? (server.unixPath != nil ? "127.0.0.1" : address.ipAddress ?? server.host),
                                                                     port: server.parameters.checkPort ?? server.port)
                    var tlsClient: TLSClientContext?
                    // `proto h2` traffic offers h2 by ALPN; the health checks speak HTTP/1.1.
                    var trafficTLS: TLSClientContext?
                    if let tls = server.parameters.tls {
                        do {
                            tlsClient = try TLSPlan.clientContext(tls, store: store)
                            trafficTLS = server.parameters.http2 ? try TLSPlan.clientContext(tls, store: store, alpn: tls.more.alpn ?? ["h2"]) : tlsClient
                        } catch {
                            errors.append(ConfigError(file: configuration.file, line: server.line, keyword: "server", message: "\(error)"))
                            continue
                        }
                    }
                    // `sni EXPRESSION`: compiled once; evaluated per request that dials.
                    var sniExpression: SampleExpression?
                    if let text = server.parameters.tls?.sniExpression {
                        do { sniExpression = try SampleExpression(parsing: text) } catch {
                            errors.append(ConfigError(file: configuration.file, line: server.line, keyword: "server", message: "'sni \(text)': \(error)"))
                            continue
                        }
                    }
                    let old = before[backend.name + "/" + server.name]
                    let unchanged = old.map { $0.address.isSameSocket(as: address) && $0.parameters == server.parameters } ?? false
                    let health: ServerHealth
                    if let old, unchanged {
                        health = old.health
                        health.setWeight(server.parameters.weight)  // a reload applies lb.conf's weight, as HAProxy's
                        health.setMaxconn(server.parameters.maxconn)
                    } else {
                        health = ServerHealth(backend: backend.name, server: server.name,
                                              admin: server.parameters.disabled || addressless ? .maint : .ready,
                                              observe: server.parameters.observe, errorLimit: server.parameters.errorLimit,
                                              slowstart: server.parameters.slowstart, weight: server.parameters.weight,
                                              maxconn: server.parameters.maxconn)
                        if let old {
                            health.set(old.health.state)
                            health.carryHistory(from: old.health)  // after: the set above is no new transition
                            if !server.parameters.disabled { health.setAdmin(old.health.admin) }
                        }
                    }
                    let id = unchanged ? old!.id : Self.serverIDs.loadThenWrappingIncrement(ordering: .relaxed)
                    let source = try (server.parameters.source ?? backend.options.source).map { try SocketAddress(ipAddress: $0.host, port: $0.port) }
                    servers.append(RuntimeServer(id: id, index: servers.count, sid: sids[server.name] ?? servers.count + 1, name: server.name,
                                                 address: address, parameters: server.parameters, health: health,
                                                 tls: server.parameters.tls?.more.ssl == true ? trafficTLS : nil,
                                                 cookieSettings: backend.options.cookie, sniExpression: sniExpression,
                                                 dynamicLimit: DynamicMaxconn(server.parameters, fullconn: backend.options.fullconn),
                                                 source: source))
                    let agent = server.parameters.agent
                    if agent.enabled && !server.parameters.disabled && !addressless {
                        guard let agentPort = agent.port else {
                            errors.append(ConfigError(file: configuration.file, line: server.line, keyword: "server",
                                                      message: "server '\(server.name)': 'agent-check' needs 'agent-port'"))
                            continue
                        }
                        let agentAddress = try SocketAddress.makeAddressResolvingHost(agent.address ?? (server.unixPath != nil ? "127.0.0.1" : server.host), port: agentPort)
                        // `agent-inter` defaults to 2 s whatever the server's `inter` (HAProxy's DEF_CHKINTR).
                        let interval = agent.inter.map { TimeAmount.nanoseconds($0.nanoseconds) } ?? .seconds(2)
                        let timeout = backend.options.timeouts.check.map { TimeAmount.nanoseconds($0.nanoseconds) } ?? interval
                        let name = server.name, configuredWeight = server.parameters.weight
                        agents.append { runtime in
                            AgentTarget(health: health, address: agentAddress, send: Array((agent.send ?? "").utf8), interval: interval,
                                        timeout: timeout, configuredWeight: configuredWeight) { weight in
                                runtime.setWeight(server: name, weight: weight)
                            }
                        }
                    }
                    if server.parameters.check && !server.parameters.disabled && !addressless {
                        let checkTLS: (context: TLSClientContext?, steps: [Int: TLSClientContext])
                        do {
                            checkTLS = try TLSPlan.checkContexts(server.parameters, store: store, traffic: tlsClient, steps: backend.options.tcpCheck ?? [])
                        } catch {
                            errors.append(ConfigError(file: configuration.file, line: server.line, keyword: "server", message: "\(error)"))
                            continue
                        }
                        var (probeAddress, probeTLS) = (checkAddress, checkTLS.context)
                        var probeName = server.parameters.tls.flatMap { $0.more.checkSNI ?? $0.sni }
                        if let connect = backend.options.httpCheck?.connect, backend.options.tcpCheck == nil, backend.options.protocolCheck == nil {
                            do {
                                (probeAddress, probeTLS, probeName) = try Self.httpCheckConnection(connect, server: server, checkAddress: checkAddress,
                                                                                                   checkTLS: (checkTLS.context, probeName), store: store)
                            } catch {
                                errors.append(ConfigError(file: configuration.file, line: server.line, keyword: "server", message: "http-check connect: \(error)"))
                                continue
                            }
                        }
                        checked.append { [probeAddress, probeTLS, probeName] checkedBackend in
                            var target = CheckTarget(health: health, address: probeAddress, parameters: server.parameters,
                                                     http: backend.options.httpCheck, tcp: backend.options.tcpCheck,
                                                     protocolCheck: backend.options.protocolCheck,
                                                     timeout: backend.options.timeouts.check,
                                                     tls: probeTLS,
                                                     serverName: probeName, backend: checkedBackend, serverAddress: address)
                            target.stepTLS = checkTLS.steps
                            target.source = source
                            return target
                        }
                    }
                } catch {
                    errors.append(ConfigError(file: configuration.file, line: server.line, keyword: "server",
                                              message: "cannot resolve '\(server.unixPath ?? server.host)': \(error)"))
                }
            }
            let checkedBackend = CheckedBackend(name: backend.name, logHealthChecks: backend.options.logHealthChecks,
                                                members: servers.map { .init(health: $0.health, backup: $0.backup) },
                                                node: configuration.global.node ?? hostName)
            checkTargets += checked.map { $0(checkedBackend) }
            var logTargets: [SwiftLBLog.LogTarget] = []
            do { logTargets = try LogPlan.logTargets(backend.options, global: configuration.global, file: configuration.file) } catch { errors += error.errors }
            let counterID = previous?.backends.first { $0.name == backend.name }?.counterID
                ?? Self.proxyCounterIDs.loadThenWrappingIncrement(ordering: .relaxed)
            let old = previous?.backends.first { $0.name == backend.name && $0.queue != nil }
            let runtime = RuntimeBackend(index: index, config: backend, servers: servers, counterID: counterID, logTargets: logTargets,
                                         logIdentity: LogPlan.identity(backend.options, global: configuration.global), after: old,
                                         nameCase: configuration.global.headerNameCase)
            agentTargets += agents.map { $0(runtime) }
            if runtime.queue != nil, let old { QueueLineage.link(older: old, newer: runtime) }
            backends.append(runtime)
            byName[backend.name] = runtime
        }
        // The rule engine of every proxy, compiled once: what cannot run is refused here, with
        // file, line and keyword.
        var engines: (frontends: [String: ProxyRules], backends: [String: ProxyRules]) = ([:], [:])
        do { engines = try ProxyRules.compile(configuration) } catch { errors += error.errors }
        for backend in backends { backend.engine = engines.backends[backend.name].flatMap { $0.isEmpty ? nil : $0 } }
        // Stick tables (kept across a reload when their declaration is unchanged) and the rules
        // that use them; a configuration without tables builds nothing here.
        var stickTables: [String: StickTable] = [:]
        do { stickTables = try StickTables.build(configuration) } catch { errors += error.errors }
        errors += StickTracking.validate(configuration, tables: stickTables)
        errors += StickTracking.validateFetches(configuration, tables: stickTables)
        for backend in backends where !backend.config.stickRules.isEmpty {
            do { backend.stick = try StickRules(backend: backend.config, configuration: configuration, tables: stickTables) } catch { errors += error.errors }
        }
        for backend in backends {
            do { backend.selection = try ServerSelection(backend.config, servers: backend.servers, file: configuration.file) } catch { errors += error.errors }
        }
        var warnings: [ConfigError] = []
        var frontends: [RuntimeFrontend] = []
        // A `disabled` frontend does not listen.
        for frontend in configuration.frontends where !frontend.options.disabled {
            var binds: [(BindAddress, TLSContextBox?)] = []
            for bind in frontend.binds {
                guard let tls = bind.tls else { binds.append((bind, nil)); continue }
                do {
                    let (context, certWarnings) = try TLSPlan.serverContext(tls, sessions: TLSSessions(configuration.global), store: store)
                    binds.append((bind, TLSContextBox(context)))
                    warnings += certWarnings.map { ConfigError(file: configuration.file, line: bind.line, keyword: "bind", message: $0) }
                } catch {
                    errors.append(ConfigError(file: configuration.file, line: bind.line, keyword: "bind", message: "\(error)"))
                }
            }
            var logPlan: LogPlan?
            do { logPlan = try LogPlan.make(frontend, global: configuration.global, file: configuration.file) } catch { errors += error.errors }
            var uniqueID: UniqueID?
            do { uniqueID = try UniqueID.make(frontend, file: configuration.file) } catch { errors += error.errors }
            var switching = BackendSwitching()
            do { switching = try BackendSwitching.compile(frontend, backends: byName, file: configuration.file) } catch { errors += error.errors }
            frontends.append(RuntimeFrontend(
                config: frontend,
                binds: binds,
                defaultBackend: frontend.defaultBackend.flatMap { byName[$0] },
                rules: switching,
                counterID: previous?.frontends.first { $0.name == frontend.name }?.counterID
                    ?? Self.proxyCounterIDs.loadThenWrappingIncrement(ordering: .relaxed),
                engine: engines.frontends[frontend.name].flatMap { $0.isEmpty ? nil : $0 },
                logPlan: logPlan,
                uniqueID: uniqueID,
                nameCase: configuration.global.headerNameCase
            ))
        }
        // `server-state-file`: the states saved before a restart; a reload keeps its own.
        if previous == nil && errors.isEmpty { warnings += ServerStateLoader.apply(configuration, backends: backends) }
        if !stickTables.isEmpty {
            for frontend in frontends { frontend.stickTables = stickTables }
        }
        if !configuration.userlists.isEmpty {
            for frontend in frontends { frontend.userlists = configuration.userlists }
        }
        if configuration.readsProxyRates {
            for frontend in frontends { frontend.rates = FrontendRates() }
            for backend in backends { backend.sessionRate = SharedEventRate() }
        }
        if configuration.readsProxyStates {
            for (frontend, states) in zip(frontends, ProxyStates.make(backends: backends, frontends: frontends)) { frontend.proxyStates = states }
        }
        var globalVariables: GlobalVariables?
        do { globalVariables = try GlobalVariables(configuration.global.processVariables, file: configuration.file) } catch { errors += error.errors }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        variableSizeLimits = configuration.global.variableSizeLimits
        self.globalVariables = globalVariables
        self.stickTables = stickTables
        self.backends = backends
        self.checkTargets = checkTargets
        self.agentTargets = agentTargets
        self.frontends = frontends
        self.warnings = warnings
        self.certificates = CertificateRuntime(store: store, configuration: configuration, frontends: frontends, backends: backends)
    }
}

/// The TLS context of one listener, swapped whole by a certificate reload: connections
/// accepted afterwards use the new certificates, established ones keep theirs.
final class TLSContextBox: Sendable {
    private let box: NIOLockedValueBox<TLSServerContext>
    init(_ context: TLSServerContext) { box = NIOLockedValueBox(context) }
    var current: TLSServerContext { box.withLockedValue { $0 } }
    func replace(_ context: TLSServerContext) {
        let old = box.withLockedValue { box in defer { box = context }; return box }
        if old !== context { old.retire() }
    }
}

extension ProxyRuntime {
    /// Rotates the session-ticket keys of every TLS listener; returns how many it rotated.
    @discardableResult
    public func rotateTicketKeys() -> Int {
        var n = 0
        for frontend in frontends {
            for (_, box) in frontend.binds {
                guard let box else { continue }
                box.current.rotateTicketKeys()
                n += 1
            }
        }
        return n
    }

    /// Re-reads every `crt` of every TLS listener. All or nothing: if any file is broken, the
    /// errors are returned and every listener keeps its current certificates.
    public func reloadCertificates() -> (errors: [ConfigError], warnings: [ConfigError]) {
        var fresh: [(TLSContextBox, TLSServerContext)] = []
        var errors: [ConfigError] = []
        var warnings: [ConfigError] = []
        for frontend in frontends {
            for (bind, box) in frontend.binds {
                guard let box, let tls = bind.tls else { continue }
                do {
                    let (context, w) = try TLSPlan.serverContext(tls, sessions: TLSSessions(configuration.global), store: CertificateStore())
                    fresh.append((box, context))
                    warnings += w.map { ConfigError(file: configuration.file, line: bind.line, keyword: "bind", message: $0) }
                } catch {
                    errors.append(ConfigError(file: configuration.file, line: bind.line, keyword: "bind", message: "\(error)"))
                }
            }
        }
        if errors.isEmpty { for (box, context) in fresh { box.replace(context) } }
        return (errors, warnings)
    }

    /// Where an `http-check connect` sends a server's HTTP check, as HAProxy's connect rule
    /// (tcpcheck_eval_connect): the rule's `addr`/`port`, else the server's check `addr`/`port`,
    /// else its address and port — with `default` or without; `default` only brings the
    /// server's check TLS (`check-ssl`, `check-sni`, `check-alpn`). TLS with `ssl` (its `sni`,
    /// its `alpn`), else in clear. A unix-socket server keeps its socket (no port to change).
    static func httpCheckConnection(_ connect: TCPCheckConnect, server: Server, checkAddress: SocketAddress,
                                    checkTLS: (TLSClientContext?, String?), store: CertificateStore) throws
        -> (SocketAddress, TLSClientContext?, String?) {
        let base = checkAddress
        var target = base
        if base.isUnixDomain, connect.address == nil {
            return (base, connect.useServerSettings ? checkTLS.0 : nil, connect.useServerSettings ? checkTLS.1 : nil)
        }
        if connect.address != nil || connect.port != nil {
            target = try SocketAddress.makeAddressResolvingHost(connect.address ?? base.ipAddress ?? server.host, port: connect.port ?? base.port ?? server.port)
        }
        if connect.ssl {
            let alpn = connect.alpn ?? (connect.useServerSettings ? server.parameters.tls?.more.checkALPN : nil) ?? []
            return (target, try TLSPlan.clientContext(server.parameters.tls ?? server.parameters.checkRuleTLS ?? ServerTLS(), store: store, alpn: alpn), connect.sni ?? (connect.useServerSettings ? checkTLS.1 : nil))
        }
        return (target, connect.useServerSettings ? checkTLS.0 : nil, connect.useServerSettings ? checkTLS.1 : nil)
    }

    /// A server's address at start, by its `init-addr` methods in order (default: resolve):
    /// `libc` resolves the name, an IP address is taken as it is, `last` is skipped (the state
    /// file keeps no addresses), `none` starts the server without one — in maintenance, never
    /// checked, at 0.0.0.0 (HAProxy's RMAINT). The last failure is thrown when none succeeds.
    static func initialAddress(_ server: Server) throws -> (SocketAddress, addressless: Bool) {
        guard let methods = server.parameters.initAddr, server.unixPath == nil else { return (try server.socketAddress(), false) }
        var failure: (any Error)?
        for method in methods {
            switch method {
            case "libc":
                guard server.port > 0 else { continue }
                do { return (try server.socketAddress(), false) } catch { failure = error }
            case "none": return (try SocketAddress(ipAddress: "0.0.0.0", port: server.port), true)
            case "last": continue
            default: return (try SocketAddress(ipAddress: method, port: server.port), false)
            }
        }
        throw failure ?? RuntimeAddressError(description: "no 'init-addr' method gave '\(server.host)' an address")
    }

}

final class RuntimeFrontend: Sendable {
    let config: Frontend
    /// Each listening address, with its TLS context when it is `ssl`.
    let binds: [(BindAddress, TLSContextBox?)]
    let defaultBackend: RuntimeBackend?
    /// Its `use_backend` rules.
    let rules: BackendSwitching
    /// Whether routing or a rule of this frontend reads the request (ACLs, `%[fetch]`): only
    /// then are `RequestFacts` built for a request.
    let needsFacts: Bool
    /// `option forwardfor` of this frontend: the header name.
    let forwardForHeader: String?
    var name: String { config.name }

    /// Where its counters live in every loop's `LoopStats`.
    let counterID: Int
    /// `stats enable`: the page (and /metrics) this frontend answers itself.
    let stats: StatsPageSettings?

    /// Its compiled `http-request|response|after-response` rules, error pages and
    /// `monitor-uri` (nil when it has none of them).
    let engine: ProxyRules?
    /// Its `tcp-request connection|content` rules (nil when it has none).
    let tcpRules: TCPRules?
    /// Every stick table of the runtime, when lb.conf declares any: each client connection
    /// then gets a `StickSession`. Set once while the runtime is built.
    nonisolated(unsafe) var stickTables: [String: StickTable]?
    /// The configuration's `userlist` sections, for `http_auth(NAME)`: the snapshot this
    /// frontend belongs to (a reload does not change a running connection's lists). Set once
    /// while the runtime is built.
    nonisolated(unsafe) var userlists: [String: Userlist] = [:]
    /// The runtime's proxies, when an ACL reads their state (`nbsrv`, `be_conn`…); nil
    /// otherwise. Set once while the runtime is built.
    nonisolated(unsafe) var proxyStates: ProxyStates?
    /// Its sessions and requests per second, counted only when a rule reads a rate
    /// (`fe_sess_rate`…); nil otherwise. Set once while the runtime is built.
    nonisolated(unsafe) var rates: FrontendRates?
    /// A connection's tracking, or nil when no table exists (zero cost then).
    func makeStickSession() -> StickSession? {
        stickTables.map { StickSession(tables: $0, own: $0[name]) }
    }
    /// An HTTP/2 stream's, under its connection's session (which tracks nothing when nil).
    func makeStickSession(streamOf connection: StickSession?) -> StickSession? {
        guard let connection else { return makeStickSession() }
        return stickTables.map { StickSession(tables: $0, own: $0[name], streamOf: connection) }
    }
    /// Where its access log goes and how it reads (nil: it logs no traffic).
    let logPlan: LogPlan?
    /// `unique-id-format` / `unique-id-header` (nil: requests get no id).
    let uniqueID: UniqueID?
    /// `option h1-case-adjust-bogus-client`: the names of responses to clients, recased.
    let responseNameCase: HeaderNameCase?
    /// How long an `accept-proxy` connection may take to send its PROXY header: `timeout
    /// client` (HAProxy waits for it within the client timeout), 5 s without one.
    var proxyHeaderTimeout: TimeAmount {
        .nanoseconds(config.options.timeouts.client?.nanoseconds ?? 5_000_000_000)
    }
    /// Its open client connections, counted only when it logs (the log's `%fc`).
    let liveConnections = ManagedAtomic<Int>(0)

    init(config: Frontend, binds: [(BindAddress, TLSContextBox?)], defaultBackend: RuntimeBackend?, rules: BackendSwitching,
         counterID: Int = 0, engine: ProxyRules? = nil, logPlan: LogPlan? = nil, uniqueID: UniqueID? = nil, nameCase: [String: String] = [:]) {
        self.responseNameCase = HeaderNameCase(nameCase, enabled: config.options.h1CaseAdjustBogusClient)
        self.counterID = counterID
        self.uniqueID = uniqueID
        self.logPlan = logPlan
        self.tcpRules = config.tcpRequestRules.isEmpty ? nil : TCPRules(config.tcpRequestRules)
        self.engine = engine
        // /metrics belongs to the stats listener only when it proxies nothing: on a frontend
        // that also sends traffic to servers, the application's own /metrics passes through
        // (HAProxy serves its exporter only where `use-service prometheus-exporter` says so).
        let proxiesTraffic = !(defaultBackend?.servers.isEmpty ?? true) || rules.mayProxy
        self.stats = RuntimeFrontend.statsSettings(config.options.stats, servesMetrics: !proxiesTraffic, proxyName: config.name)
        self.config = config
        self.binds = binds
        self.defaultBackend = defaultBackend
        self.rules = rules
        self.needsFacts = !config.redirects.isEmpty || !rules.isEmpty || engine != nil || !config.tcpRequestRules.isEmpty
        self.forwardForHeader = config.options.forwardFor?.header
    }
}

final class RuntimeBackend: Sendable {
    /// A server's weight now (`set weight`, an agent's `N%`), on every event loop at once: the
    /// balancer's precomputed order is rebuilt from the new weights. False: no such server.
    /// A weight raised from 0 lets the server take queued clients at once (`serverCapacityGrew`).
    func setWeight(server: String, weight: Int) -> Bool {
        guard let s = servers.first(where: { $0.name == server }) else { return false }
        let was = s.health.weight
        s.health.setWeight(weight)
        balancer.reweigh(servers)
        if was == 0, weight > 0 { serverCapacityGrew(s) }
        return true
    }

    /// `set maxconn server B/S N` (0: no limit): the server's `maxconn` now; a higher one takes
    /// queued clients at once (HAProxy's `process_srv_queue`). Refused (false) in a backend that
    /// cannot queue: it has no server with `maxconn` or `agent-check` in lb.conf.
    func setMaxconn(server: String, maxconn: Int) -> Bool {
        guard queue != nil, let s = servers.first(where: { $0.name == server }) else { return false }
        s.health.setMaxconn(maxconn > 0 ? maxconn : nil)  // the queue moves on `capacityGrowthAction`
        return true
    }

    /// Position in `ProxyRuntime.backends`.
    let index: Int
    let config: Backend
    /// `option h1-case-adjust-bogus-server`: the names of requests to servers, recased.
    let requestNameCase: HeaderNameCase?
    let servers: [RuntimeServer]
    let balancer: any Balancer
    /// HAProxy's static algorithms (map-based hashing): a weight changes to 0 or back to the
    /// configured one only (`set weight`).
    var hasStaticWeights: Bool {
        switch config.options.balance {
        case .source, .requestHash, .rdpCookie: config.options.hashType.method == .mapBased
        default: false
        }
    }
    /// Server by `cookie` value, for sticky sessions.
    let serversByCookie: [String: RuntimeServer]
    let hasBackups: Bool
    /// Present when a server has `maxconn`.
    let queue: BackendQueue?
    /// `balance first|roundrobin` with a queue: a new client queues behind waiting ones
    /// (HAProxy's assign_server: they mean every server is full).
    let queuesBehindWaiters: Bool
    /// Its queue's links to the backends of the same name in the living runtimes before and
    /// after it (reloads).
    let lineage: QueueLineage
    let hasSlowstart: Bool
    /// Whether a rule of this backend reads the request (see `RuntimeFrontend.needsFacts`).
    var needsFacts: Bool { engine != nil || stick != nil || selection != nil || !serverNames.isEmpty || !config.redirects.isEmpty }
    /// Its servers' `sni` expressions (empty when every name is constant).
    let serverNames: ServerNameExpressions
    /// Its compiled rules and error pages (nil when it has none); set once while the runtime
    /// is built, before any stream sees it.
    nonisolated(unsafe) var engine: ProxyRules?
    /// Its `stick on|match|store-request` rules (nil when it has none); set once while the
    /// runtime is built.
    nonisolated(unsafe) var stick: StickRules?
    /// Its `use-server`, `force-persist|ignore-persist` rules (nil when it has none); set once
    /// while the runtime is built.
    nonisolated(unsafe) var selection: ServerSelection?
    /// Its streams per second (`be_sess_rate`), counted only when a rule reads a rate; nil
    /// otherwise. Set once while the runtime is built.
    nonisolated(unsafe) var sessionRate: SharedEventRate?
    /// `cookie …` of this backend, read once per response.
    let cookie: CookieSettings?
    /// Its `tcp-request content` rules, run once it is chosen (nil when it has none).
    let tcpRules: TCPRules?
    /// `option forwardfor` of this backend: the header name.
    let forwardForHeader: String?
    /// `stats enable|uri …` in this backend (or its defaults): the page a request routed here
    /// gets when its target is the stats URI, as HAProxy serves a backend's stats.
    let stats: StatsPageSettings?
    private let slowstartDice = ManagedAtomic<UInt64>(0x2545_F491_4F6C_DD1D)
    /// Streams on its servers now, across loops, and the most there have been (`smax`).
    let active = ManagedAtomic<Int>(0)
    let mostActive = ManagedAtomic<Int>(0)
    var name: String { config.name }

    /// Where its counters live in every loop's `LoopStats`.
    let counterID: Int

    /// Its `log` targets (after the global ones with `log global`): where its servers' state
    /// changes and, with `option log-health-checks`, its checks' results go.
    let logTargets: [SwiftLBLog.LogTarget]
    /// The syslog header's tag and hostname for those lines (`log-tag`, `log-send-hostname`).
    let logIdentity: SyslogIdentity

    /// `older`: the backend of the same name (with a queue) in the runtime this one replaces.
    init(index: Int, config: Backend, servers: [RuntimeServer], counterID: Int = 0, logTargets: [SwiftLBLog.LogTarget] = [],
         logIdentity: SyslogIdentity = SyslogIdentity(), after older: RuntimeBackend? = nil, nameCase: [String: String] = [:]) {
        self.requestNameCase = HeaderNameCase(nameCase, enabled: config.options.h1CaseAdjustBogusServer)
        self.logTargets = logTargets
        self.logIdentity = logIdentity
        self.counterID = counterID
        self.index = index
        self.config = config
        self.servers = servers
        self.serverNames = ServerNameExpressions(servers)
        self.hasBackups = servers.contains { $0.backup }
        // An agent may give a server a maxconn at runtime: its backend can queue too.
        let queues = servers.contains { $0.parameters.maxconn != nil || $0.parameters.agent.enabled }
        self.lineage = QueueLineage(after: queues ? older?.lineage : nil)
        self.queue = queues ? BackendQueue(counting: lineage.waiting) : nil
        self.hasSlowstart = servers.contains { $0.parameters.slowstart != nil }
        self.queuesBehindWaiters = queue != nil && [.roundRobin, .first].contains(config.options.balance)
        self.cookie = config.options.cookie
        self.tcpRules = config.tcpRequestRules.isEmpty ? nil : TCPRules(config.tcpRequestRules)
        self.stats = RuntimeFrontend.statsSettings(config.options.stats, servesMetrics: false, proxyName: config.name)
        self.forwardForHeader = config.options.forwardFor?.header
        var byCookie: [String: RuntimeServer] = [:]
        for server in servers { if let c = server.cookie { byCookie[c] = server } }
        self.serversByCookie = byCookie
        switch config.options.balance {
        case .roundRobin: balancer = RoundRobinBalancer(weights: servers.map(\.weight))
        case .leastConn: balancer = LeastConnBalancer(servers: servers)
        case .random(let draws): balancer = RandomBalancer(servers: servers, draws: draws, balanceFactor: config.options.hashBalanceFactor)
        case .first: balancer = FirstBalancer(serverCount: servers.count)
        case .source, .requestHash, .rdpCookie:
            balancer = config.options.hashType.method == .consistent
                ? ConsistentHashBalancer(servers: servers, balanceFactor: config.options.hashBalanceFactor)
                : MapHashBalancer(servers: servers)
        }
        for server in servers { server.dynamicLimit?.backend = self }
    }

    enum Pick {
        case server(RuntimeServer)
        /// Eligible servers exist but all are at their `maxconn`: wait in the queue.
        case full
        case none
    }

    /// The server for a new request: primaries that are UP, not at their `maxconn` and not
    /// already failed for this request; backup servers only when no primary is UP (HAProxy's
    /// `backup`, all backups in turn). `key`: the request's hash (`balance uri|url_param|hdr`);
    /// `balance source` hashes `client` here.
    func pickServer(excluding excluded: ServerSet, client: SocketAddress?, key: UInt32? = nil) -> Pick {
        let key = config.options.balance == .source ? config.options.hashType.sourceKey(client) : key
        // A primary of weight 0 takes no traffic: all such, the backups serve (HAProxy's).
        let anyPrimaryUp = !hasBackups || servers.contains { !$0.backup && $0.health.takesTraffic }
        let wantBackup = !anyPrimaryUp
        // The candidate test captures nothing mutable (a captured `var` would be boxed on the
        // heap for every pick); why nobody was picked is worked out afterwards, when it matters.
        let servers = self.servers
        func usable(_ i: Int) -> Bool {
            let s = servers[i]
            return s.backup == wantBackup && s.weight > 0 && s.health.acceptsNewClients && !excluded.contains(i)
        }
        if hasSlowstart {
            // slowstart: a server that just came back takes a growing share of new clients.
            if let index = balancer.pick(client: client, key: key, isCandidate: { i in
                guard usable(i), !servers[i].isFull else { return false }
                guard servers[i].parameters.slowstart != nil else { return true }
                let f = servers[i].health.slowstartFraction
                return f >= 1 || unitRandom() < f
            }) {
                return .server(servers[index])
            }
            // Only ramping servers are left: they take the traffic rather than nobody.
        }
        if let index = balancer.pick(client: client, key: key, isCandidate: { usable($0) && !servers[$0].isFull }) {
            return .server(servers[index])
        }
        // Usable yet not picked: full. (Not `isFull` again: another loop may have moved the load
        // since, and a dynamic `minconn` limit with it — that turned a wait into a 503.)
        return servers.indices.contains(where: usable) ? .full : .none
    }

    /// A cheap, lock-free number in [0, 1) for the slowstart ramp (not for anything secret).
    private func unitRandom() -> Double {
        let x = mix64(slowstartDice.loadThenWrappingIncrement(by: 0x9E37_79B9_7F4A_7C15, ordering: .relaxed))
        return Double(x >> 11) / Double(1 << 53)
    }
}

final class RuntimeServer: Sendable {
    /// Unique across the runtime: keys the per-loop idle connection pool.
    let id: Int
    let name: String
    let address: SocketAddress
    /// `IP:PORT`: the server's key in a `srvkey addr` stick table.
    var addressKey: String { "\(address.ipAddress ?? ""):\(address.port ?? 0)" }
    let parameters: ServerParameters
    /// Position in its backend's server list: what balancers and retry exclusion use.
    let index: Int
    /// HAProxy's number for it (`puid`): its `id N`, else the one HAProxy gives it
    /// (`Backend.serverIDs`). What a stick table stores as `server_id`.
    let sid: Int
    let health: ServerHealth
    /// Requests in flight on this server, across all loops (for leastconn, random, maxconn).
    var active: ManagedAtomic<Int> { health.active }
    /// The most requests it has had in flight at once since this runtime started (`smax`).
    let mostActive = ManagedAtomic<Int>(0)
    /// Streams pinned to it (cookie, stick table) waiting in the backend's queue for it to
    /// have a slot: HAProxy's server queue, which `maxqueue` bounds.
    let queued = ManagedAtomic<Int>(0)
    /// The weight now (lb.conf's until `set weight`).
    var weight: Int { health.weight }
    var cookie: String? { parameters.cookie }
    /// TLS towards this server (`ssl`), with the name sent by SNI.
    let tls: TLSClientContext?
    /// The Set-Cookie value `cookie … insert` sends for this server, built once (undated; the
    /// cookie's removal for a server without a `cookie` value).
    let insertCookie: String?
    var tlsServerName: String? { parameters.tls?.sni }
    /// `sni EXPRESSION` (then `tlsServerName` is nil): see `ServerNameExpressions`.
    let sniExpression: SampleExpression?
    var backup: Bool { parameters.backup }
    /// `maxqueue` streams already wait for it (never without a `maxqueue`).
    var queueIsFull: Bool {
        guard let max = parameters.maxQueue, max > 0 else { return false }
        return queued.load(ordering: .relaxed) >= max
    }
    /// `minconn` below `maxconn`: a limit that grows with the backend's load.
    let dynamicLimit: DynamicMaxconn?
    /// `source ADDR[:PORT]` (the server's, else its backend's): where its connections leave from.
    let source: SocketAddress?
    /// At its `maxconn` (or its dynamic limit): balancers skip it and requests queue.
    var isFull: Bool { isFull(asking: true) }

    /// `asking`: see `DynamicMaxconn.limit` (false when the stream asking is queued already).
    func isFull(asking: Bool) -> Bool {
        guard let max = health.maxconn else { return false }
        return active.load(ordering: .relaxed) >= limit(maxconn: max, asking: asking)
    }

    /// Requests it may have in flight now (its `maxconn`, or the dynamic limit under it), the
    /// share of it `slowstart` allows so far after it came back (HAProxy's srv_dynamic_maxconn:
    /// at least 1).
    func limit(maxconn: Int, asking: Bool) -> Int {
        let limit = dynamicLimit?.limit(maxconn: maxconn, asking: asking) ?? maxconn
        guard parameters.slowstart != nil else { return limit }
        let fraction = health.slowstartFraction
        return fraction < 1 ? max(1, Int(Double(limit) * fraction)) : limit
    }

    init(id: Int, index: Int, sid: Int? = nil, name: String, address: SocketAddress, parameters: ServerParameters, health: ServerHealth,
         tls: TLSClientContext?, cookieSettings: CookieSettings?, sniExpression: SampleExpression? = nil, dynamicLimit: DynamicMaxconn? = nil,
         source: SocketAddress? = nil) {
        self.tls = tls
        self.source = source
        self.dynamicLimit = dynamicLimit
        self.sniExpression = sniExpression
        if let settings = cookieSettings, settings.mode == .insert {
            insertCookie = StickyCookie.setCookieValue(settings: settings, value: parameters.cookie)
        } else {
            insertCookie = nil
        }
        self.id = id
        self.index = index
        self.sid = sid ?? index + 1
        self.name = name
        self.address = address
        self.parameters = parameters
        self.health = health
    }
}

extension ManagedAtomic where Value == Int {
    /// Raises a high-water mark to `value` (lock-free: a larger value set meanwhile stays).
    func raise(to value: Int) {
        var seen = load(ordering: .relaxed)
        while value > seen {
            let (exchanged, original) = compareExchange(expected: seen, desired: value, ordering: .relaxed)
            if exchanged { return }
            seen = original
        }
    }
}
