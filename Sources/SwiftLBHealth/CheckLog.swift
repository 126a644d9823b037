/// The lines HAProxy 2.6 sends to a backend's log targets about its servers' checks, worded
/// byte for byte as check.c (`set_server_check_status`) and server.c (`srv_update_status`,
/// `srv_append_status`) write them, so that a syslog filter written for HAProxy keeps working:
///
///     Health check for server be1/srv1 succeeded, reason: Layer7 check passed, code: 200, check duration: 1ms, status: 3/3 UP.
///     Server be1/srv2 is DOWN, reason: Layer4 connection problem, info: "Connection refused", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue.
///
/// Pure: the checker hands in what happened, this returns the text and its syslog level.
public enum CheckLog {
    /// The syslog level of a line (HAProxy's `LOG_EMERG`, `LOG_ALERT`, `LOG_NOTICE`).
    public enum Level: Sendable, Equatable { case emerg, alert, notice }

    /// One line for the backend's log targets.
    public struct Line: Sendable, Equatable {
        public let text: String
        public let level: Level
    }

    /// HAProxy's `check->health`, one number for where the rise/fall count stands: 0…rise−1
    /// while DOWN (successes so far), rise…rise+fall−1 while UP (rise+fall−1 when no check
    /// failed, one less per failure). SwiftLB counts consecutive successes and failures; this
    /// is the same count in HAProxy's terms.
    public static func health(up: Bool, successes: Int, failures: Int, rise: Int, fall: Int) -> Int {
        up ? max(rise, rise + fall - 1 - failures) : max(0, min(successes, rise - 1))
    }

    /// `status: R/F UP|DOWN` as HAProxy prints it from `health`: while UP, how many failures
    /// are still allowed out of `fall` (DRAIN instead of UP at weight 0); while DOWN, the
    /// successes so far out of `rise`.
    public static func statusPart(health: Int, rise: Int, fall: Int, weight: Int) -> String {
        health >= rise ? "\(health - rise + 1)/\(fall) \(weight > 0 ? "UP" : "DRAIN")" : "\(health)/\(rise) DOWN"
    }

    /// HAProxy's description of a check status (`get_check_status_description`).
    public static func reason(_ kind: CheckKind) -> String {
        switch kind {
        case .l4ok: "Layer4 check passed"
        case .l6ok: "Layer6 check passed"
        case .l7ok: "Layer7 check passed"
        case .l7okConditional: "Layer7 check conditionally passed"
        case .l4timeout: "Layer4 timeout"
        case .l4connect: "Layer4 connection problem"
        case .l6timeout: "Layer6 timeout"
        case .l6response: "Layer6 invalid response"
        case .l7timeout: "Layer7 timeout"
        case .l7response: "Layer7 invalid response"
        case .l7status: "Layer7 wrong status"
        case .liveTraffic: "Health analyze"
        case .socketError: "Socket error"
        }
    }

    /// The `info: "…"` of a check, or nil when HAProxy prints none: passed checks have none
    /// unless their protocol gives one (MySQL: the server's version); a failed connect says what `strerror` says; other failures carry
    /// SwiftLB's own words for what was wrong.
    public static func info(_ outcome: CheckOutcome) -> String? {
        if case .passed(_, _, _, let info) = outcome { return info }
        guard case .failed(let text, let kind, _) = outcome else { return nil }
        switch (kind, text) {
        case (.l4connect, "connection refused"): return "Connection refused"
        case (.l4connect, "connection reset"): return "Connection reset by peer"
        case (.l4timeout, _), (.l6timeout, _), (.l7timeout, "timeout"): return nil  // HAProxy: no errno, no description
        default: return text.isEmpty ? nil : text
        }
    }

    /// `srv_append_status` for a check: `, reason: R[, code: N][, info: "I"][, check duration: Nms]`.
    /// The code shows for L7OK, L7OKC and L7STS only (the statuses past HAProxy's L57DATA).
    public static func checkPart(_ outcome: CheckOutcome, durationMilliseconds: Int?) -> String {
        var s = ", reason: \(reason(outcome.kind))"
        if [.l7ok, .l7okConditional, .l7status].contains(outcome.kind) { s += ", code: \(outcome.code ?? 0)" }
        if let info = info(outcome) { s += ", info: \"\(asciiEncoded(info))\"" }
        if let durationMilliseconds { s += ", check duration: \(durationMilliseconds)ms" }
        return s
    }

