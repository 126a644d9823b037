/// Compiles a log-format string into `LogFormat` nodes, following HAProxy 2.6's
/// `parse_logformat_string` (src/log.c) with `LOG_OPT_MANDATORY|LOG_OPT_MERGE_SPACES`, the
/// options a `log-format` line gets:
///
/// * `%name` — the longest run of letters and digits after `%` is the variable name;
/// * `%{+Q,-M}name` — flags, applied to this variable; `%{…}o` changes the defaults of every
///   later variable;
/// * `%[expr]` — a sample expression (kept as text: its value comes with the record);
/// * `%%` — a literal `%`; a space is a separator, and runs of them print one space.
///
/// Where HAProxy silently does something surprising, this parser refuses instead: an unknown
/// or unsigned flag (`%{+Z}r`, `%{Q}r`, which HAProxy ignores) and `%` before a character
/// that cannot start a name (HAProxy drops the `%`).
struct LogFormatParser {
    private let source: String
    private let bytes: [UInt8]
    private let mode: LogMode
    /// Options every variable gets whatever its flags (`.json` for SwiftLB's JSON formats).
    private let forcedOptions: LogFormatOptions

    private var nodes: [LogFormat.Node] = []
    private var literals: [UInt8] = []
    private var samples: [String] = []
    private var defaults: LogFormatOptions = .mandatory
    private var textStart: Int32?

    init(source: String, mode: LogMode, forcedOptions: LogFormatOptions) {
        self.source = source
        self.bytes = Array(source.utf8)
        self.mode = mode
        self.forcedOptions = forcedOptions
    }

