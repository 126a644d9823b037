#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One place log lines go, parsed from the words of a `log` line exactly as HAProxy 2.6 reads
/// them (`parse_logsrv` in src/log.c):
///
///     log <address> [len <80..65535>] [format <fmt>] <facility> [<max level> [<min level>]]
///
/// `<address>`: `/dev/log` or any unix datagram path (`unix@`, `uxdg@`, `abns@` for the abstract
/// namespace), `host[:port]` / `udp@` / `udp4@` / `udp6@` / `ipv4@` / `ipv6@` (port 514 when
/// absent; a host name is resolved once, here), `fd@N`, `stdout`, `stderr`.
/// `sample RANGES:SIZE` (after `len` and `format`) spreads the lines over targets
/// (`LogSampling`). Refused with a reason: TCP syslog and rings (`tcp@`, `ring@`, `stream+`,
/// `uxst@`), socket pairs.
public struct LogTarget: Sendable, Equatable {
    public enum Address: Sendable, Equatable {
        /// A unix datagram socket; `abstract`: Linux's abstract namespace (`abns@`).
        case unix(path: String, abstract: Bool)
        /// A UDP syslog server (resolved address and port).
        case udp(LogAddress)
        /// An inherited or standard file descriptor (`fd@N`, `stdout` = 1, `stderr` = 2).
        case fd(Int32)
    }

    public var address: Address
    /// `len`: the longest message sent, header included (longer ones are truncated).
    public var length = 1024
    public var format: SyslogFormat = .unspecified
    public var facility: SyslogFacility
    /// Messages less severe than this are not sent (default `debug`: everything).
    public var maxLevel: LogLevel = .debug
    /// Messages more severe than this are sent at this level (default `emerg`: unchanged).
    public var minLevel: LogLevel = .emerg
    /// `sample RANGES:SIZE`: which of the messages this target takes (nil: all).
    public var sample: LogSampling?

    public init(address: Address, facility: SyslogFacility, format: SyslogFormat = .unspecified,
                length: Int = 1024, maxLevel: LogLevel = .debug, minLevel: LogLevel = .emerg, sample: LogSampling? = nil) {
        self.sample = sample
        self.address = address
        self.facility = facility
        self.format = format
        self.length = length
        self.maxLevel = maxLevel
        self.minLevel = minLevel
    }

    /// Standard output without a syslog header (`log stdout format raw daemon`): what SwiftLB
    /// printed before syslog targets existed.
    public static let stdoutRaw = LogTarget(address: .fd(1), facility: .daemon, format: .raw)

    /// Parses the words after `log` (`["udp@1.2.3.4:514", "local0", "info"]`).
    ///
    /// One extension to HAProxy's grammar: a lone `stdout` or `stderr` (SwiftLB's `log` line
    /// before syslog targets existed; HAProxy wants a facility) means bare lines there, as
    /// `stdout format raw daemon`.
    public init(words: [String]) throws(LogConfigError) {
        if words == ["stdout"] || words == ["stderr"] {
            self.init(address: .fd(words[0] == "stdout" ? 1 : 2), facility: .daemon, format: .raw)
            return
        }
        guard words.count >= 2, !words[0].isEmpty else {
            throw LogConfigError("expects <address> and <facility> as arguments")
        }
        var i = 1
        func word(_ k: Int) -> String? { k < words.count ? words[k] : nil }
        var length = 1024
        if word(i) == "len" {
            guard let text = word(i + 1), let n = Int(text), (80...65535).contains(n) else {
                throw LogConfigError("invalid log length '\(word(i + 1) ?? "")', must be between 80 and 65535")
            }
            length = n
            i += 2
        }
        var format = SyslogFormat.unspecified
        if word(i) == "format" {
            let name = word(i + 1) ?? ""
            guard let f = SyslogFormat(rawValue: name), f != .unspecified else {
                throw LogConfigError("unknown log format '\(name)'" + suggestion(name, SyslogFormat.names))
            }
            format = f
            i += 2
        }
        var sample: LogSampling?
        if word(i) == "sample" {
            guard let text = word(i + 1) else { throw LogConfigError("'sample' expects RANGES:SIZE, e.g. 'sample 1,3:5'") }
            sample = try LogSampling(parsing: text)
            i += 2
        }
        guard let facilityName = word(i) else {
            throw LogConfigError("expects <address> and <facility> as arguments")
        }
        guard let facility = SyslogFacility(name: facilityName) else {
            throw LogConfigError("unknown log facility '\(facilityName)'" + suggestion(facilityName, SyslogFacility.names))
        }
        i += 1
        /// The optional level at `i`, if any (advancing `i`).
        func level(_ what: String, _ otherwise: LogLevel) throws(LogConfigError) -> LogLevel {
            guard let name = word(i) else { return otherwise }
            guard let level = LogLevel(name: name) else {
                throw LogConfigError("unknown optional \(what) '\(name)'" + suggestion(name, LogLevel.names))
            }
            i += 1
            return level
        }
        let maxLevel = try level("log level", .debug)
        let minLevel = try level("minimum log level", .emerg)
        if let extra = word(i) {
            throw LogConfigError("cannot handle unexpected argument '\(extra)'")
        }
        self.init(address: try Self.parseAddress(words[0]), facility: facility, format: format,
                  length: length, maxLevel: maxLevel, minLevel: minLevel, sample: sample)
    }

