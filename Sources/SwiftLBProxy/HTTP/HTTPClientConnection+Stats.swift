import NIOCore
import SwiftLBAdmin
import SwiftLBConfig

/// The stats page, its CSV/JSON and /metrics (`stats uri`, `http-request use-service
/// prometheus-exporter`): answered by the client connection itself from a snapshot of every
/// loop's counters, without a backend, and the connection closes after the answer.
extension HTTPClientConnection {
    // MARK: stats and metrics

    /// `http-request use-service prometheus-exporter`: /metrics from this frontend.
    func serveMetrics(_ head: MessageHead, framing: BodyFramer.Mode?, record: AccessLogRecord) {
        var settings = StatsPageSettings(uri: "\u{0}")  // no page: only the metrics path
        let path = head.target.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.target
        settings.metricsPath = path
        serveStats(head, framing: framing, settings: settings, record: record)
    }

    /// The stats page, its CSV/JSON and /metrics, answered here from a snapshot (taken off the
    /// data path: every loop is asked for its counters), then the connection closes.
    /// `page`: the `stats` lines whose `stats admin` decides (the frontend's unless a backend serves it).
    /// `afterResponse`: the backend serving the page (its rules, the stream's input): the
    /// backend's then the frontend's `http-after-response` rules run on the page, as HAProxy
    /// runs them on its stats applet's answer.
    func serveStats(_ head: MessageHead, framing: BodyFramer.Mode?, settings: StatsPageSettings, page: SwiftLBConfig.StatsPage? = nil, record: AccessLogRecord,
                    afterResponse: (backend: ProxyRules?, input: SampleInput)? = nil) {
        guard let context else { return }
        var body: [UInt8] = []
        if case .length(let n)? = framing {
            guard n <= StatsRequestWait.maxBody else {
                respondError(.badRequest, record: record, request: head, framing: framing)
                return
            }
            guard inbound.readableBytes >= n, let bytes = inbound.readBytes(length: n) else {
                // A browser often sends the form's body in a packet of its own: wait for it.
                state = .awaitingStatsBody(StatsRequestWait(head: head, length: n, settings: settings, page: page, record: record, since: clock))
                return
            }
            body = bytes
        } else if framing != nil {
            respondError(.badRequest, record: record, request: head, framing: framing)
            return
        }
        guard let api = loop.admin.api else {
            respondError(.serviceUnavailable, record: record, request: head, framing: framing)
            return
        }
        let admin = (page ?? frontend.config.options.stats).map { page in
            page.admin.contains { $0.evaluate(makeFacts(head)) }
        } ?? false
        let request = StatsHTTPRequest(head: head, body: body, adminAllowed: admin)
        let minor = head.minorVersion
        let headOnly = head.method == .head
        state = .closing
        let promise = context.eventLoop.makePromise(of: StatsHTTPResponse.self)
        promise.completeWithTask { await StatsPage.respond(to: request, settings: settings, api: api) }
        promise.futureResult.assumeIsolated().whenSuccess { response in
            guard let context = self.context else { return }
            var logged = record
            logged.status = response.status
            logged.backend = self.frontend.name
            logged.server = "<STATS>"
            self.writeLog(logged, intercepted: true)
            if var (backend, input) = afterResponse, let rules = self.frontend.engine ?? backend,
               !rules.afterResponse.isEmpty || backend.map({ !$0.afterResponse.isEmpty }) == true {
                let local = LocalResponse.make(status: response.status, reason: response.reason,
                                               headers: response.headers + [("content-length", String(response.body.utf8.count))], body: response.body)
                let bytes = rules.answer(local, backend: self.frontend.engine == nil ? nil : backend, input: &input, close: true, clientMinor: minor,
                                         headRequest: headOnly, allocator: context.channel.allocator)
                context.write(self.wrapOutboundOut(bytes), promise: nil)
                self.flushThenClose()
                return
            }
            context.write(self.wrapOutboundOut(response.bytes(minorVersion: minor, headOnly: headOnly, allocator: context.channel.allocator)), promise: nil)
            self.flushThenClose()
        }
    }
}

/// A stats request waiting for the rest of its body (`Content-Length` bytes, at most
/// `maxBody`): what it needs to be answered once they are in. A class, so that the
/// connection's `State` stays a one-word payload that every request path copies for free.
final class StatsRequestWait {
    /// The admin form posts a few fields; anything larger is refused (400).
    static let maxBody = 64 * 1024
    let head: MessageHead
    let length: Int
    let settings: StatsPageSettings
    let page: SwiftLBConfig.StatsPage?
    let record: AccessLogRecord
    let since: NIODeadline

    init(head: MessageHead, length: Int, settings: StatsPageSettings, page: SwiftLBConfig.StatsPage?, record: AccessLogRecord, since: NIODeadline) {
        self.head = head
        self.length = length
        self.settings = settings
        self.page = page
        self.record = record
        self.since = since
    }
}
