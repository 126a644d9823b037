/// keepalived's `vrrp_track_process NAME { … }`: how many processes of a name (or a command
/// line) run; a count outside `quorum…quorumMax` is a failure, weighted as a tracked script's.
public struct VRRPTrackProcess: Sendable, Equatable {
    /// keepalived's `param_match`: how a process's arguments are compared with those given
    /// after `process NAME`. `none`: not at all (only the name).
    public enum ParamMatch: String, Sendable, Equatable {
        case none
        /// Exactly these arguments, no more (`param_match` alone, or arguments after `process`).
        case exact
        /// These arguments first, any after them (`param_match partial`).
        case partial
        /// As `partial`, and the last one given may be the start of a longer argument
        /// (`param_match initial`).
        case initial
    }

    public var name: String
    public var line: Int
    public var file: String?
    /// The command name (the kernel's `comm`, 15 characters at most) or, with `fullCommand`,
    /// the program as written in argv[0].
    public var process = ""
    /// The arguments after the name on the `process` line (nil: none given).
    public var parameters: [String]?
    public var paramMatch = ParamMatch.none
    /// Match argv (/proc/PID/cmdline), not the command name: set by `full_command`,
    /// `param_match` or arguments on the `process` line, as in keepalived.
    public var fullCommand = false
    /// keepalived's default is 0: FAULT while the count is outside the quorum.
    public var weight = 0
    public var reverse = false
    public var quorum = 1
    /// keepalived's default: no maximum.
    public var quorumMax = Int(UInt32.max)
    /// How long a gained (or lost, through a new process) quorum must last before it counts.
    public var forkDelay = ConfigDuration(nanoseconds: 0)
    /// How long a lost quorum (through a process that ended) must last before it counts.
    public var terminateDelay = ConfigDuration(nanoseconds: 0)
    public init(name: String, line: Int) {
        self.name = name
        self.line = line
    }
}

/// `track_process { NAME [weight N [reverse|noreverse]] }` in an instance: a weight given
/// here overrides the block's; `reverse`/`noreverse` override its `reverse` (not written: the
/// block's stands, even with a weight here — keepalived's alloc_track_process).
public struct TrackProcess: Sendable, Equatable {
    public var process: String
    public var weight: Int?
    public var reverse: Bool?
    public var line: Int
    public init(process: String, weight: Int?, reverse: Bool?, line: Int) {
        self.process = process
        self.weight = weight
        self.reverse = reverse
        self.line = line
    }
}

/// keepalived's `track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }`
/// (`vrrp_track_file` is its deprecated synonym): the file holds a number; with weight 0 a
/// non-zero number is a FAULT, otherwise number × weight moves the priority.
public struct VRRPTrackFile: Sendable, Equatable {
    /// `init_file`: write `value` at start when the file does not exist (or always, `overwrite`).
    public struct Initial: Sendable, Equatable {
        public var value: Int
        public var overwrite: Bool
        public init(value: Int, overwrite: Bool) {
            self.value = value
            self.overwrite = overwrite
        }
    }

    public var name: String
    public var line: Int
    public var file: String?
    public var path = ""
    /// keepalived's default is 1.
    public var weight = 1
    public var reverse = false
    public var initial: Initial?
    public init(name: String, line: Int) {
        self.name = name
        self.line = line
    }
}

/// `track_file { NAME [weight N [reverse|noreverse]] }` in an instance, as `TrackProcess`.
public struct TrackFile: Sendable, Equatable {
    public var file: String
    public var weight: Int?
    public var reverse: Bool?
    public var line: Int
    public init(file: String, weight: Int?, reverse: Bool?, line: Int) {
        self.file = file
        self.weight = weight
        self.reverse = reverse
        self.line = line
    }
}
