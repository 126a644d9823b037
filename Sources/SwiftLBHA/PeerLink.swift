import FoundationEssentials
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// The authenticated TCP connection between the two instances (on the heartbeat addresses,
/// the TCP port with the number of `udp_port`), and what its close means.
///
/// Only one thing is read from it: that the peer's *process* died while its host stayed up.
/// The kernel of a host whose process dies closes the process's sockets at once (FIN, or RST
/// with unread data), so the other side knows in well under a millisecond. The rule, all
/// three parts required:
///
/// 1. the close (EOF or RST) arrives on a link that completed the key handshake
///    (`PeerLinkSession`), whose segments are signed with TCP-MD5 (`TCPSignature`: the
///    kernel drops a forged RST or FIN from a third host before it reaches us), and that did
///    not first carry an authenticated goodbye (a deliberate close: stopping, a silent link);
/// 2. then a fresh, unsigned connect to the peer's port is *refused* — a dead process has no
///    listener, so its kernel answers RST; a live one keeps listening, and its listener drops
///    our unsigned SYN (no answer) or accepts it: either way, no takeover;
/// 3. the elector decides what it means (`Elector.peerProcessDied`): only a backup whose
///    master that is, and that did not resign first, takes over.
///
/// A link that just goes quiet (partition, host crash, cable) is closed after
/// max(3 × advert_int, 1 s) with a goodbye and redialled; it never triggers a takeover — the
/// heartbeat timeout stays the only judge there, so a flapping link cannot split the brain.
///
/// The lower address dials (with backoff), both listen (`PeerLinkListener`, one per address
/// and port, shared by the links to several peers): the listener also answers the other
/// side's check in rule 2. Everything runs on the VRRP event loop; `status` is the one
/// cross-thread read. One link per pair of hosts, independent of any elector: every VRRP
/// instance between the same two hosts shares it, and `onProcessDied` goes to each of them.
final class PeerLink: @unchecked Sendable {
    struct Settings: Sendable {
        /// For logs: `vrrp NAME[, NAME…]`, the instances that share the link.
        var label: String
        var local: String
        var peer: String
        var port: Int
        var key: [UInt8]?
        /// Nanoseconds: the shortest advert_int of the instances that share the link.
        var advertInterval: Int64
        /// The handshake's link id: the port, which both ends share by construction.
        var linkID: UInt16 { UInt16(port) }
    }

    /// How the check of rule 2 ended.
    enum PortVerdict: String, Sendable { case refused, answered, noAnswer = "no answer" }

    let settings: Settings
    let status: NIOLockedValueBox<PeerLinkStatus>
    /// Called on the loop once the kernel confirmed that the peer's process died (rule 1 + 2),
    /// with the peer's address. The elector decides the rest.
    var onProcessDied: (@Sendable (UInt32) -> Void)?

    private let loop: any EventLoop
    private let logger: Logger
    private let localNumber: UInt32
    let peerNumber: UInt32
    private let segmentKey: [UInt8]?

    // Confined to `loop`.
    private var connections: [ObjectIdentifier: Connection] = [:]
    private var current: Connection?
    private var dialing = false
    private var failedDials = 0
    private var reconnect: Scheduled<Void>?
    private var tick: RepeatedTask?
    private var check: DeathCheck?
    private var stopped = false
    private var dropLog = DropLog()

    init(settings: Settings, loop: any EventLoop, logger: Logger) {
        self.settings = settings
        self.loop = loop
        self.logger = logger
        self.localNumber = IPv4.number(settings.local)!
        self.peerNumber = IPv4.number(settings.peer)!
        self.segmentKey = settings.key.map(TCPSignature.key(from:))
        let signing = settings.key == nil ? "unsigned (auth none)" : "TCP-MD5 signed"
        self.status = NIOLockedValueBox(PeerLinkStatus(local: settings.local, peer: settings.peer, port: settings.port,
                                                       dials: IPv4.number(settings.local)! < IPv4.number(settings.peer)!, signing: signing))
    }

    /// The lower address dials; the higher one waits for it.
    var dials: Bool { localNumber < peerNumber }

    // Timings, from advert_int.
    private var advert: Int64 { settings.advertInterval }
    /// A connection must finish the handshake within one advert interval (at least 20 ms).
    private var handshakeLimit: TimeAmount { .nanoseconds(max(advert, 20_000_000)) }
    /// An established link with no frame for this long is closed (quietly) and redialled.
    private var silenceLimit: Int64 { max(3 * advert, 1_000_000_000) }
    private var connectTimeout: TimeAmount { .nanoseconds(min(max(2 * advert, 100_000_000), 2_000_000_000)) }
    private var checkTimeout: TimeAmount { .nanoseconds(min(max(advert, 20_000_000), 200_000_000)) }
    /// Checks of rule 2 start this long after the close: a dying process's listener may
    /// outlive its connection by microseconds, so one early connect could still meet it.
    static let checkOffsets: [Int64] = [0, 3, 15]
    private func backoff(_ failures: Int) -> TimeAmount {
        let base = max(advert, 50_000_000)
        return .nanoseconds(min(base << min(failures, 10), 2_000_000_000))
    }

