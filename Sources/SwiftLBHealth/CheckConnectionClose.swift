#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// How a check's connection ends, as HAProxy 2.6 ends it: every connection it opens to a
/// server is marked "close hard if needed" (proto_tcp.c, FD_LINGER_RISK), so a checker that
/// closes first — a plain connect check, an answer read to its end while the server keeps the
/// connection open — sends a reset (SO_LINGER 0) and leaves no TIME_WAIT behind; once the
/// server has closed its side the close is clean (the mark is cleared on reading the
/// shutdown). `connect linger` (tcp-check, http-check) clears the mark: always a clean close
/// ("cleanly close the connection instead of using a single RST").
///
/// Installed first in a check's pipeline, with remote half-closure allowed on its channel so
/// the server's FIN reaches it before NIO closes the socket: it then turns the reset off and
/// closes, as NIO would have. (A check that closes on a complete answer before reading the
/// FIN that came with it resets, as HAProxy's does.)
final class CheckConnectionClose: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    /// Prepares a check bootstrap: hard close unless `linger`; bound to `source` (the server's
    /// or its backend's `source`, as HAProxy's checks connect from it) when there is one.
    static func configure(_ bootstrap: ClientBootstrap, linger: Bool, source: SocketAddress? = nil) -> ClientBootstrap {
        let bound = source.map { bootstrap.bind(to: $0) } ?? bootstrap
        return linger ? bound : bound.channelOption(.allowRemoteHalfClosure, value: true)
    }

    /// In the channel initializer, before any other handler.
    static func install(on channel: any Channel, linger: Bool) throws {
        guard !linger else { return }
        try channel.pipeline.syncOperations.addHandler(CheckConnectionClose())
    }

    func handlerAdded(context: ChannelHandlerContext) { Self.reset(context.channel, on: true) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            // The server closed first: a clean close from us too.
            Self.reset(context.channel, on: false)
            context.close(promise: nil)
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private static func reset(_ channel: any Channel, on: Bool) {
        guard let provider = channel as? any SocketOptionProvider else { return }
        _ = provider.unsafeSetSocketOption(level: .socket, name: .so_linger, value: linger(l_onoff: on ? 1 : 0, l_linger: 0))
    }
}
