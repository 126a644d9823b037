import NIOCore
import SwiftLBTLS

/// Sits behind the `TLSHandler` of a TLS health check: the check's handler sees the
/// connection as up only once the handshake is done (a check over TLS passes at layer 6, not
/// at the TCP connect), and a handshake that fails reaches it as a `CheckHandshakeError` in
/// HAProxy's words (`SSL handshake failure`, `Connection closed during SSL handshake`).
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
        context.fireErrorCaught(error is TLSError ? CheckHandshakeError.failure : CheckHandshakeError.closed)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .handshaking = state {
            state = .failed
            context.fireErrorCaught(CheckHandshakeError.closed)
        }
        context.fireChannelInactive()
    }
}

/// A TLS health check's handshake did not complete (HAProxy's CO_ER_SSL_HANDSHAKE /
/// CO_ER_SSL_ABORT wording): a layer 6 failure.
enum CheckHandshakeError: Error, CustomStringConvertible {
    case failure, closed

    var description: String {
        switch self {
        case .failure: "SSL handshake failure"
        case .closed: "Connection closed during SSL handshake"
        }
    }
}
