import Logging
import NIOCore
import SwiftLBConfig
import SwiftLBRegex
import SwiftLBTLS

/// What the checker needs to know about one checked server.
public struct CheckTarget: Sendable {
    public let health: ServerHealth
    public let address: SocketAddress
    public let parameters: ServerParameters
    public let http: HTTPCheck?
    public let tcp: [TCPCheckStep]?
    /// `option mysql-check`… (takes precedence over `http` and `tcp`).
    public let protocolCheck: ProtocolCheck?
    /// `timeout check`, else the server's `inter`.
    public let timeout: ConfigDuration?
    /// Checks of an `ssl` server speak TLS (unless they go to another `port`).
    public let tls: TLSClientContext?
    public let serverName: String?
    /// Its backend, for the lines sent to the backend's log targets (nil: none are sent).
    public let backend: CheckedBackend?
    /// The server's own address (`address`, the check's, may have another port), for
    /// `http-check send-state`.
    public let serverAddress: SocketAddress?
    /// The TLS of `tcp-check connect ssl` steps, by step number (1-based, as the log counts).
    public var stepTLS: [Int: TLSClientContext] = [:]
    /// `source ADDR[:PORT]` (the server's, else its backend's): where checks connect from.
    public var source: SocketAddress?

    public init(health: ServerHealth, address: SocketAddress, parameters: ServerParameters, http: HTTPCheck?,
                tcp: [TCPCheckStep]? = nil, protocolCheck: ProtocolCheck? = nil, timeout: ConfigDuration?,
                tls: TLSClientContext? = nil, serverName: String? = nil, backend: CheckedBackend? = nil,
                serverAddress: SocketAddress? = nil) {
        self.serverAddress = serverAddress
        self.protocolCheck = protocolCheck
        self.backend = backend
        self.tls = tls
        self.serverName = serverName
        self.health = health
        self.address = address
        self.parameters = parameters
        self.http = http
        self.tcp = tcp
        self.timeout = timeout
    }
}

/// The backend of checked servers as their log lines need it: its name, whether it has
/// `option log-health-checks`, and all its servers (checked or not) to count those left.
public final class CheckedBackend: Sendable {
    /// One server of the backend.
    public struct Member: Sendable {
        public let health: ServerHealth
        public let backup: Bool
        public init(health: ServerHealth, backup: Bool) {
            self.health = health
            self.backup = backup
        }
    }

    public let name: String
    public let logHealthChecks: Bool
    public let members: [Member]
    /// lb.conf's `node` or the host name, for `http-check send-state`.
    public let node: String?

    public init(name: String, logHealthChecks: Bool, members: [Member], node: String? = nil) {
        self.node = node
        self.name = name
        self.logHealthChecks = logHealthChecks
        self.members = members
    }

    /// Servers taking traffic now, as HAProxy counts them for its state-change lines.
    var remaining: CheckLog.Remaining {
        .counting(members.lazy.map { (health: $0.health, backup: $0.backup) })
    }
}

/// Where the checker sends the lines for a backend's log targets: called on the loop of the
/// check that produced them (`loop`), so the receiver can use that loop's own log sink.
public typealias CheckLogReporter = @Sendable (_ line: CheckLog.Line, _ backend: String, _ loop: any EventLoop) -> Void

/// Runs the active checks of every server with `check`, each on one event loop, and moves
/// servers between UP and DOWN with HAProxy's rise/fall rule: `fall` consecutive failures take
/// an UP server down, `rise` consecutive successes bring a DOWN server back. Every change is
/// logged with its reason on stderr and, in HAProxy's words, to the backend's log targets
/// through `report` (each check's result too with `option log-health-checks`).
public final class HealthChecker: Sendable {
    private let checks: [ServerCheck]
    /// The servers' agents (`agent-check`), asked beside their checks.
    private let agents: AgentChecker
    /// `max-spread-checks`: the first checks are spread over at most this.
    private let maxInitialSpread: TimeAmount?

    /// - Parameter spreadPercent: `spread-checks`: every interval varies at random by up to
    ///   this many percent either way (0…50), so that checks from several sources drift apart.
    public init(targets: [CheckTarget], group: any EventLoopGroup, spreadPercent: Int = 0, maxInitialSpread: TimeAmount? = nil, logger: Logger,
                report: CheckLogReporter? = nil, agents: [AgentTarget] = []) {
        self.agents = AgentChecker(targets: agents, group: group, logger: logger)
        self.maxInitialSpread = maxInitialSpread
        checks = targets.map { ServerCheck(target: $0, loop: group.next(), spreadPercent: spreadPercent, logger: logger, report: report) }
    }

