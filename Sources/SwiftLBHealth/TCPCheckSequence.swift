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

    /// - Parameter numbered: the steps of one connection, numbered as the operator counts
    ///   them in the whole sequence (a leading connect is step 1).
    /// Over TLS (a passed connect-only part is layer 6), and whether the part's connect was
    /// written (HAProxy's info "(tcp-check)") rather than implicit.
    private let tls: Bool
    private let explicitConnect: Bool

    init(numbered: [(number: Int, step: TCPCheckStep)], promise: EventLoopPromise<CheckOutcome>, tls: Bool = false, explicitConnect: Bool = false) {
        self.tls = tls
        self.explicitConnect = explicitConnect
        self.steps = numbered.filter { if case .connect = $0.step { false } else { true } }
        var regexes: [Int: PCRE2Regex] = [:]
        for (n, step) in numbered {
            if case .expect(_, .rstring(let pattern), _, _) = step { regexes[n] = try? PCRE2Regex(pattern) }
        }
        self.regexes = regexes
        self.outcome = promise
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) {
        finish(.failed("connection closed", .l7response))
        self.context = nil
    }

    /// The connection was made (a failure after it is no connect failure).
    private(set) var connected = false

    func channelActive(context: ChannelHandlerContext) {
        connected = true
        advance(closed: false)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if received.count < 64 * 1024, let bytes = buffer.readBytes(length: buffer.readableBytes) { received += bytes }
        advance(closed: false)
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The close decides the expect waiting on more (a negated one passes without its pattern).
        advance(closed: true)
        finish(.failed(index < steps.count ? "step \(steps[index].number) (\(describe(steps[index].step))): connection closed, got '\(preview)'" : "connection closed", .l7response))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failed(HealthProbe.describe(error), HealthProbe.kind(of: error)))
        context.close(promise: nil)
    }

    /// Runs every step that can run now, with HAProxy's rules for an expect: it waits for
    /// `min-recv` bytes (or the close); without `min-recv` a mismatch waits for more (the close
    /// or the timeout decide); what arrived stays for the next expect until a send.
    private func advance(closed: Bool) {
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
                received.removeAll()
                index += 1
            case .expect(let negated, let match, let minRecv, _):
                if !closed, let minRecv, received.count < minRecv { return }
                let found = matches(match, step: number)
                if !found && !closed && minRecv == nil { return }  // more may come
                guard found != negated else {
                    finish(.failed("step \(number) (\(describe(step))): \(closed ? "connection closed, " : "")got '\(preview)'", .l7response))
                    return
                }
                index += 1
            }
        }
        // HAProxy: a sequence whose last rule is its connect passed at layer 4 (6 over TLS),
        // "(tcp-check)" unless the connect was implicit; otherwise at layer 7, "(tcp-check)".
        guard !steps.isEmpty else {
            finish(.passed("connected", tls ? .l6ok : .l4ok, info: explicitConnect ? "(tcp-check)" : nil))
            return
        }
        let endsOnExpect = if case .expect = steps.last?.step { true } else { false }
        finish(.passed("tcp-check: \(steps.count) steps", .l7ok, info: endsOnExpect ? "(tcp-check)" : nil))
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
        case .expect(let negated, let match, _, _):
            let bang = negated ? "! " : ""
            switch match {
            case .string(let s): return "expect \(bang)string '\(String(decoding: s, as: UTF8.self))'"
            case .rstring(let r): return "expect \(bang)rstring '\(r)'"
            case .binary(let b): return "expect \(bang)binary \(b.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())"
            }
        }
    }

    /// Timeout: fail at the step we are waiting on, in HAProxy's words (`at step 2 of
    /// tcp-check (expect regex) comment: '…'`).
    func timedOut() {
        guard !done else { return }
        // Still in the TLS handshake: a layer 6 timeout.
        if tls && !connected { finish(.failed("", .l6timeout)); return }
        finish(.failed(index < steps.count ? Self.haproxyStep(steps[index]) : "", .l7timeout))
    }

    /// chk_report_conn_err's description of a step.
    static func haproxyStep(_ numbered: (number: Int, step: TCPCheckStep)) -> String {
        var s = " at step \(numbered.number) of tcp-check"
        switch numbered.step {
        case .connect(let connect): s += connect.port.map { " (connect port \($0))" } ?? " (connect)"
        case .send: s += " (send)"
        case .expect(_, let match, _, let comment):
            switch match {
            case .string(let text): s += " (expect string '\(String(decoding: text, as: UTF8.self))')"
            case .binary(let bytes): s += " (expect binary '\(String(decoding: bytes, as: UTF8.self))')"
            case .rstring: s += " (expect regex)"
            }
            if let comment { s += " comment: '\(comment)'" }
        }
        return s
    }

    private func finish(_ result: CheckOutcome) {
        guard !done else { return }
        done = true
        outcome.succeed(result)
        context?.close(promise: nil)
    }
}

/// A `tcp-check` sequence cut at its `connect` steps: each part runs on its own connection
/// (HAProxy closes the previous one), one after the other, the step numbers running on.
struct TCPCheckPlan {
    struct Part {
        /// The explicit `connect` that opens it (nil: the implicit one to the server's port).
        var connect: (number: Int, options: TCPCheckConnect)?
        var steps: [(number: Int, step: TCPCheckStep)]
    }

    let parts: [Part]

    init(_ steps: [TCPCheckStep]) {
        var parts: [Part] = []
        for (offset, step) in steps.enumerated() {
            if case .connect(let options) = step {
                parts.append(Part(connect: (offset + 1, options), steps: []))
            } else {
                if parts.isEmpty { parts.append(Part(connect: nil, steps: [])) }
                parts[parts.count - 1].steps.append((offset + 1, step))
            }
        }
        // No step at all: the implicit connect alone.
        self.parts = parts.isEmpty ? [Part(connect: nil, steps: [])] : parts
    }

    /// HAProxy's description of a failed explicit connect: `Connection refused at step 2 of
    /// tcp-check (connect port 1)`; an implicit connect's failure is described alone.
    static func connectFailure(_ description: String, kind: CheckKind, part: Part) -> CheckOutcome {
        guard let connect = part.connect else { return .failed(description, kind) }
        let reason = CheckLog.info(.failed(description, kind)) ?? description
        return .failed(reason + TCPCheckSequence.haproxyStep((connect.number, .connect(connect.options))), kind)
    }
}
