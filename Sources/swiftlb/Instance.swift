import FoundationEssentials
import Glibc
import Logging
import NIOCore
import SwiftLBAdmin
import SwiftLBConfig
import SwiftLBHA
import SwiftLBHealth
import SwiftLBProxy
import SwiftLBTLS
import Synchronization

/// The running instance, as the runtime API and the signals see it: the data path, the VIP,
/// the control socket, and how to reload. One reload at a time (a storm of SIGHUPs and
/// `reload` commands is worked through in order, each ending on the file as it then is).
final class Instance: @unchecked Sendable {
    let configPath: String
    let server: ProxyServer
    let logger: Logger
    let startedAt = Date()
    var vrrp: VRRPGroup?
    /// Given back once serving, and after each reload (whose parse maps the parser's pages in
    /// again). Opened here, before any chroot hides /proc.
    let startupPages = StartupPages()
    /// `-L NAME`, for the descriptor budget of a reloaded file.
    let localPeer: String?
    /// `-i ID`, for the `@ID` lines of a reloaded file.
    let configID: String?
    /// The descriptor limit as set for the file in force (`show info`'s Ulimit-n).
    let ulimitN: Mutex<Int>
    private let reloads = ReloadGate()

    init(configPath: String, localPeer: String?, configID: String?, ulimitN: Int, server: ProxyServer, logger: Logger) {
        self.configPath = configPath
        self.localPeer = localPeer
        self.configID = configID
        self.ulimitN = Mutex(ulimitN)
        self.server = server
        self.logger = logger
    }

    /// Parses lb.conf again and swaps it in; an invalid file changes nothing. What cannot
    /// change without a restart (the VIP, the control socket, the process's user, threads…)
    /// keeps running as it is, with a warning naming it.
    func reload(trigger: String) async -> ReloadOutcome {
        await reloads.run {
            SystemdNotify.reloading()
            defer { SystemdNotify.send("READY=1") }
            let outcome = await self.reloadNow()
            if outcome.success {
                self.logger.info("\(trigger): configuration reloaded from \(self.configPath)")
            } else {
                self.logger.error("\(trigger): reload refused, still serving the previous configuration")
            }
            for message in outcome.messages { self.logger.notice("\(trigger): \(message)") }
            self.startupPages?.release()
            return outcome
        }
    }

    private func reloadNow() async -> ReloadOutcome {
        let current = server.runtime
        let configuration: Configuration
        let runtime: ProxyRuntime
        do throws(ConfigErrors) {
            configuration = try ConfigParser.parse(contentsOf: configPath, facts: BuildInfo.configFacts(localPeer: localPeer, configID: configID))
            runtime = try ProxyRuntime(configuration: configuration, previous: current)
        } catch {
            return ReloadOutcome(success: false, messages: error.errors.map { ConfigError.rendered(.alert, pid: getpid(), "\($0)") })
        }
        // In haproxy's order: the file's alerts and warnings as its lines were read, then the rest.
        var messages = configuration.alertsAndWarnings.map { ConfigError.rendered($0.0, pid: getpid(), "\($0.1)") }
            + runtime.warnings.map { ConfigError.rendered(.warning, pid: getpid(), "\($0)") }
        // `zero-warning`: a reloaded file with a warning is refused as it would be at start
        // (its alerts that let it start do not count, as at start).
        let warned = !(configuration.warnings.allSatisfy(\.isSwiftLBRemark) && runtime.warnings.isEmpty)
        if configuration.global.zeroWarning, warned {
            return ReloadOutcome(success: false, messages: messages + [ConfigError.rendered(.alert, pid: getpid(), zeroWarningAbort)])
        }
        // As HAProxy's new worker would: the limit the file's maxconn needs, or no reload.
        let ulimitN: Int
        switch DescriptorLimit.apply(configuration.global) {
        case .applied(let n): ulimitN = n
        case .warned(let n, let message):
            messages.append(ConfigError.rendered(.warning, pid: getpid(), message))
            ulimitN = n
        case .refused(let message): return ReloadOutcome(success: false, messages: [ConfigError.rendered(.alert, pid: getpid(), message)])
        }
        let before = current.configuration
        if configuration.vrrpInstances.map(\.name) != before.vrrpInstances.map(\.name)
            || "\(configuration.vrrpInstances)" != "\(before.vrrpInstances)" || configuration.vrrpSyncGroups != before.vrrpSyncGroups
            || configuration.vrrpTrackProcesses != before.vrrpTrackProcesses || configuration.vrrpTrackFiles != before.vrrpTrackFiles
            || configuration.vrrpScripts != before.vrrpScripts {
            messages.append("the vrrp sections changed: the VIP keeps running with the previous settings until a restart")
        }
        // A proxy's table shared with `peers`: a changed declaration makes a new, empty table
        // that the running peer sessions do not know.
        func sharedTables(_ c: Configuration) -> [String] {
            (c.backends.values.map { ($0.name, $0.stickTable) } + c.frontends.map { ($0.name, $0.stickTable) })
                .compactMap { name, table in table.flatMap { $0.peers == nil ? nil : "\(name) \($0)" } }.sorted()
        }
        if configuration.peers != before.peers || configuration.global.localPeer != before.global.localPeer
            || sharedTables(configuration) != sharedTables(before) {
            messages.append("the peers sections or their tables changed: the peer sessions keep their previous settings and tables until a restart")
        }
        if configuration.rings != before.rings || configuration.logForwards != before.logForwards {
            messages.append("the ring or log-forward sections changed: the syslog relay keeps its previous settings until a restart")
        }
        if configuration.global.statsSockets != before.global.statsSockets {
            messages.append("the stats socket changed: it keeps its previous settings until a restart")
        }
        let g = configuration.global, b = before.global
        if g.uid != b.uid || g.gid != b.gid || g.chroot != b.chroot || g.nbthread != b.nbthread || g.daemon != b.daemon {
            messages.append("user/group/chroot/nbthread/daemon changed: they take effect at the next restart")
        }
        do {
            let report = try await server.reload(to: runtime)
            self.ulimitN.withLock { $0 = ulimitN }
            if !report.opened.isEmpty { messages.append("listening on \(report.opened.joined(separator: ", "))") }
            if !report.closed.isEmpty { messages.append("no longer listening on \(report.closed.joined(separator: ", "))") }
            return ReloadOutcome(success: true, messages: messages)
        } catch {
            return ReloadOutcome(success: false, messages: ["\(error)"])
        }
    }
}

