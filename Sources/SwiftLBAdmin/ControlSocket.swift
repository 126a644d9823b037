import Logging
import NIOCore
import NIOPosix
import SwiftLBConfig
import SwiftLBHealth

#if canImport(Glibc)
import Glibc
#endif

/// The control socket (`stats socket` in lb.conf): a Unix socket that takes one command per
/// connection, answers and closes, with the names of HAProxy's runtime API so existing
/// scripts and habits carry over (`echo "set server nodes/node1 state drain" | socat - UNIX:…`
/// or `swiftlb ctl`).
public final class ControlSocket: Sendable {
    private let channel: any Channel

    public static func start(_ settings: StatsSocket, servers: [ServerHealth], group: any EventLoopGroup, logger: Logger,
                             rotateTicketKeys: @escaping @Sendable () -> Int = { 0 },
                             vrrpStatus: (@Sendable () -> String)? = nil) async throws -> ControlSocket {
        unlink(settings.path)  // a stale socket from a previous run
        let commands = ControlCommands(servers: servers, level: settings.level, logger: logger, rotateTicketKeys: rotateTicketKeys,
                                       vrrpStatus: vrrpStatus)
        let channel = try await ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ControlConnection(commands: commands))
                }
            }
            .bind(unixDomainSocketPath: settings.path, cleanupExistingSocketFile: true).get()
        chmod(settings.path, mode_t(settings.mode))
        return ControlSocket(channel: channel)
    }

    private init(channel: any Channel) { self.channel = channel }

    public func stop() async { try? await channel.close() }
}

/// The commands. Answers end with a blank line, like HAProxy's.
struct ControlCommands: Sendable {
    let servers: [ServerHealth]
    let level: StatsSocket.Level
    let logger: Logger
    let rotateTicketKeys: @Sendable () -> Int
    /// The VIP elector's state, when lb.conf has a `vrrp` section.
    let vrrpStatus: (@Sendable () -> String)?

    func run(_ line: String) -> String {
        let words = line.split(separator: " ").map(String.init)
        switch words {
        case ["help"], []:
            return """
                show servers state               : backend, server, check state, admin state, requests in flight
                set server B/S state ready|drain|maint : change a server's admin state
                enable server B/S                : set server B/S state ready
                disable server B/S               : set server B/S state maint
                rotate ssl tickets               : new session-ticket keys now (they also rotate hourly)
                show vrrp                        : VIP state, priority, peer, last transition and why, dropped heartbeats
                debug dev loop MS                : block the proxy event loop serving this command for MS ms (admin; tests the VIP's liveness probe)

                """
        case ["show", "servers", "state"]:
            var out = "# backend server state admin active\n"
            for s in servers {
                out += "\(s.backend) \(s.server) \(s.state) \(s.admin) \(s.active.load(ordering: .relaxed))\n"
            }
            return out + "\n"
        case let w where w.count == 4 && w[0] == "debug" && w[1] == "dev" && w[2] == "loop":
            // HAProxy's `debug dev loop`: wedge this thread on purpose, to see the VIP move.
            guard level == .admin else { return "Permission denied: the socket's level is \(level.rawValue), not admin.\n\n" }
            guard let ms = Int(w[3]), (1...10_000).contains(ms) else { return "'debug dev loop' expects 1 to 10000 milliseconds.\n\n" }
            logger.warning("control socket: blocking a proxy event loop for \(ms) ms on request")
            usleep(UInt32(ms) * 1000)
            return "Blocked one proxy event loop for \(ms) ms.\n\n"
        case ["show", "vrrp"]:
            return vrrpStatus?() ?? "No vrrp section in this configuration.\n\n"
        case ["rotate", "ssl", "tickets"]:
            guard level == .admin else { return "Permission denied: the socket's level is \(level.rawValue), not admin.\n\n" }
            let n = rotateTicketKeys()
            logger.info("session-ticket keys rotated on \(n) TLS listeners (control socket)")
            return "Rotated the ticket keys of \(n) TLS listeners.\n\n"
        default:
            break
        }
        let target: String
        let newState: ServerHealth.AdminState
        if words.count == 5, words[0] == "set", words[1] == "server", words[3] == "state" {
            guard let s = ServerHealth.AdminState(name: words[4]) else { return "'set server' state must be ready, drain or maint.\n\n" }
            target = words[2]
            newState = s
        } else if words.count == 3, words[1] == "server", words[0] == "enable" || words[0] == "disable" {
            target = words[2]
            newState = words[0] == "enable" ? .ready : .maint
        } else {
            return "Unknown command: '\(line)'. Try 'help'.\n\n"
        }
        guard level == .admin else { return "Permission denied: the socket's level is \(level.rawValue), not admin.\n\n" }
        let parts = target.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let server = servers.first(where: { $0.backend == parts[0] && $0.server == parts[1] }) else {
            return "No such server: '\(target)' (expected BACKEND/SERVER).\n\n"
        }
        let old = server.admin
        server.setAdmin(newState)
        logger.warning("Server \(target) admin state \(old) -> \(newState) (control socket)")
        return "\n"
    }
}

/// One control connection: read a line, answer, close.
private final class ControlConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let commands: ControlCommands
    private var input = ""
    private var answered = false

    init(commands: ControlCommands) { self.commands = commands }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        input += buffer.readString(length: buffer.readableBytes) ?? ""
        guard !answered else { return }
        if input.utf8.count > 4096 { context.close(promise: nil); return }
        guard let newline = input.firstIndex(of: "\n") else { return }
        answered = true
        let line = input[..<newline].trimmingCharacters(in: .whitespacesAndNewlines)
        let answer = commands.run(line)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
