#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// One UDP socket per heartbeat address and port, shared by every instance that listens
/// there: it sorts each packet by its router id (byte 5, read before any authentication) to
/// the one instance with that `virtual_router_id`, whose key and replay guard check the rest.
/// Two instances on one socket cannot share a router id (the group refuses to start).
///
/// Unicast: bound to the instances' source address. Multicast (instances without
/// `unicast_peer`): bound to the group address (224.0.0.18) and port, a member of the group on
/// the instance's interface only (IP_ADD_MEMBERSHIP with its index, IP_MULTICAST_ALL off, so a
/// socket on eth0 does not also get what arrives on eth1).
///
/// A packet that is no heartbeat at all, or carries a router id no instance here has, is
/// counted on every instance of the socket (it concerns each of them). On a multicast socket
/// other router ids are other pairs on the LAN, so those are counted without a log line.
/// Confined to the VRRP loop.
final class HeartbeatSocket: @unchecked Sendable {
    struct Key: Hashable, CustomStringConvertible {
        var address: String
        var port: Int
        /// Set for a multicast socket: the interface it joined the group on.
        var multicastInterface: String?
        var description: String { "\(address):\(port)" + (multicastInterface.map { " on \($0)" } ?? "") }
    }

    let key: Key
    private let loop: any EventLoop
    private(set) var instances: [UInt8: VRRPInstance] = [:]
    private var channel: (any Channel)?

    init(key: Key, loop: any EventLoop) {
        self.key = key
        self.loop = loop
    }

    /// Adds an instance; returns the one already there with the same router id, if any.
    func add(_ instance: VRRPInstance) -> VRRPInstance? {
        let id = UInt8(instance.settings.virtualRouterID)
        if let other = instances[id] { return other }
        instances[id] = instance
        return nil
    }

    func start() -> EventLoopFuture<Void> {
        var bootstrap = DatagramBootstrap(group: loop)
            .channelOption(.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { [self] channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(HeartbeatReceiver(socket: self)) }
            }
        // keepalived's `kernel_rx_buf_size`: the largest asked for by an instance here.
        if let size = instances.values.compactMap(\.settings.kernelReceiveBuffer).max() {
            bootstrap = bootstrap.channelOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(size))
        }
        if key.multicastInterface != nil {
            bootstrap = bootstrap.channelOption(ChannelOptions.Types.SocketOption(level: .init(rawValue: Int32(IPPROTO_IP)), name: .init(rawValue: 49 /* IP_MULTICAST_ALL */)), value: 0)
        }
        return bootstrap.bind(host: key.address, port: key.port).flatMap { [self] channel in
            self.channel = channel
            guard let interface = key.multicastInterface else { return loop.makeSucceededVoidFuture() }
            guard let provider = channel as? any SocketOptionProvider else { return loop.makeFailedFuture(ChannelError.operationUnsupported) }
            var request = ip_mreqn()
            request.imr_multiaddr.s_addr = (IPv4.number(key.address) ?? 0).bigEndian
            request.imr_ifindex = Int32(if_nametoindex(interface))
            return provider.unsafeSetSocketOption(level: .init(rawValue: Int32(IPPROTO_IP)), name: .init(rawValue: IP_ADD_MEMBERSHIP), value: request)
        }
    }

    func stop() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in channel?.close() ?? loop.makeSucceededVoidFuture() }
    }

    fileprivate func received(_ envelope: AddressedEnvelope<ByteBuffer>) {
        let source = envelope.remoteAddress.ipAddress ?? "?"
        let bytes = Array(envelope.data.readableBytesView)
        switch HeartbeatCodec.routerID(of: bytes) {
        case .failure(let why):
            for instance in instances.values { instance.drop(why, from: source) }
        case .success(let id):
            if let instance = instances[id] { return instance.received(bytes, from: source) }
            for instance in instances.values { instance.drop(.otherRouter(id), from: source, log: key.multicastInterface == nil) }
        }
    }
}

private final class HeartbeatReceiver: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>
    private let socket: HeartbeatSocket
    init(socket: HeartbeatSocket) { self.socket = socket }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        socket.received(unwrapInboundIn(data))
    }

    /// ICMP port unreachable from a peer that is down surfaces here; it is not our error.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}
