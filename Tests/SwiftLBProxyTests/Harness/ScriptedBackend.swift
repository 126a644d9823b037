import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A misbehaving backend on loopback, scripted per test: the failures a real server farm
/// produces, on demand.
final class ScriptedBackend: @unchecked Sendable {
    enum Behaviour: Sendable {
        /// Reads the request, then resets the connection (SO_LINGER 0).
        case reset
        /// Answers bytes that are not HTTP.
        case junk
        /// Accepts and reads, never answers.
        case silent
        /// Answers 200 with a response head of `bytes` bytes (one huge header).
        case hugeHead(bytes: Int)
        /// Answers 200 with `body` after `delay`.
        case delayed(TimeAmount, body: String)
        /// Answers a 200 head (Content-Length: the body's) at once, the body after `delay`.
        case slowBody(TimeAmount, body: String)
    }

    let port: Int
    private let channel: any Channel
    private let accepted: NIOLockedValueBox<Int>
    /// Connections accepted so far (to prove a request was not replayed).
    var connections: Int { accepted.withLockedValue { $0 } }
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    init(_ behaviour: Behaviour) throws {
        let accepted = NIOLockedValueBox(0)
        self.accepted = accepted
        channel = try ServerBootstrap(group: Self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [accepted] channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler(behaviour))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        port = channel.localAddress!.port!
    }

    func stop() { try? channel.close().wait() }
}

private final class ScriptHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let behaviour: ScriptedBackend.Behaviour
    var received = ""
    var answered = false
    init(_ behaviour: ScriptedBackend.Behaviour) { self.behaviour = behaviour }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readString(length: buffer.readableBytes) ?? ""
        guard received.contains("\r\n\r\n"), !answered else { return }
        answered = true
        switch behaviour {
        case .reset:
            _ = (context.channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
            context.close(promise: nil)
        case .junk:
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "THIS IS NOT HTTP\r\n\r\n")), promise: nil)
        case .silent:
            break
        case .hugeHead(let bytes):
            let text = "HTTP/1.1 200 OK\r\nX-Huge: \(String(repeating: "h", count: bytes))\r\nContent-Length: 2\r\n\r\nok"
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
        case .delayed(let delay, let body):
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: delay) {
                let context = bound.value
                let text = "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                context.writeAndFlush(NIOAny(ByteBuffer(string: text)), promise: nil)
            }
        case .slowBody(let delay, let body):
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n")), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: delay) {
                bound.value.writeAndFlush(NIOAny(ByteBuffer(string: body)), promise: nil)
            }
        }
    }
}
