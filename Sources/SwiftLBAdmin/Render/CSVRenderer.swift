/// HAProxy's statistics CSV (`show stat`, `<stats uri>;csv`): the 2.6 header byte for byte,
/// one line per row, every field followed by a comma, text quoted only when it holds a comma,
/// a quote or a line break. Existing scripts and collectors that read HAProxy's CSV by header
/// or by position read this.
public enum CSVRenderer {
    /// Which rows `show stat` prints: HAProxy's `up` and `no-maint` options and its
    /// `<iid> <type> <sid>` selector.
    public struct Filter: Sendable, Equatable {
        /// Only this proxy (by name), nil = all.
        public var proxy: String?
        /// HAProxy's type mask: 1 frontends, 2 backends, 4 servers.
        public var types: Int = 7
        /// Only this server id, nil = all.
        public var serverID: Int?
        /// `up`: servers that are UP only; `no-maint`: hide servers in maintenance.
        public var onlyUp = false
        public var hideMaint = false
        public init() {}

        func admits(_ row: StatRow) -> Bool {
            if let proxy, row.proxy.name != proxy { return false }
            switch row {
            case .frontend: return types & 1 != 0
            case .backend: return types & 2 != 0
            case .server(_, _, let s):
                guard types & 4 != 0 else { return false }
                if let serverID, s.sid != serverID { return false }
                if onlyUp && !(s.operational == .running || s.operational == .starting) { return false }
                if (onlyUp || hideMaint) && s.admin == .maint { return false }
                return true
            }
        }
    }

    /// `legends`: the server addresses, cookies and balance algorithms (HAProxy shows them on
    /// the CLI from the operator level up, and on the page with `stats show-legends`).
    public static func render(_ snapshot: StatsSnapshot, filter: Filter = Filter(), legends: Bool = true) -> String {
        var out = StatColumn.csvHeader
        for row in StatRow.rows(of: snapshot) where filter.admits(row) {
            for column in StatColumn.all {
                if legends || !StatColumn.legendColumns.contains(column.name) { out += cell(column(row)) }
                out += ","
            }
            out += "\n"
        }
        return out
    }

    static func cell(_ value: StatValue) -> String {
        switch value {
        case .empty: return ""
        case .int(let n): return String(n)
        case .string(let s): return quoted(s)
        }
    }

    /// HAProxy's `csv_enc(…, 1)`: quotes only when needed, doubles embedded quotes.
    static func quoted(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacing("\"", with: "\"\"") + "\""
    }
}
