#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import SwiftLBTLS

/// Sits behind the `TLSHandler` of a TLS health check: the check's handler sees the
/// connection as up only once the handshake is done (a check over TLS passes at layer 6, not
/// at the TCP connect), and a handshake that fails reaches it as a `CheckHandshakeError` in
/// HAProxy's words (`SSL handshake failure`, with the socket's error when there is one: a
/// client has sent its ClientHello, so OpenSSL's state is past TLS_ST_BEFORE and HAProxy
/// never says "Connection closed during SSL handshake" for a check).
final class CheckTLSGate: ChannelInboundHandler, RemovableChannelHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private enum State { case connecting, handshaking, established, failed }
    // One channel's handler, used on its event loop only.
    nonisolated(unsafe) private var state = State.connecting

    func channelActive(context: ChannelHandlerContext) {
        guard case .connecting = state else { preconditionFailure("channelActive in state \(state)") }
        state = .handshaking
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is TLSHandshakeCompleted, case .handshaking = state {
            state = .established
            context.fireChannelActive()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard case .handshaking = state else { context.fireErrorCaught(error); return }
        state = .failed
        // A socket error (a reset) is HAProxy's "SSL handshake failure (strerror)".
        let errno = (error as? IOError)?.errnoCode
        context.fireErrorCaught(CheckHandshakeError(reason: errno.map { String(cString: strerror($0)) }))
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .handshaking = state {
            state = .failed
            context.fireErrorCaught(CheckHandshakeError(reason: nil))
        }
        context.fireChannelInactive()
    }
}

/// A TLS health check's handshake did not complete (HAProxy's CO_ER_SSL_HANDSHAKE, with the
/// socket's errno when there is one): a layer 6 failure.
struct CheckHandshakeError: Error, CustomStringConvertible {
    let reason: String?
    var description: String { "SSL handshake failure" + (reason.map { " (\($0))" } ?? "") }
}
