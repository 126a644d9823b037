/// HAProxy's `X-Haproxy-Server-State` header (`http-check send-state`), pure: what the checker
/// knows of the server when the check leaves, in HAProxy's exact words
/// (`httpchk_build_status_header`), so a server that drains itself on `NOLB` or `UP 1/3`
/// reads SwiftLB's checks as it read HAProxy's.
struct ServerStateHeader: Equatable {
    static let name = "X-Haproxy-Server-State"

    var state: ServerHealth.State
    /// HAProxy's `check->health` (CheckLog.health).
    var health: Int
    var rise: Int
    var fall: Int
    var address: String
    var port: Int?
    var backend: String
    var server: String
    /// HAProxy's `node` (the host name unless `node` is set).
    var node: String
    var weight: Int
    /// The backend's total weight of the servers taking traffic.
    var totalWeight: Int
    var sessions: Int
    var backendSessions: Int
    var queued = 0
    /// Slow start under way: the percentage of its weight the server gets now.
    var throttlePercent: Int?

    var value: String {
        var s: String
        switch state {
        case .down:
            s = health == 0 ? "DOWN" : "DOWN \(health)/\(rise)"
        case .up, .stopping:
            let word = state == .up ? "UP" : "NOLB"
            s = health == rise + fall - 1 ? word : "\(word) \(health - rise + 1)/\(fall)"
        }
        s += "; address=\(address); port=\(port.map(String.init) ?? ""); name=\(backend)/\(server); node=\(node)"
        s += "; weight=\(weight)/\(totalWeight); scur=\(sessions)/\(backendSessions); qcur=\(queued)"
        if let throttlePercent { s += "; throttle=\(throttlePercent)%" }
        return s
    }
}