    // MARK: start and stop

    /// Starts the keepalives, and dials if it is our turn. The listener that accepts the
    /// peer's connections (`PeerLinkListener`) is started first, by whoever owns it.
    func start() -> EventLoopFuture<Void> {
        loop.submit { [self] in
            tick = loop.scheduleRepeatedTask(initialDelay: .nanoseconds(advert), delay: .nanoseconds(advert)) { [self] _ in everyInterval() }
            if dials { dial() }
        }
    }

    /// A connection the listener accepted from this link's peer.
    func accept(_ channel: any Channel) -> EventLoopFuture<Void> {
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(PeerLinkHandler(link: self, dialed: false)) }
    }

    /// Graceful: a goodbye on the link (so the peer knows this close is no death), then close
    /// it. The listener is closed by its owner, after every link on it.
    func stop() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            stopped = true
            tick?.cancel()
            reconnect?.cancel()
            var closing: [EventLoopFuture<Void>] = []
            if let link = current, link.session.isEstablished {
                link.closingByUs = true
                link.channel.writeAndFlush(ByteBuffer(bytes: link.session.frame(.goodbye)), promise: nil)
                closing.append(link.channel.close())
            }
            for connection in connections.values where connection !== current { closing.append(connection.channel.close()) }
            return EventLoopFuture.andAllComplete(closing, on: loop)
        }
    }

    /// TCP-MD5 for this link's peer on a socket before it listens or connects (a listener
    /// shared by several links is signed by each). A kernel without it: say so, go on unsigned
    /// (the check of rule 2 still guards the takeover).
    func sign(_ channel: any Channel) -> EventLoopFuture<Void> {
        guard let key = segmentKey else { return channel.eventLoop.makeSucceededVoidFuture() }
        return TCPSignature.apply(to: channel, peer: peerNumber, key: key).flatMapError { [self] error in
            let already = status.withLockedValue { s -> Bool in
                defer { s.signing = "unsigned (TCP_MD5SIG failed: \(error))" }
                return s.signing.hasPrefix("unsigned")
            }
            if !already { logger.warning("\(settings.label): cannot sign the peer link with TCP-MD5 (\(error)); a forged reset is then caught only by the port check") }
            return channel.eventLoop.makeSucceededVoidFuture()
        }
    }

    // MARK: connections

    private func dial() {
        guard !stopped, current == nil, !dialing else { return }
        dialing = true
        let local: SocketAddress, peer: SocketAddress
        do {
            local = try SocketAddress(ipAddress: settings.local, port: 0)
            peer = try SocketAddress(ipAddress: settings.peer, port: settings.port)
        } catch { preconditionFailure("peer link addresses were checked at start: \(error)") }
        ClientBootstrap(group: loop)
            .connectTimeout(connectTimeout)
            .channelInitializer { [self] channel in
                sign(channel).flatMapThrowing { try channel.pipeline.syncOperations.addHandler(PeerLinkHandler(link: self, dialed: true)) }
            }
            .bind(to: local)
            .connect(to: peer)
            .whenFailure { [self] error in
                dialing = false
                failedDials += 1
                status.withLockedValue { $0.lastDialError = "\(error)" }
                scheduleReconnect()
            }
    }

    private func scheduleReconnect() {
        guard dials, !stopped, current == nil, !dialing, reconnect == nil else { return }
        let delay = backoff(failedDials)
        status.withLockedValue { $0.nextAttempt = .now() + delay }
        reconnect = loop.scheduleTask(in: delay) { [self] in
            reconnect = nil
            dial()
        }
    }

    fileprivate func opened(_ channel: any Channel, dialed: Bool) {
        let remote = channel.remoteAddress?.ipAddress ?? "?"
        guard remote == settings.peer else {
            drop(.unknownPeer(remote), from: remote)
            channel.close(promise: nil)
            return
        }
        var nonce = [UInt8](repeating: 0, count: 16)
        var random = SystemRandomNumberGenerator()  // getrandom(2): the kernel's CSPRNG
        for i in nonce.indices { nonce[i] = random.next() }
        let connection = Connection(channel: channel, dialed: dialed,
                                    session: PeerLinkSession(key: settings.key, linkID: settings.linkID, local: localNumber, peer: peerNumber, nonce: nonce))
        connections[ObjectIdentifier(channel)] = connection
        channel.writeAndFlush(ByteBuffer(bytes: connection.session.hello()), promise: nil)
        connection.handshakeTimer = loop.scheduleTask(in: handshakeLimit) { [self] in
            guard !connection.session.isEstablished, connections[ObjectIdentifier(channel)] != nil else { return }
            drop(.silent, from: remote)
            connection.closingByUs = true
            channel.close(promise: nil)
        }
    }

    fileprivate func received(_ bytes: [UInt8], on channel: any Channel) {
        guard let connection = connections[ObjectIdentifier(channel)], !connection.closingByUs else { return }
        for event in connection.session.receive(bytes) {
            switch event {
            case .send(let out):
                channel.writeAndFlush(ByteBuffer(bytes: out), promise: nil)
            case .established:
                promote(connection)
            case .keepalive:
                heard(connection)
            case .goodbye:
                heard(connection)
                connection.goodbye = true
            case .failed(let why):
                drop(why, from: settings.peer)
                connection.closingByUs = true
                channel.close(promise: nil)
            }
        }
    }

    private func heard(_ connection: Connection) {
        connection.lastHeard = .now()
        if connection === current { status.withLockedValue { $0.lastFrame = connection.lastHeard } }
    }

    /// The peer proved the key: this connection is the link now (a newer one replaces an
    /// older, which is closed with a goodbye so the peer reads nothing into it).
    private func promote(_ connection: Connection) {
        connection.handshakeTimer?.cancel()
        connection.lastHeard = .now()
        if let old = current, old !== connection { closeQuietly(old) }
        current = connection
        if connection.dialed { dialing = false }
        failedDials = 0
        let role = connection.dialed ? "dialed" : "accepted"
        let signing = status.withLockedValue { s -> String in
            s.up = true
            s.since = .now()
            s.lastFrame = .now()
            s.role = role
            s.nextAttempt = nil
            s.ups += 1
            return s.signing
        }
        logger.info("\(settings.label): peer link to \(settings.peer) up (\(role), \(signing))")
    }

    private func closeQuietly(_ connection: Connection) {
        connection.closingByUs = true
        if connection.session.isEstablished {
            connection.channel.writeAndFlush(ByteBuffer(bytes: connection.session.frame(.goodbye)), promise: nil)
        }
        connection.channel.close(promise: nil)
    }

    fileprivate func failed(_ channel: any Channel, _ error: any Error) {
        if let connection = connections[ObjectIdentifier(channel)], (error as? IOError)?.errnoCode == ECONNRESET {
            connection.resetSeen = true
        }
    }

    fileprivate func closed(_ channel: any Channel) {
        guard let connection = connections.removeValue(forKey: ObjectIdentifier(channel)) else { return }
        connection.handshakeTimer?.cancel()
        if connection.dialed && !connection.session.isEstablished {
            dialing = false
            failedDials += 1
        }
        if connection === current {
            current = nil
            if !connection.closingByUs {
                let cause = connection.resetSeen ? "reset by the peer" : "closed by the peer"
                linkDown(connection.goodbye ? "\(cause) after its goodbye" : cause)
                if connection.goodbye {
                    logger.info("\(settings.label): peer link to \(settings.peer) \(cause) after its goodbye")
                } else if !stopped {
                    confirmDeath(cause: cause)
                }
            }
        }
        scheduleReconnect()
    }

    private func linkDown(_ reason: String) {
        status.withLockedValue { s in
            s.up = false
            s.downReason = reason
            s.since = .now()
        }
    }

    /// Once per advert interval: a keepalive on the link, or close it if the peer fell silent.
    private func everyInterval() {
        guard let link = current else { return }
        let silent = Int64(NIODeadline.now().uptimeNanoseconds) - Int64(link.lastHeard.uptimeNanoseconds)
        if silent > silenceLimit {
            linkDown("silent for \(silent / 1_000_000) ms")
            logger.warning("\(settings.label): peer link to \(settings.peer) silent for \(silent / 1_000_000) ms; closing it (no takeover: the heartbeat decides)")
            current = nil
            closeQuietly(link)
            return
        }
        link.channel.writeAndFlush(ByteBuffer(bytes: link.session.frame(.keepalive)), promise: nil)
    }

    // MARK: rule 2: does the peer's port refuse?

    private func confirmDeath(cause: String) {
        let started = NIODeadline.now()
        let attempt = DeathCheck(cause: cause, started: started, pending: Self.checkOffsets.count)
        check = attempt
        for offset in Self.checkOffsets {
            loop.scheduleTask(in: .milliseconds(offset)) { [self] in
                guard check === attempt, !attempt.decided else { return }
                probePort().whenSuccess { [self] verdict in conclude(attempt, verdict) }
            }
        }
    }

    /// One unsigned connect from our heartbeat address to the peer's port.
    private func probePort() -> EventLoopFuture<PortVerdict> {
        let local: SocketAddress, peer: SocketAddress
        do {
            local = try SocketAddress(ipAddress: settings.local, port: 0)
            peer = try SocketAddress(ipAddress: settings.peer, port: settings.port)
        } catch { preconditionFailure("peer link addresses were checked at start: \(error)") }
        return ClientBootstrap(group: loop)
            .connectTimeout(checkTimeout)
            .bind(to: local)
            .connect(to: peer)
            .map { channel -> PortVerdict in
                channel.close(promise: nil)
                return .answered
            }
            .recover { error in
                if let io = error as? IOError, io.errnoCode == ECONNREFUSED { return .refused }
                if let connection = error as? NIOConnectionError,
                   connection.connectionErrors.contains(where: { ($0.error as? IOError)?.errnoCode == ECONNREFUSED }) { return .refused }
                return .noAnswer
            }
    }

    private func conclude(_ attempt: DeathCheck, _ verdict: PortVerdict) {
        guard check === attempt, !attempt.decided else { return }
        attempt.pending -= 1
        if verdict == .answered { attempt.answered = true }
        let micros = (NIODeadline.now() - attempt.started).nanoseconds / 1000
        if verdict == .refused {
            attempt.decided = true
            check = nil
            let what = "\(attempt.cause); \(settings.peer):\(settings.port) refused a connection \(micros) µs later: its process died"
            status.withLockedValue { $0.lastClose = (Date(), what); $0.deaths += 1 }
            logger.warning("\(settings.label): peer link \(what)")
            onProcessDied?(peerNumber)
        } else if attempt.pending == 0 {
            attempt.decided = true
            check = nil
            let what = "\(attempt.cause); \(settings.peer):\(settings.port) did not refuse (\(attempt.answered ? "answered" : "no answer")): not a process death, the heartbeat decides"
            status.withLockedValue { $0.lastClose = (Date(), what) }
            logger.warning("\(settings.label): peer link \(what)")
        }
    }

    /// What a process death looks like from outside, for the loopback tests: the link closes
    /// without a goodbye (and the test closes the listener too, or not). The namespace
    /// scenarios SIGKILL a real process instead.
    func closeWithoutGoodbye() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            stopped = true
            tick?.cancel()
            reconnect?.cancel()
            let closing = connections.values.map { $0.closingByUs = true; return $0.channel.close() }
            return EventLoopFuture.andAllComplete(closing, on: loop)
        }
    }

    /// Counts (and logs, at a bounded rate) a connection closed for `why`; the listener calls
    /// it for connections from no configured peer.
    func drop(_ why: PeerLinkDrop, from source: String) {
        guard let total = status.withLockedValue({ dropLog.count(why.kind, in: &$0.drops) }) else { return }
        logger.warning("\(settings.label): closed a peer-link connection from \(source): \(why.kind) (\(total) so far; logged at most every 10 s)")
    }
}

