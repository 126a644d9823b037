/// The stats page of a frontend or listen: `stats enable`, `stats uri`, `stats refresh`,
/// `stats auth`, `stats realm`, `stats hide-version`, `stats admin if …`, served by the
/// frontend itself (SwiftLBProxy's stats request path, SwiftLBAdmin's `StatsPage`).
public struct StatsPage: Sendable {
    public var enabled = false
    public var uri = "/haproxy?stats"
    public var refresh: ConfigDuration?
    public var realm: String?
    /// `stats auth USER:PASSWORD` lines.
    public var credentials: [(user: String, password: String)] = []
    public var hideVersion = false
    /// `stats admin if|unless COND`: who may change server states from the page.
    public var admin: [Condition] = []
    /// `stats scope NAME|.`: the proxies shown (empty: all).
    public var scopes: [String] = []
    /// `stats show-node [NAME]` ("" : the node name of `global`), `stats show-desc [TEXT]`,
    /// `stats show-legends`.
    public var showNode: String?
    public var showDescription: String?
    public var showLegends = false
    public var line: Int

    public init(line: Int) { self.line = line }
}
