#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import SwiftLBConfig
import SwiftLBRegex
import SwiftLBTLS

/// What one check found: passed, or failed with the reason an operator reads in the log,
/// with HAProxy's classification of it (the stats page's `check_status`, `check_code`).
/// A passed check may carry what HAProxy prints as its `info` (the MySQL server's version);
/// a failed one's text is its info.
public enum CheckOutcome: Sendable, Equatable {
    case passed(String, CheckKind, code: Int? = nil, info: String? = nil)
    case failed(String, CheckKind, code: Int? = nil)

    public var kind: CheckKind {
        switch self { case .passed(_, let k, _, _), .failed(_, let k, _): k }
    }
    public var code: Int? {
        switch self { case .passed(_, _, let c, _), .failed(_, _, let c): c }
    }
    public var text: String {
        switch self { case .passed(let t, _, _, _), .failed(let t, _, _): t }
    }
}

/// HAProxy's check statuses a SwiftLB check can end in (`L4OK`, `L7STS`…), so the stats page
/// says which layer passed or failed, as HAProxy's does.
public enum CheckKind: Sendable, Equatable {
    case l4ok, l6ok, l7ok
    /// HAProxy's L7OKC: `http-check disable-on-404` and the server answered 404 — alive, but
    /// it asks for no new traffic (the server goes NOLB).
    case l7okConditional
    case l4timeout, l4connect, l6timeout, l6response, l7timeout, l7response, l7status
    /// Failed by `observe` on live traffic (HAProxy's HANA).
    case liveTraffic
    case socketError
}

/// One check of one server: a TCP connect, or an HTTP request whose answer is matched
/// against `http-check expect`. Bounded by `timeout` from connect to the last byte.
struct HealthProbe: Sendable {
    let address: SocketAddress
    let http: HTTPCheck?
    /// A `tcp-check` sequence (takes precedence over a plain connect).
    var tcp: [TCPCheckStep]? = nil
    /// A check in the server's protocol (`option mysql-check`…): takes precedence over both.
    var protocolCheck: ProtocolCheck? = nil
    let host: String
    let timeout: TimeAmount
    /// The `http-check expect` rules' patterns, compiled.
    var regexes = HTTPCheckRegexes([])
    /// TLS towards an `ssl` server: the probe's bytes go through it.
    var tls: TLSClientContext? = nil
    var serverName: String? = nil
    /// The TLS of `tcp-check connect ssl` steps, by step number (their own ALPN).
    var stepTLS: [Int: TLSClientContext] = [:]
    /// The PROXY header the HTTP (or plain connect) check starts with: `http-check connect
    /// send-proxy`'s or the server's (v2 with `send-proxy-v2`); HealthChecker.proxyHeader(of:).
    var proxyHeader: ProxyProtocolVersion? = nil
    /// The server's PROXY header for checks (`check-send-proxy`, or `send-proxy` when the
    /// check goes to the server's own address): the implicit or `default` connect of a
    /// tcp-check sequence and the protocol checks (mysql-check, redis-check…) start with it.
    var serverProxyHeader: ProxyProtocolVersion? = nil
    /// `source ADDR[:PORT]`: the local address the check's connections are bound to.
    var source: SocketAddress? = nil

    /// The most of an answer read: enough for a status line, headers and a small body.
    static let maxResponse = 16 * 1024

