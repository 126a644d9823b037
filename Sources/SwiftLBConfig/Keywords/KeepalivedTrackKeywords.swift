/// The keywords of keepalived's `vrrp_track_process NAME { … }` and `track_file NAME { … }`
/// blocks (KeepalivedBlock reads them), with keepalived 2.2.7's ranges; what keepalived reports and ignores, SwiftLB
/// refuses, so the file that starts is the file that was meant.
extension KeywordRegistry {
    static let keepalivedTrackKeywords: [Keyword] = [
        process("process", "process NAME [ARG…]") { t, c in
            guard let name = c.args.first else { throw ParseFailure("expects a process name (and optional arguments)") }
            guard t.process.isEmpty else { throw ParseFailure("the process of vrrp_track_process '\(t.name)' is already set ('\(t.process)')") }
            t.process = name
            if c.args.count > 1 {
                // keepalived: arguments make it a command-line match, exact unless param_match says otherwise.
                t.parameters = Array(c.args.dropFirst())
                if t.paramMatch == .none { t.paramMatch = .exact }
                t.fullCommand = true
            }
        },
        process("param_match", "param_match [partial|initial]") { t, c in
            switch c.args {
            case []: t.paramMatch = .exact
            case ["partial"]: t.paramMatch = .partial
            case ["initial"]: t.paramMatch = .initial
            case ["exact"]: throw ParseFailure("keepalived 2.2 has no 'param_match exact' (it ignores the line): write 'param_match' alone for an exact match of the arguments")
            default: throw ParseFailure("expects nothing (exact arguments), 'partial' or 'initial'")
            }
            t.fullCommand = true
        },
        process("weight", "weight N [reverse]") { t, c in
            guard (1...2).contains(c.args.count), let w = Int(c.args[0]), (-254...254).contains(w),
                  c.args.count == 1 || c.args[1] == "reverse" else { throw ParseFailure("expects a weight in -254...254 (and an optional 'reverse')") }
            t.weight = w
            t.reverse = c.args.count == 2
        },
        process("quorum", "quorum N") { t, c in
            let n = try c.int(in: 1...65535)
            guard n <= t.quorumMax else { throw ParseFailure("quorum \(n) is above quorum_max \(t.quorumMax)") }
            t.quorum = n
        },
        process("quorum_max", "quorum_max N") { t, c in
            let n = try c.int(in: 0...65535)
            // keepalived: `quorum_max 0` means "none may run" (the quorum becomes 0 with it).
            if n > 0 || t.quorum > 1 {
                guard n >= t.quorum else { throw ParseFailure("quorum_max \(n) is below quorum \(t.quorum)") }
            }
            t.quorumMax = n
            if n == 0 { t.quorum = 0 }
        },
        process("delay", "delay SECONDS") { t, c in
            let d = try delay(c)
            t.forkDelay = d
            t.terminateDelay = d
        },
        process("fork_delay", "fork_delay SECONDS") { t, c in t.forkDelay = try delay(c) },
        process("terminate_delay", "terminate_delay SECONDS") { t, c in t.terminateDelay = try delay(c) },
        process("full_command", "full_command") { t, c in
            try c.noArguments()
            t.fullCommand = true
        },
    ] + [
        trackFile("file", "file PATH") { t, c in
            let path = try c.one("a file name")
            guard t.path.isEmpty else { throw ParseFailure("the file of track_file '\(t.name)' is already set ('\(t.path)')") }
            t.path = path
        },
        trackFile("weight", "weight N [reverse]") { t, c in
            // keepalived takes the first weight line only (it reports and ignores another).
            guard t.weight == 1 && !t.reverse else { throw ParseFailure("the weight of track_file '\(t.name)' is already set") }
            guard (1...2).contains(c.args.count), let w = Int(c.args[0]), (-254...254).contains(w),
                  c.args.count == 1 || c.args[1] == "reverse" else { throw ParseFailure("expects a weight in -254...254 (and an optional 'reverse')") }
            t.weight = w
            t.reverse = c.args.count == 2
        },
        trackFile("init_file", "init_file [VALUE] [overwrite]") { t, c in
            var initial = VRRPTrackFile.Initial(value: 0, overwrite: false)
            for word in c.args {
                if word == "overwrite" {
                    initial.overwrite = true
                } else if let n = Int(word), (Int(Int32.min)...Int(Int32.max)).contains(n) {
                    initial.value = n
                } else {
                    throw ParseFailure("'\(word)' is neither a number nor 'overwrite'")
                }
            }
            t.initial = initial
        },
    ]

    private static func trackFile(_ name: String, _ usage: String,
                                  _ apply: @escaping @Sendable (inout VRRPTrackFile, KeywordCall) throws -> Void) -> Keyword {
        blockKeyword(name, .trackFile, usage, \.vrrpTrackFiles, apply)
    }

    private static func process(_ name: String, _ usage: String,
                                _ apply: @escaping @Sendable (inout VRRPTrackProcess, KeywordCall) throws -> Void) -> Keyword {
        blockKeyword(name, .vrrpTrackProcess, usage, \.vrrpTrackProcesses, apply)
    }

    /// keepalived: seconds with up to 6 decimals, 0.000001…3600.
    private static func delay(_ c: KeywordCall) throws(ParseFailure) -> ConfigDuration {
        guard c.args.count == 1, let d = keepalivedTime(c.args[0]), d.nanoseconds >= 1_000, d.nanoseconds <= 3_600_000_000_000 else {
            throw ParseFailure("expects a time from 0.000001 to 3600 seconds, e.g. '0.5'")
        }
        return d
    }
}