    /// `Health check for [backup ]server B/S succeeded|failed, …, status: R/F UP.` (notice),
    /// written with `option log-health-checks` when the check's status or the health count
    /// changed.
    public static func checkResult(backend: String, server: String, backup: Bool, outcome: CheckOutcome,
                                   durationMilliseconds: Int?, health: Int, rise: Int, fall: Int, weight: Int) -> Line {
        let verdict = if case .passed = outcome { outcome.kind == .l7okConditional ? "conditionally succeeded" : "succeeded" } else { "failed" }
        let text = "Health check for \(backup ? "backup " : "")server \(backend)/\(server) \(verdict)"
            + checkPart(outcome, durationMilliseconds: durationMilliseconds)
            + ", status: \(statusPart(health: health, rise: rise, fall: fall, weight: weight))."
        return Line(text: text, level: .notice)
    }

    /// Whether HAProxy logs a check's result: its status differs from the last check's (the
    /// first check always does), or the health count moved.
    public static func reportsResult(previous: CheckKind?, current: CheckKind, healthBefore: Int, healthAfter: Int) -> Bool {
        previous != current || healthBefore != healthAfter
    }

    /// How many servers of the backend take traffic after the change (HAProxy's `srv_act`,
    /// `srv_bck`): UP, not in maintenance or drain, weight above 0.
    public struct Remaining: Sendable, Equatable {
        public var active: Int
        public var backup: Int
        public init(active: Int, backup: Int) {
            self.active = active
            self.backup = backup
        }

        /// The servers among `servers` that take traffic now (`ServerHealth.takesTraffic`).
        public static func counting<S: Sequence>(_ servers: S) -> Remaining where S.Element == (health: ServerHealth, backup: Bool) {
            var r = Remaining(active: 0, backup: 0)
            for s in servers where s.health.takesTraffic {
                if s.backup { r.backup += 1 } else { r.active += 1 }
            }
            return r
        }
    }

    /// `[Backup ]Server B/S is DOWN|UP[, reason…]. N active and M backup servers left|online. …`
    /// — alert when a server goes DOWN (notice if it was draining), notice when it comes UP.
    /// `check` is the check that moved it, printed unless `option log-health-checks` already
    /// logged it (HAProxy passes no check then).
    public static func stateChange(backend: String, server: String, backup: Bool, up: Bool,
                                   check: (outcome: CheckOutcome, durationMilliseconds: Int?)?,
                                   remaining: Remaining, sessions: Int, wasDraining: Bool = false, queue: QueueMove = QueueMove()) -> Line {
        var text = "\(backup ? "Backup " : "")Server \(backend)/\(server) is \(up ? "UP" : "DOWN")"
        if let check { text += checkPart(check.outcome, durationMilliseconds: check.durationMilliseconds) }
        let onBackup = remaining.backup > 0 && remaining.active == 0 ? " Running on backup." : ""
        if up {
            text += ". \(remaining.active) active and \(remaining.backup) backup servers online.\(onBackup) \(queue.requeued) sessions requeued, \(queue.remaining) total in queue."
            return Line(text: text, level: .notice)
        }
        text += ". \(remaining.active) active and \(remaining.backup) backup servers left.\(onBackup) \(sessions) sessions active, \(queue.requeued) requeued, \(queue.remaining) remaining in queue."
        return Line(text: text, level: wasDraining ? .notice : .alert)
    }

