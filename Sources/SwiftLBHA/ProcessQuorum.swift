import SwiftLBConfig

/// Which processes a `vrrp_track_process` counts, as keepalived 2.2 matches them
/// (track_process.c): by the kernel's command name (`comm`, /proc/PID/stat), or with
/// `full_command` by argv[0] exactly — never a substring or a regular expression (`ssh` does
/// not match `sshd`) — and with `param_match` by the arguments after it. Zombies never count
/// (they have exited). Pure: the scan (`ProcessScan`) hands it what it read.
public struct ProcessPattern: Sendable, Equatable {
    public let name: String
    public let paramMatch: VRRPTrackProcess.ParamMatch
    public let fullCommand: Bool
    /// The arguments as /proc/PID/cmdline holds them: each followed by a NUL.
    let parameters: [UInt8]

    public init(_ settings: VRRPTrackProcess) {
        name = settings.process
        paramMatch = settings.paramMatch
        fullCommand = settings.fullCommand
        parameters = (settings.parameters ?? []).flatMap { Array($0.utf8) + [0] }
    }

    /// `comm`: the command name; `cmdline`: /proc/PID/cmdline (needed only with `fullCommand`).
    public func matches(comm: String, cmdline: [UInt8]?) -> Bool {
        guard fullCommand else { return comm == name }
        guard let cmdline else { return false }
        let nul = cmdline.firstIndex(of: 0) ?? cmdline.endIndex
        guard cmdline[..<nul].elementsEqual(name.utf8) else { return false }
        let rest = nul < cmdline.endIndex ? cmdline[(nul + 1)...] : []
        switch paramMatch {
        case .none: return true
        case .exact: return rest.elementsEqual(parameters)
        case .partial: return rest.starts(with: parameters)
        // The last argument given may be the start of a longer one: compare without its NUL.
        case .initial: return rest.starts(with: parameters.dropLast())
        }
    }
}

/// One `vrrp_track_process`'s verdict as a pure state machine on an injected clock: fed the
/// number of matching processes each scan, it says whether the quorum holds
/// (`quorum ≤ count ≤ quorum_max`). A change of verdict caused by new processes waits
/// `fork_delay`, one caused by processes that ended waits `terminate_delay` (keepalived's
/// timers on fork and exit events); if the count turns back before then, nothing changes.
///
/// The first count decides at once (keepalived reads /proc once at start the same way), so the
/// instances start from a verdict, never from a guess.
public struct ProcessQuorum: Sendable {
    public let quorum: Int
    public let quorumMax: Int
    public let forkDelay: Int64
    public let terminateDelay: Int64
    /// nil before the first scan.
    public private(set) var hasQuorum: Bool?
    public private(set) var count = 0
    /// A verdict waiting for its delay: (the verdict, when it takes effect).
    public private(set) var pending: (verdict: Bool, at: Int64)?

    public init(quorum: Int, quorumMax: Int, forkDelay: Int64, terminateDelay: Int64) {
        self.quorum = quorum
        self.quorumMax = quorumMax
        self.forkDelay = forkDelay
        self.terminateDelay = terminateDelay
    }

    public init(_ settings: VRRPTrackProcess) {
        self.init(quorum: settings.quorum, quorumMax: settings.quorumMax,
                  forkDelay: settings.forkDelay.nanoseconds, terminateDelay: settings.terminateDelay.nanoseconds)
    }

    /// When the shell should scan again for a pending verdict (nil: none pending).
    public var deadline: Int64? { pending?.at }

    /// One scan's count; true when the verdict changed.
    public mutating func observe(count newCount: Int, now: Int64) -> Bool {
        let previous = count
        count = newCount
        let verdict = newCount >= quorum && newCount <= quorumMax
        guard let current = hasQuorum else { return decide(verdict) }
        guard verdict != current else {
            pending = nil  // turned back before its delay: keepalived cancels the timer
            return false
        }
        if let waiting = pending {
            return now >= waiting.at ? decide(verdict) : false
        }
        let delay = newCount > previous ? forkDelay : terminateDelay
        guard delay > 0 else { return decide(verdict) }
        pending = (verdict, now + delay)
        return false
    }

    private mutating func decide(_ verdict: Bool) -> Bool {
        hasQuorum = verdict
        pending = nil
        return true
    }
}
