import NIOCore
import NIOPosix
import SwiftLBConfig

/// One exchange of a protocol check (`option mysql-check`, …), pure: what to send first, and
/// after each arrival of bytes whether to wait, send more or stop with an outcome. The runner
/// below does the I/O; each protocol is one file with its encode/decode functions.
protocol CheckConversation {
    /// Bytes to send as soon as the connection is up (may be empty: the server speaks first).
    mutating func opening() -> [UInt8]
    /// Everything the server sent so far; `closed` once it closed (no more will come).
    mutating func received(_ bytes: [UInt8], closed: Bool) -> ConversationStep
    /// What a check that ran out of time is (HAProxy: L7TOUT, L6TOUT for ssl-hello-chk).
    var timeoutKind: CheckKind { get }
}

extension CheckConversation {
    var timeoutKind: CheckKind { .l7timeout }
}

/// What a conversation wants after the server spoke.
enum ConversationStep: Equatable {
    case waitForMore
    /// Send these bytes; what the server sent so far is dropped (as HAProxy's tcp-check resets
    /// its buffer on a send): the next call sees only the answer.
    case send([UInt8])
    case finished(CheckOutcome)
}

extension ProtocolCheck {
    /// A fresh exchange for one check.
    func conversation() -> any CheckConversation {
        switch self {
        case .mysql(let user, let post41): MySQLCheck(user: user, post41: post41)
        case .smtp(let command): SMTPCheck(command: command)
        case .ldap: LDAPCheck()
        case .sslHello: SSLHelloCheck()
        case .redis: RedisCheck()
        case .pgsql(let user): PostgresCheck(user: user)
        case .spop: SPOPCheck()
        }
    }
}

/// Runs one `CheckConversation` on a connected channel, bounded by the check timeout by its
/// caller: every arrival is handed to the conversation whole (at most 64 KiB), its answer sent
/// or its outcome delivered, and the connection closed.
final class ConversationRunner: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State { case idle, talking, finished }

    private var conversation: any CheckConversation
    private var received: [UInt8] = []
    private var state = State.idle
    private var context: ChannelHandlerContext?
    let outcome: EventLoopPromise<CheckOutcome>

    init(_ conversation: any CheckConversation, promise: EventLoopPromise<CheckOutcome>) {
        self.conversation = conversation
        self.outcome = promise
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failed("connection closed", .l7response))
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        guard case .idle = state else { return }
        state = .talking
        write(conversation.opening())
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if received.count < 64 * 1024, let bytes = buffer.readBytes(length: min(buffer.readableBytes, 64 * 1024 - received.count)) {
            received += bytes
        }
        advance(closed: false)
    }

    func channelInactive(context: ChannelHandlerContext) {
        advance(closed: true)
        finish(.failed("connection closed", .l7response))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A reset after the server said what decides the check (MySQL closes at once after
        // QUIT) is the end of the exchange, not its failure.
        advance(closed: true)
        finish(.failed(HealthProbe.describe(error), HealthProbe.kind(of: error)))
        context.close(promise: nil)
    }

    private func advance(closed: Bool) {
        guard case .talking = state else { return }
        let step = conversation.received(received, closed: closed)
        switch step {
        case .waitForMore: break
        case .send(let bytes):
            received.removeAll()
            write(bytes)
        case .finished(let result): finish(result)
        }
    }

    private func write(_ bytes: [UInt8]) {
        guard let context, !bytes.isEmpty else { return }
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    /// The check timeout fired: the server did not finish the exchange in time.
    func timedOut() {
        guard case .talking = state else { return }
        finish(.failed("timeout", conversation.timeoutKind))
    }

    private func finish(_ result: CheckOutcome) {
        guard state != .finished else { return }
        state = .finished
        outcome.succeed(result)
        context?.close(promise: nil)
    }
}
