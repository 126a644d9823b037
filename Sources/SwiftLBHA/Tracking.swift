/// What an instance's advertised priority and its FAULT are made of, as pure functions the
/// shell calls once per advert interval (and at once when a tracked script changes): every
/// `track_backend`, `track_script` and `track_interface`, the instance's own interface and
/// the proxy loops' liveness. keepalived's semantics for every kind of input:
///
/// * weight 0: the instance is in FAULT while the input is down;
/// * weight > 0: added to the priority while the input is up;
/// * weight < 0: added (so subtracted) while it is down.
///
/// The result is clamped to 1…254: a tracked input can lower an instance to the bottom, never
/// to "resigning" (0) or to "address owner" (255).
public enum Tracking {
    /// One tracked input as it stands now.
    public struct Input: Sendable, Equatable {
        /// For `show vrrp`: "backend 'nodes'", "script 'chk_haproxy'", "interface eth1".
        public var name: String
        public var weight: Int
        public var up: Bool
        /// Why it is down, for the log and `show vrrp` ("script 'chk' failed: exit 1").
        public var downReason: String
        /// How `show vrrp` describes its effect, when not by its weight (a track_file's
        /// value × weight).
        public var effect: String?
        public init(name: String, weight: Int, up: Bool, downReason: String) {
            self.name = name
            self.weight = weight
            self.up = up
            self.downReason = downReason
        }
    }

    /// A script's or a process's input with keepalived's `reverse`: the weight acts on the
    /// opposite state (`weight 0 reverse`: FAULT while `what` is up; `weight 10 reverse`: -10
    /// while up; `weight -10 reverse`: +10 while down). `upReason` says why a reversed input
    /// counts as down.
    /// keepalived's rule for a tracked block in an instance (alloc_track_script,
    /// alloc_track_process, vrrp_alloc_track_file): a weight written there replaces the
    /// block's, and `reverse`/`noreverse` written there replace the block's `reverse`, which
    /// stands otherwise — even when a weight is written.
    public static func input(_ what: String, track: (weight: Int?, reverse: Bool?), block: (weight: Int, reverse: Bool),
                             up: Bool, downReason: String, upReason: String) -> Input {
        input(what, weight: track.weight ?? block.weight, reverse: track.reverse ?? block.reverse, up: up, downReason: downReason, upReason: upReason)
    }

    public static func input(_ what: String, weight: Int, reverse: Bool, up: Bool, downReason: String, upReason: String) -> Input {
        reverse ? Input(name: "\(what) (reverse)", weight: -weight, up: !up, downReason: upReason)
                : Input(name: what, weight: weight, up: up, downReason: downReason)
    }

    public struct Outcome: Sendable, Equatable {
        public var priority: UInt8
        /// The first fault, nil when none: what the elector's `faultChanged` gets.
        public var fault: String?
        /// Every fault, in the order of the inputs.
        public var faults: [String]
    }

    /// `configured`: the `priority` of the instance. `faults`: conditions that are faults
    /// whatever the weights (the instance's own interface down, a proxy loop that stopped
    /// answering), which come first.
    public static func evaluate(configured: Int, inputs: [Input], faults: [String] = []) -> Outcome {
        var priority = configured
        var all = faults
        for input in inputs {
            switch (input.weight, input.up) {
            case (0, false): all.append(input.downReason)
            case (let w, true) where w > 0: priority += w
            case (let w, false) where w < 0: priority += w
            default: break
            }
        }
        return Outcome(priority: UInt8(min(max(priority, 1), 254)), fault: all.first, faults: all)
    }
}

/// The rise/fall filter of one `vrrp_script`, as a pure state machine. A run that exits 0
/// succeeds; another exit status, a signal, a timeout or a failed start is a failure. An OK
/// script turns FAILED after `fall` failures in a row; a FAILED one turns OK after `rise`
/// successes in a row.
///
/// Before its first result a script is `pending`, and its first result decides at once (no
/// rise/fall on it): the VIP runtime waits for every tracked script's first result before
/// electing (keepalived keeps an instance out of MASTER until its scripts have reported), so
/// an instance starting next to a broken service never holds the VIP for `fall` intervals.
public struct ScriptHealth: Sendable, Equatable {
    public enum State: String, Sendable, Equatable { case pending, ok, failed }

    public private(set) var state: State = .pending
    public let rise: Int
    public let fall: Int
    /// Consecutive results against the current state (failures while OK, successes while FAILED).
    public private(set) var streak = 0

    public init(rise: Int, fall: Int) {
        precondition(rise >= 1 && fall >= 1, "rise and fall are at least 1 (the parser enforces it)")
        self.rise = rise
        self.fall = fall
    }

    /// Feeds one result; returns true when the state changed.
    public mutating func record(success: Bool) -> Bool {
        switch (state, success) {
        case (.pending, _):
            state = success ? .ok : .failed
            streak = 0
            return true
        case (.ok, true), (.failed, false):
            streak = 0
            return false
        case (.ok, false):
            streak += 1
            guard streak >= fall else { return false }
            state = .failed
            streak = 0
            return true
        case (.failed, true):
            streak += 1
            guard streak >= rise else { return false }
            state = .ok
            streak = 0
            return true
        }
    }
}