    /// `spread-checks`: `interval` varied by `fraction` (−1…1) of `percent` percent of itself.
    public static func spread(_ interval: TimeAmount, percent: Int, fraction: Double) -> TimeAmount {
        guard percent > 0 else { return interval }
        let delta = Double(interval.nanoseconds) * Double(min(percent, 50)) / 100 * max(-1, min(1, fraction))
        return .nanoseconds(interval.nanoseconds + Int64(delta))
    }

    /// Starts checking; the first checks are spread over the first `inter` (at most
    /// `max-spread-checks`) so that a large farm is not probed in one burst (as HAProxy does).
    public func start() {
        for (i, check) in checks.enumerated() {
            let window = min(check.target.parameters.inter.nanoseconds, maxInitialSpread?.nanoseconds ?? .max)
            let spread = window * Int64(i) / Int64(max(checks.count, 1))
            check.loop.execute { check.schedule(after: .nanoseconds(spread)) }
        }
        agents.start()
    }

    public func stop() {
        for check in checks { check.loop.execute { check.stop() } }
        agents.stop()
    }
}

/// The check loop of one server; touched only on `loop`.
final class ServerCheck: @unchecked Sendable {
    let target: CheckTarget
    let loop: any EventLoop
    private let probe: HealthProbe
    private let logger: Logger
    private var successes = 0
    private var failures = 0
    /// A new server not yet checked: UP, but its first failed check takes it DOWN (HAProxy's
    /// health starts at `rise`, not at `rise + fall - 1`).
    private var starting = false
    private var next: Scheduled<Void>?
    private var stopped = false
    /// Set by `on-error fastinter` until a check passes.
    private var forceFast = false

    private let spreadPercent: Int
    private let report: CheckLogReporter?
    /// The status of the last check (nil before the first, HAProxy's INI): a change of it is
    /// logged with `option log-health-checks` even when the health count did not move.
    private var lastKind: CheckKind?

    /// The PROXY header of an HTTP (or plain connect) check: `http-check connect send-proxy`
    /// asks for one; the implicit connect, or `connect default`, has the server's
    /// (`ServerParameters.checkProxyHeader`); another `http-check connect` has none.
    static func proxyHeader(of target: CheckTarget) -> ProxyProtocolVersion? {
        let p = target.parameters
        guard let connect = target.http?.connect else { return p.checkProxyHeader }
        if connect.sendProxy { return p.sendProxy ?? .v1 }
        return connect.useServerSettings ? p.checkProxyHeader : nil
    }

    init(target: CheckTarget, loop: any EventLoop, spreadPercent: Int, logger: Logger, report: CheckLogReporter? = nil) {
        self.report = report
        self.spreadPercent = spreadPercent
        self.target = target
        self.loop = loop
        self.logger = logger
        let p = target.parameters
        let timeout = target.timeout ?? p.inter
        self.probe = HealthProbe(address: target.address, http: target.http, tcp: target.tcp, protocolCheck: target.protocolCheck,
                                 host: target.serverName ?? target.address.ipAddress ?? "localhost",
                                 timeout: .nanoseconds(timeout.nanoseconds),
                                 regexes: HTTPCheckRegexes(target.http?.expects ?? []),
                                 tls: target.tls, serverName: target.serverName, stepTLS: target.stepTLS,
                                 proxyHeader: Self.proxyHeader(of: target), serverProxyHeader: p.checkProxyHeader,
                                 source: target.address.protocol == .unix ? nil : target.source)
        // HAProxy starts a checked server UP with its health at `rise`: one failed check from
        // DOWN (`fall` failures only once a check passed). A server carried over a reload keeps
        // its count as it stands.
        starting = target.health.isUp && target.health.checkHistory.last == nil
        // Reported from any loop; the action runs on this check's loop, where its state lives.
        target.health.setErrorLimitAction { [loop, weak self] in
            guard let check = self else { return }
            loop.execute { check.errorLimitReached() }
        }
    }

