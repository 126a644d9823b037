import NIOCore

/// One connection: splits input into lines, runs them one at a time through the runtime API
/// (off the event loop: a snapshot may wait for every loop), writes answers, closes when the
/// session ends, when the client is done and everything is answered, or when idle too long.
final class ControlConnection: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// Waiting for a line (the idle timer runs).
        case idle
        /// A line is being answered; more lines wait in `pending`.
        case running
        /// The answer is out, the connection is closing.
        case closing
    }

    /// HAProxy's CLI line limit is its buffer size; SwiftLB's is this.
    static let maxLineLength = 64 * 1024
    /// A `<<` payload (a PEM chain, a crt-list line) may be longer, up to this.
    static let maxPayloadLength = 1024 * 1024

    private var state = State.idle
    private var session: CLISession
    private let api: RuntimeAPI
    private var partial: [UInt8] = []
    private var pending: [String] = []
    private var inputClosed = false
    private var idleTimer: Scheduled<Void>?

    init(api: RuntimeAPI, session: CLISession) {
        self.api = api
        self.session = session
    }

    func channelActive(context: ChannelHandlerContext) {
        armIdleTimer(context: context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state != .closing else { return }
        let buffer = unwrapInboundIn(data)
        partial.append(contentsOf: buffer.readableBytesView)
        while let newline = partial.firstIndex(of: UInt8(ascii: "\n")) {
            let line = String(decoding: partial[..<newline], as: UTF8.self)
            partial.removeSubrange(...newline)
            addLine(line)
        }
        if let open = payload, open.utf8.count > Self.maxPayloadLength {
            finish(with: "Payload too long (over \(Self.maxPayloadLength) bytes).\n", context: context)
            return
        }
        if partial.count > Self.maxLineLength {
            finish(with: "Line too long (over \(Self.maxLineLength) bytes).\n", context: context)
            return
        }
        runNext(context: context)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            // A last line without its newline still counts (`printf 'show info' | socat …`).
            if !partial.isEmpty {
                addLine(String(decoding: partial, as: UTF8.self))
                partial.removeAll()
            }
            if let open = payload { pending.append(open); payload = nil }  // the end of input ends a payload
            if state == .idle && pending.isEmpty { close(context: context) } else { runNext(context: context) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        state = .closing
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(context: context)
    }

    /// HAProxy's payloads: a line ending in `<<` takes the following lines, up to an empty
    /// one, as its payload (`set ssl cert F <<` then the PEM); the runtime API gets the line,
    /// a newline, and the payload.
    private var payload: String?

    private func addLine(_ line: String) {
        if let open = payload {
            if line.isEmpty || line == "\r" { pending.append(open); payload = nil } else { payload = open + line + "\n" }
        } else if line.hasSuffix("<<"), line.dropLast(2).last == " " || line.dropLast(2).isEmpty {
            payload = String(line.dropLast(2)) + "\n"
        } else {
            pending.append(line)
        }
    }

    private func runNext(context: ChannelHandlerContext) {
        guard state == .idle else { return }
        guard !pending.isEmpty else {
            if inputClosed { close(context: context) }
            return
        }
        let line = pending.removeFirst()
        state = .running
        idleTimer?.cancel()
        let api = self.api
        let session = self.session
        let promise = context.eventLoop.makePromise(of: (String, CLISession).self)
        promise.completeWithTask {
            var s = session
            let answer = await api.run(line: line, session: &s)
            return (answer, s)
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            guard self.state == .running else { return }  // the client went away meanwhile
            guard case .success(let (answer, session)) = result else { self.close(context: context); return }
            self.session = session
            if session.isClosed {
                self.finish(with: answer, context: context)
                return
            }
            self.state = .idle
            context.writeAndFlush(self.wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
            self.armIdleTimer(context: context)
            self.runNext(context: context)
        }
    }

    /// Writes the last answer, then closes.
    private func finish(with answer: String, context: ChannelHandlerContext) {
        state = .closing
        idleTimer?.cancel()
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func close(context: ChannelHandlerContext) {
        guard state != .closing else { return }
        state = .closing
        idleTimer?.cancel()
        context.close(promise: nil)
    }

    private func armIdleTimer(context: ChannelHandlerContext) {
        idleTimer?.cancel()
        let loop = context.eventLoop
        let handler = NIOLoopBound(self, eventLoop: loop)
        let ctx = NIOLoopBound(context, eventLoop: loop)
        idleTimer = loop.scheduleTask(in: .nanoseconds(session.timeoutNanoseconds)) {
            let handler = handler.value
            guard handler.state == .idle else { return }
            handler.close(context: ctx.value)
        }
    }
}
