#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What every message of a process carries in its syslog header: the tag (`log-tag`, by
/// default the program's name), the pid, and the hostname when `log-send-hostname` is set.
public struct SyslogIdentity: Sendable, Equatable {
    public var tag: String
    public var hostname: String?
    public var pid: Int32

    public init(tag: String = SyslogIdentity.programName, hostname: String? = nil, pid: Int32 = getpid()) {
        self.tag = tag
        self.hostname = hostname
        self.pid = pid
    }

    /// The basename of argv[0] — HAProxy's default tag is its own program name.
    public static let programName: String = {
        let path = CommandLine.arguments.first ?? "swiftlb"
        return path.split(separator: "/").last.map(String.init) ?? "swiftlb"
    }()
}

/// The header HAProxy 2.6 puts before a message for each `format` (`build_log_header` in
/// src/log.c), checked against what haproxy 2.6.12 sends:
///
///     local    <134>Nov 29 22:56:38 haproxy[29269]: msg
///     rfc3164  <142>Nov 29 22:56:38 localhost haproxy[29269]: msg
///     rfc5424  <150>1 2026-11-29T22:56:38.550167+00:00 - haproxy 29269 - - msg
///     priority <134>msg        short <6>msg
///     timed    <6>2026-11-29T22:56:38.550167+00:00 msg
///     iso      2026-11-29T22:56:38.550167+00:00 msg
///     raw      msg
enum SyslogHeader {
    /// What `.unspecified` means for this identity: rfc3164 when a hostname is sent, else
    /// local (HAProxy's choice for a `log` line without `format`).
    static func resolve(_ format: SyslogFormat, _ identity: SyslogIdentity) -> SyslogFormat {
        guard format == .unspecified else { return format }
        if identity.hostname != nil { return .rfc3164 }
        return identity.tag.isEmpty ? .raw : .local
    }

    static func write(_ format: SyslogFormat, level: LogLevel, facility: SyslogFacility,
                      identity: SyslogIdentity, now: LogTimestamp, into out: inout LogBuffer) {
        let format = resolve(format, identity)
        switch format {
        case .local, .rfc3164, .rfc5424, .priority:
            priority(facility.rawValue << 3 + level.rawValue, &out)
        case .timed, .short:
            priority(level.rawValue, &out)
        case .iso, .raw, .unspecified:
            break
        }
        switch format {
        case .local, .rfc3164:
            out.appendLegacySyslogDate(now.seconds)
        case .rfc5424:
            out.append(contentsOf: "1 ")
            out.appendISODate(now)
            out.append(UInt8(ascii: " "))
        case .timed, .iso:
            out.appendISODate(now)
            out.append(UInt8(ascii: " "))
        case .priority, .short, .raw, .unspecified:
            break
        }
        switch format {
        case .rfc3164:
            out.append(contentsOf: identity.hostname ?? "localhost")
            out.append(UInt8(ascii: " "))
            tagAndPid(identity, &out)
        case .local:
            tagAndPid(identity, &out)
        case .rfc5424:
            field(identity.hostname, &out)
            field(identity.tag, &out)
            out.appendDecimal(Int(identity.pid)); out.append(UInt8(ascii: " "))
            out.append(contentsOf: "- - ")  // MSGID and STRUCTURED-DATA: none
        default:
            break
        }
    }

    private static func priority(_ value: Int, _ out: inout LogBuffer) {
        out.append(UInt8(ascii: "<"))
        out.appendDecimal(value)
        out.append(UInt8(ascii: ">"))
    }

    private static func tagAndPid(_ identity: SyslogIdentity, _ out: inout LogBuffer) {
        guard !identity.tag.isEmpty else { return }
        out.append(contentsOf: identity.tag)
        out.append(UInt8(ascii: "["))
        out.appendDecimal(Int(identity.pid))
        out.append(contentsOf: "]: ")
    }

    private static func field(_ value: String?, _ out: inout LogBuffer) {
        if let value, !value.isEmpty { out.append(contentsOf: value) } else { out.append(UInt8(ascii: "-")) }
        out.append(UInt8(ascii: " "))
    }
}