    /// - Parameters:
    ///   - serverDown: the server is DOWN now (a 404 does not pass conditionally then).
    ///   - state: the `X-Haproxy-Server-State` header's value (`http-check send-state`).
    func run(on loop: any EventLoop, serverDown: Bool = false, state: String? = nil) -> EventLoopFuture<CheckOutcome> {
        if let protocolCheck { return runConversation(protocolCheck.conversation(), on: loop) }
        if let tcp, !tcp.isEmpty { return runSequence(tcp, on: loop) }
        // A plain TLS check: the handshake must complete (an empty sequence over TLS).
        if http == nil, tls != nil { return runSequence([], on: loop) }
        let collector = ResponseCollector(limit: Self.maxResponse, bodiless: http?.method == "HEAD")
        let request = http.map { requestBytes($0, state: state) }
        let linger = http?.connect?.linger ?? false
        let bootstrap = CheckConnectionClose.configure(ClientBootstrap(group: loop), linger: linger, source: source)
            .connectTimeout(timeout)
            .channelInitializer { [tls, serverName, proxyHeader] channel in
                channel.eventLoop.makeCompletedFuture {
                    try CheckConnectionClose.install(on: channel, linger: linger)
                    if let proxyHeader { try channel.pipeline.syncOperations.addHandler(CheckProxyHeader(proxyHeader)) }
                    try Self.addTLS(tls, serverName: serverName, to: channel)
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
        let deadline = NIODeadline.now() + timeout
        return bootstrap.connect(to: address).flatMap { channel -> EventLoopFuture<CheckOutcome> in
            guard let request else {
                let kind: CheckKind = tls == nil ? .l4ok : .l6ok
                // A PROXY header still goes out before the close, as HAProxy sends it.
                let header = proxyHeader == nil ? channel.eventLoop.makeSucceededVoidFuture() : channel.writeAndFlush(ByteBuffer())
                return header.flatMap { channel.close() }.map { .passed("connected", kind) }.recover { _ in .passed("connected", kind) }
            }
            channel.writeAndFlush(ByteBuffer(string: request), promise: nil)
            let timer = loop.scheduleTask(deadline: deadline) { channel.close(promise: nil) }
            return collector.done.futureResult.map { bytes in
                timer.cancel()
                if NIODeadline.now() >= deadline && bytes.isEmpty { return .failed("timeout after \(timeout.nanoseconds / 1_000_000)ms", .l7timeout) }
                return evaluate(bytes, serverDown: serverDown)
            }
        }.recover { error in
            .failed(Self.describe(error), Self.kind(of: error))
        }
    }

    private func runSequence(_ steps: [TCPCheckStep], on loop: any EventLoop) -> EventLoopFuture<CheckOutcome> {
        let plan = TCPCheckPlan(steps)
        let deadline = NIODeadline.now() + timeout
        /// Runs part `index` and, if it passes, the next; the check timeout bounds them all.
        func run(_ index: Int) -> EventLoopFuture<CheckOutcome> {
            let part = plan.parts[index]
            let (target, tls, serverName) = connection(for: part)
            let promise = loop.makePromise(of: CheckOutcome.self)
            let sequence = TCPCheckSequence(numbered: part.steps, promise: promise, tls: tls != nil, explicitConnect: part.connect != nil)
            let remaining = max(deadline - NIODeadline.now(), .milliseconds(1))
            let header = part.connect.map { $0.options.useServerSettings } ?? true ? serverProxyHeader : nil
            return exchange(sequence, to: target, tls: tls, serverName: serverName, proxyHeader: header, linger: part.connect?.options.linger ?? false,
                            promise: promise, on: loop, within: remaining) { sequence.timedOut() }.flatMap { outcome in
                if case .failed(let text, let kind, _) = outcome, [.l4connect, .l4timeout, .l6response, .l6timeout].contains(kind), !sequence.connected {
                    return loop.makeSucceededFuture(TCPCheckPlan.connectFailure(text, kind: kind, part: part))
                }
                guard case .passed = outcome, index + 1 < plan.parts.count else { return loop.makeSucceededFuture(outcome) }
                return run(index + 1)
            }
        }
        return run(0)
    }

    /// Where a part of a sequence connects and how, as HAProxy's `tcpcheck_eval_connect`: to
    /// `addr`/`port` if given, else the check's address; over TLS with `ssl` (its own SNI and
    /// ALPN) or, for `default` and the implicit connect, as the server's checks do.
    func connection(for part: TCPCheckPlan.Part) -> (SocketAddress, TLSClientContext?, String?) {
        guard let (number, connect) = part.connect else { return (address, tls, serverName) }
        var target = address
        if let ip = connect.address, let port = connect.port ?? address.port {
            if let moved = try? SocketAddress(ipAddress: ip, port: port) { target = moved }
        } else if let port = connect.port, let ip = address.ipAddress {
            // `connect port N` moves an IP check; a unix server's socket has no port (as in HAProxy).
            if let moved = try? SocketAddress(ipAddress: ip, port: port) { target = moved }
        }
        if connect.ssl { return (target, stepTLS[number] ?? tls, connect.sni ?? (connect.useServerSettings ? serverName : nil)) }
        if connect.useServerSettings { return (target, tls, serverName) }
        return (target, nil, nil)
    }

    private func runConversation(_ conversation: any CheckConversation, on loop: any EventLoop) -> EventLoopFuture<CheckOutcome> {
        let promise = loop.makePromise(of: CheckOutcome.self)
        let runner = ConversationRunner(conversation, promise: promise)
        return exchange(runner, to: address, tls: tls, serverName: serverName, proxyHeader: serverProxyHeader, promise: promise, on: loop,
                        within: timeout) { runner.timedOut() }
    }

    /// TLS for a check's connection: the handshake, and the gate that shows the check's
    /// handler the connection only once it is done.
    static func addTLS(_ tls: TLSClientContext?, serverName: String?, to channel: any Channel) throws {
        guard let tls else { return }
        try channel.pipeline.syncOperations.addHandler(TLSHandler(client: tls, serverName: serverName))
        try channel.pipeline.syncOperations.addHandler(CheckTLSGate())
    }

    /// Connects `handler` (behind TLS for an `ssl` server), which completes `promise`; a failed
    /// connect completes it with its cause, and `timedOut` runs when the check's time is up.
    private func exchange(_ handler: some ChannelInboundHandler & Sendable, to target: SocketAddress,
                          tls: TLSClientContext?, serverName: String?, proxyHeader: ProxyProtocolVersion? = nil, linger: Bool = false,
                          promise: EventLoopPromise<CheckOutcome>,
                          on loop: any EventLoop, within timeout: TimeAmount,
                          timedOut: @escaping @Sendable () -> Void) -> EventLoopFuture<CheckOutcome> {
        let timer = loop.scheduleTask(in: timeout, timedOut)
        CheckConnectionClose.configure(ClientBootstrap(group: loop), linger: linger, source: source).connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try CheckConnectionClose.install(on: channel, linger: linger)
                    if let proxyHeader { try channel.pipeline.syncOperations.addHandler(CheckProxyHeader(proxyHeader)) }
                    try Self.addTLS(tls, serverName: serverName, to: channel)
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(to: target)
            .whenFailure { error in promise.succeed(.failed(Self.describe(error), Self.kind(of: error))) }
        return promise.futureResult.always { _ in timer.cancel() }
    }

    /// The check request as HAProxy writes it: no Host unless one is configured (SwiftLB adds
    /// the server's address to an HTTP/1.1 request, which is invalid without one),
    /// `Connection: close` unless a Connection header is configured (an upgrade check), the
    /// body with its length.
    /// `state` (send-state) follows the configured headers, as in HAProxy.
    func requestBytes(_ check: HTTPCheck, state: String? = nil) -> String {
        var text = "\(check.method) \(check.uri) \(check.version)\r\n"
        let names = Set(check.headers.map { $0.0.lowercased() })
        if !names.contains("host") && check.version == "HTTP/1.1" { text += "Host: \(host)\r\n" }
        for (name, value) in check.headers { text += "\(name): \(value)\r\n" }
        if let state { text += "\(ServerStateHeader.name): \(state)\r\n" }
        if !names.contains("connection") { text += "Connection: close\r\n" }
        if let body = check.body, !names.contains("content-length") { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "User-Agent: swiftlb-health-check\r\n\r\n"
        return text + (check.body ?? "")
    }

    /// Matches the answer against the expectation. With `disable-on-404`, a 404 from a server
    /// that is not DOWN passes conditionally (HAProxy's L7OKC, no description), whatever the
    /// expectation; a DOWN server's 404 is judged as any other answer.
    func evaluate(_ bytes: [UInt8], serverDown: Bool = false) -> CheckOutcome {
        guard let answer = HTTPCheckAnswer(bytes) else {
            let statusLine = String(decoding: bytes, as: UTF8.self).prefix { $0 != "\r" && $0 != "\n" }
            return .failed(bytes.isEmpty ? "connection closed without a response" : "invalid response '\(statusLine.prefix(40))'", .l7response)
        }
        if http?.disableOn404 == true, answer.code == 404, !serverDown { return .passed("", .l7okConditional, code: answer.code) }
        return answer.verdict(http?.expects ?? [], regexes: regexes)
    }

    /// Which layer a failed connect or handshake failed at.
    static func kind(of error: any Error) -> CheckKind {
        if case ChannelError.connectTimeout = error { return .l4timeout }
        if error is CheckHandshakeError { return .l6response }
        if error is TLSError { return .l6response }
        return .l4connect
    }

    static func describe(_ error: any Error) -> String {
        if case ChannelError.connectTimeout = error { return "connect timeout" }
        let text = "\(error)"
        if text.contains("Connection refused") || text.contains("errno: 111") { return "connection refused" }
        if text.contains("Connection reset") || text.contains("errno: 104") { return "connection reset" }
        // connect(2) itself failed (no route, unreachable network): HAProxy's CO_ER_SOCK_ERR.
        if let io = Self.ioError(error), text.contains("connect(") {
            return "General socket error (\(String(cString: strerror(io.errnoCode))))"
        }
        return text
    }

    private static func ioError(_ error: any Error) -> IOError? {
        if let io = error as? IOError { return io }
        return (error as? NIOConnectionError)?.connectionErrors.lazy.compactMap { $0.error as? IOError }.first
    }
}

/// Reads an answer until the server closes or `limit` bytes arrived.
private final class ResponseCollector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    private let limit: Int
    private var bytes: [UInt8] = []
    private var promise: EventLoopPromise<[UInt8]>?
    private var completed = false
    /// Set in `handlerAdded`, before any read can complete it.
    var done: EventLoopPromise<[UInt8]> { promise! }

    /// The check's method is HEAD: the answer ends with its head.
    private let bodiless: Bool

    init(limit: Int, bodiless: Bool = false) { self.limit = limit; self.bodiless = bodiless }

    func handlerAdded(context: ChannelHandlerContext) {
        promise = context.eventLoop.makePromise()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if let chunk = buffer.readBytes(length: min(buffer.readableBytes, limit - bytes.count)) { bytes += chunk }
        // A server that keeps the connection open despite `Connection: close` is done once
        // its answer is (as HAProxy reads it), not when the check times out.
        if bytes.count >= limit || HTTPCheckAnswer.isComplete(bytes, bodiless: bodiless) { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func handlerRemoved(context: ChannelHandlerContext) { complete() }

    private func complete() {
        guard !completed else { return }
        completed = true
        promise?.succeed(bytes)
    }
}
