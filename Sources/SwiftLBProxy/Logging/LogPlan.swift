#if canImport(Glibc)
import Glibc
#endif
import Atomics
import NIOCore
import SwiftLBConfig
import SwiftLBHealth
import SwiftLBLog
import SwiftLBTLS

/// Where one frontend's log lines go and how they read: its `log` targets (or the global ones
/// with `log global`) and its format (`log-format`, `option httplog|tcplog`), rendered by
/// SwiftLBLog byte for byte as HAProxy writes them.
struct LogPlan: Sendable {
    let targets: [SwiftLBLog.LogTarget]
    /// The syslog header's tag and hostname (`log-tag`, `log-send-hostname`).
    var identity = SyslogIdentity()
    let format: SwiftLBLog.LogFormat
    /// `option dontlog-normal`: only streams that went wrong are logged.
    let dontLogNormal: Bool
    /// `option log-separate-errors`: streams that went wrong are logged at `err`, not `info`.
    let separateErrors: Bool
    /// `option logasap`: an HTTP stream is logged when its response head goes to the client,
    /// not when it ends (`%Ta %Tt %B` then carry HAProxy's `+`).
    var logASAP = false
    /// The format's `%[…]` expressions, in its order, compiled for the frontend (a state
    /// fetch without argument reads it); nil where SwiftLB's rules cannot evaluate one, which
    /// then logs `-` as before. Empty: nothing is evaluated per stream.
    var samples: [SampleExpression?] = []

    /// The level `record` is logged at, or nil when the options say not to log it.
    func level(of record: LogRecord, mode: LogMode) -> LogLevel? {
        guard dontLogNormal || separateErrors else { return .info }
        let error = record.isError(mode: mode)
        if dontLogNormal && !error { return nil }
        return separateErrors && error ? .err : .info
    }

    /// The plan of `frontend`, or nil when it logs no traffic (no `option httplog|tcplog`,
    /// no `log-format`). Without `log` targets the lines go to stdout (or stderr with a global
    /// `log stderr`) in raw format, as SwiftLB always did; HAProxy would log nothing.
    static func make(_ frontend: Frontend, global: GlobalSettings, file: String) throws(ConfigErrors) -> LogPlan? {
        let options = frontend.options
        guard options.httpLog || options.tcpLog || options.logFormat != nil else { return nil }
        let tcp = options.mode == .tcp
        let format: SwiftLBLog.LogFormat
        if let text = options.logFormat {
            do {
                format = try SwiftLBLog.LogFormat.parse(text, mode: tcp ? .tcp : .http)
            } catch {
                throw ConfigErrors([ConfigError(file: file, line: options.logFormatLine, keyword: "log-format", message: "in frontend '\(frontend.name)': \(error)")])
            }
        } else if tcp || !options.httpLog {
            format = .tcplog  // HAProxy too falls back to tcplog for `option httplog` in a TCP proxy
        } else {
            switch options.httpLogLayout {
            case .httplog: format = .httplog
            case .clf: format = .clf
            case .httpslog: format = .httpslog
            }
        }
        var targets = try logTargets(options, global: global, file: file)
        if targets.isEmpty {
            targets = [global.logTarget == .stderr ? SwiftLBLog.LogTarget(address: .fd(2), facility: .daemon, format: .raw) : .stdoutRaw]
        }
        return LogPlan(targets: targets, identity: identity(options, global: global), format: format, dontLogNormal: options.dontLogNormal,
                       separateErrors: options.logSeparateErrors, logASAP: options.logASAP,
                       samples: format.sampleExpressions.map { try? SampleExpression(parsing: $0, owner: frontend.name) })
    }

    /// A proxy's syslog identity, as HAProxy's __send_log picks it: the proxy's `log-tag`, else
    /// the global one, else the program's name; the hostname of `log-send-hostname`.
    static func identity(_ options: ProxyOptions, global: GlobalSettings) -> SyslogIdentity {
        SyslogIdentity(tag: options.logTag ?? global.logTag ?? SyslogIdentity.programName, hostname: global.logSendHostname)
    }

