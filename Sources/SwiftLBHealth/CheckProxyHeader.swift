import NIOCore
import SwiftLBConfig

/// `check-send-proxy`, a `send-proxy` server's checks, `http-check connect send-proxy`: the
/// PROXY header a check connection starts with, as
/// HAProxy 2.6 writes it for a check (no client behind it): v1 names the check connection's
/// own addresses (`PROXY TCP4 <local> <server> <lport> <sport>`, `PROXY UNKNOWN` off IP), v2
/// is a LOCAL header without addresses (the server's `send-proxy-v2` picks v2). Sits at the
/// head of the pipeline, ahead of any TLS handler: it puts the header on the socket before the
/// first bytes written (the TLS handshake's or the request's).
final class CheckProxyHeader: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    private let version: ProxyProtocolVersion
    private var sent = false

    init(_ version: ProxyProtocolVersion) { self.version = version }

    /// As soon as the connection is up, as HAProxy: a check that only connects (no request,
    /// no TLS) sends the header before it closes.
    func channelActive(context: ChannelHandlerContext) {
        sendHeader(context)
        context.flush()
        context.fireChannelActive()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        sendHeader(context)
        context.write(data, promise: promise)
    }

    private func sendHeader(_ context: ChannelHandlerContext) {
        guard !sent else { return }
        sent = true
        context.write(NIOAny(Self.header(version, local: context.channel.localAddress, remote: context.channel.remoteAddress)), promise: nil)
    }

    static func header(_ version: ProxyProtocolVersion, local: SocketAddress?, remote: SocketAddress?) -> ByteBuffer {
        switch version {
        case .v2:
            // The signature, version 2 with the LOCAL command, family unspecified, no address.
            return ByteBuffer(bytes: [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00])
        case .v1:
            guard let local, let remote, let from = local.ipAddress, let to = remote.ipAddress, let lport = local.port, let rport = remote.port,
                  local.protocol == remote.protocol else { return ByteBuffer(string: "PROXY UNKNOWN\r\n") }
            return ByteBuffer(string: "PROXY \(local.protocol == .inet6 ? "TCP6" : "TCP4") \(from) \(to) \(lport) \(rport)\r\n")
        }
    }
}
