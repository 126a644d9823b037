import Logging
import NIOCore
import NIOPosix

/// What a server's agent said (HAProxy 2.6's agent-check, src/tcpcheck.c
/// `tcpcheck_agent_expect_reply`): the first line of its answer, words separated by blanks or
/// commas, any of them in any order — `75%` (the server's weight as a share of lb.conf's),
/// `maxconn:N`, `up` / `down` / `fail` / `stopped` (the server's state), `ready` / `drain` /
/// `maint` (its admin state); `#` starts a description that ends the line. Unknown words are
/// ignored, as HAProxy does. Pure.
public struct AgentReply: Sendable, Equatable {
    public var weightPercent: Int?
    public var maxconn: Int?
    public var state: ServerHealth.State?
    public var admin: ServerHealth.AdminState?
    public var description: String?

    public init(weightPercent: Int? = nil, maxconn: Int? = nil, state: ServerHealth.State? = nil,
                admin: ServerHealth.AdminState? = nil, description: String? = nil) {
        self.weightPercent = weightPercent
        self.maxconn = maxconn
        self.state = state
        self.admin = admin
        self.description = description
    }

    public static func parse(_ text: String) -> AgentReply {
        var reply = AgentReply()
        var line = Substring(text.prefix { !$0.isNewline })
        if let hash = line.firstIndex(of: "#") {
            let described = line[line.index(after: hash)...].trimmingPrefix(while: { $0 == " " || $0 == "\t" })
            reply.description = described.isEmpty ? nil : String(described)
            line = line[..<hash]
        }
        for word in line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," }).map({ $0.lowercased() }) {
            switch word {
            case "up": reply.state = .up
            case "down", "fail", "stopped": reply.state = .down
            case "ready": reply.admin = .ready
            case "drain": reply.admin = .drain
            case "maint": reply.admin = .maint
            default:
                if word.hasSuffix("%"), let percent = Int(word.dropLast()), percent >= 0 {
                    reply.weightPercent = percent
                } else if word.hasPrefix("maxconn:"), let n = Int(word.dropFirst(8)), n >= 0 {
                    reply.maxconn = n
                }
            }
        }
        return reply
    }

    /// The weight `percent` of lb.conf's `configured` weight gives (HAProxy: at most 256).
    public static func weight(percent: Int, of configured: Int) -> Int {
        min(256, configured * percent / 100)
    }
}

/// One server's agent: where it listens and what to tell it.
public struct AgentTarget: Sendable {
    public let health: ServerHealth
    public let address: SocketAddress
    /// `agent-send`: written once connected (nothing when empty).
    public let send: [UInt8]
    /// `agent-inter`, else the server's `inter`.
    public let interval: TimeAmount
    /// Connect and answer must fit in it (`timeout check`, else the interval).
    public let timeout: TimeAmount
    /// lb.conf's weight, the base of a `N%` answer.
    public let configuredWeight: Int
    /// Applies a new weight (the runtime rebuilds the balancer's tables with it).
    public let setWeight: @Sendable (Int) -> Void

    public init(health: ServerHealth, address: SocketAddress, send: [UInt8], interval: TimeAmount, timeout: TimeAmount,
                configuredWeight: Int, setWeight: @escaping @Sendable (Int) -> Void) {
        self.health = health
        self.address = address
        self.send = send
        self.interval = interval
        self.timeout = timeout
        self.configuredWeight = configuredWeight
        self.setWeight = setWeight
    }
}

/// Asks each server's agent every interval and applies its answer to the server's shared
/// state: weight, state (UP/DOWN at once: the agent speaks for the server) and admin state.
/// An agent that cannot be reached or says nothing changes nothing (HAProxy: "failure to
/// connect to the agent … should not cause the server to be marked down"). `maxconn:N` sets
/// the server's maxconn (0: none); requests already queued wait for a slot to free.
public final class AgentChecker: Sendable {
    private let agents: [AgentProbe]

    public init(targets: [AgentTarget], group: any EventLoopGroup, logger: Logger) {
        agents = targets.map { AgentProbe(target: $0, loop: group.next(), logger: logger) }
    }

    public func start() {
        for agent in agents { agent.loop.execute { agent.schedule(after: .zero) } }
    }

    public func stop() {
        for agent in agents { agent.loop.execute { agent.stop() } }
    }
}

/// The agent loop of one server; touched only on `loop`.
final class AgentProbe: @unchecked Sendable {
    let target: AgentTarget
    let loop: any EventLoop
    private let logger: Logger
    private var timer: Scheduled<Void>?
    private var stopped = false

    init(target: AgentTarget, loop: any EventLoop, logger: Logger) {
        self.target = target
        self.loop = loop
        self.logger = logger
    }

    func schedule(after delay: TimeAmount) {
        guard !stopped else { return }
        timer = loop.scheduleTask(in: delay) { self.run() }
    }

    func stop() {
        stopped = true
        timer?.cancel()
    }

    private func run() {
        ask().whenComplete { result in
            if case .success(let text) = result, !text.isEmpty { self.apply(AgentReply.parse(text)) }
            self.schedule(after: self.target.interval)
        }
    }

    /// Connects, sends `agent-send`, and reads until a line ends, the agent closes, or the
    /// timeout passes.
    private func ask() -> EventLoopFuture<String> {
        let reader = AgentLineReader()
        let deadline = NIODeadline.now() + target.timeout
        let send = target.send
        return CheckConnectionClose.configure(ClientBootstrap(group: loop), linger: false)
            .connectTimeout(target.timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try CheckConnectionClose.install(on: channel, linger: false)
                    try channel.pipeline.syncOperations.addHandler(reader)
                }
            }
            .connect(to: target.address)
            .flatMap { channel in
                if !send.isEmpty { channel.writeAndFlush(ByteBuffer(bytes: send), promise: nil) }
                let timer = channel.eventLoop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
                return reader.line.futureResult.always { _ in timer.cancel() }
            }
    }

    private func apply(_ reply: AgentReply) {
        let health = target.health
        if let percent = reply.weightPercent {
            let weight = AgentReply.weight(percent: percent, of: target.configuredWeight)
            if weight != health.weight { target.setWeight(weight) }
        }
        if let maxconn = reply.maxconn { health.setMaxconn(maxconn == 0 ? nil : maxconn) }
        if let admin = reply.admin, admin != health.admin {
            logger.notice("server \(health.backend)/\(health.server): agent sets it \(admin)")
            health.setAdmin(admin)
        }
        if let state = reply.state, state != health.state, !(state == .up && health.state == .stopping) {
            logger.warning("server \(health.backend)/\(health.server) is \(state == .up ? "UP" : "DOWN"), reason: agent says \(state == .up ? "up" : "down")\(reply.description.map { ", info: \"\($0)\"" } ?? "")")
            health.set(state)
        }
    }
}

/// Collects the agent's answer up to its first line end (or the close, or 1 KiB).
private final class AgentLineReader: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private var text: [UInt8] = []
    private var promise: EventLoopPromise<String>?
    private var finished = false
    /// Set in `handlerAdded`, before the connection can end.
    var line: EventLoopPromise<String> { promise! }

    func handlerAdded(context: ChannelHandlerContext) { promise = context.eventLoop.makePromise() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        text += buffer.readBytes(length: min(buffer.readableBytes, 1024 - text.count)) ?? []
        if text.count >= 1024 || text.contains(0x0A) { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) { finish() }
    func handlerRemoved(context: ChannelHandlerContext) { finish() }
    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    private func finish() {
        guard !finished, let promise else { return }
        finished = true
        promise.succeed(String(decoding: text, as: UTF8.self))
    }
}