    /// HAProxy's `str2sa_range` for a datagram log address.
    static func parseAddress(_ text: String) throws(LogConfigError) -> Address {
        var s = Substring(text)
        if s == "stdout" { return .fd(1) }
        if s == "stderr" { return .fd(2) }
        if s.hasPrefix("dgram+") { s = s.dropFirst(6) }
        for refused in ["stream+", "tcp@", "tcp4@", "tcp6@", "uxst@", "ring@", "quic4@", "quic6@"] where s.hasPrefix(refused) {
            throw LogConfigError("'\(text)': TCP syslog and ring buffers (\(refused)) are not supported; log to a unix datagram socket (/dev/log) or a UDP server (udp@host:port)")
        }
        if s.hasPrefix("sockpair@") {
            throw LogConfigError("'\(text)': socket pairs are not supported as log targets")
        }
        if s.hasPrefix("fd@") {
            guard let n = Int32(s.dropFirst(3)), n >= 0 else {
                throw LogConfigError("'\(text)': fd@ expects a file descriptor number")
            }
            return .fd(n)
        }
        for prefix in ["unix@", "uxdg@"] where s.hasPrefix(prefix) {
            return try unixPath(String(s.dropFirst(prefix.count)), abstract: false, text)
        }
        if s.hasPrefix("abns@") { return try unixPath(String(s.dropFirst(5)), abstract: true, text) }
        if s.hasPrefix("/") { return try unixPath(String(s), abstract: false, text) }

        var family = AF_UNSPEC
        for (prefix, f) in [("ipv4@", AF_INET), ("udp4@", AF_INET), ("ipv6@", AF_INET6), ("udp6@", AF_INET6), ("udp@", AF_UNSPEC), ("ip@", AF_UNSPEC)]
        where s.hasPrefix(prefix) {
            family = f
            s = s.dropFirst(prefix.count)
            break
        }
        if let at = s.firstIndex(of: "@") {
            throw LogConfigError("'\(text)': unknown address family '\(s[..<at])@'")
        }
        let (host, port) = try hostAndPort(s, text)
        return .udp(try resolve(host, port: port, family: family, text))
    }

    private static func unixPath(_ path: String, abstract: Bool, _ text: String) throws(LogConfigError) -> Address {
        guard !path.isEmpty else { throw LogConfigError("'\(text)': empty unix socket path") }
        guard path.utf8.count < (abstract ? 107 : 108) else {
            throw LogConfigError("'\(text)': unix socket path longer than 107 bytes")
        }
        return .unix(path: path, abstract: abstract)
    }

