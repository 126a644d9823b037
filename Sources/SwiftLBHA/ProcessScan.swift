#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwiftLBConfig

/// Reads /proc once and counts, for each pattern, the live processes it matches: the
/// command name and state from /proc/PID/stat (a zombie has exited and never counts), argv
/// from /proc/PID/cmdline only when some pattern needs it — and then only as many bytes as
/// the longest pattern can compare, as keepalived reads it (a swapped-out process's cmdline
/// is paged in to be read). Processes that end mid-scan are simply not counted.
///
/// /proc is read through a descriptor opened at start, before any `chroot` hides it.
/// keepalived also reads every process's cmdline when a pattern needs argv: the command name
/// says nothing reliable about argv[0] (`exec -a`, prctl(PR_SET_NAME), postgres' titles).
final class ProcessScan: @unchecked Sendable {
    private let proc: Int32
    /// Why /proc could not be opened at start, if it could not.
    let failure: String?

    init() {
        proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        failure = proc < 0 ? "cannot open /proc: \(String(cString: strerror(errno)))" : nil
    }

    deinit { if proc >= 0 { close(proc) } }

    /// The counts, or why /proc could not be listed (never a count of 0 for a scan that saw nothing).
    func count(_ patterns: [ProcessPattern]) -> Result<[Int], ScanError> {
        var counts = [Int](repeating: 0, count: patterns.count)
        if let failure { return .failure(ScanError(description: failure)) }
        let copy = dup(proc)
        guard copy >= 0, let dir = fdopendir(copy) else {
            if copy >= 0 { close(copy) }
            return .failure(ScanError(description: "cannot list /proc: \(String(cString: strerror(errno)))"))
        }
        defer { closedir(dir) }
        // The duplicate shares its offset with `proc`: start from the top each time.
        rewinddir(dir)
        guard !patterns.isEmpty else { return .success(counts) }
        // One byte more than any pattern compares: a longer command line then differs.
        let cmdlineBytes = patterns.filter(\.fullCommand).map { $0.name.utf8.count + 1 + $0.parameters.count + 1 }.max()
        var buffer = [UInt8](repeating: 0, count: max(512, cmdlineBytes ?? 0))
        var processes = 0
        while let entry = readdir(dir) {
            let pid = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let first = pid.utf8.first, (0x31...0x39).contains(first), pid.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { continue }
            processes += 1
            guard let stat = read("\(pid)/stat", into: &buffer, limit: 512), let (comm, state) = Self.parseStat(stat), state != UInt8(ascii: "Z") else { continue }
            var cmdline: [UInt8]?
            if let bytes = cmdlineBytes {
                cmdline = read("\(pid)/cmdline", into: &buffer, limit: bytes)
                if cmdline == nil { continue }
            }
            for (index, pattern) in patterns.enumerated() where pattern.matches(comm: comm, cmdline: cmdline) {
                counts[index] += 1
            }
        }
        // This process at least is running: a listing without it is not /proc.
        if processes == 0 { return .failure(ScanError(description: "/proc lists no process")) }
        return .success(counts)
    }

    struct ScanError: Error, CustomStringConvertible, Equatable {
        var description: String
    }

    /// The command name between the first '(' and the last ')' (a name may hold either), and
    /// the state letter after it.
    static func parseStat(_ stat: [UInt8]) -> (comm: String, state: UInt8)? {
        guard let open = stat.firstIndex(of: UInt8(ascii: "(")), let close = stat.lastIndex(of: UInt8(ascii: ")")),
              close > open, close + 2 < stat.count else { return nil }
        return (String(decoding: stat[(open + 1)..<close], as: UTF8.self), stat[close + 2])
    }

    private func read(_ path: String, into buffer: inout [UInt8], limit: Int) -> [UInt8]? {
        let fd = openat(proc, path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, min(limit, $0.count)) }
        guard n >= 0 else { return nil }
        return Array(buffer[0..<n])
    }
}

