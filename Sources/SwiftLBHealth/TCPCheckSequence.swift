import NIOCore
import NIOPosix
import SwiftLBConfig
import SwiftLBRegex

/// Runs a `tcp-check` sequence on one connection: each `send` is written, each `expect` waits
/// until what the server sent since the previous expect matches (or, negated, until it could
/// no longer match because the server closed). The whole sequence is bounded by the check
/// timeout. The outcome names the failing step, e.g. `step 3 (expect string '+PONG'): got '-ERR'`.
final class TCPCheckSequence: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let steps: [(number: Int, step: TCPCheckStep)]
    private let regexes: [Int: PCRE2Regex]
    private var index = 0
    private var received: [UInt8] = []
    private var context: ChannelHandlerContext?
    private var done = false
    let outcome: EventLoopPromise<CheckOutcome>

    init(steps: [TCPCheckStep], promise: EventLoopPromise<CheckOutcome>) {
        // Step numbers as the operator counts them (the leading connect is step 1).
        let numbered = steps.enumerated().map { (number: $0.offset + 1, step: $0.element) }
        self.steps = numbered.filter { if case .connect = $0.step { false } else { true } }
        var regexes: [Int: PCRE2Regex] = [:]
        for (n, step) in numbered {
            if case .expect(_, .rstring(let pattern)) = step { regexes[n] = try? PCRE2Regex(pattern) }
        }
        self.regexes = regexes
        self.outcome = promise
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failed("connection closed", .l7response))
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        advance()
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if received.count < 64 * 1024, let bytes = buffer.readBytes(length: buffer.readableBytes) { received += bytes }
        advance()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // A negated expect passes when the server closes without having sent the pattern.
        if index < steps.count, case .expect(true, let match) = steps[index].step, !matches(match, step: steps[index].number) {
            index += 1
            advance()
        }
        finish(.failed(index < steps.count ? "step \(steps[index].number) (\(describe(steps[index].step))): connection closed, got '\(preview)'" : "connection closed", .l7response))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failed(HealthProbe.describe(error), HealthProbe.kind(of: error)))
        context.close(promise: nil)
    }

    /// Runs every step that can run now.
    private func advance() {
        guard let context, !done else { return }
        while index < steps.count {
            let (number, step) = steps[index]
            switch step {
            case .connect:
                index += 1
            case .send(let bytes):
                var buffer = context.channel.allocator.buffer(capacity: bytes.count)
                buffer.writeBytes(bytes)
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
                index += 1
            case .expect(let negated, let match):
                let found = matches(match, step: number)
                if negated {
                    if found { finish(.failed("step \(number) (\(describe(step))): got '\(preview)'", .l7response)); return }
                    return  // decided when more data or the close arrives
                }
                guard found else { return }
                received.removeAll()
                index += 1
            }
        }
        finish(.passed("tcp-check: \(steps.count) steps", .l7ok))
    }

    private func matches(_ match: TCPCheckMatch, step: Int) -> Bool {
        switch match {
        case .string(let needle), .binary(let needle):
            return needle.isEmpty || received.firstRange(of: needle) != nil
        case .rstring:
            return received.withUnsafeBytes { regexes[step]?.matches($0) ?? false }
        }
    }

    private var preview: String {
        String(decoding: received.prefix(40), as: UTF8.self).replacing("\r\n", with: "\\r\\n")
    }

    private func describe(_ step: TCPCheckStep) -> String {
        switch step {
        case .connect: return "connect"
        case .send: return "send"
        case .expect(let negated, let match):
            let bang = negated ? "! " : ""
            switch match {
            case .string(let s): return "expect \(bang)string '\(String(decoding: s, as: UTF8.self))'"
            case .rstring(let r): return "expect \(bang)rstring '\(r)'"
            case .binary(let b): return "expect \(bang)binary \(b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())"
            }
        }
    }

    /// Timeout: fail at the step we are waiting on.
    func timedOut() {
        guard !done else { return }
        if index < steps.count, case .expect(true, _) = steps[index].step {
            // A negated expect that saw nothing forbidden until the deadline passes.
            index += 1
            advance()
            if done { return }
        }
        let at = index < steps.count ? "step \(steps[index].number) (\(describe(steps[index].step))): " : ""
        finish(.failed("\(at)timeout, got '\(preview)'", .l7timeout))
    }

    private func finish(_ result: CheckOutcome) {
        guard !done else { return }
        done = true
        outcome.succeed(result)
        context?.close(promise: nil)
    }
}
