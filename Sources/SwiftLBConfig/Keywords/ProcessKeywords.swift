import FoundationEssentials
import Glibc
import NIOCore

/// The process keywords of `global`: limits, threads and CPUs, the pidfile, detaching,
/// privileges, chroot, path bases, how a stop ends. Sources/swiftlb acts on them at start.
extension KeywordRegistry {
    /// Global keywords haproxy takes once: a second line is its alert "'maxconn' already
    /// specified. Continuing." and the FIRST value stays (the parser checks them). The value:
    /// a first line of 0 leaves the setting unset, so a second one is taken silently (haproxy
    /// tests `global.spread_checks != 0`, `global.maxpipes != 0`).
    static let onceOnlyGlobals: [String: Bool] = [
        "maxconn": false, "ulimit-n": false, "pidfile": false, "chroot": false, "spread-checks": true, "maxpipes": true,
    ]

    static let processKeywords: [Keyword] = [
        Keyword("maxconn", [.global], usage: "maxconn N") { p, c in p.config.global.configuredMaxconn = try c.int(in: 1...Int(Int32.max)) },
        Keyword("strict-limits", [.global], usage: "[no] strict-limits", negatable: true) { p, c in
            try c.noArguments()
            p.config.global.strictLimits = !c.negated
        },
        Keyword("fd-hard-limit", [.global], usage: "fd-hard-limit N") { p, c in p.config.global.fdHardLimit = try c.int(in: 1...Int(Int32.max)) },
        Keyword("nbthread", [.global], usage: "nbthread N") { p, c in
            let n = try c.positiveInt()
            guard n <= 64 else { throw ParseFailure("at most 64 threads") }
            p.config.global.nbthread = n
        },
        Keyword("pidfile", [.global], usage: "pidfile FILE") { p, c in p.config.global.pidfile = try c.one("one file name") },
        Keyword("hard-stop-after", [.global], usage: "hard-stop-after TIME") { p, c in p.config.global.hardStopAfter = try c.time() },
        Keyword("daemon", [.global], usage: "daemon") { p, c in
            try c.noArguments()
            p.config.global.daemon = true
        },
        // HAProxy's master-worker mode reloads on SIGUSR2 without dropping a connection: what
        // SwiftLB always does, in one process (Sources/swiftlb/Signals.swift).
        Keyword("master-worker", [.global], usage: "master-worker [no-exit-on-failure]") { p, c in
            guard c.args.isEmpty || c.args == ["no-exit-on-failure"] else { throw ParseFailure("expects 'master-worker [no-exit-on-failure]'") }
            p.remark("'master-worker' changes nothing: SwiftLB is always one process that reloads lb.conf in place on SIGUSR2 or SIGHUP, keeping its connections")
        },
        Keyword("user", [.global], usage: "user NAME") { p, c in
            let name = try c.one("a user name")
            guard let entry = getpwnam(name) else { throw ParseFailure("no user named '\(name)' on this system") }
            p.config.global.uid = entry.pointee.pw_uid
        },
        Keyword("uid", [.global], usage: "uid N") { p, c in p.config.global.uid = try systemID(c) },
        Keyword("group", [.global], usage: "group NAME") { p, c in
            let name = try c.one("a group name")
            guard let entry = getgrnam(name) else { throw ParseFailure("no group named '\(name)' on this system") }
            p.config.global.gid = entry.pointee.gr_gid
        },
        Keyword("gid", [.global], usage: "gid N") { p, c in p.config.global.gid = try systemID(c) },
        Keyword("chroot", [.global], usage: "chroot DIR") { p, c in
            let dir = try c.one("a directory")
            guard dir.hasPrefix("/") else { throw ParseFailure("expects an absolute path") }
            var info = stat()
            guard stat(dir, &info) == 0 else { throw ParseFailure("'\(dir)': \(String(cString: strerror(errno)))") }
            guard info.st_mode & S_IFMT == S_IFDIR else { throw ParseFailure("'\(dir)' is not a directory") }
            p.config.global.chroot = dir
        },
        Keyword("cpu-map", [.global], usage: "cpu-map [auto:]1[/THREADS] CPU-SET…") { p, c in
            p.config.global.cpuMap.append(try cpuMapping(c))
        },
        // HAProxy's listeners take SO_REUSEPORT so that the next process of a reload can bind
        // beside them; SwiftLB's does so only when a reload rebinds an address (ProxyServer).
        Keyword("noreuseport", [.global], usage: "noreuseport") { p, c in
            try c.noArguments()
            p.config.global.noReusePort = true
        },
        Keyword("ulimit-n", [.global], usage: "ulimit-n N") { p, c in p.config.global.ulimitN = try c.int(in: 64...10_000_000) },
        Keyword("ssl-server-verify", [.global], usage: "ssl-server-verify none|required") { p, c in
            let word = try c.one("none or required")
            guard word == "none" || word == "required" else { throw ParseFailure("expects none or required") }
            p.config.global.sslServerVerify = word == "required"
        },
        Keyword("ca-base", [.global], usage: "ca-base DIR") { p, c in p.config.global.caBase = try c.one("a directory") },
        Keyword("crt-base", [.global], usage: "crt-base DIR") { p, c in p.config.global.crtBase = try c.one("a directory") },
        // The bounds of a request or response head follow tune.bufsize and tune.maxrewrite as
        // in HAProxy (GlobalSettings.bufferSize, HeadParser.Limits).
        Keyword("tune.bufsize", [.global], usage: "tune.bufsize BYTES") { p, c in
            p.config.global.tuneBufsize = try c.int(in: 1024...1_048_576)
        },
        Keyword("tune.h2.max-concurrent-streams", [.global], usage: "tune.h2.max-concurrent-streams N") { p, c in
            p.config.global.tuneH2MaxConcurrentStreams = try c.int(in: 1...1_000_000)
        },
        Keyword("tune.h2.initial-window-size", [.global], usage: "tune.h2.initial-window-size BYTES") { p, c in
            p.config.global.tuneH2InitialWindowSize = try c.int(in: 1...2_147_483_647)
        },
        // HAProxy stops announcing RFC 8441 (WebSocket over HTTP/2) to clients; SwiftLB never
        // announces it (an extended CONNECT is refused): what this asks is already so.
        Keyword("h2-workaround-bogus-websocket-clients", [.global], usage: "h2-workaround-bogus-websocket-clients") { _, c in
            try c.noArguments()
        },
        Keyword("tune.maxrewrite", [.global], usage: "tune.maxrewrite BYTES") { p, c in
            p.config.global.tuneMaxRewrite = try c.int(in: 0...1_048_576)
        },
        Keyword("tune.http.maxhdr", [.global], usage: "tune.http.maxhdr N") { p, c in
            p.config.global.tuneHTTPMaxHeaders = try c.int(in: 1...32767)
        },
    ] + VariableSizeLimits.keywords.map { name, limit in
        Keyword(name, [.global], usage: "\(name) BYTES") { p, c in
            p.config.global.variableSizeLimits[keyPath: limit] = try VariableSizeLimits.parse(c.args.isEmpty ? "" : c.one("a size in bytes"), keyword: name)
        }
    } + [
        // HAProxy 2.6 hides its experimental directives behind this line. SwiftLB implements
        // none of them, so it only records the line (nothing is unlocked).
        Keyword("expose-experimental-directives", [.global], usage: "expose-experimental-directives") { p, c in
            try c.noArguments()
            p.config.global.exposeExperimentalDirectives = true
        },
        // HAProxy's -dW: `swiftlb check`, `run` and a reload fail when any warning was printed.
        Keyword("zero-warning", [.global], usage: "zero-warning") { p, c in
            try c.noArguments()
            p.config.global.zeroWarning = true
        },
        // HAProxy forbids fork() unless this is set. SwiftLB forks only for the vrrp notify
        // scripts and `track_script`s, which keepalived's syntax asks for explicitly, and
        // never forbids it: accepted, and it changes nothing.
        Keyword("insecure-fork-wanted", [.global], usage: "insecure-fork-wanted") { _, c in
            try c.noArguments()
        },
        Keyword("tune.maxaccept", [.global], usage: "tune.maxaccept N",
                status: .pending("listeners accept up to 64 connections per wake-up until the data path reads tune.maxaccept")) { p, c in
            guard c.args.count == 1, let n = Int(c.args[0]), n == -1 || (1...1_000_000).contains(n) else {
                throw ParseFailure("expects a number of connections, or -1 for no limit")
            }
            p.config.global.tuneMaxAccept = n
        },
        // Idle server connections stay with the event loop that opened them (per-loop pools,
        // no locks on the data path): HAProxy's `off`. `on` would share them between threads.
        Keyword("tune.idle-pool.shared", [.global], usage: "tune.idle-pool.shared off") { _, c in
            let word = try c.one("on or off")
            guard word == "off" else {
                throw ParseFailure(word == "on" ? "'on' is not supported by SwiftLB: idle server connections stay with the event loop that opened them (write 'off', or remove the line)" : "expects on or off")
            }
        },
        // Sizes the client-hello capture read by the ssl_fc_cipherlist_*/ssl_fc_*_bin fetches,
        // which SwiftLB refuses by name: with none of them in the file it changes nothing.
        Keyword("tune.ssl.capture-buffer-size", [.global], usage: "tune.ssl.capture-buffer-size BYTES") { _, c in
            _ = try c.int(in: 0...65535)
        },
        Keyword("spread-checks", [.global], usage: "spread-checks PERCENT") { p, c in
            p.config.global.spreadChecks = try c.int(in: 0...50)
        },
        // 0: no cap (HAProxy's `if (global.max_spread_checks && …)`).
        Keyword("max-spread-checks", [.global], usage: "max-spread-checks TIME") { p, c in
            let time = try c.time()
            p.config.global.maxSpreadChecks = time.nanoseconds == 0 ? nil : time
        },
    ]

