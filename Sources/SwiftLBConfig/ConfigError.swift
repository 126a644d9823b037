/// One problem found in a configuration file, always tied to the place it was written.
///
/// Operators fix lb.conf from the message alone, so every error names the file, the line, the
/// keyword and, for a keyword we do not know, the closest one we do (as `haproxy -c` does).
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let keyword: String
    public let message: String

    public init(file: String, line: Int, keyword: String, message: String) {
        self.file = file
        self.line = line
        self.keyword = keyword
        self.message = message
    }

    public var description: String { "\(file):\(line): '\(keyword)': \(message)" }
}

/// Every error of one parse: we keep going after the first so a user sees all of them at once.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public let errors: [ConfigError]
    public init(_ errors: [ConfigError]) { self.errors = errors }
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// " (did you mean 'X'?)" for the nearest candidate, or "" when none is near: the suffix
/// every "unknown …" message of the parser ends with.
func didYouMean(_ word: String, in candidates: [String]) -> String {
    nearestKeyword(to: word, in: candidates).map { " (did you mean '\($0)'?)" } ?? ""
}

/// The smallest edit distance wins; ties go to the earlier (more common) keyword.
/// Used only for error messages, so clarity beats speed.
func nearestKeyword(to word: String, in candidates: [String]) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = Swift.min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
    let w = Array(word.lowercased())
    var best: (String, Int)?
    for candidate in candidates {
        let d = distance(w, Array(candidate))
        if best == nil || d < best!.1 { best = (candidate, d) }
    }
    // A suggestion that shares less than half of the word is noise, not help.
    guard let (keyword, d) = best, d <= Swift.max(2, w.count / 2) else { return nil }
    return keyword
}
