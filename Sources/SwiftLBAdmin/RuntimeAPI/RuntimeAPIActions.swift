import SwiftLBConfig
import SwiftLBTLS

/// What the runtime API (the control socket) and the stats page's admin buttons may do to the
/// running process. The lead implements it on the live runtime (the servers' shared states,
/// the reload path, the VIP); the command layer validates the request first (the server
/// exists, the level allows it, the argument is well formed), so an implementation only acts.
///
/// Every call may come from any thread; an implementation hops to where its state lives.
public protocol RuntimeAPIActions: Sendable {
    /// The counters and states now (merged across event loops).
    func snapshot() async -> StatsSnapshot
    /// The same, with the servers of `disabled` backends in `stoppedProxies` (what `show
    /// servers state` and the by-name server lookups read; the stats and scrapes do without).
    func snapshotWithStoppedServers() async -> StatsSnapshot
    /// `set server B/S state ready|drain|maint`, `enable|disable server`.
    func setAdminState(backend: String, server: String, to state: ServerStats.AdminState) async throws(RuntimeAPIError)
    /// `set weight`, `set server B/S weight`: the new user weight, 0…256 (a relative weight
    /// is already resolved against the initial one).
    func setWeight(backend: String, server: String, weight: Int) async throws(RuntimeAPIError)
    /// `set maxconn server B/S N`: the server's maxconn now (0: no limit).
    func setMaxconn(backend: String, server: String, maxconn: Int) async throws(RuntimeAPIError)
    /// `set server B/S addr A [port P]`: a new address for new connections.
    func setAddress(backend: String, server: String, address: String, port: Int?) async throws(RuntimeAPIError)
    /// `enable|disable health B/S`: start or stop a configured check.
    func setHealthChecks(backend: String, server: String, enabled: Bool) async throws(RuntimeAPIError)
    /// `reload`: parse and validate lb.conf again and swap it in, or keep the current one.
    func reload() async -> ReloadOutcome
    /// `show vrrp`'s text, nil when lb.conf has no `vrrp` section.
    func vrrpStatus() async -> String?
    /// `rotate ssl tickets`: how many TLS listeners got new keys.
    func rotateTicketKeys() async -> Int
    /// `debug dev loop MS`: wedge one proxy event loop on purpose (to watch the VIP move).
    func blockEventLoop(milliseconds: Int) async throws(RuntimeAPIError)
    /// `clear counters [all]`: reset the maxima (or every counter).
    func clearCounters(all: Bool) async throws(RuntimeAPIError)
    /// `show table [NAME]`: HAProxy's text (the table list, or one table's entries).
    func showTable(_ name: String?) async -> String
    /// `clear table NAME`: false when there is no such table.
    func clearTable(_ name: String) async -> Bool
    /// `ssl ca-file|crl-file` commands: the store of CA/CRL files the TLS contexts use.
    func caFileStore() async -> CAFileStore?
}

extension RuntimeAPIActions {
    public func snapshotWithStoppedServers() async -> StatsSnapshot { await snapshot() }
    public func vrrpStatus() async -> String? { nil }
    public func rotateTicketKeys() async -> Int { 0 }
    public func blockEventLoop(milliseconds: Int) async throws(RuntimeAPIError) {
        throw RuntimeAPIError.unsupported("debug dev loop", "not in this process")
    }
    public func clearCounters(all: Bool) async throws(RuntimeAPIError) {
        throw RuntimeAPIError.unsupported("clear counters", "not in this process")
    }
    public func showTable(_ name: String?) async -> String { name == nil ? "" : "No such table\n" }
    public func clearTable(_ name: String) async -> Bool { false }
    public func caFileStore() async -> CAFileStore? { nil }
    public func setMaxconn(backend: String, server: String, maxconn: Int) async throws(RuntimeAPIError) {
        throw RuntimeAPIError.unsupported("set maxconn server", "not in this process")
    }
    public func reload() async -> ReloadOutcome {
        ReloadOutcome(success: false, messages: ["reload is not available in this process"])
    }
}

/// A refused action: the text the operator reads (without the trailing newline).
public struct RuntimeAPIError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// A command SwiftLB knows but does not carry out (here or yet): "'set server addr' is not
    /// supported by SwiftLB: change the address in lb.conf and reload." Every such refusal is
    /// built here, so `RuntimeAPI.answerIsFailure` recognises it whatever the command
    /// (`swiftlb ctl` exits 1 on it), instead of a list of first words kept by hand.
    public static func unsupported(_ command: String, _ advice: String? = nil) -> RuntimeAPIError {
        RuntimeAPIError("'\(command)'" + unsupportedMarker + (advice.map { ": " + $0 } ?? "."))
    }

    static let unsupportedMarker = " is not supported by SwiftLB"

    /// Whether an answer is an `unsupported` refusal.
    static func isUnsupported(_ answer: String) -> Bool {
        guard answer.hasPrefix("'"), let end = answer.dropFirst().firstIndex(of: "'") else { return false }
        return answer[answer.index(after: end)...].hasPrefix(unsupportedMarker)
    }
}

/// What a reload did: swapped in (warnings in `messages`) or refused (the errors, the old
/// configuration still serving).
public struct ReloadOutcome: Sendable, Equatable {
    public var success: Bool
    public var messages: [String]
    public init(success: Bool, messages: [String] = []) {
        self.success = success
        self.messages = messages
    }
}

/// HAProxy's CLI access levels: `user` reads, `operator` also clears counters, `admin` also
/// changes state.
public typealias AccessLevel = StatsSocket.Level
