/// The VIP election as a pure state machine (VRRPv3's rules, RFC 5798 §6.4): fed events and
/// the current time, it returns the actions to perform. No sockets, no clock, no timers of
/// its own — the I/O shell around it owns those — so every transition is unit-tested with an
/// injected clock.
///
/// States: `initial` (not started), `backup` (watching the master's heartbeats), `master`
/// (holding the VIP, advertising), `fault` (a tracked backend has no healthy server: never
/// master). Timers are deadlines the shell arms from `Action.armTimer`.
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
    public private(set) var lastTransitionReason = "not started"
    public let settings: Settings
    /// The master's advert interval as learned from its heartbeats (VRRPv3 §6.1).
    private var masterAdvertInterval: Int64
    /// When a deferred preemption (preempt_delay) may happen.
    private var preemptAt: Int64?
    private var trackedHealthy = true

    public init(settings: Settings) {
        self.settings = settings
        self.masterAdvertInterval = settings.advertInterval
    }

    /// Skew_Time = ((256 - priority) × Master_Adver_Interval) / 256: lower priorities wait longer.
    public var skew: Int64 { (256 - Int64(settings.priority)) * masterAdvertInterval / 256 }
    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
    public var masterDownInterval: Int64 { 3 * masterAdvertInterval + skew }

    // MARK: events

    public mutating func start(now: Int64) -> [Action] {
        guard state == .initial else { return [] }
        if !trackedHealthy { return enterFault(now: now, reason: "tracked backend has no healthy server") }
        if settings.priority == 255 { return becomeMaster(now: now, reason: "priority 255 owns the address") }
        return becomeBackup(now: now, reason: "started")
    }

    public mutating func heartbeat(_ advert: Advert, now: Int64) -> [Action] {
        switch state {
        case .initial, .fault:
            return []
        case .backup:
            if advert.priority == 0 {
                // The master resigned (graceful stop): take over after Skew_Time, not 3 intervals.
                return [.armTimer(at: now + skew)]
            }
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
            return becomeMaster(now: now, reason: "preempting a lower-priority master (\(advert.priority) < \(settings.priority))")
        case .master:
            if advert.priority == 0 {
                // A peer resigning while we are master: reassert at once so nobody waits.
                return [.sendAdvert(priority: settings.priority), .armTimer(at: now + settings.advertInterval)]
            }
            if outranks(advert) {
                // Split brain healed (or a lower peer came up thinking it was alone): we win;
                // tell it now, and re-announce the VIP so switches and hosts relearn it.
                return [.sendAdvert(priority: settings.priority), .gratuitousARP, .armTimer(at: now + settings.advertInterval)]
            }
            masterAdvertInterval = advert.advertInterval
            return becomeBackup(now: now, reason: "a higher-priority peer is master (\(advert.priority) > \(settings.priority) or equal with a higher address)")
        }
    }

    public mutating func timerFired(now: Int64) -> [Action] {
        switch state {
        case .initial, .fault:
            return []
        case .backup:
            if let at = preemptAt, now >= at {
                return becomeMaster(now: now, reason: "preempt_delay passed")
            }
            return becomeMaster(now: now, reason: "no heartbeat from the master for \(masterDownInterval / 1_000_000) ms")
        case .master:
            return [.sendAdvert(priority: settings.priority), .armTimer(at: now + settings.advertInterval)]
        }
    }

    /// `track_backend`: no healthy server means FAULT (resigning the VIP); recovery means backup.
    public mutating func trackedBackendChanged(healthy: Bool, now: Int64) -> [Action] {
        trackedHealthy = healthy
        switch (state, healthy) {
        case (.initial, _): return []
        case (.fault, true): return becomeBackup(now: now, reason: "tracked backend has a healthy server again")
        case (.fault, false): return []
        case (_, false): return enterFault(now: now, reason: "tracked backend has no healthy server")
        case (_, true): return []
        }
    }

    /// Graceful stop: a master resigns with priority 0 so the backup takes over at once.
    public mutating func stop(now: Int64) -> [Action] {
        defer { state = .initial; lastTransitionReason = "stopped" }
        if state == .master { return [.sendAdvert(priority: 0), .removeVIP, .notify(.initial, reason: "stopping: resigned with priority 0")] }
        return []
    }

    // MARK: transitions

    /// Whether we win against `advert`: higher priority, or equal priority and higher address.
    private func outranks(_ advert: Advert) -> Bool {
        settings.priority > advert.priority || (settings.priority == advert.priority && settings.localAddress > advert.sender)
    }

    private mutating func becomeMaster(now: Int64, reason: String) -> [Action] {
        state = .master
        lastTransitionReason = reason
        preemptAt = nil
        return [.sendAdvert(priority: settings.priority), .addVIP, .gratuitousARP, .notify(.master, reason: reason),
                .armTimer(at: now + settings.advertInterval)]
    }

    private mutating func becomeBackup(now: Int64, reason: String) -> [Action] {
        let wasMaster = state == .master
        state = .backup
        lastTransitionReason = reason
        var actions: [Action] = wasMaster ? [.removeVIP] : []
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