    /// `error-limit` consecutive errors on live traffic: HAProxy's `on-error` actions.
    private func errorLimitReached() {
        let p = target.parameters
        let h = target.health
        let why = "\(p.errorLimit) consecutive errors on live traffic (observe \(p.observe?.rawValue ?? "-"))"
        switch p.onError {
        case .fastinter:
            forceFast = true
        case .failCheck:
            record(.failed(why, .liveTraffic))
        case .suddenDeath:
            successes = 0
            failures = max(failures, p.fall - 1)
            if p.fall == 1 { record(.failed(why, .liveTraffic)) }
        case .markDown:
            successes = 0
            failures = p.fall
            if h.state != .down {
                let before = StateBefore(h)
                h.set(.down)
                logger.warning("Server \(h.backend)/\(h.server) is DOWN: \(why)")
                reportStateChange(before, check: (.failed(why, .liveTraffic), nil))
            }
        }
        // Look again soon rather than at the next regular interval.
        next?.cancel()
        schedule(after: .nanoseconds((p.fastinter ?? p.inter).nanoseconds))
    }

    /// No server is checked more often than this, whatever `inter` says (`check inter 1us`
    /// once ran 32 000 checks a second at 97 % CPU); `swiftlb check` warns about such values.
    static let minimumInterval = TimeAmount.milliseconds(100)

    func schedule(after delay: TimeAmount) {
        guard !stopped else { return }
        next = loop.scheduleTask(in: max(delay, Self.minimumInterval)) { [self] in run() }
    }

    func stop() {
        stopped = true
        next?.cancel()
    }

    private func run() {
        guard !stopped else { return }
        // A server in maintenance is not checked; look again later in case it leaves it.
        guard target.health.admin != .maint else { schedule(after: interval); return }
        let started = DispatchTimeNow.nanoseconds()
        let state = target.http?.sendState == true ? stateHeader.value : nil
        probe.run(on: loop, serverDown: target.health.state == .down, state: state).whenComplete { [self] result in
            let outcome = (try? result.get()) ?? .failed("check error", .socketError)
            record(outcome, durationNanoseconds: DispatchTimeNow.nanoseconds() &- started)
            schedule(after: interval)
        }
    }

    /// HAProxy's intervals: `inter` normally, `fastinter` while a state change is under way,
    /// `downinter` while down.
    private var interval: TimeAmount {
        HealthChecker.spread(.nanoseconds(baseInterval.nanoseconds), percent: spreadPercent, fraction: Double.random(in: -1...1))
    }

    private var baseInterval: ConfigDuration {
        let p = target.parameters
        if forceFast { return p.fastinter ?? p.inter }
        switch target.health.state {
        case .up, .stopping: return failures > 0 || starting ? (p.fastinter ?? p.inter) : p.inter
        case .down: return successes > 0 ? (p.fastinter ?? p.inter) : (p.downinter ?? p.inter)
        }
    }

    /// - Parameter durationNanoseconds: nil for a result that is no check (live traffic).
    private func record(_ outcome: CheckOutcome, durationNanoseconds: UInt64? = nil) {
        let p = target.parameters
        let h = target.health
        let wasUp = h.isUp
        let stateBefore = h.state
        let healthBefore = haproxyHealth
        let before = StateBefore(h)
        defer { h.recordCheck(outcome, durationNanoseconds: durationNanoseconds ?? 0, successes: successes, failures: failures, whileUp: wasUp) }
        switch outcome {
        case .passed(let what, let kind, _, _):
            forceFast = false
            starting = false
            failures = 0
            successes += 1
            // HAProxy's check_notify_success / check_notify_stopping: once the rise count is
            // reached (at once while UP), a conditional pass (disable-on-404's 404) makes the
            // server NOLB and a full pass makes it UP; a server in maintenance stays as it is.
            let target: ServerHealth.State = kind == .l7okConditional ? .stopping : .up
            if h.state != target && (h.state != .down || successes >= p.rise) && (target == .up || h.admin != .maint) {
                h.set(target)
                if target == .stopping {
                    logger.warning("Server \(h.backend)/\(h.server) is NOLB (stopping): its check answered 404 (http-check disable-on-404)")
                } else {
                    logger.warning("Server \(h.backend)/\(h.server) is UP: \(successes) consecutive successful checks, last: \(what)")
                }
            }
        case .failed(let why, _, let code):
            successes = 0
            failures += 1
            if h.state != .down && (failures >= p.fall || starting) {
                h.set(.down)
                logger.warning("Server \(h.backend)/\(h.server) is DOWN: \(failures) consecutive failed checks, last: \(code.map { "status \($0), \(why)" } ?? why)")
            }
            starting = false
        }
        let previousKind = lastKind
        lastKind = outcome.kind
        guard let backend = target.backend, report != nil else { return }
        let milliseconds = durationNanoseconds.map { Int($0 / 1_000_000) }
        if backend.logHealthChecks,
           CheckLog.reportsResult(previous: previousKind, current: outcome.kind, healthBefore: healthBefore, healthAfter: haproxyHealth) {
            send(CheckLog.checkResult(backend: backend.name, server: h.server, backup: p.backup, outcome: outcome,
                                      durationMilliseconds: milliseconds, health: haproxyHealth, rise: p.rise, fall: p.fall, weight: h.weight))
        }
        if h.state != stateBefore { reportStateChange(before, check: (outcome, milliseconds)) }
    }

