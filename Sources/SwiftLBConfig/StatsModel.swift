/// The stats page of a frontend or listen: `stats enable`, `stats uri`, `stats refresh`,
/// `stats auth`, `stats realm`, `stats hide-version`, `stats admin if …` (pending: the
/// operations issue serves it).
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
    public var line: Int

    public init(line: Int) { self.line = line }
}
