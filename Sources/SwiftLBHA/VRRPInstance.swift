import FoundationEssentials
import Glibc
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwiftLBAdmin
import SwiftLBConfig

/// The I/O shell around one `Elector`: one `vrrp`/`vrrp_instance` section, electing on its
/// own. It owns what is its alone — the elector's timers, the VIP through rtnetlink,
/// gratuitous ARP, notify scripts, its heartbeat codec and replay guard, the fold of its
/// tracked inputs into a priority and a fault — and borrows what the `VRRPGroup` shares
/// between instances: the UDP socket that hands it heartbeats carrying its router id, the
/// sender, the peer link whose verdicts it gets, the tracked scripts and the proxy-loop probe.
///
/// Everything runs on the group's VRRP loop, so a saturated or wedged proxy loop cannot delay
/// a heartbeat (and a wedged one is noticed: it stops answering the probe). All mutable state
/// is confined to that loop; `status` is the one cross-thread read, through a lock.
final class VRRPInstance: @unchecked Sendable {
    let settings: VRRPSettings
    let loop: any EventLoop
    let localAddress: String
    let status: NIOLockedValueBox<VRRPStatus>
    /// Where `show vrrp` finds this instance's peer link; nil without one (`linkNote` says why).
    var link: PeerLink?
    var linkNote = "off"

    private let hooks: VRRPGroup.Hooks
    private let logger: Logger
    private let codec: HeartbeatCodec
    private let localNumber: UInt32
    /// Accepted heartbeat sources; nil with multicast (any sender that proves the key).
    private let peers: Set<String>?
    private let destinations: [String]
    private let sender: HeartbeatSender
    private let notifier: NotifyScripts
    /// `smtp_alert`'s mails (nil alert: none).
    private var mail: StateMail
    private let probe: LoopProbe
    private let scripts: [String: TrackedScript]
    /// The group's process watcher, when this instance tracks a process.
    private let processes: TrackedProcesses?
    /// The group's file reader, when this instance tracks a file.
    private let files: TrackedFiles?

    // Confined to `loop`.
    private var elector: Elector
    private var replay = ReplayGuard()
    private var sequences = SequenceSource()
    private var timer: Scheduled<Void>?
    private var tick: RepeatedTask?
    private var garpRefresh: RepeatedTask?
    /// `garp_master_delay`'s second burst, due while this node is a new master.
    private var garpSecondBurst: Scheduled<Void>?
    private var pendingRelease: Scheduled<Void>?
    /// `pendingRelease` is a hand-over's linger (not FAULT's wait for the peer): the new
    /// master's later heartbeats must not cut it short.
    private var handingOver = false
    private var vipHeld = false
    private var resignDone: EventLoopPromise<Void>?
    /// Set by `resign`: nothing re-evaluates the tracked inputs after it.
    private var stopping = false
    private var faultReason: String?
    /// The fault of this instance's own inputs (its group may add a member's: `applyFault`).
    private(set) var ownFault: String?
    /// Its `vrrp_sync_group`, if any (same loop; the group holds its members).
    weak var syncGroup: SyncGroup?
    private var dropLog = DropLog()
    /// Set while a heartbeat of lower priority than this master's is performed.
    private var heardLowerPriority = false
    private var nextSendFailureLog = NIODeadline.uptimeNanoseconds(0)

    init(settings: VRRPSettings, key: [UInt8]?, localAddress: String, sender: HeartbeatSender, scripts: [String: TrackedScript],
         processes: TrackedProcesses? = nil, files: TrackedFiles? = nil, probe: LoopProbe, hooks: VRRPGroup.Hooks,
         mailer: SMTPAlert? = nil, loop: any EventLoop, logger: Logger) {
        self.settings = settings
        self.loop = loop
        self.localAddress = localAddress
        self.localNumber = IPv4.number(localAddress)!
        self.codec = HeartbeatCodec(key: key, routerID: UInt8(settings.virtualRouterID))
        self.peers = settings.multicast ? nil : Set(settings.unicastPeers)
        self.destinations = settings.multicast ? [VRRPGroup.multicastGroup] : settings.unicastPeers
        self.sender = sender
        self.scripts = scripts
        self.processes = processes
        self.files = files
        self.probe = probe
        self.hooks = hooks
        self.logger = logger
        self.notifier = NotifyScripts(settings: settings, launcher: hooks.scriptLauncher, logger: logger)
        self.mail = StateMail(alert: settings.smtpAlert == true ? mailer : nil, group: false, name: settings.name)
        var electorSettings = Elector.Settings(priority: UInt8(settings.priority), advertInterval: settings.advertInterval.nanoseconds,
                                               localAddress: localNumber)
        electorSettings.preempt = settings.preempt
        electorSettings.preemptDelay = settings.preemptDelay.nanoseconds
        self.elector = Elector(settings: electorSettings)
        self.status = NIOLockedValueBox(VRRPStatus(priority: UInt8(settings.priority)))
    }

