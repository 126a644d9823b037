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
        /// Answers every request with 200 `n` (n: the connection's number, from 1) and keeps the
        /// connection, except the first connection, closed 50 ms after its first answer (an
        /// idle connection the server drops while it is pooled).
        case keepAliveButTheFirstCloses
        /// Answers each connection's first request with exactly these bytes, then closes
        /// the connection if `close` (a body delimited by the close) or keeps it open.
        case raw(String, close: Bool)
        /// Answers these bytes (not text: binary noise) and keeps the connection open.
        case rawBytes([UInt8])
        /// Answers every request of every connection with exactly these bytes, keeping the
        /// connection (whether a proxy reuses it after the answer shows in `connections`).
        case rawEach(String)
        /// Answers `first`, then `then` after `delay` (a response broken in its second read).
        case split(first: String, then: String, delay: TimeAmount)
    }

    let port: Int
    private let channel: any Channel
    private let accepted: NIOLockedValueBox<Int>
    private let answered = NIOLockedValueBox<[String]>([])
    /// What each connection sent before it was answered (`.raw`).
    var requests: [String] { answered.withLockedValue { $0 } }
    /// Connections accepted so far (to prove a request was not replayed).
    var connections: Int { accepted.withLockedValue { $0 } }
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    init(_ behaviour: Behaviour) throws {
        let accepted = NIOLockedValueBox(0)
        self.accepted = accepted
        channel = try ServerBootstrap(group: Self.group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { [accepted, answered] channel in
                let number = accepted.withLockedValue { $0 += 1; return $0 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptHandler(behaviour, connection: number, answered: answered))
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
    let connection: Int
    let requests: NIOLockedValueBox<[String]>
    var received = ""
    var answered = false
    init(_ behaviour: ScriptedBackend.Behaviour, connection: Int, answered requests: NIOLockedValueBox<[String]>) {
        self.behaviour = behaviour
        self.connection = connection
        self.requests = requests
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        received += buffer.readString(length: buffer.readableBytes) ?? ""
        if case .keepAliveButTheFirstCloses = behaviour {
            while let end = received.range(of: "\r\n\r\n") {
                received.removeSubrange(..<end.upperBound)
                let body = "\(connection)"
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")), promise: nil)
                if connection == 1 {
                    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                    context.eventLoop.scheduleTask(in: .milliseconds(50)) { bound.value.close(promise: nil) }
                }
            }
            return
        }
        if case .rawEach(let text) = behaviour {
            while let end = received.range(of: "\r\n\r\n") {
                received.removeSubrange(..<end.upperBound)
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
            }
            return
        }
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
        case .keepAliveButTheFirstCloses, .rawEach:
            break
        case .raw(let text, let close):
            requests.withLockedValue { [received] in $0.append(received) }
            let written = context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)))
            if close {
                let channel = context.channel
                written.whenComplete { _ in channel.close(promise: nil) }
            }
        case .rawBytes(let bytes):
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
        case .split(let first, let then, let delay):
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: first)), promise: nil)
            let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: delay) {
                bound.value.writeAndFlush(NIOAny(ByteBuffer(string: then)), promise: nil)
            }
        }
    }
}
