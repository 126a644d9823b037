/// `tune.vars.global-max-size`, `proc-max-size`, `sess-max-size`, `txn-max-size`,
/// `reqres-max-size`: how many bytes the variables of a scope may take, as HAProxy 2.6 counts
/// them (src/vars.c): a scope's count holds its own variables and those of the scopes inside it
/// (a session's, its streams' `txn.` and `req.`/`res.`; the process's, every live variable), and
/// a `set-var` that would pass a limit of its scope or of one around it is not done.
public struct VariableSizeLimits: Sendable, Equatable {
    /// 0: no limit (HAProxy's default for each).
    public var global = 0
    public var process = 0
    public var session = 0
    public var transaction = 0
    public var requestResponse = 0

    public init() {}

    /// No limit set: variables are not counted at all.
    public var isEmpty: Bool { self == VariableSizeLimits() }

    static let keywords: [(String, WritableKeyPath<VariableSizeLimits, Int> & Sendable)] = [
        ("tune.vars.global-max-size", \.global), ("tune.vars.proc-max-size", \.process),
        ("tune.vars.sess-max-size", \.session), ("tune.vars.txn-max-size", \.transaction),
        ("tune.vars.reqres-max-size", \.requestResponse),
    ]

    /// HAProxy reads the value with strtol into an unsigned int: a plain number (no unit), a
    /// negative one wrapping to a huge limit, one past a long clamped to it (LONG_MAX: 2^32-1
    /// once cut; LONG_MIN: 0), none at all 0.
    static func parse(_ text: String, keyword: String) throws(ParseFailure) -> Int {
        let trimmed = text.drop { $0 == " " || $0 == "\t" }
        let digits = trimmed.first == "-" || trimmed.first == "+" ? trimmed.dropFirst() : trimmed
        let clamped: Int? = !digits.isEmpty && digits.allSatisfy({ $0 >= "0" && $0 <= "9" }) ? (trimmed.first == "-" ? Int.min : Int.max) : nil
        guard let value = Int(trimmed) ?? clamped ?? (trimmed.isEmpty ? 0 : nil) else {
            throw ParseFailure("\(keyword): '\(text)' is an invalid size")
        }
        return Int(UInt32(truncatingIfNeeded: value))
    }
}
