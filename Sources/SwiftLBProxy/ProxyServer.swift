import Atomics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif
import SwiftLBConfig
import SwiftLBHealth
import SwiftLBTLS

/// The data path of one SwiftLB process: one event loop per core, every frontend's listeners
/// bound on all of them, and the per-loop state the streams share. The configuration in force
/// lives in a `RuntimeHolder`; `reload(to:)` swaps it without closing a listener or a
/// connection that the new file keeps.
public final class ProxyServer: Sendable {
    /// The configuration in force.
    public var runtime: ProxyRuntime { holder.current }
    public let holder: RuntimeHolder
    /// Where the process plugs in the runtime API for stats pages served on frontends.
    public let admin = AdminLink()
    private let group: MultiThreadedEventLoopGroup
    let loops: LoopStates
    private let logger: Logger
    /// Open listeners by address, with the frontend each serves.
    private let listeners = NIOLockedValueBox<[ListenerKey: Listener]>([:])
    private let connections: ProcessConnectionCount
    /// Each frontend's open client connections, by name (shared by its listeners; kept across
    /// reloads with the listeners).
    private let frontendConnections = NIOLockedValueBox<[String: ManagedAtomic<Int>]>([:])
    /// `maxconnrate`, `maxsessrate`, `maxsslrate`, `rate-limit sessions`: their counters.
    private let acceptRates = AcceptRates()
    private let checker: NIOLockedValueBox<HealthChecker>
    private let ticketRotation = NIOLockedValueBox<RepeatedTask?>(nil)
    /// How often session-ticket keys rotate (a ticket stays valid for up to
    /// `TLSServerContext.keptTicketKeys` of these).
    public static let ticketRotationInterval = TimeAmount.hours(1)

    /// A listening address: `bind` lines that name the same host and port (or the same
    /// inherited descriptor) are one listener.
    struct ListenerKey: Hashable, CustomStringConvertible {
        let host: String
        let port: Int
        /// `fd@N`: a listening socket inherited from the parent (systemd, VTest).
        let inheritedFD: Int32?
        /// `unix@PATH`/`/PATH` or `abns@NAME` (a leading NUL here): a unix stream socket.
        let unixPath: String?
        /// `interface NAME`: a listener bound to that network interface.
        let interface: String?
        init(_ bind: BindAddress) {
            host = bind.host
            port = bind.port
            interface = bind.interface
            if case .inherited(let fd) = bind.socket { inheritedFD = fd } else { inheritedFD = nil }
            switch bind.socket {
            case .unix(let path): unixPath = path
            case .abstract(let name): unixPath = "\0" + name
            case .inherited, nil: unixPath = nil
            }
        }
        /// The TCP address alone (nil for a unix or inherited socket): two keys with one address
        /// differ only in `interface`, and cannot both be bound without SO_REUSEPORT.
        struct Address: Hashable { let host: String, port: Int }
        var address: Address? { unixPath == nil && inheritedFD == nil ? Address(host: host, port: port) : nil }
        var description: String {
            if let inheritedFD { return "fd@\(inheritedFD)" }
            if let unixPath { return unixPath.hasPrefix("\0") ? "abns@\(unixPath.dropFirst())" : "unix@\(unixPath)" }
            return (host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)") + (interface.map { " interface \($0)" } ?? "")
        }
    }

    struct Listener {
        let channel: any Channel
        /// The frontend it was opened for; a reload may move the address to another frontend.
        let frontend: String
    }

