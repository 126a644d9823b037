import Glibc
import NIOCore
import SwiftLBConfig

/// The options SwiftLB sets on one TCP socket towards a client or a server, where HAProxy 2.6
/// sets them (session.c for accepted sockets, proto_tcp.c for outgoing ones): keep-alive and
/// its probes, the kernel buffers and, before a connect, TCP_QUICKACK off (`option
/// tcp-smart-connect`). Set synchronously from a channel
/// initializer, on the channel's loop; nothing at all for the default configuration.
struct SocketTuning: Equatable {
    var keepAlive = false
    var probes = KeepAliveProbes()
    var buffers = SocketBuffers()
    var delayedAck = false
    /// `option nolinger`: SO_LINGER 0, a close resets the connection.
    var noLinger = false

    /// A frontend's accepted sockets.
    static func client(_ options: ProxyOptions, _ global: GlobalSettings) -> SocketTuning {
        SocketTuning(keepAlive: options.clientTCPKeepAlive, probes: options.clientKeepAliveProbes,
                     buffers: global.clientSocketBuffers, noLinger: options.noLinger)
    }

    /// A backend's sockets to its servers.
    static func server(_ options: ProxyOptions, _ global: GlobalSettings) -> SocketTuning {
        SocketTuning(keepAlive: options.serverTCPKeepAlive, probes: options.serverKeepAliveProbes,
                     buffers: global.serverSocketBuffers, delayedAck: options.tcpSmartConnect, noLinger: options.noLinger)
    }

    var isDefault: Bool { self == SocketTuning() }

    /// Sets the options on `channel`'s socket (a TCP one: unix sockets have none of these).
    func apply(to channel: any Channel) throws {
        guard !isDefault, let options = channel.syncOptions else { return }
        func tcp(_ name: Int32, _ value: Int) throws {
            try options.setOption(ChannelOptions.Types.SocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: name)), value: SocketOptionValue(value))
        }
        if keepAlive {
            try options.setOption(.socketOption(.so_keepalive), value: 1)
            // HAProxy sets the probes only with keep-alive on, and only the ones written.
            if let n = probes.count { try tcp(TCP_KEEPCNT, n) }
            if let n = probes.idle { try tcp(TCP_KEEPIDLE, n) }
            if let n = probes.interval { try tcp(TCP_KEEPINTVL, n) }
        }
        if let n = buffers.send { try options.setOption(.socketOption(.so_sndbuf), value: SocketOptionValue(n)) }
        if let n = buffers.receive { try options.setOption(.socketOption(.so_rcvbuf), value: SocketOptionValue(n)) }
        if delayedAck { try tcp(TCP_QUICKACK, 0) }
        if noLinger { Self.setReset(channel, true) }
    }

    /// SO_LINGER 0 (on) or the kernel's default (off): `option nolinger` turns it off again
    /// before a clean close, so the answer in the send buffer is not dropped.
    static func setReset(_ channel: any Channel, _ on: Bool) {
        guard let provider = channel as? any SocketOptionProvider else { return }
        _ = provider.unsafeSetSocketOption(level: .socket, name: .so_linger, value: linger(l_onoff: on ? 1 : 0, l_linger: 0))
    }
}
