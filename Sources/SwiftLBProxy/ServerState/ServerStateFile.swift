import SwiftLBConfig
import SwiftLBHealth

/// HAProxy's server-state file, format version 1 (what `show servers state` writes), read as
/// HAProxy 2.6's server_state.c reads it, and what one of its lines does to one server: pure
/// functions; `ServerStateLoader` reads the files and applies the result at start.
enum ServerStateFile {
    /// One server's line: `be_id be_name srv_id srv_name` then the state fields.
    struct Line: Equatable {
        let backendID: Int
        let backend: String
        let server: String
        /// The fields after `srv_name` (srv_addr, srv_op_state, srv_admin_state, …): 16 to 21.
        let fields: [String]
        /// Where it is in its file (1-based), for messages.
        let number: Int
    }

    enum ReadFailure: Error, Equatable {
        /// The first line is not `1` (the only version HAProxy 2.6 knows).
        case version
        /// A line without its newline or with fewer than 20 or more than 25 fields: the whole
        /// file is ignored, as HAProxy ignores it.
        case corrupted(line: Int)
    }

    /// The server lines of a file (comments and blank lines skipped).
    static func parse(_ text: String) -> Result<[Line], ReadFailure> {
        var rows = text.split(separator: "\n", omittingEmptySubsequences: false)
        // Every line ends with a newline: the text after the last one must be empty.
        let unterminated = rows.last.map { !$0.isEmpty } ?? true
        if !unterminated { rows.removeLast() }
        guard let first = rows.first, Int(first) == 1, !(rows.count == 1 && unterminated) else { return .failure(.version) }
        var lines: [Line] = []
        for (i, row) in rows.enumerated().dropFirst() {
            if i == rows.count - 1 && unterminated { return .failure(.corrupted(line: i + 1)) }
            let words = row.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard let head = words.first, !head.hasPrefix("#") else { continue }
            guard (20...25).contains(words.count) else { return .failure(.corrupted(line: i + 1)) }
            lines.append(Line(backendID: Int(words[0]) ?? 0, backend: words[1], server: words[3], fields: Array(words[4...]), number: i + 1))
        }
        return .success(lines)
    }

    /// What one line does to its server (srv_state_srv_update, the parts SwiftLB has).
    struct Decision: Equatable {
        /// STOPPED → down; RUNNING, STARTING, STOPPING → up (SwiftLB has no soft-stop or
        /// warm-up state apart; STOPPING with `fall 1` is down, as in HAProxy). nil for a
        /// server without checks: nothing would bring it back up, and HAProxy's written
        /// STOPPED for one only means "in maintenance", which it leaves UP.
        var operational: ServerHealth.State?
        var admin: ServerHealth.AdminState
        /// The saved `set weight`, applied when lb.conf's weight is still the one it was set
        /// against (srv_iweight), else lb.conf's weight stays.
        var weight: Int?
        /// The saved port when it differs from lb.conf's: HAProxy 2.6 would connect there;
        /// SwiftLB keeps lb.conf's and says so.
        var ignoredPort: Int?
        /// The file says `disable health` was used on a checked server: SwiftLB has no such
        /// command, its checks run as lb.conf says (HAProxy would keep them off).
        var ignoredChecksDisabled = false
    }

    /// HAProxy's admin-state bits (SRV_ADMF_*).
    static let forcedMaint = 0x01, configMaint = 0x04, forcedDrain = 0x08
    private static let inheritedBits = 0x02 | 0x10 | 0x20 | 0x40  // IMAINT, IDRAIN, RMAINT, HMAINT: recomputed, not applied

    /// The reasons when a field is invalid: then nothing of the line applies ("server-state
    /// application failed for server …").
    static func decide(_ f: [String], server p: ServerParameters, port configuredPort: Int) -> Result<Decision, InvalidFields> {
        var invalid: [String] = []
        func number(_ i: Int, _ name: String, valid: (Int) -> Bool = { _ in true }) -> Int {
            guard i < f.count, let n = Int(f[i]), valid(n) else {
                invalid.append("invalid \(name) value '\(i < f.count ? f[i] : "")'")
                return 0
            }
            return n
        }
        let op = number(1, "srv_op_state") { (0...3).contains($0) }
        let admin = number(2, "srv_admin_state") { n in [0, forcedMaint, configMaint, configMaint | forcedMaint, configMaint | forcedDrain, forcedDrain].contains(n & ~inheritedBits) } & ~inheritedBits
        let userWeight = number(3, "srv_uweight") { (0...256).contains($0) }
        let initialWeight = number(4, "srv_iweight") { (0...256).contains($0) }
        _ = number(5, "srv_last_time_change")
        _ = number(6, "srv_check_status") { (0..<21).contains($0) }
        _ = number(7, "srv_check_result") { (0...4).contains($0) }
        _ = number(8, "srv_check_health")
        let checkState = number(9, "srv_check_state") { $0 & ~0x1F == 0 }
        _ = number(10, "srv_agent_state") { $0 & ~0x1F == 0 }
        _ = number(11, "bk_f_forced_id") { $0 == 0 || $0 == 1 }
        _ = number(12, "srv_f_forced_id") { $0 == 0 || $0 == 1 }
        var port: Int?
        if f.count > 14 {
            // strl2uic: the leading digits, 0 for none.
            let digits = f[14].prefix { $0.isNumber }
            let n = Int(digits.prefix(10)) ?? 0
            if n > 65535 { invalid.append("invalid srv_port value '\(f[14])'") } else { port = n }
        }
        guard invalid.isEmpty else { return .failure(InvalidFields(reasons: invalid)) }

        var decision = Decision(operational: nil, admin: p.disabled ? .maint : .ready)
        if p.check && !p.disabled {
            switch op {
            case 0: decision.operational = .down
            case 3 where p.fall == 1: decision.operational = .down
            default: decision.operational = .up
            }
        }
        // lb.conf's `disabled` changed since the file was written: lb.conf wins. Otherwise the
        // file's forced maintenance (or its absence) is the operator's and is kept.
        if (admin & configMaint != 0) == p.disabled {
            if admin & forcedMaint != 0 && !p.disabled { decision.admin = .maint }
            else if admin & forcedMaint == 0 && p.disabled { decision.admin = .ready }
        }
        // Drain kept unless it only came from a weight of 0 that lb.conf has since raised.
        if decision.admin != .maint && admin & forcedDrain != 0 && (initialWeight > 0 || p.weight == 0) { decision.admin = .drain }
        if initialWeight == p.weight { decision.weight = userWeight }
        if let port, port != 0, port != configuredPort { decision.ignoredPort = port }
        // CHK_ST_CONFIGURED without CHK_ST_ENABLED, on a server lb.conf checks.
        if p.check && checkState & 0x02 != 0 && checkState & 0x04 == 0 { decision.ignoredChecksDisabled = true }
        return .success(decision)
    }

    struct InvalidFields: Error, Equatable {
        let reasons: [String]
    }
}