    mutating func parse() throws(LogFormatError) -> LogFormat {
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == UInt8(ascii: "%") {
                i = try parsePercent(at: i)
            } else if c == UInt8(ascii: " ") {
                closeText()
                if nodes.last?.kind != .separator { nodes.append(.init(kind: .separator, options: [])) }
                i += 1
            } else {
                appendText(c)
                i += 1
            }
        }
        closeText()
        return LogFormat(source: source, mode: mode, nodes: nodes, literals: literals, sampleExpressions: samples)
    }

    // MARK: text

    private mutating func appendText(_ byte: UInt8) {
        if textStart == nil { textStart = Int32(literals.count) }
        literals.append(byte)
    }

    private mutating func closeText() {
        guard let start = textStart else { return }
        nodes.append(.init(kind: .text(start: start, end: Int32(literals.count)), options: []))
        textStart = nil
    }

    // MARK: %

    /// Parses what starts at the `%` at `start`; returns the index after it.
    private mutating func parsePercent(at start: Int) throws(LogFormatError) -> Int {
        var i = start + 1
        guard i < bytes.count else { throw LogFormatError("truncated line after '%'") }
        var flags: Substring?
        switch bytes[i] {
        case UInt8(ascii: "%"):
            appendText(UInt8(ascii: "%"))
            return i + 1
        case UInt8(ascii: "{"):
            guard let close = bytes[(i + 1)...].firstIndex(of: UInt8(ascii: "}")) else {
                throw LogFormatError("truncated line after '\(text(i + 1, bytes.count))': missing '}'")
            }
            flags = Substring(text(i + 1, close))
            i = close + 1
            guard i < bytes.count, bytes[i] == UInt8(ascii: "[") || isAlnum(bytes[i]) else {
                throw LogFormatError("parse argument modifier without variable name near '%{\(flags!)}'")
            }
        case let c where isDigit(c) || c == UInt8(ascii: " ") || c == UInt8(ascii: "\t"):
            throw LogFormatError("unexpected variable name near '\(Character(Unicode.Scalar(c)))' at position \(i) line : '\(source)'. Maybe you want to write a single '%', use the syntax '%%'")
        case let c where !isAlpha(c) && c != UInt8(ascii: "["):
            throw LogFormatError("'%' followed by '\(Character(Unicode.Scalar(c)))' at position \(i) names no variable; write '%%' for a literal '%'")
        default:
            break
        }
        closeText()
        var options = defaults
        if let flags { options = try apply(flags, to: options) }
        if bytes[i] == UInt8(ascii: "[") {
            return try parseSample(at: i, options: options)
        }
        var end = i
        while end < bytes.count && isAlnum(bytes[end]) { end += 1 }
        let name = text(i, end)
        if name == "o" {
            defaults = options
            return end
        }
        guard let variable = LogVariable(name: name) else {
            throw LogFormatError("no such format variable '\(name)'. If you wanted to emit the '%' character verbatim, you need to use '%%'\(suggestion(for: name))")
        }
        if variable.httpOnly && mode == .tcp {
            throw LogFormatError("format variable '\(name)' is reserved for HTTP mode")
        }
        nodes.append(.init(kind: .variable(variable), options: options.union(forcedOptions)))
        return end
    }

    /// `%[fetch(args),converter]`: up to the `]` outside parentheses.
    private mutating func parseSample(at open: Int, options: LogFormatOptions) throws(LogFormatError) -> Int {
        var depth = 0
        var j = open + 1
        while j < bytes.count {
            let c = bytes[j]
            if c == UInt8(ascii: "(") { depth += 1 }
            if c == UInt8(ascii: ")") { depth = max(0, depth - 1) }
            if c == UInt8(ascii: "]") && depth == 0 { break }
            j += 1
        }
        let expression = text(open + 1, j)
        guard j < bytes.count else { throw LogFormatError("missing ']' after '\(expression)'") }
        guard !expression.isEmpty else { throw LogFormatError("empty sample expression '%[]'") }
        nodes.append(.init(kind: .sample(samples.count), options: options.union(forcedOptions)))
        samples.append(expression)
        return j + 1
    }

    /// `+Q,-M`: HAProxy's `parse_logformat_var_args`.
    private func apply(_ flags: Substring, to options: LogFormatOptions) throws(LogFormatError) -> LogFormatOptions {
        var result = options
        for item in flags.split(separator: ",", omittingEmptySubsequences: true) {
            guard let sign = item.first, sign == "+" || sign == "-" else {
                throw LogFormatError("flag '\(item)' in '%{\(flags)}' needs a sign: '+\(item)' adds it, '-\(item)' removes it")
            }
            guard let flag = LogFormatOptions.flag(item.dropFirst()) else {
                throw LogFormatError("unknown flag '\(item.dropFirst())' in '%{\(flags)}' (flags are M, Q, X and E)")
            }
            if sign == "+" { result.insert(flag) } else { result.remove(flag) }
        }
        return result
    }

    private func suggestion(for name: String) -> String {
        nearestWord(to: name, in: LogVariable.names + ["o"], within: max(1, name.count / 2)).map { " (did you mean '%\($0)'?)" } ?? ""
    }

    private func text(_ from: Int, _ to: Int) -> String {
        String(decoding: bytes[from..<max(from, to)], as: UTF8.self)
    }

    private func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }
    private func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a }
    private func isAlnum(_ c: UInt8) -> Bool { isDigit(c) || isAlpha(c) }
}

/// The candidate nearest to `word` (Levenshtein), if it is within `limit` edits: for the
/// "did you mean" of error messages only, so clarity beats speed.
func nearestWord(to word: String, in candidates: [String], within limit: Int) -> String? {
    func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
    // Ties go to the longer common prefix (`ssl_c` is nearer `sslc` than `hsl`), then to the
    // earlier candidate.
    func prefix(_ a: String, _ b: String) -> Int { zip(a, b).prefix(while: { $0 == $1 }).count }
    var best: (String, Int, Int)?
    for candidate in candidates {
        let d = distance(Array(word), Array(candidate))
        let p = prefix(word, candidate)
        if best == nil || d < best!.1 || (d == best!.1 && p > best!.2) { best = (candidate, d, p) }
    }
    guard let (candidate, d, _) = best, d <= limit else { return nil }
    return candidate
}
