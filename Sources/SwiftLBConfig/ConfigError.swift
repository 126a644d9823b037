/// One problem found in a configuration file, always tied to the place it was written.
///
/// Operators fix lb.conf from the message alone, so every error names the file, the line, the
/// keyword and, for a keyword we do not know, the closest one we do (as `haproxy -c` does).
/// The text has HAProxy's shape (`parsing [lb.conf:12] : 'bind' : …`) so that the greps and
/// tools written for haproxy's messages read ours; `rendered(_:pid:)` adds the
/// `[ALERT]    (pid) : config : ` prefix haproxy prints.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let keyword: String
    public let message: String
    /// A warning of SwiftLB's own, on a line HAProxy takes without a word (an inert option, a
    /// likely unit mistake): printed as a warning, but `zero-warning` does not count it, as
    /// HAProxy counts only its own warnings and a copied haproxy.cfg must start as it did.
    public var isSwiftLBRemark = false
    /// The message names the keyword itself, as HAProxy words it ("'maxconn' already
    /// specified. Continuing."), so the place is not followed by the keyword again.
    public var namesItsKeyword = false

    public init(file: String, line: Int, keyword: String, message: String) {
        self.file = file
        self.line = line
        self.keyword = keyword
        self.message = message
    }

    public var description: String {
        if line == 0 && keyword.isEmpty { return message }
        return namesItsKeyword ? "parsing [\(file):\(line)] : \(message)" : "parsing [\(file):\(line)] : '\(keyword)' : \(message)"
    }

    /// HAProxy's message levels, padded as haproxy pads them.
    public enum Level: String, Sendable {
        case alert = "ALERT", warning = "WARNING", notice = "NOTICE"
    }

    /// `[ALERT]    (1234) : config : parsing [lb.conf:12] : 'bind' : …`, as haproxy prints it;
    /// continuation lines (after a newline in the message) are indented with `   | `.
    public func rendered(_ level: Level, pid: Int32) -> String {
        ConfigError.rendered(level, pid: pid, description)
    }

    /// Any text in HAProxy's config message shape.
    public static func rendered(_ level: Level, pid: Int32, _ text: String) -> String {
        let tag = "[\(level.rawValue)]"
        let padded = tag + String(repeating: " ", count: max(1, 11 - tag.count))
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return "\(padded)(\(pid)) : config : \(lines[0])" + lines.dropFirst().map { "\n   | \($0)" }.joined()
    }
}

/// Every error of one parse: we keep going after the first so a user sees all of them at once.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [ConfigError]
    public init(_ errors: [ConfigError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// " (did you mean 'X'?)" for a likely typo of a candidate, or "" when none is one: the
/// suffix every "unknown …" message of the parser ends with.
func didYouMean(_ word: String, in candidates: [String]) -> String {
    nearestKeyword(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
}

/// The candidate `word` is most likely a typo of, or nil.
///
/// A suggestion must mean the same thing, so only a typo counts: a few edits (adjacent
/// transpositions count as one), scaled to the word's length, and never a word that merely
/// extends another with a separator — `ssl_fc_sni` is not a misspelt `ssl_fc`, it is another
/// fetch. Keywords SwiftLB knows but refuses are registered, so they never reach here.
/// Ties go to the earlier (more common) candidate. Clarity beats speed: messages only.
func nearestKeyword(to word: String, in candidates: [String]) -> String? {
    let w = Array(word.lowercased())
    let allowed = w.count <= 4 ? 1 : w.count <= 9 ? 2 : 3
    var best: (String, Int)?
    for candidate in candidates where !extendsWithSeparator(word.lowercased(), candidate) {
        let d = editDistance(w, Array(candidate.lowercased()))
        if d <= allowed, best == nil || d < best!.1 { best = (candidate, d) }
    }
    return best?.0
}

/// `ssl_fc_sni` / `ssl_fc`, `tcp-request` / `tcp`: one word is the other plus a separated part.
private func extendsWithSeparator(_ a: String, _ b: String) -> Bool {
    let (short, long) = a.count < b.count ? (a, b) : (b, a)
    guard long.hasPrefix(short), long.count > short.count else { return false }
    let next = long[long.index(long.startIndex, offsetBy: short.count)]
    return "_-.( ".contains(next)
}

/// Optimal string alignment distance: insertions, deletions, substitutions and adjacent
/// transpositions each cost one.
func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            d[i][j] = Swift.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { d[i][j] = Swift.min(d[i][j], d[i - 2][j - 2] + 1) }
        }
    }
    return d[a.count][b.count]
}
