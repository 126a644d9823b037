import Foundation
import NIOCore
import SwiftLBConfig

/// What `swiftlb ctl show vrrp` prints: state, priority, the peer as last heard, the last
/// transition and why, faults and drop counters.
struct VRRPStatus: Sendable {
    var state: Elector.State = .initial
    var priority: UInt8
    var peer: PeerStatus?
    var lastTransition: TransitionRecord?
    var fault: String?
    var drops: [String: Int] = [:]
    var sendFailures = 0

    func render(settings: VRRPSettings, local: String) -> String {
        var out = "instance: \(settings.name)\n"
        out += "state: \(state.displayName)\n"
        out += "priority: \(priority) (configured \(settings.priority))\n"
        out += "virtual_router_id: \(settings.virtualRouterID), advert_int: \(settings.advertInterval), auth: \(settings.authKeyFile == nil ? "none" : "hmac-sha256")\n"
        out += "heartbeat: \(local):\(settings.udpPort) -> \(settings.unicastPeers.joined(separator: ", "))\n"
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
            let when = ISO8601DateFormatter.string(from: t.at, timeZone: TimeZone(identifier: "UTC")!, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
            out += "last transition: \(when) \(t.from.displayName) -> \(t.to.displayName): \(t.reason)\n"
        }
        out += "fault: \(fault ?? "none")\n"
        let dropped = drops.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        out += "dropped heartbeats: \(dropped.isEmpty ? "none" : dropped)\n"
        out += "heartbeat send failures: \(sendFailures)\n"
        return out + "\n"
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
