import Atomics
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwiftLBConfig

/// The I/O shell around the `Elector`: UDP heartbeats to and from the peer, the peer link
/// (`PeerLink`: a TCP connection whose close tells that the peer's process died), the timers
/// the elector asks for, the VIP through rtnetlink, gratuitous ARP, notify scripts, and the two
/// inputs that tie the VIP to this process being useful — every proxy event loop answering a
/// probe, and `track_backend` health.
///
/// It runs on an event loop of its own, so a saturated or wedged proxy loop cannot delay a
/// heartbeat (and a wedged one is noticed: it stops answering the probe). All mutable state is
/// confined to that loop; `statusText` is the one cross-thread read, through a lock.
public final class VRRPService: @unchecked Sendable {
    /// What the proxy side lends the elector.
    public struct Hooks: Sendable {
        /// Whether a backend has at least one server that takes new clients.
        public var backendUsable: @Sendable (String) -> Bool
        /// Loops that must keep answering for this instance to hold the VIP.
        public var proxyLoops: [any EventLoop]
        public init(backendUsable: @escaping @Sendable (String) -> Bool, proxyLoops: [any EventLoop]) {
            self.backendUsable = backendUsable
            self.proxyLoops = proxyLoops
        }
    }

    public struct StartFailure: Error, CustomStringConvertible {
        public let description: String
    }

    let settings: VRRPSettings
    private let hooks: Hooks
    private let logger: Logger
    private let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    private let codec: HeartbeatCodec
    let localAddress: String
    private let localNumber: UInt32
    private let peers: Set<String>
    private let sender: HeartbeatSender
    private let notifier: NotifyScripts
    /// Uptime (ns) at which each proxy loop last ran the liveness probe.
    private let loopAnswers: [ManagedAtomic<UInt64>]
    let status: NIOLockedValueBox<VRRPStatus>
    /// nil with several `unicast_peer`s (the link is between two instances).
    private(set) var link: PeerLink?

    // Confined to `loop`.
    private var channel: (any Channel)?
    private var elector: Elector
    private var replay = ReplayGuard()
    private var sequences = SequenceSource()
    private var timer: Scheduled<Void>?
    private var tick: RepeatedTask?
    private var garpRefresh: RepeatedTask?
    private var pendingRelease: Scheduled<Void>?
    private var vipHeld = false
    private var resignDone: EventLoopPromise<Void>?
    private var faultReason: String?
    private var dropLog = DropLog()
    private var nextSendFailureLog = NIODeadline.uptimeNanoseconds(0)

    private init(settings: VRRPSettings, key: [UInt8]?, hooks: Hooks, logger: Logger, localAddress: String, peers: Set<String>,
                 sender: HeartbeatSender) {
        self.sender = sender
        self.settings = settings
        self.hooks = hooks
        self.logger = logger
        self.group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        self.loop = group.next()
        self.codec = HeartbeatCodec(key: key, routerID: UInt8(settings.virtualRouterID))
        self.localAddress = localAddress
        self.localNumber = IPv4.number(localAddress)!
        self.peers = peers
        self.notifier = NotifyScripts(settings: settings, logger: logger)
        let now = NIODeadline.now().uptimeNanoseconds
        self.loopAnswers = hooks.proxyLoops.map { _ in ManagedAtomic(now) }
        var electorSettings = Elector.Settings(priority: UInt8(settings.priority), advertInterval: settings.advertInterval.nanoseconds,
                                               localAddress: IPv4.number(localAddress)!)
        electorSettings.preempt = settings.preempt
        electorSettings.preemptDelay = settings.preemptDelay.nanoseconds
        self.elector = Elector(settings: electorSettings)
        self.status = NIOLockedValueBox(VRRPStatus(priority: UInt8(settings.priority)))
    }

    // MARK: start and stop

