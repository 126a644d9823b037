/// A syslog severity, named as HAProxy's `log` keyword names them (`emerg` … `debug`).
/// The raw value is the RFC 5424 severity: lower is more severe. A target sends a message when
/// its level is at most the target's maximum level.
public enum LogLevel: Int, Sendable, CaseIterable, Comparable {
    case emerg = 0, alert, crit, err, warning, notice, info, debug

    /// The names HAProxy accepts, in severity order.
    public static let names = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"]

    public var name: String { Self.names[rawValue] }

    public init?(name: String) {
        guard let i = Self.names.firstIndex(of: name) else { return nil }
        self.init(rawValue: i)
    }

    public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rawValue < b.rawValue }
}

/// A syslog facility (`local0` … `local7`, `daemon`, `user`…), numbered as RFC 5424 numbers
/// them, with HAProxy's 24 names (including its `auth2`, `cron2`, `audit`, `alert`).
public struct SyslogFacility: RawRepresentable, Sendable, Hashable {
    public let rawValue: Int

    public static let names = [
        "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news",
        "uucp", "cron", "auth2", "ftp", "ntp", "audit", "alert", "cron2",
        "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
    ]

    public init?(rawValue: Int) {
        guard Self.names.indices.contains(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    public init?(name: String) {
        guard let i = Self.names.firstIndex(of: name) else { return nil }
        self.rawValue = i
    }

    public var name: String { Self.names[rawValue] }

    public static let user = SyslogFacility(rawValue: 1)!
    public static let daemon = SyslogFacility(rawValue: 3)!
    public static let local0 = SyslogFacility(rawValue: 16)!
}

/// How a message is framed for one target: HAProxy's `format` argument of `log`.
/// `.unspecified` is what a `log` line without `format` gets: HAProxy then sends `.local`
/// (`<PRI>Mmm dd hh:mm:ss tag[pid]: msg`), or `.rfc3164` when `log-send-hostname` is set.
public enum SyslogFormat: String, Sendable, CaseIterable {
    case unspecified = ""
    case local, rfc3164, rfc5424, priority, short, timed, iso, raw

    /// The names `format` accepts.
    public static let names = allCases.dropFirst().map(\.rawValue)
}