/// Runs reloads one after the other.
actor ReloadGate {
    func run<T: Sendable>(_ body: @Sendable () async -> T) async -> T { await body() }
}

/// The runtime API's actions on this instance: what `stats socket` commands and the stats
/// page's admin form do.
struct InstanceActions: RuntimeAPIActions {
    let instance: Instance

    private func server(_ backend: String, _ name: String) throws(RuntimeAPIError) -> ServerHealth {
        guard let health = instance.server.runtime.serverStates.first(where: { $0.backend == backend && $0.server == name }) else {
            throw RuntimeAPIError("No such server.")
        }
        return health
    }

    func snapshot() async -> StatsSnapshot { await snapshot(stoppedServers: false) }

    func snapshotWithStoppedServers() async -> StatsSnapshot { await snapshot(stoppedServers: true) }

    private func snapshot(stoppedServers: Bool) async -> StatsSnapshot {
        await instance.server.statsSnapshot(version: SwiftLB.configuration.version, startedAt: instance.startedAt,
                                            ulimitN: instance.ulimitN.withLock { $0 }, vip: instance.vrrp?.vipStats.first,
                                            stoppedServers: stoppedServers)
    }

    func setAdminState(backend: String, server name: String, to state: ServerStats.AdminState) async throws(RuntimeAPIError) {
        let health = try server(backend, name)
        let before = health.admin
        switch state {
        case .ready: health.setAdmin(.ready)
        case .drain: health.setAdmin(.drain)
        case .maint: health.setAdmin(.maint)
        }
        instance.server.logAdminChange(backend: backend, server: name, from: before, to: health.admin)
    }

    func setWeight(backend: String, server name: String, weight: Int) async throws(RuntimeAPIError) {
        switch instance.server.runtime.setWeight(backend: backend, server: name, weight: weight) {
        case nil: throw RuntimeAPIError("No such server.")
        case false?: throw RuntimeAPIError("Backend is using a static LB algorithm and only accepts weights '0%' and '100%'.")
        case true?: break
        }
    }

    func setMaxconn(backend: String, server name: String, maxconn: Int) async throws(RuntimeAPIError) {
        switch instance.server.runtime.setMaxconn(backend: backend, server: name, maxconn: maxconn) {
        case nil: throw RuntimeAPIError("No such server.")
        case false?: throw RuntimeAPIError.unsupported("set maxconn server", "in a backend without a 'maxconn' server in lb.conf (it has no queue); set one there and reload")
        case true?: break
        }
    }

    func setAddress(backend: String, server name: String, address: String, port: Int?) async throws(RuntimeAPIError) {
        _ = try server(backend, name)
        throw RuntimeAPIError.unsupported("set server addr", "change the address in lb.conf and reload")
    }

    func setHealthChecks(backend: String, server name: String, enabled: Bool) async throws(RuntimeAPIError) {
        _ = try server(backend, name)
        throw RuntimeAPIError.unsupported(enabled ? "enable health" : "disable health", "checks run as lb.conf says; change it and reload")
    }

    func reload() async -> ReloadOutcome { await instance.reload(trigger: "reload (control socket)") }

    func vrrpStatus() async -> String? { instance.vrrp?.statusText }

    func showTable(_ name: String?) async -> String { instance.server.runtime.showTable(name) }

    func clearTable(_ name: String) async -> Bool { instance.server.runtime.clearTable(name) }

    func rotateTicketKeys() async -> Int { instance.server.runtime.rotateTicketKeys() }

    func caFileStore() async -> CAFileStore? { .shared }

    func blockEventLoop(milliseconds: Int) async throws(RuntimeAPIError) {
        let loop = instance.server.eventLoopGroup.next()
        loop.execute { usleep(UInt32(milliseconds) * 1000) }
    }
}