    /// `host`, `host:port`, `[v6]:port`, or a bare IPv6 literal (port 514).
    private static func hostAndPort(_ s: Substring, _ text: String) throws(LogConfigError) -> (String, UInt16) {
        var host = s
        var portText: Substring?
        if s.hasPrefix("[") {
            guard let close = s.firstIndex(of: "]") else { throw LogConfigError("'\(text)': missing ']' after the IPv6 address") }
            host = s[s.index(after: s.startIndex)..<close]
            let rest = s[s.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw LogConfigError("'\(text)': expected ':port' after ']'") }
                portText = rest.dropFirst()
            }
        } else if LogAddress(ip: String(s), port: 0) == nil, let colon = s.lastIndex(of: ":") {
            host = s[..<colon]
            portText = s[s.index(after: colon)...]
        }
        guard !host.isEmpty else { throw LogConfigError("'\(text)': missing host") }
        var port: UInt16 = 514
        if let portText {
            guard let p = UInt16(portText), p > 0 else {
                throw LogConfigError("'\(text)': invalid port '\(portText)'")
            }
            port = p
        }
        return (String(host), port)
    }

    /// A literal, or one `getaddrinfo` at configuration time (HAProxy's PA_O_RESOLVE).
    private static func resolve(_ host: String, port: UInt16, family: Int32, _ text: String) throws(LogConfigError) -> LogAddress {
        if let literal = LogAddress(ip: host, port: port) {
            switch (literal, family) {
            case (.v4, AF_INET6): throw LogConfigError("'\(text)': '\(host)' is not an IPv6 address")
            case (.v6, AF_INET): throw LogConfigError("'\(text)': '\(host)' is not an IPv4 address")
            default: return literal
            }
        }
        var hints = addrinfo()
        hints.ai_family = family
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, nil, &hints, &result)
        defer { if let result { freeaddrinfo(result) } }
        guard rc == 0, let info = result, let sa = info.pointee.ai_addr else {
            throw LogConfigError("'\(text)': could not resolve '\(host)'")
        }
        switch Int32(sa.pointee.sa_family) {
        case AF_INET:
            let a = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in.self)
            return .v4(UInt32(bigEndian: a.sin_addr.s_addr), port: port)
        default:
            var a = UnsafeRawPointer(sa).loadUnaligned(as: sockaddr_in6.self)
            let (hi, lo) = withUnsafeBytes(of: &a.sin6_addr) {
                (UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            return .v6(hi, lo, port: port)
        }
    }
}

/// What `log` can say in a section: a target, or `global` (the global section's targets).
public enum LogDirective: Sendable, Equatable {
    case global
    case target(LogTarget)

    /// Parses the words after `log`; `global` is refused in the global section itself.
    public init(words: [String], inGlobalSection: Bool) throws(LogConfigError) {
        if words == ["global"] {
            guard !inGlobalSection else { throw LogConfigError("'global' is not supported for a global syslog server") }
            self = .global
            return
        }
        guard words.count >= 2 || words == ["stdout"] || words == ["stderr"] else {
            throw LogConfigError("expects <address> and <facility> \(inGlobalSection ? "" : "or global ")as arguments")
        }
        self = .target(try LogTarget(words: words))
    }
}

/// The targets of one section, built line by line with HAProxy's semantics: `log global` appends
/// the global section's targets (each once), `no log` forgets all of them; a proxy starts with
/// a copy of its `defaults` section's list.
public struct LogTargetList: Sendable, Equatable {
    public private(set) var targets: [LogTarget] = []
    /// Which entries came from `log global` (those are not appended twice).
    private var inherited: [Bool] = []

    public init(_ targets: [LogTarget] = []) {
        self.targets = targets
        self.inherited = Array(repeating: false, count: targets.count)
    }

    public mutating func apply(_ directive: LogDirective, global: [LogTarget]) {
        switch directive {
        case .target(let t):
            targets.append(t)
            inherited.append(false)
        case .global:
            for t in global where !zip(targets, inherited).contains(where: { $0.1 && $0.0 == t }) {
                targets.append(t)
                inherited.append(true)
            }
        }
    }

    /// `no log`.
    public mutating func removeAll() {
        targets.removeAll()
        inherited.removeAll()
    }

    public var isEmpty: Bool { targets.isEmpty }
}

/// A `log` line HAProxy would refuse: the message, in HAProxy's words where it has some; the
/// configuration parser adds file, line and keyword (`ConfigError`).
public struct LogConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

private func suggestion(_ word: String, _ candidates: [String]) -> String {
    nearestWord(to: word, in: candidates, within: max(2, word.count / 2)).map { " (did you mean '\($0)'?)" } ?? ""
}
