import FoundationEssentials
import Glibc
import NIOCore
import SwiftLBAdmin
import SwiftLBConfig

/// What `swiftlb ctl show vrrp` prints: state, priority, the peer as last heard, the last
/// transition and why, faults and drop counters.
struct VRRPStatus: Sendable {
    var state: Elector.State = .initial
    var priority: UInt8
    var peer: PeerStatus?
    var lastTransition: TransitionRecord?
    /// State changes since start.
    var transitions = 0
    var fault: String?
    var drops: [String: Int] = [:]
    var sendFailures = 0
    /// The tracked backends, scripts and interfaces as last evaluated.
    var tracked: [Tracking.Input] = []

    func render(settings: VRRPSettings, local: String) -> String {
        var out = "instance: \(settings.name)\n"
        out += "state: \(state.displayName)\n"
        out += "priority: \(priority) (configured \(settings.priority))\n"
        out += "virtual_router_id: \(settings.virtualRouterID), advert_int: \(settings.advertInterval), auth: \(!settings.isAuthenticated ? "none" : "hmac-sha256")\n"
        if settings.multicast {
            out += "heartbeat: \(local):\(settings.udpPort) -> \(VRRPGroup.multicastGroup) (multicast on \(settings.interface), ttl 255)\n"
        } else {
            out += "heartbeat: \(local):\(settings.udpPort) -> \(settings.unicastPeers.joined(separator: ", "))\(settings.unicastTTL.map { " (ttl \($0))" } ?? "")\n"
        }
        for vip in settings.virtualAddresses {
            out += "vip: \(vip.cidr) dev \(vip.interface ?? settings.interface)\(state == .master ? " (held)" : "")\n"
        }
        if let peer {
            let ago = (NIODeadline.now() - peer.lastHeard).nanoseconds / 1_000_000
            out += "peer: \(peer.address) priority \(peer.priority)\(peer.priority == 0 ? " (resigning)" : ""), last heard \(ago) ms ago\n"
        } else {
            out += "peer: not heard yet\n"
        }
        if let t = lastTransition {
            let when = utcTimestamp(t.at)
            out += "last transition: \(when) \(t.from.displayName) -> \(t.to.displayName): \(t.reason)\n"
        }
        out += "fault: \(fault ?? "none")\n"
        let dropped = drops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        out += "dropped heartbeats: \(dropped.isEmpty ? "none" : dropped)\n"
        out += "heartbeat send failures: \(sendFailures)\n"
        for input in tracked {
            let effect = input.effect ?? (input.weight == 0 ? "FAULT when down" : input.weight > 0 ? "+\(input.weight) when up" : "\(input.weight) when down")
            out += "track: \(input.name) (\(effect)): \(input.up ? "up" : input.downReason)\n"
        }
        return out
    }
}

extension VRRPStatus {
    /// The VIP section of the stats page and /metrics, from the elector's state now.
    func vipStats(settings: VRRPSettings) -> VIPStats {
        func state(_ s: Elector.State) -> VIPStats.State {
            switch s {
            case .initial: .initial
            case .backup: .backup
            case .master: .master
            case .fault: .fault
            }
        }
        var v = VIPStats(instance: settings.name, state: state(self.state), priority: Int(priority),
                         configuredPriority: Int(settings.priority), addresses: settings.virtualAddresses.map(\.cidr))
        v.peer = peer?.address
        v.peerPriority = peer.map { Int($0.priority) }
        v.peerLastHeard = peer.map { Double((NIODeadline.now() - $0.lastHeard).nanoseconds) / 1e9 }
        v.lastTransition = lastTransition.map {
            VIPStats.Transition(from: state($0.from), to: state($0.to), reason: $0.reason, at: $0.at.timeIntervalSince1970)
        }
        v.transitions = transitions
        v.fault = fault
        v.heartbeatDrops = drops
        v.heartbeatSendFailures = sendFailures
        return v
    }
}

struct PeerStatus: Sendable {
    var address: String
    var priority: UInt8
    var lastHeard: NIODeadline
}

struct TransitionRecord: Sendable {
    var from: Elector.State
    var to: Elector.State
    var reason: String
    var at: Date
}

extension Elector.State {
    /// keepalived's words, which operators grep logs for.
    public var displayName: String {
        switch self {
        case .initial: "INIT"
        case .backup: "BACKUP"
        case .master: "MASTER"
        case .fault: "FAULT"
        }
    }
}

/// The peer link's part of `show vrrp`: up or down and why, how its last close was judged,
/// and the connections closed for failing the handshake.
struct PeerLinkStatus: Sendable {
    let local: String
    let peer: String
    let port: Int
    let dials: Bool
    /// "TCP-MD5 signed", or why not.
    var signing: String
    var up = false
    var role = ""
    var since = NIODeadline.now()
    var lastFrame = NIODeadline.now()
    var downReason = "not connected yet"
    var nextAttempt: NIODeadline?
    var lastDialError: String?
    var lastClose: (at: Date, what: String)?
    var ups = 0
    /// Closes confirmed as the peer's process dying.
    var deaths = 0
    var drops: [String: Int] = [:]

    func render() -> String {
        let now = NIODeadline.now()
        func ms(_ d: NIODeadline) -> Int64 { (now - d).nanoseconds / 1_000_000 }
        var out: String
        if up {
            out = "peer link: up (\(role) \(local) <-> \(peer):\(port), \(signing)) for \(ms(since)) ms, last frame \(ms(lastFrame)) ms ago\n"
        } else {
            out = "peer link: down (\(downReason)) for \(ms(since)) ms"
            if !dials {
                out += "; waiting for \(peer) to connect"
            } else if let next = nextAttempt, next > now {
                out += "; next attempt in \((next - now).nanoseconds / 1_000_000) ms"
            }
            if let error = lastDialError, dials { out += " (last attempt: \(error))" }
            out += "\n"
        }
        if let close = lastClose {
            let when = utcTimestamp(close.at)
            out += "peer link last closed: \(when) \(close.what)\n"
        }
        out += "peer link: \(ups) times up, \(deaths) peer process deaths seen\n"
        let dropped = drops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        out += "dropped link connections: \(dropped.isEmpty ? "none" : dropped)\n"
        return out
    }
}

/// Drops counted by kind, and logged at most every 10 s so a flood of forgeries cannot flood
/// the log (heartbeats and peer-link connections alike).
struct DropLog: Sendable {
    private var next = NIODeadline.uptimeNanoseconds(0)

    /// Adds one drop of `kind` to `counts`; returns the total when it is time to log.
    mutating func count(_ kind: String, in counts: inout [String: Int]) -> Int? {
        counts[kind, default: 0] += 1
        let now = NIODeadline.now()
        guard now >= next else { return nil }
        next = now + .seconds(10)
        return counts.values.reduce(0, +)
    }
}

/// `2026-11-30T04:12:59.123Z`: a status line's instant, in UTC with milliseconds.
func utcTimestamp(_ date: Date) -> String {
    Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt).format(date)
}
