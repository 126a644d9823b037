import NIOCore

/// The log writer of one event loop for one set of targets (a frontend's `log` lines): renders
/// a record, frames it for each target (syslog header, `len`, LF) and queues it; at the end of
/// the loop iteration every target is flushed with one `sendmmsg` (datagram targets) or one
/// `write` (stdout, stderr, `fd@N`). A busy loop pays a syscall per target per iteration, not
/// per line, and never waits: a full socket or pipe drops lines and counts them.
///
/// Confined to its event loop (like `AccessLogWriter`): create it there, call it there. Its
/// counters are read there too (e.g. with `eventLoop.submit`).
public final class LogSink {
    public let targets: [LogTarget]
    public let identity: SyslogIdentity
    private let eventLoop: any EventLoop
    private let transports: [LogTransport]
    private var line = LogBuffer(capacity: 2048)
    private var header = LogBuffer(capacity: 128)
    private var flushScheduled = false
    /// HAProxy's `global.max_syslog_len`: a message is cut at this length minus one before any
    /// target's own `len` applies.
    private let maxMessageLength: Int

    /// What became of the lines (per target: one line sent to two targets counts twice).
    public private(set) var counters = Counters()

    public struct Counters: Sendable, Equatable {
        /// Messages handed to a target and written.
        public var sent = 0
        /// Messages lost because the socket or pipe was full (HAProxy's `dropped_logs`).
        public var dropped = 0
        /// Messages that could not be sent at all (no listener on the path, closed fd…).
        public var failed = 0
        /// Messages not for a target because of its level range or its `sample`.
        public var filtered = 0
    }

    /// Flush before the end of the iteration when this many bytes wait for one target.
    private static let flushThreshold = 64 * 1024

    public init(targets: [LogTarget], eventLoop: any EventLoop, identity: SyslogIdentity = SyslogIdentity()) {
        self.targets = targets
        self.identity = identity
        self.eventLoop = eventLoop
        self.transports = targets.map(LogTransport.init)
        self.maxMessageLength = max(1024, targets.map(\.length).max() ?? 1024) - 1
    }

    deinit { close() }

    /// Flushes what waits and closes the sockets this sink opened (not stdout or `fd@N`).
    public func close() {
        flush()
        for t in transports { t.close() }
    }

    /// Renders `record` with `format` and queues it for every target whose level range takes
    /// `level` (traffic logs are `.info`; HAProxy's `log-separate-errors` uses `.err`).
    public func log(_ record: LogRecord, format: LogFormat, level: LogLevel = .info) {
        line.removeAll()
        format.render(record, into: &line)
        enqueue(level: level)
    }

    /// Queues a message that is already text (health-check transitions, start/stop notices).
    public func send(_ message: String, level: LogLevel) {
        line.removeAll()
        line.append(contentsOf: message)
        enqueue(level: level)
    }

    private func enqueue(level: LogLevel) {
        guard line.count > 0 else { return }  // HAProxy sends nothing for an empty line
        line.truncate(to: maxMessageLength)
        let now = LogTimestamp.now
        var queuedAny = false
        for (i, transport) in transports.enumerated() {
            let target = targets[i]
            guard level <= target.maxLevel else { counters.filtered += 1; continue }
            if let sample = target.sample, !sample.take() { counters.filtered += 1; continue }
            let effective = max(level, target.minLevel)
            header.removeAll()
            SyslogHeader.write(target.format, level: effective, facility: target.facility, identity: identity, now: now, into: &header)
            let start = transport.beginMessage()
            header.withUnsafeBytes { transport.append($0) }
            line.withUnsafeBytes { transport.append($0) }
            transport.endMessage(start: start)
            queuedAny = true
            if transport.pendingBytes > Self.flushThreshold { flush(transport) }
        }
        if queuedAny && !flushScheduled {
            flushScheduled = true
            eventLoop.assumeIsolated().execute { self.flush() }
        }
    }

    /// Sends everything queued now (normally called once per loop iteration by itself).
    public func flush() {
        flushScheduled = false
        for t in transports { flush(t) }
    }

    private func flush(_ transport: LogTransport) {
        let outcome = transport.flush()
        counters.sent += outcome.sent
        counters.dropped += outcome.dropped
        counters.failed += outcome.failed
    }
}

extension LogRecord {
    /// HAProxy's test for an "error" stream (`strm_log`): what `option dontlog-normal` still
    /// logs and what `option log-separate-errors` raises to `err` — a redispatch, an abnormal
    /// end (anything but normal or locally handled), retries, or (HTTP) a 5xx status.
    public func isError(mode: LogMode) -> Bool {
        redispatched
            || (termination.cause != .none && termination.cause != .local)
            || (termination.cause == .none && retries > 0)
            || (mode == .http && status >= 500)
    }
}