    // MARK: start and stop

    /// Folds in the tracked inputs, starts the elector (as backup) and the per-interval
    /// evaluation. On the loop.
    func start() {
        loop.preconditionInEventLoop()
        evaluateHealth()
        perform(elector.start(now: now()))
        tick = loop.scheduleRepeatedTask(initialDelay: .nanoseconds(settings.advertInterval.nanoseconds),
                                         delay: .nanoseconds(settings.advertInterval.nanoseconds)) { [self] _ in evaluateHealth() }
    }

    /// Graceful stop: a master advertises priority 0 and keeps the VIP until the peer answers
    /// as master (at most `2 × Master_Down_Interval`, at least 500 ms, at most 5 s), then
    /// releases it; anything else stops at once. The future completes when the VIP is released.
    func resign() -> EventLoopFuture<Void> {
        loop.flatSubmit { [self] in
            let done = loop.makePromise(of: Void.self)
            resignDone = done
            stopping = true
            tick?.cancel()
            perform(elector.resign(now: now()))
            let bound = min(max(2 * elector.masterDownInterval, 500_000_000), 5_000_000_000)
            loop.scheduleTask(in: .nanoseconds(bound)) { [self] in
                guard resignDone != nil else { return }
                if elector.isResigning { logger.warning("vrrp \(settings.name): the peer did not take over within \(bound / 1_000_000) ms; releasing the VIP anyway") }
                pendingRelease?.cancel()
                pendingRelease = nil
                // Already stopped when a hand-over's linger outlasted the bound: no second STOP.
                if elector.state != .initial { perform(elector.stop(now: now())) }
                if vipHeld { releaseNow() }  // a FAULT release or a hand-over still under way
                finishResignIfDone()
            }
            finishResignIfDone()
            return done.futureResult.flatMap { [self] in
                loop.submit { [self] in
                    timer?.cancel(); garpRefresh?.cancel(); garpSecondBurst?.cancel(); pendingRelease?.cancel()
                    if vipHeld { releaseNow() }
                }
            }
        }
    }

    private func finishResignIfDone() {
        guard let done = resignDone, elector.state == .initial, pendingRelease == nil else { return }
        resignDone = nil
        done.succeed()
    }

    // MARK: events

    /// A heartbeat carrying this instance's router id, from the shared socket (on the loop).
    func received(_ bytes: [UInt8], from source: String) {
        if let peers {
            guard peers.contains(source) else { return drop(.unknownSender(source), from: source) }
        } else if source == localAddress {
            return  // our own multicast, looped back despite IP_MULTICAST_LOOP 0
        }
        let heartbeat: Heartbeat
        switch codec.decode(bytes) {
        case .failure(let why): return drop(why, from: source)
        case .success(let h): heartbeat = h
        }
        guard heartbeat.sender == IPv4.number(source) else { return drop(.unknownSender(IPv4.text(heartbeat.sender)), from: source) }
        if case .failure(let why) = replay.admit(heartbeat, wallClockMilliseconds: wallClockMilliseconds()) { return drop(why, from: source) }
        status.withLockedValue { $0.peer = PeerStatus(address: source, priority: heartbeat.priority, lastHeard: .now()) }
        // FAULT's wait ends: the peer took over. No linger here — a faulty node should not
        // attract clients a moment longer than it must (a SYN lost now is retried at the peer).
        if heartbeat.priority > 0, pendingRelease != nil, !handingOver, elector.state != .master { releaseNow() }
        let advert = Elector.Advert(priority: heartbeat.priority, advertInterval: Int64(heartbeat.intervalMilliseconds) * 1_000_000,
                                    sender: heartbeat.sender)
        // keepalived's master hearing a lower priority (vrrp.c): its re-announcement takes
        // garp_lower_prio_repeat/_delay, and notify_master_rx_lower_pri runs.
        heardLowerPriority = elector.state == .master && heartbeat.priority > 0
            && (heartbeat.priority < elector.priority || (heartbeat.priority == elector.priority && heartbeat.sender < localNumber))
        defer { heardLowerPriority = false }
        if heardLowerPriority { notifier.heardLowerPriority() }
        perform(elector.heartbeat(advert, now: now()))
        finishResignIfDone()
    }

