#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore
import NIOPosix
import SwiftLBConfig
import SwiftLBLog
import SwiftLBTLS

/// The `log-forward` sections and `ring` sections at work: a syslog relay, as HAProxy 2.6
/// runs one. Each `dgram-bind` takes one message per UDP datagram, each `bind` a TCP (or TLS)
/// stream cut by `SyslogStreamFramer`; every message is taken apart (`SyslogMessage`) and sent
/// to each `log` target of its section whose level lets it through: a syslog server (one
/// datagram, header rebuilt in the target's format, cut to its `len`) or a ring
/// (`RingForwarder`, header in the ring's format). Started once with the process; a reload
/// does not change it. Everything runs on one event loop of its own (one thread): no locks,
/// and the relay outlives the proxy's loops while they drain at a stop (the last requests'
/// log lines still pass through it).
public final class LogForwardService: @unchecked Sendable {
    /// One `log` line of a section, resolved.
    private struct Target: @unchecked Sendable {  // its ring is used on the service's loop only
        enum Destination {
            case datagram(SocketAddress)
            case stream(Int32)
            case ring(RingForwarder)
        }
        let destination: Destination
        let format: SyslogFormat
        let facility: Int
        let maxLevel: Int
        let minLevel: Int
        /// The target's `len` (HAProxy's default 1024).
        let length: Int
    }

    private let group: MultiThreadedEventLoopGroup
    private let loop: any EventLoop
    private let logger: Logger
    private var rings: [String: RingForwarder] = [:]
    private var listeners: [any Channel] = []
    private var sender: (any Channel)?
    private var sections: [(targets: [Target], maxconn: Int, idle: TimeAmount?)] = []
    private var connections: [Int: Int] = [:]
    private var buffer = LogBuffer(capacity: 256)

    private init(logger: Logger) {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        self.logger = logger
    }

    /// Starts the sections of `configuration` (nil when it has none).
    public static func start(_ configuration: Configuration, logger: Logger) async throws -> LogForwardService? {
        guard !configuration.logForwards.isEmpty || !configuration.rings.isEmpty else { return nil }
        let service = LogForwardService(logger: logger)
        do {
            try await service.open(configuration)
        } catch {
            await service.stop()
            throw error
        }
        return service
    }