    /// Checks what the instance needs (interfaces, addresses, CAP_NET_ADMIN, CAP_NET_RAW, the UDP
    /// port), releases a VIP a previous run left behind, binds, and starts as backup.
    public static func start(_ settings: VRRPSettings, configFile: String, hooks: Hooks, logger: Logger) async throws(StartFailure) -> VRRPService {
        func fail(_ message: String) -> StartFailure { StartFailure(description: "vrrp \(settings.name): \(message)") }
        var warnings: [ConfigError] = []
        let key: [UInt8]?
        do { key = try HeartbeatKey.load(settings, configFile: configFile, warnings: &warnings) } catch { throw StartFailure(description: error.description) }
        for name in Set([settings.interface] + settings.virtualAddresses.compactMap(\.interface)) where if_nametoindex(name) == 0 {
            throw fail("no interface '\(name)' in this network namespace")
        }
        let vips = Set(settings.virtualAddresses.map(\.address))
        guard let local = settings.unicastSourceIP ?? IPv4.firstAddress(of: settings.interface, excluding: vips) else {
            throw fail("'\(settings.interface)' has no IPv4 address to send heartbeats from; set unicast_src_ip")
        }
        let peers = Set(settings.unicastPeers)
        // Whatever a crashed run left on the interface is not ours until we are elected.
        for vip in settings.virtualAddresses {
            do { try VIPAddress.remove(vip.cidr, interface: vip.interface ?? settings.interface) } catch { throw fail(error.description) }
        }
        do { try GratuitousARP.checkPermission() } catch { throw fail(error.description) }

        let sender = try HeartbeatSender(source: local)
        let service = VRRPService(settings: settings, key: key, hooks: hooks, logger: logger, localAddress: local, peers: peers, sender: sender)
        do {
            service.channel = try await DatagramBootstrap(group: service.group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HeartbeatReceiver(service: service)) }
                }
                .bind(host: local, port: settings.udpPort).get()
        } catch {
            try? await service.group.shutdownGracefully()
            throw fail("cannot receive heartbeats on \(local):\(settings.udpPort) (udp): \(error)")
        }
        if settings.unicastPeers.count == 1 {
            let link = PeerLink(settings: .init(label: "vrrp \(settings.name)", local: local, peer: settings.unicastPeers[0], port: settings.udpPort,
                                                routerID: UInt8(settings.virtualRouterID), key: key, advertInterval: settings.advertInterval.nanoseconds),
                                loop: service.loop, logger: logger)
            link.onProcessDied = { sender in service.peerProcessDied(sender) }
            do { try await link.start().get() } catch {
                try? await service.channel?.close()
                try? await service.group.shutdownGracefully()
                throw fail("cannot listen for the peer link on \(local):\(settings.udpPort) (tcp): \(error)")
            }
            service.link = link
        }
        let auth = key == nil ? "none" : "hmac-sha256"
        logger.info("vrrp \(settings.name): heartbeats \(local):\(settings.udpPort) <-> \(settings.unicastPeers.joined(separator: ", ")), every \(settings.advertInterval), auth \(auth)")
        try? await service.loop.submit {
            service.evaluateHealth()
            service.perform(service.elector.start(now: service.now()))
            service.tick = service.loop.scheduleRepeatedTask(initialDelay: .nanoseconds(settings.advertInterval.nanoseconds),
                                                             delay: .nanoseconds(settings.advertInterval.nanoseconds)) { _ in
                service.evaluateHealth()
            }
        }.get()
        return service
    }

    /// Graceful stop: a master advertises priority 0 and keeps the VIP until the peer answers
    /// as master (at most `2 × Master_Down_Interval`, at least 500 ms), then releases it. Only
    /// after this returns should the proxy drain — until then this node still serves the VIP.
    public func resignAndStop() async {
        let done = loop.makePromise(of: Void.self)
        loop.execute { [self] in
            resignDone = done
            tick?.cancel()
            perform(elector.resign(now: now()))
            let bound = min(max(2 * elector.masterDownInterval, 500_000_000), 5_000_000_000)
            loop.scheduleTask(in: .nanoseconds(bound)) { [self] in
                guard resignDone != nil else { return }
                if elector.isResigning { logger.warning("vrrp \(settings.name): the peer did not take over within \(bound / 1_000_000) ms; releasing the VIP anyway") }
                pendingRelease?.cancel()
                pendingRelease = nil
                perform(elector.stop(now: now()))
                if vipHeld { releaseNow() }  // a FAULT release that was still waiting for the peer
                finishResignIfDone()
            }
            finishResignIfDone()
        }
        try? await done.futureResult.get()
        try? await loop.submit { [self] in
            timer?.cancel(); garpRefresh?.cancel(); pendingRelease?.cancel()
            if vipHeld { releaseNow() }
        }.get()
        try? await link?.stop().get()
        try? await channel?.close()
        try? await group.shutdownGracefully()
    }

    private func finishResignIfDone() {
        guard let done = resignDone, elector.state == .initial, pendingRelease == nil else { return }
        resignDone = nil
        done.succeed()
    }

    // MARK: events

    fileprivate func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        let source = envelope.remoteAddress.ipAddress ?? "?"
        guard peers.contains(source) else { return drop(.unknownSender(source), from: source) }
        let heartbeat: Heartbeat
        switch codec.decode(Array(envelope.data.readableBytesView)) {
        case .failure(let why): return drop(why, from: source)
        case .success(let h): heartbeat = h
        }
        guard heartbeat.sender == IPv4.number(source) else { return drop(.unknownSender(IPv4.text(heartbeat.sender)), from: source) }
        if case .failure(let why) = replay.admit(heartbeat, wallClockMilliseconds: wallClockMilliseconds()) { return drop(why, from: source) }
        status.withLockedValue { $0.peer = PeerStatus(address: source, priority: heartbeat.priority, lastHeard: .now()) }
        if heartbeat.priority > 0, pendingRelease != nil, elector.state != .master { releaseNow() }  // the peer took over
        let advert = Elector.Advert(priority: heartbeat.priority, advertInterval: Int64(heartbeat.intervalMilliseconds) * 1_000_000,
                                    sender: heartbeat.sender)
        perform(elector.heartbeat(advert, now: now()))
        finishResignIfDone()
    }

    /// The peer link's verdict: `sender`'s process died (on the loop).
    fileprivate func peerProcessDied(_ sender: UInt32) {
        let before = elector.state
        perform(elector.peerProcessDied(sender: sender, now: now()))
        if elector.state == before {
            logger.info("vrrp \(settings.name): \(before.displayName) stays \(before.displayName): \(before == .master ? "the backup's process died, nothing to hand over" : "not the master we follow, or it resigned first")")
        }
    }

    /// Once per advert interval: probe the proxy loops, and fold their answers and
    /// `track_backend` health into a fault reason and a priority.
    private func evaluateHealth() {
        let now = NIODeadline.now().uptimeNanoseconds
        let limit = UInt64(max(3 * settings.advertInterval.nanoseconds, 100_000_000))
        var reasons: [String] = []
        // keepalived's default too: a master whose link is down cannot serve; coming back
        // through BACKUP makes it preempt with a fresh gratuitous ARP.
        if !InterfaceAddresses.linkIsUp(settings.interface) { reasons.append("interface \(settings.interface) is down") }
        for (index, loop) in hooks.proxyLoops.enumerated() {
            let answered = loopAnswers[index].load(ordering: .relaxed)
            if now > answered && now - answered > limit {
                reasons.append("proxy event loop \(index) has not answered for \((now - answered) / 1_000_000) ms")
            }
            let answers = loopAnswers[index]
            loop.execute { answers.store(NIODeadline.now().uptimeNanoseconds, ordering: .relaxed) }
        }
        var priority = settings.priority
        for track in settings.trackBackends {
            let usable = hooks.backendUsable(track.backend)
            if track.weight == 0 && !usable { reasons.append("backend '\(track.backend)' has no usable server") }
            if track.weight > 0 && usable { priority += track.weight }
            if track.weight < 0 && !usable { priority += track.weight }
        }
        let effective = UInt8(min(max(priority, 1), 254))
        perform(elector.priorityChanged(to: effective, now: Int64(now)))
        status.withLockedValue { $0.priority = effective; $0.fault = reasons.first }
        let reason = reasons.first
        if reason != faultReason {
            faultReason = reason
            perform(elector.faultChanged(reason: reason, now: Int64(now)), awaitPeer: true)
        }
    }

    // MARK: actions

    /// Runs the elector's actions. Giving the VIP up is immediate when it follows the new
    /// master's heartbeat (its gratuitous ARP went out before it). Entering FAULT passes
    /// `awaitPeer`: keep the address until the peer's first heartbeat as master (or a short
    /// bound), so the clients are never sent to a node without it.
    private func perform(_ actions: [Elector.Action], awaitPeer: Bool = false) {
        for action in actions {
            switch action {
            case .sendAdvert(let priority):
                send(priority: priority)
            case .addVIP:
                pendingRelease?.cancel()
                pendingRelease = nil
                for vip in settings.virtualAddresses {
                    do { try VIPAddress.add(vip.cidr, interface: vip.interface ?? settings.interface) } catch { logger.error("vrrp \(settings.name): \(error)") }
                }
                vipHeld = true
            case .removeVIP:
                if awaitPeer { releaseWhenPeerIsMaster() } else { releaseNow() }
            case .gratuitousARP:
                announce()
            case .notify(let state, let reason):
                transition(to: state, reason: reason)
            case .armTimer(let at):
                timer?.cancel()
                timer = loop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(at, 0)))) { [self] in
                    perform(elector.timerFired(now: now()))
                    finishResignIfDone()
                }
            }
        }
    }

    private func releaseWhenPeerIsMaster() {
        guard pendingRelease == nil else { return }
        // The peer takes over after its Skew_Time (< one interval): wait a little longer.
        let bound = min(max(2 * settings.advertInterval.nanoseconds, 50_000_000), 2_000_000_000)
        pendingRelease = loop.scheduleTask(in: .nanoseconds(bound)) { [self] in
            pendingRelease = nil
            if elector.state != .master { releaseNow() }
            finishResignIfDone()
        }
    }

    private func releaseNow() {
        pendingRelease?.cancel()
        pendingRelease = nil
        garpRefresh?.cancel()
        garpRefresh = nil
        for vip in settings.virtualAddresses {
            do { try VIPAddress.remove(vip.cidr, interface: vip.interface ?? settings.interface) } catch { logger.error("vrrp \(settings.name): \(error)") }
        }
        vipHeld = false
    }

    private func send(priority: UInt8) {
        let beat = Heartbeat(routerID: UInt8(settings.virtualRouterID), priority: priority,
                             intervalMilliseconds: UInt32(settings.advertInterval.milliseconds), sender: localNumber,
                             sequence: sequences.take(wallClockMilliseconds: UInt64(wallClockMilliseconds())))
        let bytes = codec.encode(beat)
        for peer in settings.unicastPeers {
            guard let error = sender.send(bytes, to: peer, port: settings.udpPort) else { continue }
            status.withLockedValue { $0.sendFailures += 1 }
            let now = NIODeadline.now()
            if now >= nextSendFailureLog {
                nextSendFailureLog = now + .seconds(10)
                logger.warning("vrrp \(settings.name): heartbeat to \(peer) failed: \(error) (logged at most every 10 s)")
            }
        }
    }

    private func announce() {
        for vip in settings.virtualAddresses {
            guard let bytes = IPv4.bytes(vip.address) else { continue }
            do { try GratuitousARP.announce(bytes, interface: vip.interface ?? settings.interface, count: settings.garpMasterRepeat) } catch {
                logger.error("vrrp \(settings.name): \(error)")
            }
        }
        if let refresh = settings.garpMasterRefresh, garpRefresh == nil {
            garpRefresh = loop.scheduleRepeatedTask(initialDelay: .nanoseconds(refresh.nanoseconds), delay: .nanoseconds(refresh.nanoseconds)) { [self] _ in
                if elector.state == .master { announce() }
            }
        }
    }

    private func transition(to state: Elector.State, reason: String) {
        let from = status.withLockedValue { s -> Elector.State in
            let from = s.state
            s.state = state
            s.lastTransition = TransitionRecord(from: from, to: state, reason: reason, at: Date())
            return from
        }
        if state != .master { garpRefresh?.cancel(); garpRefresh = nil }
        let line = "vrrp \(settings.name): \(from.displayName) -> \(state.displayName): \(reason)"
        if state == .fault { logger.warning("\(line)") } else { logger.info("\(line)") }
        notifier.run(state: state, priority: elector.priority)
    }

    private func drop(_ why: HeartbeatDrop, from source: String) {
        guard let total = status.withLockedValue({ dropLog.count(why.kind, in: &$0.drops) }) else { return }
        logger.warning("vrrp \(settings.name): dropped a heartbeat from \(source): \(why.kind) (\(total) dropped so far; logged at most every 10 s)")
    }

    private func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    /// `swiftlb ctl show vrrp`.
    public var statusText: String {
        status.withLockedValue { $0.render(settings: settings, local: localAddress) }.dropLast()
            + (link?.status.withLockedValue { $0.render() } ?? "peer link: off (one unicast_peer needed)\n") + "\n"
    }
}

private final class HeartbeatReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let service: VRRPService
    init(service: VRRPService) { self.service = service }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        service.received(unwrapInboundIn(data))
    }

    /// ICMP port unreachable from a peer that is down surfaces here; it is not our error.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

func wallClockMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
