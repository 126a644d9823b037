import Logging
import NIOCore
import SwiftLBConfig
import SwiftLBHealth

#if canImport(Glibc)
import Glibc
#endif

/// The runtime API over what `swiftlb run` hands the control socket today: the servers'
/// shared health and admin states, the ticket-key rotation and the VIP's status text. It
/// keeps `ControlSocket.start(_:servers:…)` (the entry point Sources/swiftlb calls) working
/// on the new command layer until the lead wires a full `RuntimeAPIActions` with counters,
/// weights and reload; until then those answer that they are not wired.
struct ServerHealthActions: RuntimeAPIActions {
    let servers: [ServerHealth]
    let group: any EventLoopGroup
    let rotate: @Sendable () -> Int
    let vrrp: (@Sendable () -> String)?
    let startTime: Int
    let startUptime: UInt64

    func snapshot() async -> StatsSnapshot {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let uptime = Int((DispatchUptime.nanoseconds() - startUptime) / 1_000_000_000)
        var process = ProcessStats(version: "", pid: Int(getpid()), nbthread: System.coreCount, uptime: uptime,
                                   startTime: startTime, maxconn: 0)
        process.name = "SwiftLB"
        var proxies: [ProxyStats] = []
        for s in servers {
            if proxies.last?.name != s.backend {
                proxies.append(ProxyStats(name: s.backend, iid: proxies.count + 1,
                                          backend: BackendStats(servers: [], fullconn: 0, algorithm: "roundrobin")))
            }
            var counters = TrafficCounters()
            counters.scur = s.active.load(ordering: .relaxed)
            let stats = ServerStats(name: s.server, sid: proxies[proxies.count - 1].backend!.servers.count + 1, address: "", port: 0,
                                    operational: s.state == .up ? .running : s.state == .stopping ? .stopping : .stopped, admin: Self.admin(s.admin), counters: counters)
            proxies[proxies.count - 1].backend!.servers.append(stats)
        }
        return StatsSnapshot(process: process, proxies: proxies, takenAt: Double(now.tv_sec) + Double(now.tv_nsec) / 1e9)
    }

    static func admin(_ a: ServerHealth.AdminState) -> ServerStats.AdminState {
        switch a {
        case .ready: .ready
        case .drain: .drain
        case .maint: .maint
        }
    }

    func setAdminState(backend: String, server: String, to state: ServerStats.AdminState) async throws(RuntimeAPIError) {
        guard let s = servers.first(where: { $0.backend == backend && $0.server == server }) else { throw RuntimeAPIError("No such server.") }
        switch state {
        case .ready: s.setAdmin(.ready)
        case .drain: s.setAdmin(.drain)
        case .maint: s.setAdmin(.maint)
        }
    }

    func setWeight(backend: String, server: String, weight: Int) async throws(RuntimeAPIError) {
        throw RuntimeAPIError.unsupported("set weight", "the runtime does not expose weights to this control socket")
    }

    func setAddress(backend: String, server: String, address: String, port: Int?) async throws(RuntimeAPIError) {
        throw RuntimeAPIError.unsupported("set server addr", "change the address in lb.conf and reload")
    }

    func setHealthChecks(backend: String, server: String, enabled: Bool) async throws(RuntimeAPIError) {
        throw RuntimeAPIError.unsupported(enabled ? "enable health" : "disable health", "checks run as lb.conf says; change it and reload")
    }

    func vrrpStatus() async -> String? { vrrp?() }

    func rotateTicketKeys() async -> Int { rotate() }

    /// Wedges one of the proxy's event loops (the group the socket was started with).
    func blockEventLoop(milliseconds: Int) async throws(RuntimeAPIError) {
        do {
            _ = try await group.next().submit { usleep(UInt32(milliseconds) * 1000) }.get()
        } catch {
            throw RuntimeAPIError("could not block an event loop: \(error)")
        }
    }
}

extension ControlSocket {
    /// The entry point `swiftlb run` uses today: the servers' shared states, ticket rotation
    /// and the VIP status, on the full runtime API. New code calls
    /// `start(_:api:group:logger:)` with its own `RuntimeAPIActions`.
    public static func start(_ settings: StatsSocket, servers: [ServerHealth], group: any EventLoopGroup, logger: Logger,
                             rotateTicketKeys: @escaping @Sendable () -> Int = { 0 },
                             vrrpStatus: (@Sendable () -> String)? = nil) async throws -> ControlSocket {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let actions = ServerHealthActions(servers: servers, group: group, rotate: rotateTicketKeys, vrrp: vrrpStatus,
                                          startTime: Int(now.tv_sec), startUptime: DispatchUptime.nanoseconds())
        return try await start(ControlSocketSettings(settings), api: RuntimeAPI(actions: actions, logger: logger), group: group, logger: logger)
    }
}

/// The monotonic clock, in nanoseconds.
enum DispatchUptime {
    static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
