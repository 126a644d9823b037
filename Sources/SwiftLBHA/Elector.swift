/// The VIP election as a pure state machine (VRRPv3's rules, RFC 5798 §6.4): fed events and
/// the current time, it returns the actions to perform. No sockets, no clock, no timers of
/// its own — the I/O shell around it owns those — so every transition is unit-tested with an
/// injected clock.
///
/// States: `initial` (not started), `backup` (watching the master's heartbeats), `master`
/// (holding the VIP, advertising), `fault` (a tracked backend has no healthy server: never
/// master). Timers are deadlines the shell arms from `Action.armTimer`.
///
/// Two ways to learn that the master is gone: its heartbeats stop (`timerFired` after
/// Master_Down_Interval — the only judge of a partition or a host that died), or
/// `peerProcessDied` — the shell saw the master's own kernel close its authenticated peer link
/// and refuse a fresh connection, which only happens when the master's process is gone while
/// its host stays up (SIGKILL, a crash, the OOM killer). That one is acted on at once.
public struct Elector: Sendable {
    public enum State: String, Sendable, Equatable { case initial, backup, master, fault }

    public struct Settings: Sendable, Equatable {
        /// 1…254; 255 is reserved for an address owner, 0 means "resigning".
        public var priority: UInt8
        /// Nanoseconds between advertisements.
        public var advertInterval: Int64
        public var preempt = true
        /// A higher-priority backup waits this long before taking over a live master.
        public var preemptDelay: Int64 = 0
        /// Breaks priority ties: the higher address wins (VRRP compares primary addresses).
        public var localAddress: UInt32
        public init(priority: UInt8, advertInterval: Int64, localAddress: UInt32) {
            self.priority = priority
            self.advertInterval = advertInterval
            self.localAddress = localAddress
        }
    }

    /// What the elector asks the shell to do, in order.
    public enum Action: Sendable, Equatable {
        case sendAdvert(priority: UInt8)
        case addVIP
        case removeVIP
        /// Give the VIP up to a peer that has just announced itself master, make-before-break:
        /// its gratuitous ARP went out before the heartbeat we heard, but a client may process
        /// it later than we would drop the address, and a SYN still sent here would be lost.
        /// Keep the address for `handOverLinger`, at half of it send a priority-0 heartbeat
        /// (the new master announces again), then remove it — unless we are master again by then.
        case handOverVIP
        /// A burst of gratuitous ARPs announcing the VIP (after becoming master, after a heal).
        case gratuitousARP
        case notify(State, reason: String)
        /// Call `timerFired` at this time (replaces any earlier timer).
        case armTimer(at: Int64)
    }

    /// A heartbeat from the peer, already authenticated and de-duplicated by the codec.
    public struct Advert: Sendable, Equatable {
        public var priority: UInt8
        public var advertInterval: Int64
        public var sender: UInt32
        public init(priority: UInt8, advertInterval: Int64, sender: UInt32) {
            self.priority = priority
            self.advertInterval = advertInterval
            self.sender = sender
        }
    }

    public private(set) var state: State = .initial
    /// The priority advertised now: the configured one moved by `track_backend` weights.
    public private(set) var priority: UInt8
    public private(set) var lastTransitionReason = "not started"
    public let settings: Settings
    /// The master's advert interval as learned from its heartbeats (VRRPv3 §6.1).
    private var masterAdvertInterval: Int64
    /// When a deferred preemption (preempt_delay) may happen.
    private var preemptAt: Int64?
    private var faultReason: String?
    private var resigning = false
    /// The master's last heartbeat had priority 0: the takeover is a handover, not a failure.
    private var masterResigned = false
    /// Who we follow as backup: the sender of the last heartbeat with a priority above 0.
    private var masterAddress: UInt32?

    public init(settings: Settings) {
        self.settings = settings
        self.masterAdvertInterval = settings.advertInterval
        self.priority = settings.priority
    }

    /// Skew_Time = ((256 - priority) × Master_Adver_Interval) / 256: lower priorities wait longer.
    public var skew: Int64 { (256 - Int64(priority)) * masterAdvertInterval / 256 }
    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
    public var masterDownInterval: Int64 { 3 * masterAdvertInterval + skew }
    /// How long `handOverVIP` keeps the address after the new master's heartbeat: two advert
    /// intervals, at least 100 ms (a loaded client's late ARP), at most 1 s (both hold it meanwhile).
    public var handOverLinger: Int64 { min(max(2 * settings.advertInterval, 100_000_000), 1_000_000_000) }

