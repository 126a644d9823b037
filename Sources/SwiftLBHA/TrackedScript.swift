#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwiftLBConfig

/// One `vrrp_script` at run time: its command every `interval`, bounded by `timeout` (killed
/// with its process group when it overruns), each result through the rise/fall filter
/// (`ScriptHealth`). Every instance that tracks it reads `isUp`; a change of state calls
/// `onChange` so they re-evaluate at once instead of at their next advert interval.
///
/// A run never overlaps the previous one: a run still going when the next is due is skipped
/// (and, being past its interval, soon killed by its timeout, unless timeout > interval).
/// Confined to the VRRP loop; `status` is the one cross-thread read.
final class TrackedScript: @unchecked Sendable {
    let settings: VRRPScript
    let status: NIOLockedValueBox<TrackedScriptStatus>
    /// Called on the loop when the filtered state changes (the first result included).
    var onChange: (() -> Void)?

    let loop: any EventLoop
    private let logger: Logger
    private let launcher: ScriptLauncher

    // Confined to `loop`.
    private var health: ScriptHealth
    private var running: Run?
    private var tick: RepeatedTask?
    private var firstResult: EventLoopPromise<Void>?
    private var stopped = false
    /// Numbers the runs, so an outcome is matched to the run it belongs to.
    private var runCount: UInt64 = 0

    private struct Run {
        let number: UInt64
        let process: ScriptRun
        let started: NIODeadline
        var timeout: Scheduled<Void>?
        var timedOut = false
    }

    init(settings: VRRPScript, launcher: ScriptLauncher = .direct, loop: any EventLoop, logger: Logger) {
        self.settings = settings
        self.launcher = launcher
        self.loop = loop
        self.logger = logger
        self.health = ScriptHealth(rise: settings.rise, fall: settings.fall)
        self.status = NIOLockedValueBox(TrackedScriptStatus())
    }

    /// keepalived's default timeout is the interval.
    var timeout: Int64 { settings.timeout?.nanoseconds ?? settings.interval.nanoseconds }

    /// Whether the filtered state is OK now (on the loop). Pending counts as down, but the
    /// group does not elect before every script's first result.
    var isUp: Bool { health.state == .ok }

    /// Why it is down, for the fault reason and the log.
    var downReason: String {
        switch health.state {
        case .pending: "script '\(settings.name)' has not reported yet"
        case .ok: "script '\(settings.name)' is OK"
        case .failed: "script '\(settings.name)' failed (\(status.withLockedValue { $0.lastOutcome?.description ?? "?" }))"
        }
    }

    /// Runs the script now and every interval after; the future completes with its first result.
    func start() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            let first = loop.makePromise(of: Void.self)
            firstResult = first
            tick = loop.scheduleRepeatedTask(initialDelay: .zero, delay: .nanoseconds(settings.interval.nanoseconds)) { [self] _ in runOnce() }
            return first.futureResult
        }
    }

    /// Stops the schedule and kills a run in progress (reaped here: the loop is about to end).
    func stop() -> EventLoopFuture<Void> {
        loop.submit { [self] in
            stopped = true
            tick?.cancel()
            if let run = running {
                run.timeout?.cancel()
                run.process.stop()
                running = nil
            }
            firstResult?.succeed()
            firstResult = nil
        }
    }

    private func runOnce() {
        guard !stopped else { return }
        if let run = running {
            logger.warning("vrrp_script \(settings.name): still running after \((NIODeadline.now() - run.started).nanoseconds / 1_000_000) ms; this interval's run is skipped")
            return
        }
        runCount += 1
        let number = runCount
        // The outcome comes on the loop, after this returns (even a failed start's).
        let process = launcher.start(settings.script, detached: false, on: loop) { [self] outcome in exited(number, outcome) }
        var run = Run(number: number, process: process, started: .now())
        run.timeout = loop.scheduleTask(in: .nanoseconds(timeout)) { [self] in
            guard running?.number == number else { return }
            running?.timedOut = true
            process.kill()
        }
        running = run
    }

    private func exited(_ number: UInt64, _ result: ScriptProcess.Outcome) {
        guard let run = running, run.number == number else { return }  // stopped meanwhile
        running = nil
        run.timeout?.cancel()
        let took = (NIODeadline.now() - run.started).nanoseconds
        var outcome = result
        if run.timedOut { outcome = .timedOut(milliseconds: timeout / 1_000_000) }
        finished(outcome, after: took)
    }

    private func finished(_ outcome: ScriptProcess.Outcome, after nanoseconds: Int64) {
        guard !stopped else { return }
        let before = health.state
        let changed = health.record(success: outcome.succeeded)
        let state = health.state
        status.withLockedValue { s in
            s.state = state
            s.lastOutcome = outcome
            s.lastRun = .now()
            s.lastDuration = nanoseconds
            s.runs += 1
            if !outcome.succeeded { s.failures += 1 }
        }
        if changed {
            let line = "vrrp_script \(settings.name): \(before.rawValue.uppercased()) -> \(state.rawValue.uppercased()) (\(outcome))"
            if state == .failed { logger.warning("\(line)") } else { logger.info("\(line)") }
            onChange?()
        } else if !outcome.succeeded && state == .ok {
            logger.info("vrrp_script \(settings.name): \(outcome) (\(health.streak) of \(settings.fall) failures before FAILED)")
        }
        firstResult?.succeed()
        firstResult = nil
    }
}

extension TrackedScript {
    /// One line of `show vrrp` under each instance that tracks the script.
    var statusLine: String {
        let s = status.withLockedValue { $0 }
        var line = "vrrp_script \(settings.name): \(s.state.rawValue.uppercased()), every \(settings.interval), timeout \(ConfigDuration(nanoseconds: timeout)), rise \(settings.rise), fall \(settings.fall)"
        if let outcome = s.lastOutcome, let at = s.lastRun {
            line += "; last run: \(outcome) in \(s.lastDuration / 1_000_000) ms, \((NIODeadline.now() - at).nanoseconds / 1_000_000) ms ago; \(s.runs) runs, \(s.failures) failed"
        }
        return line + "\n"
    }
}

/// A script's part of `show vrrp`.
struct TrackedScriptStatus: Sendable {
    var state: ScriptHealth.State = .pending
    var lastOutcome: ScriptProcess.Outcome?
    var lastRun: NIODeadline?
    var lastDuration: Int64 = 0
    var runs = 0
    var failures = 0
}