/// Every `vrrp_track_process` tracked by an instance, at run time: one /proc scan every
/// `scanInterval` for all of them (and one at each pending delay's end), each count through
/// its `ProcessQuorum`. keepalived learns of forks and exits from the kernel's proc connector
/// at once; the scan sees them within `scanInterval`, which is the delay this adds. A change
/// of verdict calls `onChange` so the instances re-evaluate at once.
///
/// The scan runs on a thread of its own, never on the VRRP loop: with 3000 processes it was
/// measured at about a third of a core (each one's stat, and cmdline when a pattern needs
/// argv, four times a second), which on the loop delayed heartbeats by up to 137 ms; and
/// reading the cmdline of a process whose memory map is locked blocks until it is released. The counts come back to the loop; while a scan runs no other starts, and one
/// running past `slowScan` is logged once. A scan that cannot read /proc keeps the verdicts.
///
/// Confined to the VRRP loop; `status` is the one cross-thread read.
final class TrackedProcesses: @unchecked Sendable {
    static let scanInterval: Int64 = 250_000_000
    static let slowScan: Int64 = 2_000_000_000

    let settings: [String: VRRPTrackProcess]
    let status: NIOLockedValueBox<[String: TrackedProcessStatus]>
    /// Called on the loop with the names whose verdict changed.
    var onChange: (([String]) -> Void)?

    private let loop: any EventLoop
    private let logger: Logger
    private let names: [String]
    private let patterns: [ProcessPattern]
    typealias Scanner = @Sendable ([ProcessPattern]) -> Result<[Int], ProcessScan.ScanError>
    /// A `ProcessScan` opened here, when the VIP runtime starts: before the chroot.
    private let scanner: Scanner
    private let pool = NIOThreadPool(numberOfThreads: 1)
    // Confined to `loop`.
    private var quorums: [String: ProcessQuorum]
    private var tick: RepeatedTask?
    private var deadlineScan: Scheduled<Void>?
    private var stopped = false
    /// When the scan now running started.
    private var scanning: Int64?
    private var slowLogged = false
    private var lastFailure: String?

    /// `scanner` replaces the /proc scan in tests (one that blocks, one that fails).
    init(settings: [String: VRRPTrackProcess], loop: any EventLoop, logger: Logger, scanner: Scanner? = nil) {
        self.scanner = scanner ?? { [proc = ProcessScan()] patterns in proc.count(patterns) }
        self.settings = settings
        self.loop = loop
        self.logger = logger
        self.names = settings.keys.sorted()
        self.patterns = names.map { ProcessPattern(settings[$0]!) }
        self.quorums = settings.mapValues { ProcessQuorum($0) }
        self.status = NIOLockedValueBox([:])
    }

    /// Scans now (the first verdicts, before any instance elects) and every interval after.
    func start() -> EventLoopFuture<Void> {
        pool.start()
        return loop.flatSubmit { [self] in
            tick = loop.scheduleRepeatedTask(initialDelay: .nanoseconds(Self.scanInterval), delay: .nanoseconds(Self.scanInterval)) { [self] _ in scan() }
            return scan()
        }
    }

    func stop() -> EventLoopFuture<Void> {
        loop.submit { [self] in
            stopped = true
            tick?.cancel()
            deadlineScan?.cancel()
            // Not waited for: a scan blocked on a process must not hold the shutdown.
            pool.shutdownGracefully { _ in }
        }
    }

    /// Whether `name`'s quorum holds now (on the loop); false before the first scan.
    func hasQuorum(_ name: String) -> Bool { quorums[name]?.hasQuorum == true }

    /// Why `name` counts as down, for the fault reason and `show vrrp`.
    func downReason(_ name: String) -> String {
        guard let q = quorums[name] else { return "process '\(name)' is not watched" }
        return "process '\(name)': \(q.count) running, quorum \(Self.range(q))"
    }