    /// `uid N` / `gid N`.
    private static func systemID(_ c: KeywordCall) throws(ParseFailure) -> UInt32 {
        guard c.args.count == 1, let n = UInt32(c.args[0]), n < UInt32.max else { throw ParseFailure("expects a numeric id") }
        return n
    }

    /// `cpu-map [auto:]PROCESS[/THREADS] CPU-SET…`. SwiftLB is one process: PROCESS is 1,
    /// `all` or `odd`; THREADS is N, N-M or `all`; CPUs are numbers and ranges, by blanks or
    /// commas.
    static func cpuMapping(_ c: KeywordCall) throws(ParseFailure) -> CPUMapping {
        guard c.args.count >= 2 else { throw ParseFailure("expects '[auto:]1[/THREADS] CPU-SET', e.g. 'cpu-map auto:1/1-4 0-3'") }
        var spec = Substring(c.args[0])
        let auto = spec.hasPrefix("auto:")
        if auto { spec = spec.dropFirst(5) }
        let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count <= 2, ["1", "all", "odd", "1-1"].contains(String(parts[0])) else {
            throw ParseFailure("SwiftLB is one process with threads: write the process as 1 or all, e.g. 'cpu-map 1/1 0' or 'cpu-map auto:1/1-4 0-3'")
        }
        var threads: ClosedRange<Int>?
        if parts.count == 2, parts[1] != "all" {
            guard let range = numberRange(parts[1], 1...64) else { throw ParseFailure("invalid thread set '\(parts[1])': a number or range from 1 to 64, or all") }
            threads = range
        }
        var cpus: [Int] = []
        for word in c.args.dropFirst() {
            for item in word.split(separator: ",") {
                guard let range = numberRange(item, 0...1023) else { throw ParseFailure("invalid CPU set '\(item)': numbers or ranges from 0 to 1023") }
                cpus += Array(range)
            }
        }
        if auto {
            guard let threads else { throw ParseFailure("'auto:' needs a thread range, e.g. 'cpu-map auto:1/1-4 0-3'") }
            guard cpus.count >= threads.count else {
                throw ParseFailure("'auto:' maps one thread per CPU: \(threads.count) threads but \(cpus.count) CPUs")
            }
        }
        return CPUMapping(threads: threads, cpus: cpus, auto: auto, line: c.line.number)
    }

