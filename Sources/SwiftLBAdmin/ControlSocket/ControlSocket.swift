import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwiftLBConfig
import SwiftLBHealth

#if canImport(Glibc)
import Glibc
#endif

/// The control socket (`stats socket` in lb.conf): HAProxy's runtime API on a unix socket or
/// a TCP address, so existing scripts and habits carry over (`echo "show stat" | socat -
/// UNIX:…`, `socat readline UNIX:…` with `prompt`, or `swiftlb ctl`). It only moves bytes:
/// lines go to `RuntimeAPI`, answers come back. At most `maxConnections` at once; an idle
/// connection is closed after `stats timeout`.
public final class ControlSocket: Sendable {
    private let channel: any Channel
    private let settings: ControlSocketSettings
    private let identity: (dev: UInt64, ino: UInt64)?
    private let logger: Logger

    public static func start(_ settings: ControlSocketSettings, api: RuntimeAPI, group: any EventLoopGroup,
                             logger: Logger) async throws -> ControlSocket {
        let connections = NIOLockedValueBox(0)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 16)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelInitializer { channel in
                let admitted = connections.withLockedValue { n in
                    guard n < settings.maxConnections else { return false }
                    n += 1
                    return true
                }
                guard admitted else {
                    logger.warning("control socket \(settings.address): refused a connection, \(settings.maxConnections) already open (stats maxconn)")
                    let message = "Too many connections on this control socket (limit \(settings.maxConnections)); try again later.\n"
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RefuseConnection(message: message))
                    }
                }
                channel.closeFuture.whenComplete { _ in connections.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    let session = CLISession(level: settings.level, timeoutNanoseconds: settings.timeoutNanoseconds)
                    try channel.pipeline.syncOperations.addHandler(ControlConnection(api: api, session: session))
                }
            }
        switch settings.address {
        case .tcp(let host, let port):
            if settings.listensBeyondLoopback {
                logger.warning("control socket on \(settings.address) is reachable beyond this host and has no authentication: level \(settings.level.rawValue) for anyone who connects")
            }
            let channel = try await bootstrap.bind(host: host, port: port).get()
            return ControlSocket(channel: channel, settings: settings, identity: nil, logger: logger)
        case .inherited(let fd):
            // The parent bound it (and usually listens already); listening again only sets
            // the backlog, and fails clearly on a descriptor that is no stream socket.
            guard listen(fd, 16) == 0 else {
                throw ControlSocketError("'fd@\(fd)': cannot listen on the inherited descriptor: \(String(cString: strerror(errno)))")
            }
            let channel = try await bootstrap.withBoundSocket(fd).get()
            return ControlSocket(channel: channel, settings: settings, identity: nil, logger: logger)
        case .unix(let path):
            let placement = try UnixSocketPlacement(path: path)
            let channel: any Channel
            do {
                channel = try await bootstrap.bind(unixDomainSocketPath: placement.bindPath).get()
            } catch {
                placement.cleanup()
                throw ControlSocketError("'\(path)': cannot listen: \(error)")
            }
            do {
                let identity = try placement.place(mode: settings.mode, uid: settings.uid, gid: settings.gid)
                return ControlSocket(channel: channel, settings: settings, identity: identity, logger: logger)
            } catch {
                try? await channel.close()
                throw error
            }
        }
    }

    private init(channel: any Channel, settings: ControlSocketSettings, identity: (dev: UInt64, ino: UInt64)?, logger: Logger) {
        self.channel = channel
        self.settings = settings
        self.identity = identity
        self.logger = logger
    }

    /// The bound address (a TCP port chosen by the system when 0 was asked).
    public var localAddress: SocketAddress? { channel.localAddress }

    /// Stops listening and removes the socket file, if it is still ours.
    public func stop() async {
        try? await channel.close()
        if case .unix(let path) = settings.address, let identity {
            UnixSocketPlacement.remove(path, identity: identity)
        }
    }
}

/// Tells a connection over `stats maxconn` why, then closes it.
final class RefuseConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let message: String
    init(message: String) { self.message = message }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: message))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}