    /// Starts a scan on the pool unless one is running; completes once its counts are applied.
    @discardableResult
    private func scan() -> EventLoopFuture<Void> {
        guard !stopped else { return loop.makeSucceededVoidFuture() }
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        if let started = scanning {
            if now - started > Self.slowScan, !slowLogged {
                slowLogged = true
                logger.warning("vrrp_track_process: the /proc scan has been running for \((now - started) / 1_000_000) ms (a process whose cmdline cannot be read?); the verdicts stay until it ends")
            }
            return loop.makeSucceededVoidFuture()
        }
        scanning = now
        let (scanner, patterns) = (self.scanner, self.patterns)
        return pool.runIfActive(eventLoop: loop) { scanner(patterns) }
            .map { [self] result in
                scanning = nil
                slowLogged = false
                apply(result)
            }
            .recover { [self] _ in scanning = nil }
    }

    private func apply(_ result: Result<[Int], ProcessScan.ScanError>) {
        guard !stopped else { return }
        let counts: [Int]
        switch result {
        case .failure(let error):
            if lastFailure != error.description { logger.error("vrrp_track_process: \(error); the verdicts stay as they are") }
            lastFailure = error.description
            return
        case .success(let read):
            if lastFailure != nil { logger.info("vrrp_track_process: /proc is readable again") }
            lastFailure = nil
            counts = read
        }
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        var changed: [String] = []
        for (index, name) in names.enumerated() {
            let before = quorums[name]!.count
            guard quorums[name]!.observe(count: counts[index], now: now) else {
                if counts[index] != before, let at = quorums[name]!.deadline {
                    logger.info("vrrp_track_process \(name): \(counts[index]) running (was \(before)); waiting \((at - now) / 1_000_000) ms before the quorum \(Self.range(quorums[name]!)) counts as \(quorums[name]!.pending!.verdict ? "gained" : "lost")")
                }
                continue
            }
            changed.append(name)
            let q = quorums[name]!
            let line = "vrrp_track_process \(name): quorum \(q.hasQuorum! ? "gained" : "lost") (\(q.count) running, quorum \(Self.range(q)))"
            if q.hasQuorum! { logger.info("\(line)") } else { logger.warning("\(line)") }
        }
        status.withLockedValue { s in
            for name in names { s[name] = TrackedProcessStatus(count: quorums[name]!.count, hasQuorum: quorums[name]!.hasQuorum == true,
                                                              pending: quorums[name]!.pending != nil) }
        }
        // A verdict waiting for its delay is decided by a scan at its end, not a whole interval later.
        deadlineScan?.cancel()
        if let next = quorums.values.compactMap(\.deadline).min() {
            deadlineScan = loop.scheduleTask(in: .nanoseconds(max(next - now, 0))) { [self] in scan() }
        }
        if !changed.isEmpty { onChange?(changed) }
    }

    static func range(_ q: ProcessQuorum) -> String {
        q.quorumMax >= Int(UInt32.max) ? "\(q.quorum)+" : "\(q.quorum)-\(q.quorumMax)"
    }

    /// One line of `show vrrp` under each instance that tracks `name`.
    func statusLine(_ name: String) -> String {
        guard let s = status.withLockedValue({ $0[name] }), let settings = settings[name] else { return "" }
        let q = ProcessQuorum(settings)
        var what = settings.process
        if let parameters = settings.parameters { what += " " + parameters.joined(separator: " ") }
        return "vrrp_track_process \(name): \(s.hasQuorum ? "OK" : "FAILED"), \(s.count) running, quorum \(Self.range(q))\(s.pending ? " (change pending its delay)" : ""); "
            + "matching \(settings.fullCommand ? "argv" : "comm") '\(what)'\(settings.paramMatch == .none ? "" : ", param_match \(settings.paramMatch.rawValue)")"
            + ", scanned every \(ConfigDuration(nanoseconds: Self.scanInterval))\n"
    }
}

struct TrackedProcessStatus: Sendable {
    var count: Int
    var hasQuorum: Bool
    var pending: Bool
}