    private func open(_ configuration: Configuration) async throws {
        try await loop.submit { [self] in
            for ring in configuration.rings.values.sorted(by: { $0.line < $1.line }) {
                rings[ring.name] = try RingForwarder(ring, loop: loop, logger: logger)
            }
        }.get()
        sender = try await DatagramBootstrap(group: loop).bind(host: "0.0.0.0", port: 0).get()
        // Every section's targets first: a listener bound below relays at once, on the loop,
        // and reads `sections`.
        for forward in configuration.logForwards {
            let targets = try await loop.submit { [self] in try forward.targets.map { try target($0, section: forward, configuration) } }.get()
            sections.append((targets, forward.maxconn, forward.timeoutClient.map { .nanoseconds($0.nanoseconds) }))
        }
        for (index, forward) in configuration.logForwards.enumerated() {
            for bind in forward.datagramBinds {
                do {
                    listeners.append(try await DatagramBootstrap(group: loop)
                        .channelOption(.socketOption(.so_reuseaddr), value: 1)
                        .channelInitializer { channel in
                            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(DatagramReceiver(service: self, section: index)) }
                        }
                        .bind(host: bind.host.isEmpty ? "0.0.0.0" : bind.host, port: bind.port).get())
                } catch {
                    throw LogForwardError("\(configuration.file):\(bind.line): log-forward \(forward.name): dgram-bind \(bind.host):\(bind.port): \(error)")
                }
            }
            for bind in forward.streamBinds {
                var tls: TLSServerContext?
                if let settings = bind.tls {
                    do { tls = try TLSPlan.serverContext(settings, sessions: TLSSessions(cache: false), store: CertificateStore()).0 } catch {
                        throw LogForwardError("\(configuration.file):\(bind.line): log-forward \(forward.name): bind \(bind.host):\(bind.port): \(error)")
                    }
                }
                guard bind.socket == nil else {
                    throw LogForwardError("\(configuration.file):\(bind.line): log-forward \(forward.name): 'bind' listens on an IP address and port only")
                }
                let idle = sections[index].idle
                do {
                    listeners.append(try await ServerBootstrap(group: loop)
                        .serverChannelOption(.backlog, value: Int32(forward.backlog ?? forward.maxconn))
                        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                        .childChannelInitializer { [tls] channel in
                            channel.eventLoop.makeCompletedFuture {
                                guard self.admit(section: index) else { channel.close(promise: nil); return }
                                let sync = channel.pipeline.syncOperations
                                if let tls { try sync.addHandler(TLSHandler(server: tls)) }
                                if let idle { try sync.addHandler(IdleStateHandler(readTimeout: idle)) }
                                try sync.addHandler(StreamReceiver(service: self, section: index))
                            }
                        }
                        .bind(host: bind.host.isEmpty ? "0.0.0.0" : bind.host, port: bind.port).get())
                } catch {
                    throw LogForwardError("\(configuration.file):\(bind.line): log-forward \(forward.name): bind \(bind.host):\(bind.port): \(error)")
                }
            }
        }
    }

    private func target(_ t: LogForwardSection.Target, section: LogForwardSection, _ configuration: Configuration) throws -> Target {
        let facility = SyslogFacility(name: t.facility)?.rawValue ?? 16
        let maxLevel = t.maxLevel.flatMap { LogLevel(name: $0)?.rawValue } ?? 7
        let minLevel = t.minLevel.flatMap { LogLevel(name: $0)?.rawValue } ?? 0
        switch t.destination {
        case .ring(let name):
            guard let ring = rings[name] else { throw LogForwardError("\(configuration.file):\(t.line): log-forward \(section.name): no ring named '\(name)'") }
            let format = configuration.rings[name]?.format.flatMap { SyslogFormat(rawValue: $0.rawValue) } ?? .raw
            // Cut at the ring's `maxlen` (HAProxy's default: the ring's size).
            let length = configuration.rings[name].map { $0.maxLength ?? $0.size } ?? 1024
            return Target(destination: .ring(ring), format: format, facility: facility, maxLevel: maxLevel, minLevel: minLevel, length: length)
        case .server(let server):
            let format = t.formatGiven ? SyslogFormat(rawValue: server.format.rawValue) ?? .unspecified : .unspecified
            let destination: Target.Destination
            switch server.address {
            case .udp(let host, let port):
                do { destination = .datagram(try SocketAddress.makeAddressResolvingHost(host, port: port)) } catch {
                    throw LogForwardError("\(configuration.file):\(t.line): log-forward \(section.name): cannot resolve '\(host)': \(error)")
                }
            case .stdout: destination = .stream(1)
            case .stderr: destination = .stream(2)
            case .unix(let path):
                throw LogForwardError("\(configuration.file):\(t.line): log-forward \(section.name): '\(path)': a log-forward sends to UDP servers, stdout, stderr and rings")
            }
            return Target(destination: destination, format: format, facility: facility, maxLevel: maxLevel, minLevel: minLevel, length: server.length ?? 1024)
        }
    }

    /// A TCP client of `section` may connect while it has fewer than `maxconn`.
    private func admit(section: Int) -> Bool {
        guard connections[section, default: 0] < sections[section].maxconn else { return false }
        connections[section, default: 0] += 1
        return true
    }

    fileprivate func closed(section: Int) {
        connections[section, default: 1] -= 1
    }

    /// One received message, relayed to every target of its section.
    fileprivate func relay(_ bytes: [UInt8], section: Int) {
        var bytes = bytes
        let message = SyslogMessage(parsing: bytes)
        // HAProxy drops the trailing LFs and NULs of a message before it sends it.
        var text = message.text
        while let last = text.last, last == UInt8(ascii: "\n") || last == 0 { text.removeLast() }
        let now = LogTimestamp.now
        for target in sections[section].targets {
            let level = message.level ?? -1
            guard level <= target.maxLevel else { continue }
            let sentLevel = max(level, target.minLevel)
            let facility = message.facility ?? target.facility
            switch target.destination {
            case .ring(let ring):
                let header = target.format == .raw ? [] : message.header(target.format, level: sentLevel, facility: facility, now: now, buffer: &buffer)
                ring.write(header + text.prefix(target.length))
            case .datagram(let address):
                bytes = message.header(target.format, level: sentLevel, facility: facility, now: now, buffer: &buffer) + text
                if bytes.count > target.length { bytes.removeLast(bytes.count - target.length) }
                bytes.append(UInt8(ascii: "\n"))
                sender?.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: ByteBuffer(bytes: bytes)), promise: nil)
            case .stream(let fd):
                bytes = message.header(target.format, level: sentLevel, facility: facility, now: now, buffer: &buffer) + text
                if bytes.count > target.length - 1 { bytes.removeLast(bytes.count - target.length + 1) }
                bytes.append(UInt8(ascii: "\n"))
                _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            }
        }
    }

    public func stop() async {
        try? await loop.submit { [self] in
            for ring in rings.values { ring.stop() }
        }.get()
        for channel in listeners + (sender.map { [$0] } ?? []) { try? await channel.close() }
        try? await group.shutdownGracefully()
    }
}

struct LogForwardError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A `dgram-bind` socket: each datagram is one message.
private final class DatagramReceiver: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let service: LogForwardService
    private let section: Int

    init(service: LogForwardService, section: Int) { self.service = service; self.section = section }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var envelope = unwrapInboundIn(data)
        if let bytes = envelope.data.readBytes(length: envelope.data.readableBytes) { service.relay(bytes, section: section) }
    }
}

/// A `bind` connection: the stream cut into messages; bad framing or `timeout client` closes it.
private final class StreamReceiver: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let service: LogForwardService
    private let section: Int
    private var pending = ByteBuffer()
    private let framer = SyslogStreamFramer()

    init(service: LogForwardService, section: Int) { self.service = service; self.section = section }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        pending.writeBuffer(&chunk)
        do {
            while true {
                let next = try pending.withUnsafeReadableBytes { raw throws(SyslogStreamFramer.Failure) -> ([UInt8], Int)? in
                    try framer.next(raw).map { (Array($0.message), $0.consumed) }
                }
                guard let (message, consumed) = next else { break }
                pending.moveReaderIndex(forwardBy: consumed)
                service.relay(message, section: section)
            }
            pending.discardReadBytes()
        } catch {
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil); return }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }

    func channelInactive(context: ChannelHandlerContext) {
        service.closed(section: section)
        context.fireChannelInactive()
    }
}