    // MARK: events

    public mutating func start(now: Int64) -> [Action] {
        guard state == .initial else { return [] }
        if let why = faultReason { return enterFault(now: now, reason: why) }
        if priority == 255 { return becomeMaster(now: now, reason: "priority 255 owns the address") }
        return becomeBackup(now: now, reason: "started")
    }

    public mutating func heartbeat(_ advert: Advert, now: Int64) -> [Action] {
        if resigning { return resigningHeartbeat(advert, now: now) }
        switch state {
        case .initial, .fault:
            return []
        case .backup:
            if advert.priority == 0 {
                // The master resigned (graceful stop): take over after Skew_Time, not 3 intervals.
                masterResigned = true
                return [.armTimer(at: now + skew)]
            }
            masterResigned = false
            masterAddress = advert.sender
            masterAdvertInterval = advert.advertInterval
            if !settings.preempt || !outranks(advert) {
                preemptAt = nil
                return [.armTimer(at: now + masterDownInterval)]
            }
            // We outrank a live master: preempt, after preempt_delay if one is set.
            if settings.preemptDelay > 0 {
                if preemptAt == nil { preemptAt = now + settings.preemptDelay }
                if now < preemptAt! { return [.armTimer(at: min(preemptAt!, now + masterDownInterval))] }
            }
            return becomeMaster(now: now, reason: "preempting a lower-priority master (\(advert.priority) < \(priority))")
        case .master:
            if advert.priority == 0 {
                // A peer resigning or yielding while we are master: it may have held the VIP
                // (split brain), so the clients' ARP caches may point at it. Reassert and
                // re-announce at once.
                return [.sendAdvert(priority: priority), .gratuitousARP, .armTimer(at: now + settings.advertInterval)]
            }
            if outranks(advert) {
                // Split brain healed (or a lower peer came up thinking it was alone): we win;
                // tell it now, and re-announce the VIP so switches and hosts relearn it.
                return [.sendAdvert(priority: priority), .gratuitousARP, .armTimer(at: now + settings.advertInterval)]
            }
            masterAdvertInterval = advert.advertInterval
            masterAddress = advert.sender
            // Yielding a split brain: the winner may never have heard us (our heartbeats were
            // the ones lost), so it would not know the clients were sent here. One priority-0
            // heartbeat tells it to re-announce the VIP.
            return [.sendAdvert(priority: 0)]
                + becomeBackup(now: now, reason: "a higher-priority peer is master (\(advert.priority) > \(priority) or equal with a higher address)",
                               release: .handOverVIP)
        }
    }

    public mutating func timerFired(now: Int64) -> [Action] {
        if resigning { return [.sendAdvert(priority: 0), .armTimer(at: now + settings.advertInterval)] }
        switch state {
        case .initial, .fault:
            return []
        case .backup:
            if let at = preemptAt, now >= at {
                return becomeMaster(now: now, reason: "preempt_delay passed")
            }
            if masterResigned { return becomeMaster(now: now, reason: "the master resigned (priority 0)") }
            return becomeMaster(now: now, reason: "no heartbeat from the master for \(masterDownInterval / 1_000_000) ms")
        case .master:
            return [.sendAdvert(priority: priority), .armTimer(at: now + settings.advertInterval)]
        }
    }

    /// The shell's verdict that `sender`'s process died: its authenticated peer link closed
    /// (EOF or RST, no goodbye) and its port then refused a connection. A backup whose master
    /// that is takes over at once — unless the master resigned first (a graceful stop is a
    /// handover, already under way). Anyone else only notes it: a master whose backup died
    /// keeps what it has, and a backup that never heard `sender` as master has nothing to take
    /// over. A link lost without such a verdict (partition, host crash) never gets here: the
    /// heartbeat timeout stays the only judge of those, so a flapping link cannot split the brain.
    public mutating func peerProcessDied(sender: UInt32, now: Int64) -> [Action] {
        guard !resigning, state == .backup, !masterResigned, masterAddress == sender else { return [] }
        return becomeMaster(now: now, reason: "the master's process died (its peer link closed and its port refused a connection)")
    }

