import NIOCore
import NIOPosix
import SwiftLBTLS

/// What a server connection reports to the stream that leases it. Both run on the same event
/// loop, so these are plain synchronous calls.
protocol ServerConnectionOwner: AnyObject {
    func serverRead(_ buffer: ByteBuffer)
    func serverReadComplete()
    /// The connection ended (EOF, reset, TLS failure); `error` is nil for a clean EOF.
    func serverClosed(error: (any Error)?)
    /// The server half-closed (sent FIN) while its channel allows half-closure (tunnels).
    func serverInputClosed()
    func serverWritabilityChanged(isWritable: Bool)
    /// Whether the client can take more bytes; while it cannot, the server is not read.
    var clientIsWritable: Bool { get }
}

/// The only handler of a server-side channel (after TLS, if any): bytes in, bytes out, no HTTP
/// here. The stream that leases it decides what the bytes mean — an HTTP exchange parses a
/// response, a tunnel or TCP session forwards them — so the dispatcher and the pool serve all
/// three.
///
/// States: `connecting` (not handed to a stream yet: nothing is read, so no byte and no EOF
/// can arrive before there is an owner to take it), `leased` (an owner gets every byte),
/// `parked` (idle in the per-loop pool: any byte from the server is unsolicited and closes
/// it), `closed`.
///
/// Backpressure: `read` is held back while the owner's client cannot take more (the
/// GlueHandler pattern), so a slow client slows the server down instead of filling memory.
final class ServerConnection: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        case connecting
        case leased
        case parked
        case closed
    }

    let server: RuntimeServer
    private var context: ChannelHandlerContext?
    private var state: State = .connecting {
        didSet {
            if (oldValue == .leased) != (state == .leased) { demand?.leasedChanged(by: state == .leased ? 1 : -1) }
            if (oldValue == .parked) != (state == .parked) { demand?.parkedChanged(by: state == .parked ? 1 : -1) }
        }
    }
    /// The loop's count of leased connections, which sizes its pool (`PoolDemand`).
    private var demand: PoolDemand?
    private var readPending = false
    /// The stream using this connection; nil while parked or closed.
    private(set) var owner: (any ServerConnectionOwner)?
    /// How many streams have leased it (more than one: a reused connection, which the server may
    /// have closed just as we sent — such a failure is retried for idempotent requests).
    private(set) var leases = 0
    /// When it last went back to the pool (for `LoopState`'s purge of idle connections).
    var parkedAt = NIODeadline.uptimeNanoseconds(0)
    /// The TLS side of a `server … ssl` connection (`ssl_s_*` fetches read it).
    private(set) var tls: TLSHandler?
    /// TLS: the connection counts as made once the handshake is done, as in HAProxy (a
    /// refused or unverified handshake is a connection failure: retried, then 503).
    private var handshake = HandshakeWait(done: false)
    /// The SNI it was dialled with (`sni EXPRESSION`: reused only for requests that want it).
    private(set) var serverName = ServerName(name: nil, keyed: false)
    /// `proto h2`: the HTTP/2 connection this stream is on.
    var h2Session: H2ServerSession?
    /// Carries one exchange only (`proto h2`: an HTTP/2 stream, which ends with its response):
    /// never pooled.
    var singleUse: Bool { h2Session != nil }

    init(server: RuntimeServer) {
        self.server = server
    }

    var isOpen: Bool { state != .closed && (context?.channel.isActive ?? false) }
    var isWritable: Bool { context?.channel.isWritable ?? false }
    var wasReused: Bool { leases > 1 }
    var channel: (any Channel)? { context?.channel }

    /// Opens a connection to `server` on `eventLoop` (the client's loop: a stream's two
    /// channels never cross loops).
    /// `proxyHeader` (`send-proxy`) is written first, in clear, before any TLS handshake.
    /// `tuning`: the backend's socket options (`option srvtcpka`, `tune.sndbuf.server`, …; TCP only).
    /// A server on a unix socket is dialled the same way (`SocketAddress.unixDomainSocket`).
    /// `serverName`: the SNI (the server's constant one unless its `sni` is an expression).
    /// `port`: a port-less server's (`server NAME HOST`): the one the client connected to.
    /// `readAtLeast`: `tune.bufsize` when written (`ReceiveBufferSizer(atLeast:)`).
    static func connect(to server: RuntimeServer, on eventLoop: any EventLoop, timeout: TimeAmount?,
                        proxyHeader: ByteBuffer? = nil, tuning: SocketTuning = SocketTuning(), serverName: ServerName? = nil,
                        port: Int? = nil, readAtLeast: Int? = nil, demand: PoolDemand? = nil) -> EventLoopFuture<ServerConnection> {
        let handler = ServerConnection(server: server)
        handler.demand = demand
        let serverName = serverName ?? ServerName(name: server.tlsServerName, keyed: false)
        handler.serverName = serverName
        var address = server.address
        if let port, let ip = address.ipAddress {
            do { address = try SocketAddress(ipAddress: ip, port: port) } catch { return eventLoop.makeFailedFuture(error) }
        }
        let tcp = !server.address.isUnixDomain
        let http2 = server.parameters.http2
        // Socket options are set here, synchronously, not as bootstrap options: NIO applies
        // those through a chain of futures, a few allocations per connection.
        var bootstrap = ClientBootstrap(group: eventLoop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // TCP_NODELAY is ClientBootstrap's default (set before the connect; NIO
                    // skips it on unix sockets): setting it again cost two system calls.
                    if let options = channel.syncOptions {
                        try options.setOption(.recvAllocator, value: ReceiveBufferSizer(atLeast: readAtLeast))
                    }
                    // `option srvtcpka|tcpka` and its probes, `tune.*buf.server`, `option
                    // tcp-smart-connect`: before the connect, as HAProxy sets them.
                    if tcp { try tuning.apply(to: channel) }
                    let sync = channel.pipeline.syncOperations
                    if let proxyHeader { try sync.addHandler(ProxyHeaderSender(header: proxyHeader)) }
                    if let tls = server.tls {
                        handler.tls = TLSHandler(client: tls, serverName: serverName.name)
                        try sync.addHandler(handler.tls!)
                    }
                    // `proto h2`: the handler goes on the exchange's stream, opened once connected.
                    if http2 { try H2ServerSession.configure(channel, tls: server.tls != nil, serverName: serverName) } else { try sync.addHandler(handler) }
                }
            }
        // No `timeout connect`: HAProxy waits as long as the kernel's SYN retries do (NIO's own
        // default would give up after 10 s).
        bootstrap = bootstrap.connectTimeout(timeout ?? .hours(1))
        // `source ADDR[:PORT]`: bound before the connect, so the server sees that address.
        if tcp, let source = server.source { bootstrap = bootstrap.bind(to: source) }
        var connected: EventLoopFuture<ServerConnection>
        if http2 {
            connected = bootstrap.connect(to: address).flatMap { channel in
                guard let session = try? H2ServerSession.of(channel) else { return channel.eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
                return session.openStream(for: handler, on: eventLoop)
            }
        } else {
            connected = bootstrap.connect(to: address).map { _ in handler }
            if server.tls != nil { connected = connected.flatMap { $0.handshakeCompleted(on: eventLoop) } }
        }
        guard server.address.isUnixDomain else {
            // A TCP connect fails at once when its socket cannot be made or bound (EMFILE and
            // ENFILE, EADDRNOTAVAIL once the ephemeral ports are spent, a `source` address in
            // use): like a unix socket's outcome below, that failure must reach the caller on
            // the next tick, not inside the caller's mutation of its dispatch state, which it
            // read again (an exclusivity violation: a trap in debug builds, undefined in release
            // ones). Success never comes at once: a non-blocking TCP connect is in progress
            // when it returns. A failure that comes later takes one tick more.
            return connected.flatMapError { error in
                let later = eventLoop.makePromise(of: ServerConnection.self)
                eventLoop.execute { later.fail(error) }
                return later.futureResult
            }
        }
        // connect(2) on a unix socket succeeds or fails at once, so NIO's future is already
        // complete when the caller attaches its callback — which would then run inside the
        // caller's own mutation of its dispatch state. Completing on the next loop tick keeps
        // a unix server as asynchronous as a TCP one; nothing is read until the lease (state
        // `connecting`), so an answer or EOF that comes meanwhile waits for its owner.
        let deferred = eventLoop.makePromise(of: ServerConnection.self)
        connected.assumeIsolated().whenComplete { result in
            eventLoop.assumeIsolated().execute {
                // Closed meanwhile (a write of the PROXY header failed): a failed connect.
                if case .success(let connection) = result, connection.state == .closed {
                    deferred.fail(ChannelError.ioOnClosedChannel)
                } else {
                    deferred.assumeIsolated().completeWith(result)
                }
            }
        }
        return deferred.futureResult
    }

    /// Succeeds once the TLS handshake is done; fails if the connection fails or closes first.
    private func handshakeCompleted(on eventLoop: any EventLoop) -> EventLoopFuture<ServerConnection> {
        if handshake.done { return eventLoop.makeSucceededFuture(self) }
        guard context != nil, state != .closed else { return eventLoop.makeFailedFuture(ChannelError.ioOnClosedChannel) }
        return handshake.wait(on: eventLoop).map { self }
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: leasing

    func lease(to owner: any ServerConnectionOwner) {
        precondition(state != .closed, "leasing a closed server connection")
        self.owner = owner
        state = .leased
        leases += 1
        if readPending && owner.clientIsWritable { resumeReading() }
    }

    /// Back to the pool: the exchange on it is complete. Bytes that arrive now were not asked for.
    func park() {
        guard state == .leased else { return }
        owner = nil
        state = .parked
        parkedAt = .now()
        // A parked connection is always read, so that a server closing it is noticed at once.
        resumeReading()
    }

    /// Half-closes the write side (a tunnel's client sent its FIN).
    func shutdownOutput() {
        guard let context else { return }
        shutdownOutputAfterWrites(context)
    }

    func write(_ buffer: ByteBuffer) {
        context?.write(NIOAny(buffer), promise: nil)
    }

    func writeAndFlush(_ buffer: ByteBuffer) {
        context?.writeAndFlush(NIOAny(buffer), promise: nil)
    }

    func flush() { context?.flush() }

    /// `proto h2`, the exchange complete: the stream is left to end as the server ends it
    /// (closing it first would reset it, and the server would drop what it still does for
    /// it); nothing more reaches an owner. See `H2ServerStreamTranslator.StreamDone`.
    func endStream() {
        guard state != .closed else { return }
        state = .closed
        owner = nil
        context?.triggerUserOutboundEvent(H2ServerStreamTranslator.StreamDone(), promise: nil)
    }

    /// Closes the connection; the owner is not told (it asked).
    func close() {
        guard state != .closed else { return }
        state = .closed
        owner = nil
        context?.close(promise: nil)
    }

    /// Resumes reading after the client drained its buffer.
    func resumeReading() {
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    // MARK: channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .leased:
            owner?.serverRead(unwrapInboundIn(data))
        case .parked, .connecting:
            // Bytes nobody asked for (none come while connecting: reads wait for the lease);
            // the server is out of step with us. Never reuse it.
            close()
        case .closed:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if state == .leased { owner?.serverReadComplete() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshake.abandoned()?.fail(ChannelError.ioOnClosedChannel)
        let wasOwner = owner
        state = .closed
        owner = nil
        wasOwner?.serverClosed(error: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        handshake.abandoned()?.fail(error)
        let wasOwner = owner
        state = .closed
        owner = nil
        wasOwner?.serverClosed(error: error)
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted {
            handshake.completed()?.succeed()
        }
        if case ChannelEvent.inputClosed = event {
            if state == .leased { owner?.serverInputClosed() } else { close() }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if state == .leased { owner?.serverWritabilityChanged(isWritable: context.channel.isWritable) }
    }

    func read(context: ChannelHandlerContext) {
        if state == .connecting && (tls == nil || handshake.done) {  // a TLS handshake reads
            readPending = true
        } else if state == .leased, let owner, !owner.clientIsWritable {
            readPending = true
        } else {
            context.read()
        }
    }
}

/// Shuts `context`'s output once everything written before has gone out. NIO fails the writes
/// still pending when a channel's output closes, so a FIN forwarded right behind bytes the peer
/// has not taken yet (a full socket buffer) would lose them: an empty write is queued behind
/// them, and the output closes when it completes.
func shutdownOutputAfterWrites(_ context: ChannelHandlerContext) {
    let written = context.eventLoop.makePromise(of: Void.self)
    context.writeAndFlush(NIOAny(ByteBuffer()), promise: written)
    written.futureResult.assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
}
