import Logging
import NIOCore
import NIOPosix
import SwiftLBConfig
import SwiftLBLog
import SwiftLBTLS

/// A `ring` section at work: the messages written into it wait in a queue bounded by the
/// ring's `size` (the oldest are dropped when it is full, as HAProxy's ring overwrites what its
/// readers did not take yet) and each `server` of the ring gets them over its own TCP (or TLS)
/// connection, framed as its `log-proto` says. A lost connection is dialled again after a
/// second; `timeout server` closes one that sent nothing for that long (the next message
/// dials again). Confined to the event loop of its `LogForwardService`.
final class RingForwarder: @unchecked Sendable {  // confined to its loop
    let name: String
    private let links: [RingLink]

    init(_ ring: RingSection, loop: any EventLoop, logger: Logger) throws {
        name = ring.name
        links = try ring.servers.map { try RingLink(ring: ring, server: $0, loop: loop, logger: logger) }
    }

    /// One message, its header already in the ring's format and cut to `maxlen`.
    func write(_ message: [UInt8]) {
        for link in links { link.enqueue(message) }
    }

    func stop() {
        for link in links { link.stop() }
    }
}

/// One server of a ring: its queue, its connection and the dialling. States: idle (no
/// connection, nothing to send or waiting for the redial), connecting, connected, stopped.
final class RingLink: @unchecked Sendable {  // confined to its loop
    private enum State { case idle, connecting, connected(any Channel), stopped }

    private let loop: any EventLoop
    private let logger: Logger
    private let server: RingSection.Server
    private let ringName: String
    private let capacity: Int
    private let connectTimeout: TimeAmount
    private let idleTimeout: TimeAmount?
    private let tls: TLSClientContext?
    private var state = State.idle
    private var queue: [[UInt8]] = []
    private var head = 0
    private var queuedBytes = 0
    private var redial: Scheduled<Void>?
    /// Messages dropped because the ring was full (HAProxy counts them as lost).
    private(set) var dropped = 0

    init(ring: RingSection, server: RingSection.Server, loop: any EventLoop, logger: Logger) throws {
        self.loop = loop
        self.logger = logger
        self.server = server
        self.ringName = ring.name
        self.capacity = ring.size
        self.connectTimeout = .nanoseconds(ring.timeoutConnect?.nanoseconds ?? 5_000_000_000)
        self.idleTimeout = ring.timeoutServer.map { .nanoseconds($0.nanoseconds) }
        if let settings = server.tls {
            // A ring's certificate is not one the runtime API manages: a store of its own.
            do { tls = try TLSPlan.clientContext(settings, store: CertificateStore(), alpn: []) } catch {
                throw LogForwardError("ring \(ring.name): server \(server.name): \(error)")
            }
        } else {
            tls = nil
        }
    }

    func enqueue(_ message: [UInt8]) {
        if case .stopped = state { return }
        let framed = SyslogStreamFramer.frame(message, octetCounting: server.octetCounting)
        queue.append(framed)
        queuedBytes += framed.count
        while queuedBytes > capacity, head < queue.count - 1 {
            queuedBytes -= queue[head].count
            head += 1
            dropped += 1
        }
        // Dropped messages leave the array too, also while no connection sends (an outage).
        if head > 1024 && head * 2 > queue.count { queue.removeFirst(head); head = 0 }
        switch state {
        case .connected(let channel): send(on: channel)
        case .idle where redial == nil: dial()
        default: break
        }
    }

    private func dial() {
        state = .connecting
        let tls = self.tls, sni = server.tls?.sni, idle = idleTimeout
        ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(TLSHandler(client: tls, serverName: sni)) }
                    if let idle { try channel.pipeline.syncOperations.addHandler(IdleStateHandler(writeTimeout: idle)) }
                    try channel.pipeline.syncOperations.addHandler(RingLinkHandler(link: self))
                }
            }
            .connect(host: server.host, port: server.port)
            .whenComplete { [self] result in
                switch result {
                case .success(let channel):
                    guard case .connecting = state else { channel.close(promise: nil); return }
                    state = .connected(channel)
                    send(on: channel)
                case .failure(let error):
                    guard case .connecting = state else { return }
                    logger.warning("ring \(ringName): server \(server.name) (\(server.host):\(server.port)): \(error)")
                    lost()
                }
            }
    }

    /// Writes what waits while the connection takes more (the rest when it drains).
    func send(on channel: any Channel) {
        guard case .connected(let current) = state, current === channel else { return }
        var wrote = false
        while head < queue.count, channel.isWritable {
            let message = queue[head]
            queuedBytes -= message.count
            head += 1
            channel.write(ByteBuffer(bytes: message), promise: nil)
            wrote = true
        }
        if head == queue.count { queue.removeAll(keepingCapacity: true); head = 0 }
        else if head > 1024 { queue.removeFirst(head); head = 0 }
        if wrote { channel.flush() }
    }

    /// The connection ended (closed, failed or idle): dial again in a second if messages wait.
    func lost(_ channel: (any Channel)? = nil) {
        if let channel, case .connected(let current) = state, current !== channel { return }
        if case .stopped = state { return }
        state = .idle
        guard head < queue.count else { return }
        redial = loop.scheduleTask(in: .seconds(1)) { [self] in
            redial = nil
            if case .idle = state, head < queue.count { dial() }
        }
    }

    func stop() {
        redial?.cancel()
        redial = nil
        if case .connected(let channel) = state { channel.close(promise: nil) }
        state = .stopped
    }
}

/// The pipeline end of a ring's connection: a server has nothing to say (what it sends is
/// dropped); writability resumes the queue, the end of the connection hands back to the link.
private final class RingLinkHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let link: RingLink

    init(link: RingLink) { self.link = link }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { link.send(on: context.channel) }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil); return }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.lost(context.channel)
        context.fireChannelInactive()
    }
}