    /// `[Backup ]Server B/S is stopping, reason: Layer7 check conditionally passed, code: 404, … N
    /// active and M backup servers online. 0 sessions requeued, 0 total in queue.` (notice):
    /// `http-check disable-on-404` put an UP server in NOLB. `check` as for `stateChange`.
    public static func stopping(backend: String, server: String, backup: Bool,
                                check: (outcome: CheckOutcome, durationMilliseconds: Int?)?, remaining: Remaining, queue: QueueMove = QueueMove()) -> Line {
        var text = "\(backup ? "Backup " : "")Server \(backend)/\(server) is stopping"
        if let check { text += checkPart(check.outcome, durationMilliseconds: check.durationMilliseconds) }
        let onBackup = remaining.backup > 0 && remaining.active == 0 ? " Running on backup." : ""
        text += ". \(remaining.active) active and \(remaining.backup) backup servers online.\(onBackup) \(queue.requeued) sessions requeued, \(queue.remaining) total in queue."
        return Line(text: text, level: .notice)
    }

    /// `[Backup ]Server B/S is going DOWN for maintenance. N active and M backup servers left. …`
    /// (alert; notice if it was draining): an operator put the server in maintenance
    /// (`disable server`, `set server … state maint`, the stats page).
    public static func enteringMaintenance(backend: String, server: String, backup: Bool, remaining: Remaining,
                                           sessions: Int, wasDraining: Bool = false, queue: QueueMove = QueueMove()) -> Line {
        let onBackup = remaining.backup > 0 && remaining.active == 0 ? " Running on backup." : ""
        let text = "\(backup ? "Backup " : "")Server \(backend)/\(server) is going DOWN for maintenance. \(remaining.active) active and \(remaining.backup) backup servers left.\(onBackup) \(sessions) sessions active, \(queue.requeued) requeued, \(queue.remaining) remaining in queue."
        return Line(text: text, level: wasDraining ? .notice : .alert)
    }

    /// `[Backup ]Server B/S is UP/READY (leaving forced maintenance).` (notice; `UP/DRAIN` when
    /// it goes to drain): an operator took a server that the checks find up out of maintenance.
    public static func leavingMaintenance(backend: String, server: String, backup: Bool, draining: Bool = false) -> Line {
        Line(text: "\(backup ? "Backup " : "")Server \(backend)/\(server) is UP/\(draining ? "DRAIN" : "READY") (leaving forced maintenance).", level: .notice)
    }

    /// `[Backup ]Server B/S enters drain state. N active and M backup servers online. X sessions
    /// requeued, Y total in queue.` (notice): `set server … state drain` (HAProxy's
    /// srv_update_status; the queue part says what `pendconn_redistribute` moved).
    public static func enteringDrain(backend: String, server: String, backup: Bool, remaining: Remaining, queue: QueueMove) -> Line {
        let onBackup = remaining.backup > 0 && remaining.active == 0 ? " Running on backup." : ""
        return Line(text: "\(backup ? "Backup " : "")Server \(backend)/\(server) enters drain state. \(remaining.active) active and \(remaining.backup) backup servers online.\(onBackup) \(queue.requeued) sessions requeued, \(queue.remaining) total in queue.", level: .notice)
    }

    /// `[Backup ]Server B/S is UP (leaving forced drain).` (notice; `DOWN` when its checks
    /// find it down): `set server … state ready` ended a drain.
    public static func leavingDrain(backend: String, server: String, backup: Bool, up: Bool) -> Line {
        Line(text: "\(backup ? "Backup " : "")Server \(backend)/\(server) is \(up ? "UP" : "DOWN") (leaving forced drain).", level: .notice)
    }

    /// `backend B has no server available!` (emerg), when the last server of a backend went DOWN.
    public static func noServerAvailable(backend: String) -> Line {
        Line(text: "backend \(backend) has no server available!", level: .emerg)
    }

    /// HAProxy's `chunk_asciiencode(…, '"')`: what is not printable ASCII, `<`, `>` and the
    /// quote become `<XX>` in hex.
    static func asciiEncoded(_ s: String) -> String {
        var out = ""
        for byte in s.utf8 {
            if byte < 0x20 || byte > 0x7e || byte == UInt8(ascii: "<") || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "\"") {
                let hex = String(byte, radix: 16, uppercase: true)
                out += "<\(hex.count == 1 ? "0" : "")\(hex)>"
            } else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }
}