    /// A proxy's `log` targets: its own `log` lines, after the global ones with `log global`.
    /// A backend's are where its servers' state changes and check results go.
    static func logTargets(_ options: ProxyOptions, global: GlobalSettings, file: String) throws(ConfigErrors) -> [SwiftLBLog.LogTarget] {
        var servers = options.logTargets
        if options.logGlobal { servers = global.logServers + servers }
        var targets: [SwiftLBLog.LogTarget] = []
        for server in servers {
            do {
                targets.append(try SwiftLBLog.LogTarget(words: words(server)))
            } catch {
                throw ConfigErrors([ConfigError(file: file, line: server.line, keyword: "log", message: error.message)])
            }
        }
        return targets
    }

    /// The lb.conf words of a parsed `log` line, for SwiftLBLog's own reading of them.
    private static func words(_ s: LogServer) -> [String] {
        var words: [String]
        switch s.address {
        case .stdout: words = ["stdout"]
        case .stderr: words = ["stderr"]
        case .unix(let path): words = [path]
        case .udp(let host, let port): words = ["udp@\(host.contains(":") ? "[\(host)]" : host):\(port)"]
        }
        if let length = s.length { words += ["len", String(length)] }
        if s.format != .rfc3164 || s.address == .stdout || s.address == .stderr { words += ["format", s.format.rawValue] }
        if let sample = s.sample { words += ["sample", sample] }
        // lb.conf lets stdout/stderr go without a facility (it only shows in a syslog header).
        words.append(s.facility ?? "daemon")
        if let level = s.maxLevel { words.append(level) }
        if let level = s.minLevel { words.append(level) }
        return words
    }
}

extension AccessLogRecord {
    /// The same stream as SwiftLBLog's record, for a plan's format.
    func logRecord(frontendIsTLS: Bool, http: Bool) -> LogRecord {
        var r = LogRecord()
        r.client = LogAddress(source)
        r.frontendAddress = LogAddress(destination)
        r.frontend = frontend
        r.frontendIsTLS = frontendIsTLS
        r.backend = backend == "<NOSRV>" ? frontend : backend
        r.server = server
        r.acceptDate = LogTimestamp(seconds: Int(acceptTime.tv_sec), microseconds: Int(acceptTime.tv_nsec / 1000))
        r.status = status
        r.bytesOut = refusedBeforeStream ? 0 : Int64(bytesOut)
        r.retries = retries
        r.cookie = cookie
        // HAProxy's mux refuses such a head before any capture: `%hr` shows nothing.
        r.requestHeaders = refusedBeforeStream ? nil : requestCaptures
        r.responseHeaders = responseCaptures
        r.requestCookie = requestCookie
        r.responseCookie = responseCookie
        r.requestCounter = requestCounter
        r.uniqueID = uniqueID
        (r.activeConnections, r.frontendConnections, r.backendConnections, r.serverConnections) = connections
        let letters = Array(termination.utf8)
        if letters.count >= 2 {
            r.termination = Termination(Termination.Cause(rawValue: letters[0]) ?? .none, Termination.Phase(rawValue: letters[1]) ?? .none)
        }
        if http {
            if refusedBeforeStream {
                r.setHTTPTimers(TR: -1, Tw: -1, Tc: -1, Tr: -1, Ta: max(ta, 0))
            } else {
                r.setHTTPTimers(TR: max(tr, 0), Tw: tw, Tc: tc, Tr: trsp, Ta: max(ta, 0))
                if requestLine != "<BADREQ>" { r.setRequestLine(requestLine) }
            }
        } else {
            // tcplog prints HAProxy's Tw of a TCP stream: the queue time plus one once the
            // session reached a server or the queue (see setTCPTimers), else -1; `tw` here is
            // the queue time alone, 0 when there was no wait.
            let reachedServerOrQueue = server != "<NOSRV>" || tw > 0
            r.setTCPTimers(Tw: reachedServerOrQueue ? tw + 1 : -1, Tc: tc, Tt: max(ta, 0))
        }
        return r
    }
}

extension LoopState {
    /// HAProxy's id of the listener a unix client came in on (what `%cp`/`%fp` print for it):
    /// its position among the frontend's addresses, from 1; found by the local address of the
    /// client's socket, which is the listener's.
    static func listenerID(of destination: SocketAddress?, in frontend: RuntimeFrontend) -> Int {
        guard let destination else { return 0 }
        let index = frontend.binds.firstIndex { bind, _ in
            let path: String? = switch bind.socket {
            case .unix(let p): p
            case .abstract(let name): "\0" + name
            case .inherited, nil: nil
            }
            guard let path, let address = try? SocketAddress(unixDomainSocketPath: path) else { return false }
            return address.isSameSocket(as: destination)
        }
        return index.map { $0 + 1 } ?? 0
    }

