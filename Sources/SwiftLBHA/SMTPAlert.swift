import Glibc
import Logging
import NIOCore
import NIOPosix
import SwiftLBConfig

/// keepalived's `smtp_alert`: a mail to every `notification_email` on each state change of an
/// instance or a sync group that asks for it, over plain SMTP to `smtp_server`
/// (`SMTPDialogue` says what is said). On the VRRP loop but off the election's path: nothing
/// waits for a mail, the connect and every reply are bounded by `smtp_connect_timeout`, and a
/// mail that fails is logged and changes nothing. Confined to the VRRP loop; `drain` is the
/// one call from outside it.
final class SMTPAlert: @unchecked Sendable {
    let server: String
    let port: Int
    let noFaultMails: Bool
    private let address: SocketAddress
    private let timeout: TimeAmount
    private let routerID: String
    private let heloName: String
    private let from: String
    private let recipients: [String]
    private let loop: any EventLoop
    private let logger: Logger
    /// Mails under way, and who waits for them to end (`drain`).
    private var inFlight = 0
    private var drained: [EventLoopPromise<Void>] = []

    /// nil when no mail can go (no server or no recipient, as keepalived sends none then), or
    /// when the server's name does not resolve (logged: keepalived refuses the line too).
    /// Resolves a host name at once, blocking: called while the VIP runtime starts.
    init?(settings: SMTPAlertSettings, routerID: String?, loop: any EventLoop, logger: Logger) {
        guard settings.canSend, let server = settings.server else { return nil }
        do {
            address = try SocketAddress.makeAddressResolvingHost(server, port: settings.port)
        } catch {
            logger.error("smtp_alert: cannot resolve smtp_server '\(server)': \(error); no alert mail will be sent")
            return nil
        }
        let host = Self.hostName()
        self.server = server
        self.port = settings.port
        self.noFaultMails = settings.noFaultMails
        self.timeout = .nanoseconds(settings.connectTimeout.nanoseconds)
        self.routerID = routerID ?? host
        self.heloName = settings.heloName ?? host
        self.from = settings.from ?? "\(Self.userName())@\(host)"
        self.recipients = settings.recipients
        self.loop = loop
        self.logger = logger
    }

    /// Mails `state` of the instance or group `name` (on the loop). Returns at once.
    func send(group: Bool, name: String, state: Elector.State) {
        loop.preconditionInEventLoop()
        let text = SMTPMessage.text(group: group, name: name, routerID: routerID, state: state)
        let message = SMTPMessage(heloName: heloName, from: from, recipients: recipients, subject: text.subject, body: text.body,
                                  date: Self.rfc822Date())
        let target = "\(server):\(port)"
        let label = "smtp_alert \"\(message.subject)\""
        inFlight += 1
        let finished: @Sendable (String?) -> Void = { [self] problem in
            if let problem {
                logger.warning("\(label) not sent via \(target): \(problem)")
            } else {
                logger.info("\(label) sent to \(recipients.joined(separator: ", ")) via \(target)")
            }
            inFlight -= 1
            if inFlight == 0 {
                for promise in drained { promise.succeed() }
                drained = []
            }
        }
        let timeout = self.timeout
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(SMTPClientHandler(dialogue: SMTPDialogue(message: message), timeout: timeout, finished: finished))
                }
            }
            .connect(to: address)
            .whenFailure { error in finished("cannot connect: \(error)") }
    }

    /// Completes once no mail is under way, or after `limit`: a stop lets its last mail (the
    /// "Stopping" one) finish, without waiting on a slow server for long.
    func drain(within limit: TimeAmount) -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            guard inFlight > 0 else { return loop.makeSucceededVoidFuture() }
            let promise = loop.makePromise(of: Void.self)
            drained.append(promise)
            loop.scheduleTask(in: limit) { [self] in
                // Unless the last mail ended first (and completed it).
                guard let index = drained.firstIndex(where: { $0.futureResult === promise.futureResult }) else { return }
                drained.remove(at: index)
                promise.succeed()
            }
            return promise.futureResult
        }
    }

    /// keepalived's strftime "%a, %d %b %Y %H:%M:%S %z", in local time.
    static func rfc822Date() -> String {
        var now = time(nil)
        var parts = tm()
        localtime_r(&now, &parts)
        var buffer = [CChar](repeating: 0, count: 80)
        let count = strftime(&buffer, buffer.count, "%a, %d %b %Y %H:%M:%S %z", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func userName() -> String {
        guard let entry = getpwuid(getuid()), let name = entry.pointee.pw_name else { return "root" }
        return String(cString: name)
    }
}

/// The mails of one instance or sync group: one per new state, as keepalived's
/// vrrp_smtp_notifier (the same state twice in a row is mailed once; with `no_email_faults`,
/// FAULT is not mailed). Confined to the VRRP loop, like its owner.
struct StateMail {
    let alert: SMTPAlert?
    let group: Bool
    let name: String
    private var last: Elector.State?

    init(alert: SMTPAlert?, group: Bool, name: String) {
        self.alert = alert
        self.group = group
        self.name = name
    }

    mutating func entered(_ state: Elector.State) {
        guard let alert, state != last, !(state == .fault && alert.noFaultMails) else { return }
        last = state
        alert.send(group: group, name: name, state: state)
    }
}

/// One mail's connection: feeds the server's replies to the dialogue and writes its commands,
/// each reply awaited for at most `timeout`. Tells `finished` once, when the connection ends.
private final class SMTPClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var dialogue: SMTPDialogue
    private var reader = SMTPReplyReader()
    private let timeout: TimeAmount
    private var finished: (@Sendable (String?) -> Void)?
    private var timer: Scheduled<Void>?
    /// Why the connection ended early, when the dialogue cannot say (a broken reply).
    private var problem: String?

    init(dialogue: SMTPDialogue, timeout: TimeAmount, finished: @escaping @Sendable (String?) -> Void) {
        self.dialogue = dialogue
        self.timeout = timeout
        self.finished = finished
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytesView
        let codes: [Int]
        do { codes = try reader.feed(bytes) } catch {
            problem = "the server's reply is not SMTP (\(error))"
            return perform(dialogue.timedOut(), context)
        }
        for code in codes where dialogue.phase != .done { perform(dialogue.reply(code), context) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        report()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if problem == nil && dialogue.outcome == nil { problem = "\(error)" }
        context.close(promise: nil)
    }

    private func perform(_ step: SMTPDialogue.Step, _ context: ChannelHandlerContext) {
        switch step {
        case .send(let text):
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
            arm(context)
        case .close:
            timer?.cancel()
            context.close(promise: nil)
        }
    }

    private func arm(_ context: ChannelHandlerContext) {
        timer?.cancel()
        let seconds = timeout.nanoseconds / 1_000_000_000
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            if problem == nil && dialogue.outcome == nil { problem = "no reply within \(seconds) s (smtp_connect_timeout)" }
            perform(dialogue.timedOut(), context)
        }
    }

    private func report() {
        guard let finished else { return }
        self.finished = nil
        switch dialogue.outcome {
        case .sent?: finished(nil)
        case .refused(let command, let code)? where code != 0 && problem == nil:
            finished("the server answered \(code) to \(command)")
        default:
            finished(problem ?? "the server closed the connection before the mail was accepted")
        }
    }
}
