/// HAProxy's knobs of its own internals — its poller, its splice pipes, its scheduler, its
/// memory pools, its master process — that have no counterpart in SwiftLB (an event loop per
/// thread on SwiftNIO, no pipes, one process). A copied haproxy.cfg runs: each line is
/// accepted with its arguments checked as haproxy 2.6 checks them, and changes nothing, as
/// haproxy treats `nokqueue` on Linux. haproxy says nothing about them, so neither does
/// `swiftlb check`. docs/configuration.md says for each why it has nothing to do here.
extension KeywordRegistry {
    /// The shape of an inert keyword's arguments, as haproxy's parser checks them.
    enum InertArguments: Sendable {
        /// No argument.
        case none
        /// One integer, within `range` when given (haproxy's atol with its range checks).
        case integer(ClosedRange<Int>?)
        /// One of these words.
        case choice([String])
        /// One duration, at most `maxMilliseconds` when given.
        case time(maxMilliseconds: Int64?)
    }

    /// name, arguments, accepts `no NAME` (haproxy's list of negatable global keywords),
    /// behind `expose-experimental-directives`.
    private static let inertGlobals: [(String, InertArguments, negatable: Bool, experimental: Bool)] = [
        // The poller: SwiftNIO uses epoll on Linux, whatever these say.
        ("noepoll", .none, false, false), ("nopoll", .none, false, false),
        ("nokqueue", .none, false, false), ("noevports", .none, false, false),
        ("busy-polling", .none, true, false), ("tune.maxpollevents", .integer(nil), false, false),
        ("tune.fd.edge-triggered", .choice(["on", "off"]), false, true),
        // Kernel splicing: SwiftLB forwards through user-space buffers (see option splice-*).
        ("nosplice", .none, false, false), ("maxpipes", .integer(nil), false, false), ("tune.pipesize", .integer(nil), false, false),
        // The scheduler, its task profiling and its receive heuristics.
        ("tune.runqueue-depth", .integer(nil), false, false), ("tune.sched.low-latency", .choice(["on", "off"]), false, false),
        ("profiling.tasks", .choice(["on", "auto", "off"]), false, false), ("tune.recv_enough", .integer(nil), false, false),
        ("tune.idletimer", .time(maxMilliseconds: 65535), false, false),
        // Memory pools and buffers: SwiftNIO allocates buffers as connections need them.
        ("tune.buffers.limit", .integer(nil), false, false), ("tune.buffers.reserve", .integer(nil), false, false),
        ("tune.fail-alloc", .integer(0...100), false, false), ("no-memory-trimming", .none, false, false),
        ("tune.pool-low-fd-ratio", .integer(0...100), false, false), ("tune.pool-high-fd-ratio", .integer(0...100), false, false),
        ("tune.pattern.cache-size", .integer(0...Int(Int32.max)), false, false),
        // The process: core dumps, NUMA binding, the master's reload counter, setuid, name
        // resolution at start.
        ("set-dumpable", .none, true, false), ("numa-cpu-mapping", .none, true, false),
        ("mworker-max-reloads", .integer(0...Int(Int32.max)), false, false), ("insecure-setuid-wanted", .none, false, false),
        ("nogetaddrinfo", .none, false, false), ("quiet", .none, false, false),
        // HAProxy's TLS session cache shared between its processes; SwiftLB's is one process's.
        ("tune.ssl.force-private-cache", .none, false, false),
    ]

    static let inertGlobalKeywords: [Keyword] = inertGlobals.map { name, arguments, negatable, experimental in
        Keyword(name, [.global], usage: usage(name, arguments, negatable: negatable), negatable: negatable) { p, c in
            if experimental, !p.config.global.exposeExperimentalDirectives {
                throw ParseFailure("'\(name)' directive is experimental, must be allowed via a global 'expose-experimental-directives'")
            }
            try check(c, arguments)
        }
    }

    private static func usage(_ name: String, _ arguments: InertArguments, negatable: Bool) -> String {
        let prefix = negatable ? "[no] " : ""
        switch arguments {
        case .none: return prefix + name
        case .integer: return prefix + name + " N"
        case .choice(let words): return prefix + name + " " + words.joined(separator: "|")
        case .time: return prefix + name + " TIME"
        }
    }

    /// The checks haproxy 2.6 makes of these arguments (too many is an error there too).
    static func check(_ c: KeywordCall, _ arguments: InertArguments) throws(ParseFailure) {
        switch arguments {
        case .none:
            try c.noArguments()
        case .integer(let range):
            guard c.args.count == 1, let n = Int(c.args[0]) else { throw ParseFailure("'\(c.written)' expects an integer argument") }
            if let range, !range.contains(n) {
                throw ParseFailure("'\(c.written)' expects an integer argument between \(range.lowerBound) and \(range.upperBound)")
            }
        case .choice(let words):
            guard c.args.count == 1, words.contains(c.args[0]) else {
                let listed = words.count == 2 ? "either '\(words[0])' or '\(words[1])'" : words.dropLast().map { "'\($0)'" }.joined(separator: ", ") + " or '\(words.last!)'"
                throw ParseFailure("'\(c.written)' expects \(listed)\(c.args.first.map { " but got '\($0)'" } ?? "")")
            }
        case .time(let max):
            let d = try c.time()
            if let max, d.milliseconds > max { throw ParseFailure("'\(c.written)' expects a time from 0 to \(max) ms") }
        }
    }
}
