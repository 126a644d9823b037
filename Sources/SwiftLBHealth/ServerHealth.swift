import Atomics
#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers
import SwiftLBConfig

/// The health of one server as every event loop sees it: written by the checker, read on the
/// data path with one relaxed atomic load, no lock.
public final class ServerHealth: Sendable {
    /// What the checks say. `stopping` is HAProxy's NOLB (`http-check disable-on-404`: the
    /// server answered its check with 404): alive, kept for the clients stuck to it, given no
    /// new ones.
    public enum State: UInt8, Sendable, CustomStringConvertible {
        case up = 0, down = 1, stopping = 2
        public var description: String { ["UP", "DOWN", "NOLB"][Int(rawValue)] }
    }

    /// What the operator says (HAProxy's admin state): `ready` takes traffic; `drain` keeps
    /// its sticky clients but gets no new ones; `maint` gets nothing and is not checked.
    public enum AdminState: UInt8, Sendable, CustomStringConvertible {
        case ready = 0, drain = 1, maint = 2
        public var description: String { ["READY", "DRAIN", "MAINT"][Int(rawValue)] }
        public init?(name: String) {
            switch name.lowercased() {
            case "ready": self = .ready
            case "drain": self = .drain
            case "maint": self = .maint
            default: return nil
            }
        }
    }

    public let backend: String
    public let server: String
    private let raw: ManagedAtomic<UInt8>
    private let adminRaw: ManagedAtomic<UInt8>
    /// Requests in flight on this server, across all loops (leastconn, random, maxconn).
    public let active = ManagedAtomic<Int>(0)
    /// When the server last came UP or out of maintenance (uptime ns; 0 = since start).
    private let availableSince = ManagedAtomic<UInt64>(0)
    /// `slowstart` in ns, 0 when not set.
    private let slowstartNanos: UInt64
    /// Passive checks (`observe`): consecutive errors seen on live traffic.
    public let observe: ObserveLayer?
    private let errorLimit: Int
    private let consecutiveErrors = ManagedAtomic<Int>(0)
    /// Set once by the checker before traffic starts; runs the `on-error` action on its loop.
    private let onErrorLimit = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
    /// Called when the checks move the server UP or DOWN (after the change): what
    /// `on-marked-down shutdown-sessions` and `on-marked-up shutdown-backup-sessions` hang on.
    /// One action; a reload replaces it.
    private let onStateChange = NIOLockedValueBox<(@Sendable (State) -> Void)?>(nil)

    /// What the checks found and how the state moved, for the stats page, CSV and /metrics:
    /// written by the checker and by `set`, read by a snapshot; never on the data path.
    private let history: NIOLockedValueBox<CheckHistory>

    public func setStateChangeAction(_ action: (@Sendable (State) -> Void)?) {
        onStateChange.withLockedValue { $0 = action }
    }

    /// Called after the checks or the operator changed the state or the admin state (whoever
    /// changed it): the backend's queue moves its waiters then (HAProxy's
    /// `pendconn_redistribute` and `pendconn_grab_from_px`) and says how many. One action; a
    /// reload replaces it.
    private let onAvailabilityChange = NIOLockedValueBox<(@Sendable () -> QueueMove)?>(nil)
    /// What the queue did at the last change, for its log line.
    private let lastMove = NIOLockedValueBox(QueueMove())

    public func setAvailabilityChangeAction(_ action: (@Sendable () -> QueueMove)?) {
        onAvailabilityChange.withLockedValue { $0 = action }
    }

    /// The clients the last state change moved out of the queue (`requeued`) and those still
    /// queued for this server (`remaining`): HAProxy's "N requeued, M remaining in queue".
    public var lastQueueMove: QueueMove { lastMove.withLockedValue { $0 } }

    /// What it was before a change, for `availabilityChanged`.
    private var availability: (newClients: Bool, stickyClients: Bool) { (takesTraffic, acceptsStickyClients) }

    /// A change moves the queue when whether it takes new clients changed (HAProxy grabs when
    /// it takes them again, redistributes on entering DOWN, NOLB, maintenance or drain), or when
    /// it stops taking its sticky clients too (drain or NOLB → DOWN, drain → maintenance: HAProxy
    /// redistributes on each such entry); any other change moves nothing, and its log line
    /// says so.
    private func availabilityChanged(was: (newClients: Bool, stickyClients: Bool)) {
        let action = onAvailabilityChange.withLockedValue { $0 }
        let moves = takesTraffic != was.newClients || (was.stickyClients && !acceptsStickyClients)
        let move = moves ? action?() ?? QueueMove() : QueueMove()
        lastMove.withLockedValue { $0 = move }
    }

