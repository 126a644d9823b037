import SwiftLBConfig
#if canImport(Glibc)
import Glibc
#endif

/// Where and how the control socket listens: HAProxy's `stats socket` with its `mode`,
/// `user`/`uid`, `group`/`gid` and `level`, plus `stats timeout` and `stats maxconn`.
public struct ControlSocketSettings: Sendable, Equatable {
    public enum Address: Sendable, Equatable, CustomStringConvertible {
        case unix(path: String)
        case tcp(host: String, port: Int)
        /// `fd@N`: a listening TCP socket inherited from the parent (systemd, VTest).
        case inherited(fd: Int32)

        public var description: String {
            switch self {
            case .unix(let path): path
            case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .inherited(let fd): "fd@\(fd)"
            }
        }
    }

    public var address: Address
    /// Permissions of a unix socket (default 600: only its owner may connect).
    public var mode: UInt16 = 0o600
    /// Owner of a unix socket, when not the process's.
    public var uid: UInt32?
    public var gid: UInt32?
    public var level: AccessLevel = .admin
    /// `stats timeout`: an idle connection is closed after this long (HAProxy: 10 s).
    public var timeoutNanoseconds: Int64 = 10_000_000_000
    /// `stats maxconn`: connections served at once (HAProxy: 10); more are told so and closed.
    public var maxConnections = 10

    public init(address: Address) { self.address = address }

    /// From lb.conf's `stats socket` (and `stats timeout`). The path may be a unix path
    /// (`/run/swiftlb.sock`, `unix@/run/swiftlb.sock`) or a TCP address (`ipv4@127.0.0.1:9999`,
    /// `ipv6@[::1]:9999`, `127.0.0.1:9999`).
    public init(_ socket: StatsSocket, timeoutNanoseconds: Int64? = nil) throws(ControlSocketError) {
        self.address = try Self.parseAddress(socket.path)
        self.mode = socket.mode
        self.level = socket.level
        self.uid = socket.uid
        self.gid = socket.gid
        if let timeoutNanoseconds { self.timeoutNanoseconds = timeoutNanoseconds }
    }

    public static func parseAddress(_ text: String) throws(ControlSocketError) -> Address {
        if text.hasPrefix("unix@") { return .unix(path: String(text.dropFirst(5))) }
        if text.hasPrefix("fd@") {
            guard let fd = Int32(text.dropFirst(3)), fd >= 0 else { throw ControlSocketError("'\(text)': fd@ expects a descriptor number") }
            return .inherited(fd: fd)
        }
        for unsupported in ["abns@", "sockpair@", "udp@", "udp4@", "udp6@", "quic4@", "quic6@"] where text.hasPrefix(unsupported) {
            throw ControlSocketError("'\(text)': a control socket on '\(unsupported)' is not supported (use a unix path or ipv4@/ipv6@HOST:PORT)")
        }
        var rest = text
        var family: Int32?
        if text.hasPrefix("ipv4@") { rest = String(text.dropFirst(5)); family = AF_INET }
        if text.hasPrefix("ipv6@") { rest = String(text.dropFirst(5)); family = AF_INET6 }
        if family == nil && (text.hasPrefix("/") || text.hasPrefix(".") || !text.contains(":")) {
            return .unix(path: text)
        }
        // HOST:PORT, [V6]:PORT, or a bare V6 whose last colon starts the port.
        guard let colon = rest.lastIndex(of: ":") else { throw ControlSocketError("'\(text)': expected HOST:PORT") }
        var host = String(rest[..<colon])
        let portText = rest[rest.index(after: colon)...]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard let port = Int(portText), (0...65_535).contains(port) else { throw ControlSocketError("'\(text)': invalid port '\(portText)'") }
        if host.isEmpty { host = family == AF_INET6 ? "::" : "0.0.0.0" }
        var v4 = in_addr(), v6 = in6_addr()
        let isV4 = inet_pton(AF_INET, host, &v4) == 1, isV6 = inet_pton(AF_INET6, host, &v6) == 1
        guard isV4 || isV6 else { throw ControlSocketError("'\(text)': '\(host)' is not an IP address") }
        if family == AF_INET && !isV4 { throw ControlSocketError("'\(text)': '\(host)' is not an IPv4 address") }
        if family == AF_INET6 && !isV6 { throw ControlSocketError("'\(text)': '\(host)' is not an IPv6 address") }
        return .tcp(host: host, port: port)
    }

    /// Resolves `user NAME` / `group NAME` (or numeric ids) for the socket's owner.
    public mutating func setOwner(user: String?, group: String?) throws(ControlSocketError) {
        if let user {
            if let id = UInt32(user) { uid = id } else {
                guard let pw = getpwnam(user) else { throw ControlSocketError("unknown user '\(user)'") }
                uid = pw.pointee.pw_uid
            }
        }
        if let group {
            if let id = UInt32(group) { gid = id } else {
                guard let gr = getgrnam(group) else { throw ControlSocketError("unknown group '\(group)'") }
                gid = gr.pointee.gr_gid
            }
        }
    }

    /// Whether a TCP socket listens beyond this machine (worth a warning: the CLI has no
    /// authentication, its level is all that protects it).
    public var listensBeyondLoopback: Bool {
        guard case .tcp(let host, _) = address else { return false }
        return !(host.hasPrefix("127.") || host == "::1" || host == "localhost")
    }
}

/// A control socket that cannot be set up, with the reason.
public struct ControlSocketError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