    /// What `http-check send-state` tells the server now.
    private var stateHeader: ServerStateHeader {
        let h = target.health
        let p = target.parameters
        let address = target.serverAddress ?? target.address
        let members = target.backend?.members ?? [.init(health: h, backup: p.backup)]
        // HAProxy's lbprm.tot_weight: the active servers taking traffic, else the backups.
        let usable = members.filter { $0.health.takesTraffic }
        let counted = usable.contains { !$0.backup } ? usable.filter { !$0.backup } : usable
        let fraction = h.slowstartFraction
        return ServerStateHeader(state: h.state, health: haproxyHealth, rise: p.rise, fall: p.fall,
                                 address: address.ipAddress ?? "", port: address.port, backend: target.backend?.name ?? h.backend,
                                 server: h.server, node: target.backend?.node ?? "",
                                 weight: Int((Double(h.weight) * fraction).rounded(.up)), totalWeight: counted.reduce(0) { $0 + $1.health.weight },
                                 sessions: h.active.load(ordering: .relaxed),
                                 backendSessions: members.reduce(0) { $0 + $1.health.active.load(ordering: .relaxed) },
                                 throttlePercent: h.isUp && fraction < 1 ? max(1, Int(fraction * 100)) : nil)
    }

    /// The rise/fall count in HAProxy's terms (`check->health`).
    private var haproxyHealth: Int {
        let p = target.parameters
        return starting && target.health.isUp ? p.rise : CheckLog.health(up: target.health.isUp, successes: successes, failures: failures, rise: p.rise, fall: p.fall)
    }

    /// What the server was before a state change, for the line about it.
    private struct StateBefore {
        let draining: Bool
        let tookTraffic: Bool
        init(_ h: ServerHealth) {
            // HAProxy's srv_was_stopping: draining, or NOLB.
            draining = h.admin == .drain || h.state == .stopping
            tookTraffic = h.takesTraffic
        }
    }

    /// `Server B/S is DOWN|UP…` (with the check that moved it unless `option log-health-checks`
    /// logged it already), then `backend B has no server available!` when it was the last one.
    private func reportStateChange(_ before: StateBefore, check: (outcome: CheckOutcome, durationMilliseconds: Int?)) {
        guard let backend = target.backend, report != nil else { return }
        let h = target.health
        let remaining = backend.remaining
        let check = backend.logHealthChecks ? nil : check
        if h.state == .stopping {
            send(CheckLog.stopping(backend: backend.name, server: h.server, backup: target.parameters.backup, check: check, remaining: remaining,
                                   queue: h.lastQueueMove))
        } else {
            send(CheckLog.stateChange(backend: backend.name, server: h.server, backup: target.parameters.backup, up: h.isUp,
                                      check: check, remaining: remaining,
                                      sessions: h.active.load(ordering: .relaxed), wasDraining: before.draining, queue: h.lastQueueMove))
        }
        let left = remaining.active + remaining.backup
        if h.state != .up && left == 0 && before.tookTraffic { send(CheckLog.noServerAvailable(backend: backend.name)) }
    }

    private func send(_ line: CheckLog.Line) {
        report?(line, target.backend?.name ?? target.health.backend, loop)
    }
}