    /// The weight now: lb.conf's, until `set weight` changes it (0…256). Read on each pick.
    private let weightRaw: ManagedAtomic<Int>
    public var weight: Int { weightRaw.load(ordering: .relaxed) }
    /// Called by the runtime, which then rebuilds the balancer's precomputed tables.
    public func setWeight(_ weight: Int) { weightRaw.store(weight, ordering: .relaxed) }

    /// Requests in flight at most (0: no limit): lb.conf's `maxconn`, until an agent's
    /// `maxconn:N` changes it. Read on each pick of a backend that can queue.
    private let maxconnRaw: ManagedAtomic<Int>
    public var maxconn: Int? { let m = maxconnRaw.load(ordering: .relaxed); return m > 0 ? m : nil }
    /// A higher (or no) limit runs the capacity-growth action (the queue serves its waiters).
    public func setMaxconn(_ maxconn: Int?) {
        let old = maxconnRaw.exchange(maxconn ?? 0, ordering: .relaxed)
        guard old > 0, (maxconn ?? .max) > old else { return }
        onCapacityGrowth.withLockedValue { $0 }?()
    }

    /// Called when its `maxconn` grows (`set maxconn server`, an agent): the backend's queue
    /// wakes the waiters the new slots can take (HAProxy's `process_srv_queue`). One action; a
    /// reload replaces it.
    private let onCapacityGrowth = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)
    public func setCapacityGrowthAction(_ action: (@Sendable () -> Void)?) {
        onCapacityGrowth.withLockedValue { $0 = action }
    }

    public init(backend: String, server: String, admin: AdminState = .ready, observe: ObserveLayer? = nil,
                errorLimit: Int = 10, slowstart: ConfigDuration? = nil, weight: Int = 1, maxconn: Int? = nil) {
        self.weightRaw = ManagedAtomic(weight)
        self.maxconnRaw = ManagedAtomic(maxconn ?? 0)
        self.slowstartNanos = UInt64(max(slowstart?.nanoseconds ?? 0, 0))
        self.backend = backend
        self.server = server
        self.raw = ManagedAtomic(State.up.rawValue)
        self.adminRaw = ManagedAtomic(admin.rawValue)
        self.observe = observe
        self.errorLimit = errorLimit
        self.history = NIOLockedValueBox(CheckHistory(lastChange: DispatchTimeNow.nanoseconds()))
    }

    /// The checks' findings and the state's history now.
    public var checkHistory: CheckHistory { history.withLockedValue { $0 } }

    /// A reload that rebuilt this server's state keeps what the old one had seen.
    public func carryHistory(from other: ServerHealth) {
        let old = other.checkHistory
        history.withLockedValue { $0 = old }
    }

    /// The checker's report of one finished check and where the rise/fall count stands.
    func recordCheck(_ outcome: CheckOutcome, durationNanoseconds: UInt64, successes: Int, failures: Int, whileUp: Bool) {
        let now = DispatchTimeNow.nanoseconds()
        history.withLockedValue { h in
            h.last = outcome
            h.durationNanoseconds = durationNanoseconds
            h.finishedAt = now
            h.consecutiveSuccesses = successes
            h.consecutiveFailures = failures
            if case .failed = outcome, whileUp { h.failedChecks += 1 }
        }
    }

    func setErrorLimitAction(_ action: @escaping @Sendable () -> Void) {
        onErrorLimit.withLockedValue { $0 = action }
    }

    /// Reports the outcome of one exchange with this server (no-op without `observe`).
    /// `layer7` errors (bad responses, 5xx) count only with `observe layer7`.
    public func observed(error: Bool, layer7: Bool = false) {
        guard let observe else { return }
        if !error {
            if consecutiveErrors.load(ordering: .relaxed) != 0 { consecutiveErrors.store(0, ordering: .relaxed) }
            return
        }
        if layer7 && observe == .layer4 { return }
        if consecutiveErrors.wrappingIncrementThenLoad(ordering: .relaxed) == errorLimit {
            consecutiveErrors.store(0, ordering: .relaxed)
            onErrorLimit.withLockedValue { $0 }?()
        }
    }

    public var state: State { State(rawValue: raw.load(ordering: .relaxed)) ?? .down }
    /// The checks find it alive: UP, or NOLB (stopping), which still serves its sticky clients.
    public var isUp: Bool { raw.load(ordering: .relaxed) != State.down.rawValue }
    public var admin: AdminState { AdminState(rawValue: adminRaw.load(ordering: .relaxed)) ?? .maint }

    /// May the balancer give it a new client?
    public var acceptsNewClients: Bool {
        raw.load(ordering: .relaxed) == State.up.rawValue && adminRaw.load(ordering: .relaxed) == AdminState.ready.rawValue
    }
    /// Counted among the servers a backend has left (HAProxy's `srv_act`/`srv_bck`): UP, ready
    /// (not draining, not in maintenance) and with a weight.
    public var takesTraffic: Bool { acceptsNewClients && weight > 0 }
    /// May a client whose cookie names it keep using it? (Yes while draining or NOLB.)
    public var acceptsStickyClients: Bool { isUp && adminRaw.load(ordering: .relaxed) != AdminState.maint.rawValue }

    public func set(_ state: State) {
        let was = availability
        let old = raw.exchange(state.rawValue, ordering: .relaxed)
        guard old != state.rawValue else { return }
        if state == .up && old == State.down.rawValue { markAvailable() }
        let now = DispatchTimeNow.nanoseconds()
        history.withLockedValue { h in
            if state == .stopping || old == State.stopping.rawValue && state == .up {
                // UP ⇄ NOLB: a change, not a transition between UP and DOWN.
            } else if state == .down {
                h.downTransitions += 1
                h.downSince = now
            } else {
                h.upTransitions += 1
                if let since = h.downSince { h.downtimeNanoseconds += now &- since }
                h.downSince = nil
            }
            h.lastChange = now
        }
        onStateChange.withLockedValue { $0 }?(state)
        availabilityChanged(was: was)
    }

    public func setAdmin(_ state: AdminState) {
        let was = availability
        let old = adminRaw.exchange(state.rawValue, ordering: .relaxed)
        guard old != state.rawValue else { return }
        if old == AdminState.maint.rawValue { markAvailable() }
        availabilityChanged(was: was)
    }

    private func markAvailable() {
        availableSince.store(DispatchTimeNow.nanoseconds(), ordering: .relaxed)
    }

    /// HAProxy's `slowstart`: the share of its weight the server gets now, from near 0 right
    /// after it came back to 1 once `slowstart` has passed. Always 1 without `slowstart` and for
    /// a server that has been up since the start.
    public var slowstartFraction: Double {
        guard slowstartNanos > 0 else { return 1 }
        let since = availableSince.load(ordering: .relaxed)
        guard since > 0 else { return 1 }
        let elapsed = DispatchTimeNow.nanoseconds() &- since
        return elapsed >= slowstartNanos ? 1 : max(Double(elapsed) / Double(slowstartNanos), 0.01)
    }
}

