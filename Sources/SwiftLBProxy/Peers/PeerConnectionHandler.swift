import Glibc
import NIOCore

/// The I/O of one peers-protocol connection: bytes read go to its `PeerSessionMachine`, what
/// the machine returns is written, its events go to the `PeersService` that owns the
/// connection; the session's timers (heartbeat every 3 s, closed after 5 s of silence, as
/// HAProxy's PEER_HEARTBEAT_TIMEOUT and PEER_RECONNECT_TIMEOUT) run here. Confined to the
/// service's event loop, like the service.
final class PeerConnectionHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let heartbeatInterval = TimeAmount.seconds(3)
    static let silenceLimit = TimeAmount.seconds(5)

    private(set) var machine: PeerSessionMachine
    /// Strong: the service forgets the session when it closes (no cycle outlives it).
    private let service: PeersService
    private var context: ChannelHandlerContext?
    private var heartbeat: Scheduled<Void>?
    private var lastReceived = NIODeadline.now()
    /// Per local table (wire name): the last update number sent on this session.
    var pushed: [String: UInt32] = [:]
    /// A whole-table lesson is being sent (a resync request was received).
    var teaching = false

    init(machine: PeerSessionMachine, service: PeersService) {
        self.machine = machine
        self.service = service
    }

    var channel: (any Channel)? { context?.channel }
    var peer: String? { machine.peer }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        lastReceived = .now()
        run(machine.start(pid: getpid()))
        scheduleHeartbeat()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        lastReceived = .now()
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        run(machine.receive(bytes))
        guard context.channel.isActive, machine.isEstablished else { return }
        send(machine.acknowledgements())
    }

    func channelInactive(context: ChannelHandlerContext) {
        heartbeat?.cancel()
        heartbeat = nil
        service.sessionClosed(self)
        self.context = nil
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func run(_ outputs: [PeerSessionMachine.Output]) {
        for output in outputs {
            switch output {
            case .send(let bytes):
                send(bytes)
            case .event(let event):
                service.handle(event, on: self)
            case .close(let reason):
                service.note(self, closing: reason)
                context?.close(promise: nil)
                return
            }
        }
    }

    func send(_ bytes: [UInt8]) {
        sendBatched()
        write(bytes)
        context?.flush()
    }

    private func write(_ bytes: [UInt8]) {
        guard !bytes.isEmpty, let context else { return }
        context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: bytes)), promise: nil)
    }

    /// Updates gathered for one write: a push or a lesson is a few large writes, not one
    /// system call per entry.
    private var batch: [UInt8] = []
    static let batchSize = 32768

    /// An update of `table` through the machine (definition, numbering), written with the
    /// others of the batch (`sendBatched` ends it).
    func sendUpdate(table: String, number: UInt32, key: [UInt8], expire: UInt32?, values: [Int: PeerTableCodec.Value]) {
        batch += machine.encodeUpdate(table: table, number: number, key: key, expire: expire, values: values)
        pushed[table] = number
        if batch.count >= Self.batchSize { sendBatched() }
    }

    /// Writes and flushes the updates gathered.
    func sendBatched() {
        guard !batch.isEmpty else { return }
        write(batch)
        batch.removeAll(keepingCapacity: true)
        context?.flush()
    }

    func close() { context?.close(promise: nil) }

    private func scheduleHeartbeat() {
        guard let loop = context?.eventLoop else { return }
        heartbeat = loop.scheduleTask(in: Self.heartbeatInterval) { [weak self] in
            guard let self, let context = self.context else { return }
            if NIODeadline.now() - self.lastReceived > Self.silenceLimit {
                self.service.note(self, closing: "nothing received for 5 s")
                context.close(promise: nil)
                return
            }
            if self.machine.isEstablished { self.send(PeerCodec.control(.heartbeat)) }
            self.scheduleHeartbeat()
        }
    }
}