    /// A fault condition (a `track_backend` of weight 0 without a usable server, a proxy event
    /// loop that stopped answering) appeared (`reason`) or cleared (nil). In FAULT the instance
    /// never holds the VIP; when the fault clears it starts over as backup.
    public mutating func faultChanged(reason: String?, now: Int64) -> [Action] {
        faultReason = reason
        if resigning { return [] }
        switch (state, reason) {
        case (.initial, _): return []
        case (.fault, nil): return becomeBackup(now: now, reason: "fault cleared")
        case (.fault, .some): return []
        case (_, .some(let why)): return enterFault(now: now, reason: why)
        case (_, nil): return []
        }
    }

    /// `track_backend … weight N` moved the advertised priority. A master says so at once, so
    /// a backup that now outranks it preempts without waiting for the next interval.
    public mutating func priorityChanged(to newPriority: UInt8, now: Int64) -> [Action] {
        guard newPriority != priority, newPriority > 0 else { return [] }
        priority = newPriority
        return state == .master ? [.sendAdvert(priority: priority)] : []
    }

    /// Graceful stop, first half: a master advertises priority 0 so the backup takes over
    /// after its Skew_Time, and keeps the VIP (and serving) until the peer's first heartbeat as
    /// master arrives — no moment without an owner. Anything else simply stops.
    public mutating func resign(now: Int64) -> [Action] {
        guard state == .master else { return stop(now: now) }
        resigning = true
        lastTransitionReason = "resigning: waiting for the peer to take over"
        return [.sendAdvert(priority: 0), .armTimer(at: now + settings.advertInterval)]
    }

    /// True between `resign` and the peer's takeover (or `stop`).
    public var isResigning: Bool { resigning }

    /// Graceful stop, second half (or the shell's bound on waiting): release the VIP.
    public mutating func stop(now: Int64) -> [Action] {
        let wasMaster = state == .master
        let reason = resigning ? "stopped before the peer took over" : "stopped"
        state = .initial
        resigning = false
        lastTransitionReason = reason
        return wasMaster ? [.removeVIP, .notify(.initial, reason: reason)] : [.notify(.initial, reason: reason)]
    }

    private mutating func resigningHeartbeat(_ advert: Advert, now: Int64) -> [Action] {
        guard advert.priority > 0 else { return [] }   // the peer is stopping too
        state = .initial
        resigning = false
        lastTransitionReason = "resigned: the peer is master"
        return [.handOverVIP, .notify(.initial, reason: lastTransitionReason)]
    }

    // MARK: transitions

    /// Whether we win against `advert`: higher priority, or equal priority and higher address.
    private func outranks(_ advert: Advert) -> Bool {
        priority > advert.priority || (priority == advert.priority && settings.localAddress > advert.sender)
    }

    private mutating func becomeMaster(now: Int64, reason: String) -> [Action] {
        state = .master
        masterResigned = false
        masterAddress = nil
        lastTransitionReason = reason
        preemptAt = nil
        // Address and ARP first, heartbeat last: the old owner lets go of the VIP the moment it
        // hears us, and by then the clients have already been told where it went.
        return [.addVIP, .gratuitousARP, .sendAdvert(priority: priority), .notify(.master, reason: reason),
                .armTimer(at: now + settings.advertInterval)]
    }

    /// `release`: how a master lets go — `handOverVIP` when the peer has announced itself.
    private mutating func becomeBackup(now: Int64, reason: String, release: Action = .removeVIP) -> [Action] {
        let wasMaster = state == .master
        state = .backup
        lastTransitionReason = reason
        var actions: [Action] = wasMaster ? [release] : []
        actions += [.notify(.backup, reason: reason), .armTimer(at: now + masterDownInterval)]
        return actions
    }

    private mutating func enterFault(now: Int64, reason: String) -> [Action] {
        let wasMaster = state == .master
        state = .fault
        lastTransitionReason = reason
        var actions: [Action] = wasMaster ? [.sendAdvert(priority: 0), .removeVIP] : []
        actions.append(.notify(.fault, reason: reason))
        return actions
    }
}