/// One TCP connection on the link's port, dialled or accepted, from its first byte to close.
/// Confined to the VRRP loop, like the `PeerLink` that owns it.
private final class Connection: @unchecked Sendable {
    let channel: any Channel
    let dialed: Bool
    var session: PeerLinkSession
    var handshakeTimer: Scheduled<Void>?
    var lastHeard = NIODeadline.now()
    /// The peer sent an authenticated goodbye: its close is deliberate.
    var goodbye = false
    var resetSeen = false
    /// We are closing it: its close says nothing about the peer.
    var closingByUs = false
    init(channel: any Channel, dialed: Bool, session: PeerLinkSession) {
        self.channel = channel
        self.dialed = dialed
        self.session = session
    }
}

/// One run of rule 2: a few connects to the peer's port; the first refusal decides. Confined
/// to the VRRP loop.
private final class DeathCheck: @unchecked Sendable {
    let cause: String
    let started: NIODeadline
    var pending: Int
    var answered = false
    var decided = false
    init(cause: String, started: NIODeadline, pending: Int) {
        self.cause = cause
        self.started = started
        self.pending = pending
    }
}

/// Moves a connection's bytes and its end to the `PeerLink`.
private final class PeerLinkHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let link: PeerLink
    private let dialed: Bool
    init(link: PeerLink, dialed: Bool) {
        self.link = link
        self.dialed = dialed
    }

    func channelActive(context: ChannelHandlerContext) {
        link.opened(context.channel, dialed: dialed)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        link.received(Array(unwrapInboundIn(data).readableBytesView), on: context.channel)
    }

    func channelInactive(context: ChannelHandlerContext) {
        link.closed(context.channel)
        context.fireChannelInactive()
    }

    /// ECONNRESET is the peer's kernel resetting the connection: remembered, then closed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        link.failed(context.channel, error)
        context.close(promise: nil)
    }
}