    /// - Parameters:
    ///   - threads: event loops; nil takes `nbthread` from the configuration, else one per core.
    public init(runtime: ProxyRuntime, threads: Int? = nil, logger: Logger) {
        self.holder = RuntimeHolder(runtime)
        let count = threads ?? runtime.configuration.global.nbthread ?? System.coreCount
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: count)
        let fd: Int32 = runtime.configuration.global.logTarget == .stderr ? 2 : 1
        let connections = ProcessConnectionCount(limit: runtime.configuration.global.maxconn)
        self.connections = connections
        self.loops = LoopStates(group: group, holder: holder, logFD: fd, admin: admin, connections: connections)
        self.logger = logger
        self.checker = NIOLockedValueBox(HealthChecker(targets: runtime.checkTargets, group: group, spreadPercent: runtime.configuration.global.spreadChecks ?? 0,
                                                       maxInitialSpread: runtime.configuration.global.maxSpreadChecks.map { .nanoseconds($0.nanoseconds) },
                                                       logger: logger, report: Self.checkLogReporter(loops), agents: runtime.agentTargets))
    }

    /// Binds every `bind` of every frontend. A port that cannot be bound fails the start with
    /// the frontend, address and line in the message.
    public func start() async throws {
        StickTables.shared.adopt(runtime.stickTables)
        for state in loops.all {
            try await state.eventLoop.submit { state.startSweeping() }.get()
        }
        watchServerStates(runtime)
        checker.withLockedValue { $0.start() }
        let holder = self.holder
        ticketRotation.withLockedValue {
            $0 = group.next().scheduleRepeatedTask(initialDelay: Self.ticketRotationInterval, delay: Self.ticketRotationInterval) { _ in
                holder.current.rotateTicketKeys()
            }
        }
        let opened = try await openListeners(for: runtime, keeping: [])
        listeners.withLockedValue { $0 = opened }
    }

    /// Opens a listener for every bind of `runtime` whose address is not in `keeping`. All or
    /// nothing: if one cannot be bound, the ones opened here are closed again and the error
    /// names the frontend, address and line.
    /// `sharing`: addresses a listener that is about to close still holds (a reload that
    /// changes only a bind's `interface`): those are bound with SO_REUSEPORT beside it.
    private func openListeners(for runtime: ProxyRuntime, keeping: Set<ListenerKey>, sharing: Set<ListenerKey.Address> = []) async throws -> [ListenerKey: Listener] {
        var opened: [ListenerKey: Listener] = [:]
        // Said once every listener is open: a failed reload closes the ones it opened at once.
        var listening: [String] = []
        let vips = Set(runtime.configuration.virtualAddresses)
        for frontend in runtime.frontends {
            for (bind, _) in frontend.binds {
                let key = ListenerKey(bind)
                guard !keeping.contains(key), opened[key] == nil else { continue }
                do {
                    if let fd = key.inheritedFD {
                        let channel = try await adoptInherited(fd: fd, bootstrap: makeBootstrap(key: key, frontend: frontend.name))
                        opened[key] = Listener(channel: channel, frontend: frontend.name)
                        listening.append("frontend \(frontend.name) listening on fd@\(fd) (\(channel.localAddress.map { "\($0)" } ?? "?"))")
                        continue
                    }
                    if let path = key.unixPath {
                        let channel = try await UnixListener.bind(path: path, access: bind.unixAccess,
                                                                  bootstrap: makeBootstrap(key: key, frontend: frontend.name))
                        opened[key] = Listener(channel: channel, frontend: frontend.name)
                        listening.append("frontend \(frontend.name) listening on \(key)")
                        continue
                    }
                    var bootstrap = makeBootstrap(key: key, frontend: frontend.name)
                    if let address = key.address, sharing.contains(address) { bootstrap = bootstrap.serverChannelOption(Self.reusePort, value: 1) }
                    if vips.contains(bind.host) {
                        // A bind on the VIP must work on the backup too, which does not hold it
                        // yet (HAProxy + keepalived need net.ipv4.ip_nonlocal_bind=1 for this).
                        bootstrap = bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: .init(IPPROTO_IP), name: 15 /* IP_FREEBIND */), value: 1)
                        // IP_TRANSPARENT: after a handover the VIP is gone from this host, and
                        // Linux would refuse to send the rest of a response from it; a
                        // transparent socket (inherited by accepted ones) may. Needs
                        // CAP_NET_ADMIN, which a VIP needs anyway.
                            .serverChannelOption(ChannelOptions.Types.SocketOption(level: .init(IPPROTO_IP), name: 19 /* IP_TRANSPARENT */), value: 1)
                    }
                    let channel = try await bootstrap.bind(host: bind.host, port: bind.port).get()
                    opened[key] = Listener(channel: channel, frontend: frontend.name)
                    listening.append("frontend \(frontend.name) listening on \(channel.localAddress.map { "\($0)" } ?? "?")")
                } catch {
                    await discard(opened)
                    throw ConfigError(file: runtime.configuration.file, line: bind.line, keyword: "bind",
                                      message: "frontend '\(frontend.name)': cannot \(key.inheritedFD == nil ? "bind" : "listen on") \(key): \(error)")
                }
            }
        }
        do {
            try await setQuickAck(opened, runtime: runtime, resetting: false)
            // As HAProxy: no listener accepts before all are open, so a client of one frontend
            // never finds the frontend it is sent on (a unix socket, another port) missing.
            for listener in opened.values { try await listener.channel.setOption(.autoRead, value: true) }
        } catch {
            // A failed reload keeps the old listeners only: the new ones must not linger.
            await discard(opened)
            throw error
        }
        for line in listening { logger.info("\(line)") }
        return opened
    }

    /// Closes the listeners of a reload that failed. An inherited `fd@N` among them is retired
    /// first, as when a reload closes it: once closed, its number may be reused by any file.
    private func discard(_ opened: [ListenerKey: Listener]) async {
        retiredInheritedFDs.withLockedValue { retired in
            for key in opened.keys { if let fd = key.inheritedFD { retired.insert(fd) } }
        }
        for listener in opened.values { try? await listener.channel.close() }
    }

    /// `option tcp-smart-accept`: TCP_QUICKACK off on the listening socket, set after
    /// listen(2) (which resets it), where HAProxy sets it. `resetting`: a listener kept by a
    /// reload is turned back on when its frontend no longer asks for it.
    private func setQuickAck(_ listeners: [ListenerKey: Listener], runtime: ProxyRuntime, resetting: Bool) async throws {
        let option = ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: TCP_QUICKACK))
        for (key, listener) in listeners where key.unixPath == nil {
            let smart = runtime.frontends.first { $0.name == listener.frontend }?.config.options.tcpSmartAccept == true
            if smart || resetting { try await listener.channel.setOption(option, value: smart ? 0 : 1) }
        }
    }

    /// Descriptors inherited with `fd@N` that a reload closed: the number may since belong to
    /// another file of this process, so it is never adopted again.
    private let retiredInheritedFDs = NIOLockedValueBox<Set<Int32>>([])

    /// `fd@N`: a stream socket the parent bound (and usually put in listening state), adopted
    /// as this listener. It is checked first, so that a wrong number is an error naming it, not
    /// a channel over some other file.
    /// `bind … interface NAME`: SO_BINDTODEVICE on the listening socket, so it takes only
    /// connections that arrive on that interface (the name is a C string of at most 15 bytes).
    private static func bindToInterface(_ channel: any Channel, _ interface: String?) -> EventLoopFuture<Void> {
        guard let interface else { return channel.eventLoop.makeSucceededVoidFuture() }
        guard let provider = channel as? any SocketOptionProvider else { return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported) }
        var name = (Int8(0), Int8(0), Int8(0), Int8(0), Int8(0), Int8(0), Int8(0), Int8(0),
                    Int8(0), Int8(0), Int8(0), Int8(0), Int8(0), Int8(0), Int8(0), Int8(0))
        withUnsafeMutableBytes(of: &name) { bytes in
            for (i, byte) in interface.utf8.prefix(15).enumerated() { bytes[i] = byte }
        }
        // An interface the system does not have: HAProxy warns ("cannot bind receiver to
        // device") and listens on every interface; so does SwiftLB.
        return provider.unsafeSetSocketOption(level: .socket, name: .init(rawValue: SO_BINDTODEVICE), value: name).flatMapError { error in
            Logger(label: "swiftlb").warning("bind \(interface): cannot bind the listener to device '\(interface)' (\(error)); it listens on every interface")
            return channel.eventLoop.makeSucceededVoidFuture()
        }
    }

    private func adoptInherited(fd: Int32, bootstrap: ServerBootstrap) async throws -> any Channel {
        struct NotAListeningSocket: Error, CustomStringConvertible { let description: String }
        if retiredInheritedFDs.withLockedValue({ $0.contains(fd) }) {
            throw NotAListeningSocket(description: "the inherited descriptor was closed by an earlier reload (restart to listen on it again)")
        }
        var type: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 else {
            let what = errno == ENOTSOCK ? "is not a socket" : errno == EBADF ? "is not open" : "cannot be read (\(String(cString: strerror(errno))))"
            throw NotAListeningSocket(description: "descriptor \(fd) \(what)")
        }
        guard type == Int32(SOCK_STREAM.rawValue) else { throw NotAListeningSocket(description: "descriptor \(fd) is not a stream socket") }
        var address = sockaddr_storage()
        var addressLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &addressLength) }
        }
        guard named == 0, address.ss_family == sa_family_t(AF_INET) || address.ss_family == sa_family_t(AF_INET6) else {
            throw NotAListeningSocket(description: "descriptor \(fd) is not an IPv4 or IPv6 socket")
        }
        // A bound socket the parent did not put in listening state yet (systemd does, VTest
        // does); listening again on a listening one only sets the backlog.
        guard listen(fd, 1024) == 0 else {
            throw NotAListeningSocket(description: "descriptor \(fd) cannot listen (\(String(cString: strerror(errno))))")
        }
        return try await bootstrap.withBoundSocket(fd).get()
    }

    /// What a reload did.
    public struct ReloadReport: Sendable {
        public var opened: [String] = []
        public var closed: [String] = []
        public var kept: [String] = []
    }

    /// Puts `new` in force: listeners are opened and closed only where the file changed them
    /// (a new one that cannot be bound fails the reload and nothing changes); established
    /// connections and WebSocket tunnels stay; a request in flight finishes on the snapshot
    /// it started with, the next request of a keep-alive connection uses the new one; checks
    /// go on from the state each server had (see `ProxyRuntime.init(configuration:previous:)`).
    public func reload(to new: ProxyRuntime) async throws -> ReloadReport {
        var wanted: [ListenerKey: String] = [:]
        for frontend in new.frontends {
            for (bind, _) in frontend.binds { wanted[ListenerKey(bind)] = frontend.name }
        }
        let current = listeners.withLockedValue { $0 }
        // An address that now belongs to another frontend is rebound: its initializer names
        // the frontend it serves. An inherited descriptor cannot be: closing it loses it.
        for (key, listener) in current where key.inheritedFD != nil {
            if let now = wanted[key], now != listener.frontend {
                let line = new.frontends.first { $0.name == now }?.binds.first { ListenerKey($0.0) == key }?.0.line ?? 0
                throw ConfigError(file: new.configuration.file, line: line, keyword: "bind",
                                  message: "\(key) moves from frontend '\(listener.frontend)' to '\(now)': an inherited listener stays with its frontend until a restart")
            }
        }
        let kept = Set(current.filter { wanted[$0.key] == $0.value.frontend }.map(\.key))
        // A new listener on the address of one that closes (its bind's `interface` changed, or
        // it moves to another frontend): both sockets take SO_REUSEPORT to be open together, so
        // a failed reload keeps the old one. Once set, the flag stays for good: Linux keeps the
        // port's reuse group whatever the socket says afterwards, even after a failed reload
        // (HAProxy sets it on every listener). `noreuseport`: no overlap, such a reload fails.
        let reopened = Set(wanted.keys.filter { !kept.contains($0) }.compactMap(\.address))
        let sharing = new.configuration.global.noReusePort ? [:]
            : current.filter { !kept.contains($0.key) && $0.key.address.map(reopened.contains) == true }
        let shared = Set(sharing.keys.compactMap(\.address))
        for listener in sharing.values { try? await listener.channel.setOption(Self.reusePort, value: 1) }
        let opened = try await openListeners(for: new, keeping: kept, sharing: shared)
        try? await setQuickAck(current.filter { kept.contains($0.key) }, runtime: new, resetting: true)
        var report = ReloadReport()
        report.kept = kept.map(\.description).sorted()
        report.opened = opened.keys.map(\.description).sorted()
        holder.replace(with: new)
        StickTables.shared.adopt(new.stickTables)
        var closing: [Listener] = []
        listeners.withLockedValue { all in
            for (key, listener) in all where !kept.contains(key) {
                closing.append(listener)
                report.closed.append(key.description)
            }
            all = all.filter { kept.contains($0.key) }.merging(opened) { $1 }
        }
        retiredInheritedFDs.withLockedValue { retired in
            for key in current.keys where !kept.contains(key) { if let fd = key.inheritedFD { retired.insert(fd) } }
        }
        for listener in closing { try? await listener.channel.close() }
        // A frontend the new file no longer has takes its connection count with it (its
        // connections still hold and release that counter): one added again later under the
        // same name starts from zero, as HAProxy's new process does, not from the old one's.
        let names = Set(new.frontends.map(\.name))
        frontendConnections.withLockedValue { counts in counts = counts.filter { names.contains($0.key) } }
        report.closed.sort()
        let fresh = HealthChecker(targets: new.checkTargets, group: group, spreadPercent: new.configuration.global.spreadChecks ?? 0,
                                  maxInitialSpread: new.configuration.global.maxSpreadChecks.map { .nanoseconds($0.nanoseconds) },
                                  logger: logger, report: Self.checkLogReporter(loops), agents: new.agentTargets)
        let old = checker.withLockedValue { old in
            defer { old = fresh }
            return old
        }
        old.stop()
        watchServerStates(new)
        fresh.start()
        connections.setLimit(new.configuration.global.maxconn)
        // A raised limit (global or a frontend's) serves the clients that wait for it now.
        connections.wakeWaiting()
        return report
    }

    /// The checker's lines for a backend's `log` targets go out through the log sink of the
    /// loop the check ran on: no lock, no socket per server.
    private static func checkLogReporter(_ loops: LoopStates) -> CheckLogReporter {
        { line, backend, loop in loops.state(for: loop).writeCheckLog(line, backend: backend) }
    }

    /// An operator moved a server into or out of maintenance or drain (runtime API, stats
    /// page): the lines HAProxy sends to the backend's log targets then, after the change.
    public func logAdminChange(backend name: String, server serverName: String, from old: ServerHealth.AdminState, to new: ServerHealth.AdminState) {
        guard old != new,
              let backend = runtime.backends.first(where: { $0.name == name }),
              let server = backend.servers.first(where: { $0.name == serverName }) else { return }
        var lines: [CheckLog.Line] = []
        if new == .maint {
            let remaining = CheckLog.Remaining.counting(backend.servers.lazy.map { (health: $0.health, backup: $0.backup) })
            lines.append(CheckLog.enteringMaintenance(backend: name, server: serverName, backup: server.backup, remaining: remaining,
                                                      sessions: server.active.load(ordering: .relaxed), wasDraining: old == .drain,
                                                      queue: server.health.lastQueueMove))
            if remaining.active + remaining.backup == 0 { lines.append(CheckLog.noServerAvailable(backend: name)) }
        } else if old == .maint {
            guard server.health.isUp else { return }
            lines.append(CheckLog.leavingMaintenance(backend: name, server: serverName, backup: server.backup, draining: new == .drain))
        } else if new == .drain {
            let remaining = CheckLog.Remaining.counting(backend.servers.lazy.map { (health: $0.health, backup: $0.backup) })
            lines.append(CheckLog.enteringDrain(backend: name, server: serverName, backup: server.backup, remaining: remaining,
                                                queue: server.health.lastQueueMove))
            if remaining.active + remaining.backup == 0 { lines.append(CheckLog.noServerAvailable(backend: name)) }
        } else {
            lines.append(CheckLog.leavingDrain(backend: name, server: serverName, backup: server.backup, up: server.health.isUp))
        }
        guard let loop = loops.all.first else { return }
        loop.eventLoop.execute { for line in lines { loop.writeCheckLog(line, backend: name) } }
    }

    /// `on-marked-down shutdown-sessions` and `on-marked-up shutdown-backup-sessions`: when the
    /// checks move a server, every loop ends the sessions that must not outlive the move. And
    /// the backend's queue moves its waiters on any state change (QueueOnServerChange).
    private func watchServerStates(_ runtime: ProxyRuntime) {
        let loops = self.loops
        for backend in runtime.backends {
            let backups = Set(backend.servers.filter(\.backup).map(\.id))
            for server in backend.servers {
                if backend.queue != nil {
                    // Weak: the health outlives a reload that retires this backend and server (the
                    // action would keep them, their queue and TLS contexts alive).
                    let rampLoop = loops.all.first?.eventLoop
                    server.health.setAvailabilityChangeAction { [weak backend, weak server] in
                        guard let backend, let server else { return QueueMove() }
                        defer { if let rampLoop { backend.rampQueue(of: server, on: rampLoop) } }
                        return backend.serverAvailabilityChanged(server)
                    }
                    server.health.setCapacityGrowthAction { [weak backend, weak server] in
                        guard let backend, let server else { return }
                        backend.serverCapacityGrew(server)
                    }
                } else {
                    server.health.setAvailabilityChangeAction(nil)
                    server.health.setCapacityGrowthAction(nil)
                }
                let down = server.parameters.shutdownSessionsOnMarkedDown
                let upKillsBackups = server.parameters.shutdownBackupSessionsOnMarkedUp && !server.backup && !backups.isEmpty
                guard down || upKillsBackups else {
                    server.health.setStateChangeAction(nil)
                    continue
                }
                let id = server.id
                server.health.setStateChangeAction { state in
                    let ids: Set<Int> = state == .down ? (down ? [id] : []) : state == .up && upKillsBackups ? backups : []
                    guard !ids.isEmpty else { return }
                    for loop in loops.all { loop.eventLoop.execute { loop.shutDownSessions(onServers: ids) } }
                }
            }
        }
    }

    /// The data path's event loops, for the other services of the process (control socket).
    public var eventLoopGroup: any EventLoopGroup { group }
    /// The loop that serves the stats sockets: always the first, so admin connections never
    /// take a turn in the group's round robin and shift which loop the next client lands on
    /// (idle server connections are pooled per loop).
    public var adminLoop: any EventLoop {
        var loops = group.makeIterator()
        return loops.next()!
    }

    /// The addresses actually bound (useful with port 0 in tests).
    public var boundAddresses: [SocketAddress] {
        listeners.withLockedValue { $0.values.compactMap(\.channel.localAddress) }
    }

    /// A listener's bootstrap. What it serves is read from the holder at each accept: the
    /// frontend named `frontend` in the runtime in force, with the TLS context of this address.
    private static let reusePort = ChannelOptions.Types.SocketOption(level: .init(rawValue: SOL_SOCKET), name: .init(rawValue: SO_REUSEPORT))

    private func makeBootstrap(key: ListenerKey, frontend name: String) -> ServerBootstrap {
        let loops = self.loops
        let holder = self.holder
        let runtime = holder.current
        let global = runtime.configuration.global
        let connections = self.connections
        // A frontend's `maxconn` bounds all its listeners together, as HAProxy's.
        let frontendOpen = frontendConnections.withLockedValue { counts in
            if let count = counts[name] { return count }
            let count = ManagedAtomic<Int>(0)
            counts[name] = count
            return count
        }
        let rates = acceptRates
        let frontendRate = rates.frontend(name)
        // HAProxy's bounds of a head: tune.bufsize, tune.maxrewrite, tune.http.maxhdr.
        let limits = {
            var limits = HeadParser.Limits.haproxy(bufferSize: global.bufferSize, rewriteReserve: global.rewriteReserve, maxHeaders: global.maxHeaders)
            limits.allowFragment = runtime.frontends.first { $0.name == name }?.config.options.acceptInvalidRequest ?? false
            limits.bufferSize = global.tuneBufsize
            limits.rewriteReserve = global.rewriteReserve
            return limits
        }()
        let h2Settings = H2Connection.Settings(global)
        return ServerBootstrap(group: group)
            .serverChannelOption(.autoRead, value: false)  // accepting starts once every listener is open
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Accept up to 64 connections per loop iteration (HAProxy's tune.maxaccept), not NIO's 4:
            // a burst of new clients otherwise waits in the backlog behind served ones.
            .serverChannelOption(.maxMessagesPerRead, value: UInt(AcceptBatch.full))
            .serverChannelInitializer { channel in
                // NIO runs this before the bind, where HAProxy sets SO_BINDTODEVICE.
                Self.bindToInterface(channel, key.interface).flatMapThrowing {
                    let batch = AcceptBatch()
                    try channel.pipeline.syncOperations.addHandler(AcceptLimiter(frontend: name, holder: holder, limit: { runtime in
                        let global = runtime.configuration.global.maxconn
                        return min(runtime.frontends.first { $0.name == name }?.config.options.maxconn ?? global, global)
                    }, open: frontendOpen, processWide: connections, batch: batch))
                    try channel.pipeline.syncOperations.addHandler(AcceptRateLimiter(holder: holder, batch: batch) { runtime in
                        // Whether the bind is `ssl` in the runtime in force (a reload may add or drop it).
                        let tls = runtime.frontends.first { $0.name == name }?.binds.first { ListenerKey($0.0) == key }?.1 != nil
                        return rates.limits(runtime, frontend: name, frontendRate: frontendRate, tls: tls)
                    })
                }
            }
            // The child options are set in the initializer, synchronously: as bootstrap options
            // NIO applies them through a chain of futures, a few allocations per connection.
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let frontend = holder.current.frontends.first(where: { $0.name == name }) else {
                        throw ChannelError.ioOnClosedChannel  // the listener is being closed by a reload
                    }
                    let bind = frontend.binds.first { ListenerKey($0.0) == key }
                    let tls = bind?.1
                    let acceptProxy = bind?.0.acceptProxy ?? false
                    let loop = loops.state(for: channel.eventLoop)
                    let sync = channel.pipeline.syncOperations
                    if let options = channel.syncOptions {
                        try options.setOption(.maxMessagesPerRead, value: 4)
                        try options.setOption(.recvAllocator, value: ReceiveBufferSizer(atLeast: limits.bufferSize))
                        // No TCP_NODELAY here: Linux copies it from the listening socket, where
                        // ServerBootstrap sets it by default (a getsockname and a setsockopt less
                        // per connection).
                    }
                    // `option clitcpka|tcpka` and its probes, `tune.*buf.client`: per socket, as a reload may change them while the listener stays.
                    if key.unixPath == nil {
                        try SocketTuning.client(frontend.config.options, holder.current.configuration.global).apply(to: channel)
                    }
                    // `accept-proxy`: the PROXY header comes first, in clear, before any TLS.
                    if acceptProxy { try sync.addHandler(ProxyProtocolHandler(timeout: frontend.proxyHeaderTimeout)) }
                    let tlsHandler = tls.map { TLSHandler(server: $0.current) }
                    if let tlsHandler { try sync.addHandler(tlsHandler) }
                    let listenerName = bind?.0.name
                    // HAProxy's implicit upgrade: an HTTP/1 connection that opens with the h2
                    // preface turns HTTP/2 (`bind … proto h1`, `option disable-h2-upgrade`: never).
                    let h2Upgrade = bind?.0.proto == "h1" || frontend.config.options.disableH2Upgrade ? nil : h2Settings
                    switch frontend.config.options.mode {
                    case .http where bind?.0.proto == "h2":
                        // `proto h2`: HTTP/2 with prior knowledge (h2c, or h2 over TLS without ALPN).
                        try H2Connection.configure(channel, frontend: frontend, loop: loop, isTLS: tls != nil, limits: limits,
                                                   listenerName: listenerName, settings: h2Settings, awaitsProxyHeader: acceptProxy)
                    case .http where tls != nil && bind?.0.tls?.alpn.contains("h2") == true && bind?.0.proto != "h1":
                        // `alpn h2,…`: what the client chooses in the handshake decides (unless
                        // the bind says `proto h1`, which HAProxy's mux choice puts before ALPN).
                        try sync.addHandler(ALPNSwitch { h2, channel in
                            if h2 {
                                try H2Connection.configure(channel, frontend: frontend, loop: loop, isTLS: true, limits: limits,
                                                           listenerName: listenerName, settings: h2Settings, awaitsProxyHeader: acceptProxy)
                            } else {
                                let connection = HTTPClientConnection(frontend: frontend, loop: loop, isTLS: true, limits: limits, listenerName: listenerName,
                                                                      awaitsProxyHeader: acceptProxy, h2Upgrade: h2Upgrade)
                                connection.tls = tlsHandler
                                try channel.pipeline.syncOperations.addHandler(connection)
                            }
                        })
                    case .http:
                        let connection = HTTPClientConnection(frontend: frontend, loop: loop, isTLS: tls != nil, limits: limits, listenerName: listenerName,
                                                              awaitsProxyHeader: acceptProxy, h2Upgrade: h2Upgrade)
                        connection.tls = tlsHandler
                        try sync.addHandler(connection)
                    case .tcp:
                        let connection = TCPClientConnection(frontend: frontend, loop: loop, isTLS: tls != nil, awaitsProxyHeader: acceptProxy,
                                                             limits: limits, listenerName: listenerName)
                        connection.tls = tlsHandler
                        try sync.addHandler(connection)
                    }
                }
            }
    }

    /// Graceful stop: stop accepting, let every in-flight request finish (idle keep-alive
    /// connections close at once, busy ones after their response), then close what is left
    /// once `grace` has passed (nil: no bound, they end when they end), and shut the event
    /// loops down.
    /// A stop signal during a drain (SIGTERM after SIGUSR1's soft stop): the connections left
    /// have `grace` more at most.
    public func hurryStop(within grace: TimeAmount) {
        let deadline = NIODeadline.now() + grace
        hurriedDeadline.withLockedValue { $0 = min($0 ?? deadline, deadline) }
    }

    private let hurriedDeadline = NIOLockedValueBox<NIODeadline?>(nil)

    public func stop(grace: TimeAmount?) async {
        checker.withLockedValue { $0.stop() }
        ticketRotation.withLockedValue { $0?.cancel() }
        let channels = listeners.withLockedValue { $0.values.map(\.channel) }
        for channel in channels { try? await channel.close() }
        for state in loops.all {
            try? await state.eventLoop.submit {
                for client in state.clients.values {
                    client.channel?.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
                }
            }.get()
        }
        let deadline = grace.map { NIODeadline.now() + $0 } ?? .distantFuture
        while NIODeadline.now() < min(deadline, hurriedDeadline.withLockedValue { $0 } ?? .distantFuture) {
            var open = 0
            for state in loops.all {
                open += (try? await state.eventLoop.submit { state.clients.count }.get()) ?? 0
            }
            if open == 0 { break }
            try? await Task.sleep(nanoseconds: 50_000_000)
        }
        for state in loops.all {
            try? await state.eventLoop.submit {
                for client in state.clients.values { client.channel?.close(promise: nil) }
                state.stopSweeping()
                state.closeAllIdle()
                state.log.flush()
            }.get()
        }
        try? await group.shutdownGracefully()
    }
}