/// What a server's state change did to the clients queued for it (see `lastQueueMove`).
public struct QueueMove: Sendable, Equatable {
    public var requeued = 0
    public var remaining = 0
    public init(requeued: Int = 0, remaining: Int = 0) {
        self.requeued = requeued
        self.remaining = remaining
    }
}

/// One server's check results and state history, as HAProxy's stats show them (`check_status`,
/// `last_chk`, `chkfail`, `chkdown`, `lastchg`, `downtime`). Times are monotonic nanoseconds.
public struct CheckHistory: Sendable, Equatable {
    /// The last finished check; nil before the first.
    public var last: CheckOutcome?
    public var durationNanoseconds: UInt64 = 0
    public var finishedAt: UInt64 = 0
    /// Where the rise/fall count stands.
    public var consecutiveSuccesses = 0, consecutiveFailures = 0
    /// Checks failed while the server was UP (`chkfail`).
    public var failedChecks = 0
    /// UP→DOWN (`chkdown`) and DOWN→UP changes.
    public var downTransitions = 0, upTransitions = 0
    /// The last UP/DOWN change (or the server's creation).
    public var lastChange: UInt64
    /// Time spent DOWN before the current DOWN period, and when that period began.
    public var downtimeNanoseconds: UInt64 = 0
    public var downSince: UInt64?

    /// Total time DOWN up to `now`, the current period included.
    public func downtime(now: UInt64) -> UInt64 {
        downtimeNanoseconds + (downSince.map { now &- $0 } ?? 0)
    }

    /// The monotonic clock these times are on.
    public static func now() -> UInt64 { DispatchTimeNow.nanoseconds() }
}

/// The monotonic clock the data path already uses (NIO's uptime nanoseconds), without NIO.
enum DispatchTimeNow {
    static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
