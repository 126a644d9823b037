import Logging
import NIOCore
import NIOPosix

/// The TCP listener of the peer links on one heartbeat address and port. One socket can
/// listen on an address and port, and several links may need it: an instance pair with host B
/// and another with host C on the same `unicast_src_ip` and `udp_port`. So the listener is
/// shared, signed with TCP-MD5 for each link's peer, and hands every accepted connection to
/// the link of the address it came from. A connection from no configured peer is closed
/// before a byte is read, and counted on every link of this listener (a stranger at the port
/// concerns each of them).
///
/// The listener is also what answers the other side's check of rule 2 (`PeerLink`): while
/// this process lives, the port does not refuse. Confined to the VRRP loop.
final class PeerLinkListener: @unchecked Sendable {
    let local: String
    let port: Int
    private let loop: any EventLoop
    private let links: [String: PeerLink]
    private var channel: (any Channel)?

    /// `links`: by peer address, every link on `local`:`port`.
    init(local: String, port: Int, links: [PeerLink], loop: any EventLoop) {
        self.local = local
        self.port = port
        self.loop = loop
        self.links = Dictionary(uniqueKeysWithValues: links.map { ($0.settings.peer, $0) })
    }

    /// Binds, failing if the port is taken.
    func start() -> EventLoopFuture<Void> {
        let links = self.links
        return ServerBootstrap(group: loop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                // One TCP-MD5 key per peer address on the listening socket; the accepted
                // connections inherit them.
                links.values.reduce(channel.eventLoop.makeSucceededVoidFuture()) { done, link in done.flatMap { link.sign(channel) } }
            }
            .childChannelInitializer { channel in
                let remote = channel.remoteAddress?.ipAddress ?? "?"
                guard let link = links[remote] else {
                    for link in links.values { link.drop(.unknownPeer(remote), from: remote) }
                    // A failed initializer makes NIO close the connection unregistered.
                    return channel.eventLoop.makeFailedFuture(PeerLinkDrop.unknownPeer(remote))
                }
                return link.accept(channel)
            }
            .bind(host: local, port: port)
            .map { [self] channel in self.channel = channel }
    }

    func stop() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in channel?.close() ?? loop.makeSucceededVoidFuture() }
    }
}
