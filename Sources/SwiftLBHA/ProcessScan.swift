#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwiftLBConfig

/// Reads /proc once and counts, for each pattern, the live processes it matches: the
/// command name and state from /proc/PID/stat (a zombie has exited and never counts), argv
/// from /proc/PID/cmdline only when some pattern needs it — and then only as many bytes as
/// the longest pattern can compare, as keepalived reads it (a swapped-out process's cmdline
/// is paged in to be read). Processes that end mid-scan are simply not counted.
enum ProcessScan {
    static func count(_ patterns: [ProcessPattern]) -> [Int] {
        var counts = [Int](repeating: 0, count: patterns.count)
        guard !patterns.isEmpty, let dir = opendir("/proc") else { return counts }
        defer { closedir(dir) }
        // One byte more than any pattern compares: a longer command line then differs.
        let cmdlineBytes = patterns.filter(\.fullCommand).map { $0.name.utf8.count + 1 + $0.parameters.count + 1 }.max()
        var buffer = [UInt8](repeating: 0, count: max(512, cmdlineBytes ?? 0))
        while let entry = readdir(dir) {
            let pid = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let first = pid.utf8.first, (0x31...0x39).contains(first), pid.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { continue }
            guard let stat = read("/proc/\(pid)/stat", into: &buffer, limit: 512), let (comm, state) = parseStat(stat), state != UInt8(ascii: "Z") else { continue }
            var cmdline: [UInt8]?
            if let bytes = cmdlineBytes {
                cmdline = read("/proc/\(pid)/cmdline", into: &buffer, limit: bytes)
                if cmdline == nil { continue }
            }
            for (index, pattern) in patterns.enumerated() where pattern.matches(comm: comm, cmdline: cmdline) {
                counts[index] += 1
            }
        }
        return counts
    }

    /// The command name between the first '(' and the last ')' (a name may hold either), and
    /// the state letter after it.
    static func parseStat(_ stat: [UInt8]) -> (comm: String, state: UInt8)? {
        guard let open = stat.firstIndex(of: UInt8(ascii: "(")), let close = stat.lastIndex(of: UInt8(ascii: ")")),
              close > open, close + 2 < stat.count else { return nil }
        return (String(decoding: stat[(open + 1)..<close], as: UTF8.self), stat[close + 2])
    }

    private static func read(_ path: String, into buffer: inout [UInt8], limit: Int) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
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
/// Confined to the VRRP loop; `status` is the one cross-thread read.
final class TrackedProcesses: @unchecked Sendable {
    static let scanInterval: Int64 = 250_000_000

    let settings: [String: VRRPTrackProcess]
    let status: NIOLockedValueBox<[String: TrackedProcessStatus]>
    /// Called on the loop with the names whose verdict changed.
    var onChange: (([String]) -> Void)?

    private let loop: any EventLoop
    private let logger: Logger
    private let names: [String]
    private let patterns: [ProcessPattern]
    // Confined to `loop`.
    private var quorums: [String: ProcessQuorum]
    private var tick: RepeatedTask?
    private var deadlineScan: Scheduled<Void>?
    private var stopped = false

    init(settings: [String: VRRPTrackProcess], loop: any EventLoop, logger: Logger) {
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
        loop.submit { [self] in
            scan()
            tick = loop.scheduleRepeatedTask(initialDelay: .nanoseconds(Self.scanInterval), delay: .nanoseconds(Self.scanInterval)) { [self] _ in scan() }
        }
    }

    func stop() -> EventLoopFuture<Void> {
        loop.submit { [self] in
            stopped = true
            tick?.cancel()
            deadlineScan?.cancel()
        }
    }

    /// Whether `name`'s quorum holds now (on the loop); false before the first scan.
    func hasQuorum(_ name: String) -> Bool { quorums[name]?.hasQuorum == true }

    /// Why `name` counts as down, for the fault reason and `show vrrp`.
    func downReason(_ name: String) -> String {
        guard let q = quorums[name] else { return "process '\(name)' is not watched" }
        return "process '\(name)': \(q.count) running, quorum \(Self.range(q))"
    }

    private func scan() {
        guard !stopped else { return }
        let counts = ProcessScan.count(patterns)
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