    private static func numberRange(_ text: Substring, _ bounds: ClosedRange<Int>) -> ClosedRange<Int>? {
        let ends = text.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count <= 2, let lo = Int(ends[0]), let hi = Int(ends.last!), lo <= hi, bounds.contains(lo), bounds.contains(hi) else { return nil }
        return lo...hi
    }
}

extension SectionParser {
    /// A relative path under `ca-base`/`crt-base`, as HAProxy applies them while parsing.
    func based(_ path: String, on base: String?) -> String {
        guard let base, !path.hasPrefix("/") else { return path }
        return base.hasSuffix("/") ? base + path : base + "/" + path
    }
}

extension SectionParser {
    /// `user` without `group` takes the user's primary group (HAProxy would keep root's, which
    /// leaves the process in group 0); process keywords that only make sense together.
    func finishProcess() {
        let local = PeersSection.localName(commandLine: facts.localPeer, global: config.global)
        let budget = DescriptorBudget(fixed: config.fixedDescriptors(portParameters: portParameters, localPeer: local),
                                      threads: config.global.nbthread ?? System.coreCount,
                                      boot: facts.descriptorsAtBoot ?? .current(), maxconn: config.global.configuredMaxconn,
                                      ulimitN: config.global.ulimitN, fdHardLimit: config.global.fdHardLimit)
        config.global.maxconn = budget.maxconn
        config.global.maxsock = budget.maxsock
        let global = config.global
        if let uid = global.uid, global.gid == nil, let entry = getpwuid(uid) {
            config.global.gid = entry.pointee.pw_gid
        }
        // Outside the chroot the scripts' processes are open to a swiftlb of the same user
        // (ptrace, /proc/PID/root): through them, a compromised swiftlb would reach out.
        if config.scriptsNeedTheRunner, global.chroot != nil, let uid = config.global.uid, (config.scriptUser?.uid ?? uid) == uid,
           let line = global.keywordLines["chroot"] {
            remark(line, "chroot", "vrrp_script and notify commands run outside the chroot as uid \(uid), the user swiftlb runs as; a 'script_user' of their own in global_defs keeps a compromised swiftlb from reaching outside the chroot through them")
        }
        // Only a proxy whose access log really goes to stdout/stderr loses it (global.logTarget
        // is .stdout by default, even in a file that logs to syslog only).
        if global.daemon, let line = global.keywordLines["daemon"],
           let (proxy, stream) = config.frontends.lazy.compactMap({ f in f.standardLogStream(global: global).map { (f.name, $0) } }).first {
            warn(line, "daemon", "'daemon' detaches from the terminal: the access log of '\(proxy)' ('log \(stream)') is discarded once detached; run in the foreground under systemd, or log to syslog")
        }
    }
}