    /// The peer link's verdict: `sender`'s process died (on the loop).
    func peerProcessDied(_ sender: UInt32) {
        let before = elector.state
        perform(elector.peerProcessDied(sender: sender, now: now()))
        if elector.state == before {
            logger.info("vrrp \(settings.name): \(before.displayName) stays \(before.displayName): \(before == .master ? "the backup's process died, nothing to hand over" : "not the master we follow, or it resigned first")")
        }
    }

    /// Once per advert interval, and when a tracked script changes: probe the proxy loops,
    /// and fold their answers, the interfaces and the tracked backends and scripts into a
    /// fault reason and a priority (`Tracking`).
    func evaluateHealth() {
        guard !stopping else { return }
        let links = InterfaceAddresses.linkStates()
        var faults: [String] = []
        // keepalived's default too: a master whose link is down cannot serve; coming back
        // through BACKUP makes it preempt with a fresh gratuitous ARP. `dont_track_primary`
        // turns it off (keepalived's VRRP_NOT_TRACK_IF): the link may bounce, the VIP stays.
        if !settings.dontTrackPrimary && links[settings.interface] != true { faults.append("interface \(settings.interface) is down") }
        faults += probe.lateLoops(limit: UInt64(max(3 * settings.advertInterval.nanoseconds, 100_000_000)))
        probe.ping()
        var inputs: [Tracking.Input] = []
        for track in settings.trackBackends {
            inputs.append(.init(name: "backend '\(track.backend)'", weight: track.weight, up: hooks.backendUsable(track.backend),
                                downReason: "backend '\(track.backend)' has no usable server"))
        }
        for track in settings.trackScripts {
            guard let script = scripts[track.script] else { preconditionFailure("vrrp \(settings.name): script '\(track.script)' was not started") }
            inputs.append(Tracking.input("script '\(track.script)'", track: (track.weight, track.reverse),
                                         block: (script.settings.weight, script.settings.reverse), up: script.isUp,
                                         downReason: script.downReason, upReason: "script '\(track.script)' succeeds (tracked in reverse)"))
        }
        for track in settings.trackProcesses {
            guard let processes, let definition = processes.settings[track.process] else {
                preconditionFailure("vrrp \(settings.name): process '\(track.process)' is not watched")
            }
            inputs.append(Tracking.input("process '\(track.process)'", track: (track.weight, track.reverse),
                                         block: (definition.weight, definition.reverse), up: processes.hasQuorum(track.process),
                                         downReason: processes.downReason(track.process),
                                         upReason: "process '\(track.process)' has its quorum (tracked in reverse)"))
        }
        for track in settings.trackFiles {
            guard let files, let definition = files.settings[track.file] else { preconditionFailure("vrrp \(settings.name): file '\(track.file)' is not read") }
            inputs.append(FileTrackValue.input(track.file, value: files.value(track.file), weight: track.weight ?? definition.weight,
                                               reverse: track.reverse ?? definition.reverse))
        }
        for track in settings.trackInterfaces {
            inputs.append(.init(name: "interface \(track.interface)", weight: track.weight, up: links[track.interface] == true,
                                downReason: links[track.interface] == nil ? "tracked interface \(track.interface) does not exist"
                                                                          : "tracked interface \(track.interface) is down"))
        }
        let outcome = Tracking.evaluate(configured: settings.priority, inputs: inputs, faults: faults)
        perform(elector.priorityChanged(to: outcome.priority, now: now()))
        status.withLockedValue { $0.priority = outcome.priority; $0.tracked = inputs }
        let changed = outcome.fault != ownFault
        ownFault = outcome.fault
        applyFault()
        if changed { syncGroup?.ownFaultChanged(of: self) }
    }

    /// The elector's fault: this instance's own, else one its sync group passes on.
    func applyFault() {
        guard !stopping else { return }
        let fault = ownFault ?? syncGroup?.inheritedFault(of: self)
        status.withLockedValue { $0.fault = fault }
        guard fault != faultReason else { return }
        faultReason = fault
        perform(elector.faultChanged(reason: fault, now: now()), awaitPeer: true)
    }

    /// The elector's state (on the loop).
    var state: Elector.State { elector.state }

    // MARK: actions

    /// Runs the elector's actions. Giving the VIP up to a peer whose heartbeat says it is
    /// master is a hand-over (`handOver`: a short linger, its gratuitous ARP went out before
    /// that heartbeat but may reach a client later). Entering FAULT passes `awaitPeer`: keep
    /// the address until the peer's first heartbeat as master (or a short bound), so the
    /// clients are never sent to a node without it.
    private func perform(_ actions: [Elector.Action], awaitPeer: Bool = false) {
        for action in actions {
            switch action {
            case .sendAdvert(let priority):
                send(priority: priority)
            case .addVIP:
                pendingRelease?.cancel()
                pendingRelease = nil
                handingOver = false
                for vip in settings.virtualAddresses {
                    do { try VIPAddress.add(vip.cidr, interface: vip.interface ?? settings.interface) } catch { logger.error("vrrp \(settings.name): \(error)") }
                }
                vipHeld = true
            case .removeVIP:
                if awaitPeer { releaseWhenPeerIsMaster() } else { releaseNow() }
            case .handOverVIP:
                handOver()
            case .gratuitousARP:
                let count = heardLowerPriority ? settings.garpLowerPriorityRepeat ?? VRRPSettings.keepalivedGarpRepeat : settings.garpMasterRepeat
                announce(count: count)
                // keepalived's second burst on becoming master (garp_master_delay), or after
                // hearing a lower priority (garp_lower_prio_delay).
                if let delay = heardLowerPriority ? settings.garpLowerPriorityDelay : settings.garpMasterDelay, delay.nanoseconds > 0, count > 0 {
                    garpSecondBurst?.cancel()
                    garpSecondBurst = loop.scheduleTask(in: .nanoseconds(delay.nanoseconds)) { [self] in
                        garpSecondBurst = nil
                        if elector.state == .master { sendGratuitousARPs(count: count) }
                    }
                }
            case .notify(let state, let reason):
                transition(to: state, reason: reason)
            case .armTimer(let at):
                timer?.cancel()
                timer = loop.scheduleTask(deadline: .uptimeNanoseconds(UInt64(max(at, 0)))) { [self] in
                    perform(elector.timerFired(now: now()))
                    finishResignIfDone()
                }
            }
        }
    }

    private func releaseWhenPeerIsMaster() {
        guard pendingRelease == nil else { return }
        // The peer takes over after its Skew_Time (< one interval): wait a little longer.
        let bound = min(max(2 * settings.advertInterval.nanoseconds, 50_000_000), 2_000_000_000)
        pendingRelease = loop.scheduleTask(in: .nanoseconds(bound)) { [self] in
            pendingRelease = nil
            if elector.state != .master { releaseNow() }
            finishResignIfDone()
        }
    }

    /// The peer announced itself master: keep the VIP for the elector's `handOverLinger`, so
    /// a SYN sent here by a client that has not yet processed the new master's gratuitous ARP
    /// is still answered; halfway, a priority-0 heartbeat makes the new master announce again
    /// (for a client that missed its first burst), then the address goes and one more follows
    /// (for a client that took our ARP reply meanwhile). Make-before-break:
    /// dropping it at once turned that SYN into a lost connection.
    private func handOver() {
        guard vipHeld, !handingOver else { return }
        pendingRelease?.cancel()
        handingOver = true
        let half = elector.handOverLinger / 2
        pendingRelease = loop.scheduleTask(in: .nanoseconds(half)) { [self] in
            guard elector.state != .master else { pendingRelease = nil; handingOver = false; return }
            send(priority: 0)
            pendingRelease = loop.scheduleTask(in: .nanoseconds(half)) { [self] in
                pendingRelease = nil
                handingOver = false
                if elector.state != .master {
                    releaseNow()
                    // Once more, now that only the new master can answer an ARP request: a
                    // client that resolved the VIP in this second half may have taken our
                    // reply (Linux keeps the first within locktime); only a gratuitous ARP
                    // moves it, and the new master sends one on this heartbeat.
                    send(priority: 0)
                }
                finishResignIfDone()
            }
        }
    }

    private func releaseNow() {
        pendingRelease?.cancel()
        pendingRelease = nil
        handingOver = false
        garpRefresh?.cancel()
        garpRefresh = nil
        garpSecondBurst?.cancel()
        garpSecondBurst = nil
        for vip in settings.virtualAddresses {
            do { try VIPAddress.remove(vip.cidr, interface: vip.interface ?? settings.interface) } catch { logger.error("vrrp \(settings.name): \(error)") }
        }
        vipHeld = false
    }

    private func send(priority: UInt8) {
        let beat = Heartbeat(routerID: UInt8(settings.virtualRouterID), priority: priority,
                             intervalMilliseconds: UInt32(settings.advertInterval.milliseconds), sender: localNumber,
                             sequence: sequences.take(wallClockMilliseconds: UInt64(wallClockMilliseconds())))
        let bytes = codec.encode(beat)
        for destination in destinations {
            guard let error = sender.send(bytes, to: destination, port: settings.udpPort) else { continue }
            status.withLockedValue { $0.sendFailures += 1 }
            let now = NIODeadline.now()
            if now >= nextSendFailureLog {
                nextSendFailureLog = now + .seconds(10)
                logger.warning("vrrp \(settings.name): heartbeat to \(destination) failed: \(error) (logged at most every 10 s)")
            }
        }
    }

    private func announce(count: Int) {
        sendGratuitousARPs(count: count)
        if let refresh = settings.garpMasterRefresh, garpRefresh == nil {
            garpRefresh = loop.scheduleRepeatedTask(initialDelay: .nanoseconds(refresh.nanoseconds), delay: .nanoseconds(refresh.nanoseconds)) { [self] _ in
                if elector.state == .master { announce(count: settings.garpMasterRepeat) }
            }
        }
    }

    /// One burst: `count` gratuitous ARPs per VIP (`garp_master_repeat`, or
    /// `garp_lower_prio_repeat`; 0: none).
    private func sendGratuitousARPs(count: Int) {
        guard count > 0 else { return }
        for vip in settings.virtualAddresses {
            guard let bytes = IPv4.bytes(vip.address) else { continue }
            do { try GratuitousARP.announce(bytes, interface: vip.interface ?? settings.interface, count: count) } catch {
                logger.error("vrrp \(settings.name): \(error)")
            }
        }
    }

    private func transition(to state: Elector.State, reason: String) {
        let from = status.withLockedValue { s -> Elector.State in
            let from = s.state
            s.state = state
            s.lastTransition = TransitionRecord(from: from, to: state, reason: reason, at: Date())
            s.transitions += 1
            return from
        }
        if state != .master { garpRefresh?.cancel(); garpRefresh = nil; garpSecondBurst?.cancel(); garpSecondBurst = nil }
        let line = "vrrp \(settings.name): \(from.displayName) -> \(state.displayName): \(reason)"
        if state == .fault { logger.warning("\(line)") } else { logger.info("\(line)") }
        notifier.run(state: state, priority: elector.priority)
        mail.entered(state)
        // On the next tick: a FAULT reaches the other members first (as keepalived notifies a
        // group after moving all its members).
        if let group = syncGroup { loop.assumeIsolated().execute { group.memberChanged() } }
    }

    /// Counts a dropped heartbeat (the shared socket calls it too, for packets it cannot give
    /// to any instance), logged at a bounded rate unless `log` is false.
    func drop(_ why: HeartbeatDrop, from source: String, log: Bool = true) {
        guard let total = status.withLockedValue({ dropLog.count(why.kind, in: &$0.drops) }), log else { return }
        logger.warning("vrrp \(settings.name): dropped a heartbeat from \(source): \(why.kind) (\(total) dropped so far; logged at most every 10 s)")
    }

    private func now() -> Int64 { Int64(NIODeadline.now().uptimeNanoseconds) }

    /// This instance's part of `swiftlb ctl show vrrp`.
    var vipStats: VIPStats { status.withLockedValue { $0.vipStats(settings: settings) } }

    var statusText: String {
        var text = status.withLockedValue { $0.render(settings: settings, local: localAddress) }
        for (name, script) in scripts.sorted(by: { $0.key < $1.key }) where settings.trackScripts.contains(where: { $0.script == name }) {
            text += script.statusLine
        }
        for track in settings.trackProcesses { text += processes?.statusLine(track.process) ?? "" }
        for track in settings.trackFiles { text += files?.statusLine(track.file) ?? "" }
        if let link {
            text += "peer link: to \(link.settings.peer):\(link.settings.port) (shared by the instances between the two hosts; below)\n"
        } else {
            text += "peer link: \(linkNote)\n"
        }
        return text
    }
}

func wallClockMilliseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
}
