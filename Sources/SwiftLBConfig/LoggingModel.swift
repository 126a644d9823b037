/// A `log` target as HAProxy writes it: `log /dev/log local0`, `log 127.0.0.1:514 local0
/// notice`, `log udp@host:514 len 1024 format rfc5424 local1 info warning`, `log stdout
/// format raw daemon`. Every target is written by SwiftLBLog (LogPlan); `logTarget` is where a
/// proxy that logs without any `log` line writes.
public struct LogServer: Sendable, Equatable {
    public enum Address: Sendable, Equatable {
        case stdout, stderr
        /// A unix datagram socket (`/dev/log`).
        case unix(path: String)
        case udp(host: String, port: Int)
    }
    public enum Format: String, Sendable, Equatable, CaseIterable {
        case rfc3164, rfc5424, raw, short, timed, iso, local, priority
    }
    public var address: Address
    public var facility: String?
    /// The most verbose level sent, and the least (`log … local0 info warning`).
    public var maxLevel: String?
    public var minLevel: String?
    public var format: Format = .rfc3164
    public var length: Int?
    /// `sample RANGES:SIZE` as written (`1,3:5`); SwiftLBLog's LogSampling reads it.
    public var sample: String?
    public var line: Int

    public static let facilities = ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
                                    "auth2", "ftp", "ntp", "audit", "alert", "cron2",
                                    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]
    public static let levels = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    public init(address: Address, line: Int) {
        self.address = address
        self.line = line
    }
}

extension Frontend {
    /// "stdout" or "stderr" when this proxy's access log goes there: it logs traffic and one
    /// of its targets (its own, plus global's with `log global`) is that stream, or it has no
    /// target at all (then lines go to the global stdout/stderr, as SwiftLB always did).
    /// nil when it logs nothing or only to syslog.
    public func standardLogStream(global: GlobalSettings) -> String? {
        guard options.httpLog || options.tcpLog || options.logFormat != nil else { return nil }
        let servers = (options.logGlobal ? global.logServers : []) + options.logTargets
        if servers.isEmpty { return global.logTarget.rawValue }
        if servers.contains(where: { $0.address == .stdout }) { return "stdout" }
        if servers.contains(where: { $0.address == .stderr }) { return "stderr" }
        return nil
    }
}