    /// Writes the access-log line of one finished stream of `frontend`: through its plan
    /// (syslog targets, `log-format`) when it has one, else the built-in line on the loop's
    /// stdout/stderr writer. `http` picks HAProxy's httplog or tcplog fields.
    func writeAccessLog(_ record: AccessLogRecord, frontend: RuntimeFrontend, backend: RuntimeBackend?, server: RuntimeServer?,
                        http: Bool, tls: Bool, tlsSide: TLSHandler? = nil) {
        guard let plan = frontend.logPlan else { return }
        let mode: LogMode = http ? .http : .tcp
        var record = record
        record.connections = (connections?.count.load(ordering: .relaxed) ?? 0, frontend.liveConnections.load(ordering: .relaxed),
                              backend?.servers.reduce(0) { $0 + $1.active.load(ordering: .relaxed) } ?? 0,
                              server?.active.load(ordering: .relaxed) ?? 0)
        var entry = record.logRecord(frontendIsTLS: tls, http: http)
        // HAProxy marks every line of a logasap frontend, early or not: its `+` says the
        // counts may not be final (it tests the frontend's option, not the stream).
        entry.loggedEarly = plan.logASAP
        if let server { entry.serverAddress = LogAddress(server.address) }
        if case .unix = entry.client { entry.listenerID = Self.listenerID(of: record.destination, in: frontend) }
        guard let level = plan.level(of: entry, mode: mode) else { return }
        // Only for a line that is written (`dontlognormal` drops most).
        if !plan.samples.isEmpty { entry.samples = Self.logSamples(plan.samples, record, frontend: frontend, backend: backend, tls: tls, tlsSide: tlsSide) }
        logSink(for: frontend, plan: plan).log(entry, format: plan.format, level: level)
    }

    /// The values of the format's `%[…]`: what the stream's ends, the client connection's TLS
    /// side (`option httpslog`'s `ssl_fc_sni`…), the proxies' states and the names give (the
    /// request head and the variables are gone by now: their fetches log `-`).
    static func logSamples(_ samples: [SampleExpression?], _ record: AccessLogRecord, frontend: RuntimeFrontend, backend: RuntimeBackend?,
                           tls: Bool, tlsSide: TLSHandler?) -> [String?] {
        var facts = RequestFacts(head: nil, source: record.source, destination: record.destination, isTLS: tls)
        facts.proxyStates = frontend.proxyStates
        facts.tls = tlsSide
        var input = SampleInput(facts: facts)
        input.frontendName = frontend.name
        input.backendName = backend?.name ?? ""
        return samples.map { $0?.evaluate(input)?.text }
    }

    /// A line about a server of `backend` (a state change, a check's result) from the health
    /// checker, which runs its checks on this loop too: to the backend's `log` targets, none
    /// when it has none (as HAProxy; stderr has the checker's own line).
    func writeCheckLog(_ line: CheckLog.Line, backend name: String) {
        guard let backend = holder.current.backends.first(where: { $0.name == name }), !backend.logTargets.isEmpty else { return }
        let level: LogLevel = switch line.level {
        case .emerg: .emerg
        case .alert: .alert
        case .notice: .notice
        }
        checkLogSink(for: backend).send(line.text, level: level)
    }

    /// A line about a connection that never became a stream (a failed TLS handshake), to the
    /// frontend's targets: `info`, or `err` with `option log-separate-errors`.
    func writeLogMessage(_ text: String, frontend: RuntimeFrontend) {
        guard let plan = frontend.logPlan else { return }
        logSink(for: frontend, plan: plan).send(text, level: plan.separateErrors ? .err : .info)
    }
}

extension RuntimeFrontend {
    /// Its open connections are counted: it logs (`%fc`) or an ACL reads them (`fe_conn`).
    var countsLiveConnections: Bool { logPlan != nil || proxyStates != nil }

    /// Counts `channel` among the frontend's open connections until it closes (`%fc`, `fe_conn`).
    func countLive(_ channel: any Channel) {
        let live = liveConnections
        live.wrappingIncrement(ordering: .relaxed)
        channel.closeFuture.whenComplete { _ in live.wrappingDecrement(ordering: .relaxed) }
    }
}
