import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SwiftLBConfig
import SwiftLBHealth
import SwiftLBTLS

/// The HTTP data path of one SwiftLB process: one event loop per core, every frontend's
/// listeners bound on all of them, and the per-loop state the exchanges share.
public final class ProxyServer: Sendable {
    public let runtime: ProxyRuntime
    private let group: MultiThreadedEventLoopGroup
    private let loops: LoopStates
    private let logger: Logger
    private let listeners = NIOLockedValueBox<[any Channel]>([])
    private let connections: ProcessConnectionCount
    private let checker: HealthChecker
    private let ticketRotation = NIOLockedValueBox<RepeatedTask?>(nil)
    /// How often session-ticket keys rotate (a ticket stays valid for up to
    /// `TLSServerContext.keptTicketKeys` of these).
    public static let ticketRotationInterval = TimeAmount.hours(1)

    /// - Parameters:
    ///   - threads: event loops; nil takes `nbthread` from the configuration, else one per core.
    ///   - accessLogFD: where access-log lines are written (stdout unless `log stderr`).
    public init(runtime: ProxyRuntime, threads: Int? = nil, logger: Logger) {
        self.runtime = runtime
        let count = threads ?? runtime.configuration.global.nbthread ?? System.coreCount
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: count)
        let fd: Int32 = runtime.configuration.global.logTarget == .stderr ? 2 : 1
        self.loops = LoopStates(group: group, runtime: runtime, logFD: fd)
        self.logger = logger
        self.connections = ProcessConnectionCount(limit: runtime.configuration.global.maxconn)
        self.checker = HealthChecker(targets: runtime.checkTargets, group: group, logger: logger)
    }

    /// Binds every `bind` of every frontend. A port that cannot be bound fails the start with
    /// the frontend, address and line in the message.
    public func start() async throws {
        for state in loops.all {
            try await state.eventLoop.submit { state.startSweeping() }.get()
        }
        checker.start()
        let runtime = self.runtime
        ticketRotation.withLockedValue {
            $0 = group.next().scheduleRepeatedTask(initialDelay: Self.ticketRotationInterval, delay: Self.ticketRotationInterval) { _ in
                runtime.rotateTicketKeys()
            }
        }
        for frontend in runtime.frontends {
            for (bind, tls) in frontend.binds {
                let channel: any Channel
                do {
                    var bootstrap = makeBootstrap(frontend, tls: tls)
                    if vipAddresses.contains(bind.host) {
                        // A bind on the VIP must work on the backup too, which does not hold it
                        // yet (HAProxy + keepalived need net.ipv4.ip_nonlocal_bind=1 for this).
                        bootstrap = bootstrap.serverChannelOption(ChannelOptions.Types.SocketOption(level: .init(IPPROTO_IP), name: 15 /* IP_FREEBIND */), value: 1)
                    }
                    channel = try await bootstrap.bind(host: bind.host, port: bind.port).get()
                } catch {
                    throw ConfigError(file: runtime.configuration.file, line: bind.line, keyword: "bind",
                                      message: "frontend '\(frontend.name)': cannot bind \(bind.host):\(bind.port): \(error)")
                }
                listeners.withLockedValue { $0.append(channel) }
                logger.info("frontend \(frontend.name) listening on \(channel.localAddress.map { "\($0)" } ?? "?")")
            }
        }
    }

    /// The `vrrp` section's addresses: binds on them may precede owning them.
    private var vipAddresses: Set<String> { Set(runtime.configuration.vrrp?.virtualAddresses.map(\.address) ?? []) }

    /// The data path's event loops, for the other services of the process (control socket).
    public var eventLoopGroup: any EventLoopGroup { group }

    /// The addresses actually bound (useful with port 0 in tests).
    public var boundAddresses: [SocketAddress] {
        listeners.withLockedValue { $0.compactMap(\.localAddress) }
    }

    private func makeBootstrap(_ frontend: RuntimeFrontend, tls: TLSContextBox?) -> ServerBootstrap {
        let loops = self.loops
        let limit = min(frontend.config.options.maxconn ?? runtime.configuration.global.maxconn, runtime.configuration.global.maxconn)
        let connections = self.connections
        return ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Accept up to 64 connections per loop iteration (HAProxy's tune.maxaccept), not NIO's 4:
            // a burst of new clients otherwise waits in the backlog behind served ones.
            .serverChannelOption(.maxMessagesPerRead, value: 64)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptLimiter(limit: limit, processWide: connections))
                }
            }
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let loop = loops.state(for: channel.eventLoop)
                    let sync = channel.pipeline.syncOperations
                    let headGuard = RequestHeadGuard()
                    var limits = NIOHTTPDecoderLimitConfiguration()
                    limits.maxHeaderListSize = headGuard.maxHeaderBlock
                    limits.maxHeaderFieldSize = headGuard.maxHeaderBlock
                    limits.maxHeaderFieldCount = 101  // HAProxy's default tune.http.maxhdr
                    if let tls { try sync.addHandler(TLSHandler(server: tls.current)) }
                    try sync.addHandler(headGuard)
                    try sync.configureHTTPServerPipeline(
                        withPipeliningAssistance: true,
                        withServerUpgrade: nil,
                        withErrorHandling: false,
                        // Response headers come from llhttp-parsed server responses or from
                        // lb.conf values validated at parse time: no need to re-validate
                        // every response.
                        withOutboundHeaderValidation: false,
                        withEncoderConfiguration: .init(),
                        withDecoderLimitConfiguration: limits
                    )
                    try sync.addHandler(HTTPProxyHandler(frontend: frontend, loop: loop, headGuard: headGuard, isTLS: tls != nil))
                }
            }
    }

    /// Graceful stop: stop accepting, let every in-flight request finish (idle keep-alive
    /// connections close at once, busy ones after their response), then close what is left
    /// once `grace` has passed, and shut the event loops down.
    public func stop(grace: TimeAmount) async {
        checker.stop()
        ticketRotation.withLockedValue { $0?.cancel() }
        let channels = listeners.withLockedValue { $0 }
        for channel in channels { try? await channel.close() }
        for state in loops.all {
            try? await state.eventLoop.submit {
                for client in state.clients.values {
                    client.channel?.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
                }
            }.get()
        }
        let deadline = NIODeadline.now() + grace
        while NIODeadline.now() < deadline {
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
