import SwiftLBConfig
import SwiftLBRegex

/// An HTTP check's answer and its `http-check expect` rules, pure: the rules are tried in
/// order against the one answer (HAProxy 2.2+), the first that fails decides, and the check
/// passes when all did. Apart from `HealthProbe` (the I/O) so the verdicts are tested alone.
struct HTTPCheckAnswer {
    let code: Int
    /// The status line's reason phrase (HAProxy's info for a failed status or header rule).
    let reason: String
    /// The header lines in order, names as sent.
    let headers: [(name: String, value: String)]
    let body: String

    /// Parses what the server sent; nil when it is no HTTP/1.x answer.
    init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        let head = text.firstRange(of: "\r\n\r\n").map { text[..<$0.lowerBound] } ?? text[...]
        body = text.firstRange(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)[...]
        guard let statusLine = lines.popFirst() else { return nil }
        let parts = statusLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3, let code = Int(parts[1]) else { return nil }
        self.code = code
        reason = parts.count > 2 ? String(parts[2]) : ""
        headers = lines.compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (String(line[..<colon]), Self.trimmed(line[line.index(after: colon)...]))
        }
    }

    /// Whether `bytes` hold a whole HTTP/1.x answer: its head, then the body its framing
    /// announces (Content-Length, or chunked up to the last chunk); none for 1xx, 204, 304 and
    /// a HEAD request. An answer without framing ends when the server closes (false here).
    static func isComplete(_ bytes: [UInt8], bodiless: Bool) -> Bool {
        let end: [UInt8] = [13, 10, 13, 10]
        guard bytes.count >= 16, let headEnd = (0...(bytes.count - 4)).first(where: { bytes[$0..<$0 + 4].elementsEqual(end) }) else { return false }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
        guard let answer = HTTPCheckAnswer(Array(head.utf8) + end) else { return false }
        if bodiless || answer.code < 200 || answer.code == 204 || answer.code == 304 { return true }
        let body = bytes.count - headEnd - 4
        let field = { (name: String) in answer.headers.last { $0.name.lowercased() == name }?.value.lowercased() }
        if let coding = field("transfer-encoding") {
            return coding.hasSuffix("chunked") && bytes.suffix(5).elementsEqual(Array("0\r\n\r\n".utf8))
                && (body == 5 || bytes.suffix(7).elementsEqual(Array("\r\n0\r\n\r\n".utf8)))
        }
        if let length = field("content-length").flatMap({ Int($0) }) { return body >= length }
        return false
    }

    /// `s` without the blanks around it (one String, built once: going through `reversed()`
    /// twice built it a character at a time, ~100 allocations per check answer).
    static func trimmed(_ s: Substring) -> String {
        var start = s.startIndex
        var end = s.endIndex
        while start < end, s[start] == " " || s[start] == "\t" { start = s.index(after: start) }
        while start < end {
            let before = s.index(before: end)
            guard s[before] == " " || s[before] == "\t" else { break }
            end = before
        }
        return String(s[start..<end])
    }

    /// The verdict of `rules` (none: HAProxy's implicit `status 200-399`). `regexes` holds the
    /// rules' patterns compiled (names case-insensitive, as HAProxy compiles them).
    func verdict(_ rules: [HTTPCheck.Expect], regexes: HTTPCheckRegexes) -> CheckOutcome {
        let rules = rules.isEmpty ? [HTTPCheck.Expect(.status([200...399]))] : rules
        var variables: [String: String] = [:]
        for rule in rules {
            for assignment in rule.assignments {
                variables[assignment.name] = assignment.value.flatMap { sample($0, variables) }
            }
            if case .failed(var text, let kind, let code) = verdict(rule, variables: variables, regexes: regexes) {
                if let comment = rule.comment { text += " comment: \(comment)" }
                return .failed(text, rule.errorStatus.flatMap(CheckKind.init(haproxyName:)) ?? kind, code: code)
            }
        }
        let kind = rules.last?.okStatus.flatMap(CheckKind.init(haproxyName:)) ?? .l7ok
        return .passed("status \(code)", kind, code: code)
    }

    /// A sample's value on this answer; nil when it has none (no such header, unset variable).
    func sample(_ sample: CheckSample, _ variables: [String: String]) -> String? {
        switch sample {
        case .string(let text): return text
        case .variable(let name): return variables[name]
        case .responseHeader(let name, let fullLine):
            guard let line = headers.last(where: { $0.name.lowercased() == name.lowercased() })?.value else { return nil }
            return fullLine ? line : line.split(separator: ",").last.map { Self.trimmed($0) } ?? ""
        }
    }

    /// A log-format pattern rendered (a sample without a value renders as nothing).
    private func render(_ pattern: HTTPCheck.TextMatch, _ variables: [String: String]) -> HTTPCheck.TextMatch {
        guard let format = pattern.format else { return pattern }
        let text = format.map { part in
            switch part {
            case .literal(let text): text
            case .sample(let s): sample(s, variables) ?? ""
            }
        }.joined()
        return HTTPCheck.TextMatch(pattern.method, text)
    }

    private func verdict(_ rule: HTTPCheck.Expect, variables: [String: String], regexes: HTTPCheckRegexes) -> CheckOutcome {
        let matched: Bool
        let failure: (text: String, kind: CheckKind)
        switch rule.match {
        case .status(let ranges):
            matched = ranges.contains { $0.contains(code) }
            failure = (reason, .l7status)  // HAProxy's info: the reason phrase
        case .rstatus(let pattern):
            matched = regexes[pattern]?.matches(String(code)) ?? false
            failure = (reason, .l7status)
        case .header(let namePattern, let valuePattern, let fullLine):
            let name = render(namePattern, variables), value = valuePattern.map { render($0, variables) }
            // HAProxy: a log-format that renders empty fails the rule.
            if name.text.isEmpty || value?.text.isEmpty == true {
                return .failed("log-format string evaluated to an empty string", .l7response, code: code)
            }
            matched = headers.contains { header in
                guard matches(header.name, name, regexes: regexes, caseInsensitive: true) else { return false }
                guard let value else { return true }
                let values = fullLine ? [header.value] : header.value.split(separator: ",").map { Self.trimmed($0) }
                return values.contains { matches($0, value, regexes: regexes, caseInsensitive: false) }
            }
            failure = (reason, .l7status)  // HAProxy's info: the reason phrase
        case .string(let needle), .rstring(let needle):
            guard !body.isEmpty else { return .failed("HTTP content check could not find a response body", .l7response, code: code) }
            if case .string = rule.match { matched = body.contains(needle) } else { matched = regexes[needle]?.matches(body) ?? false }
            failure = (rule.negated ? "HTTP check matched unwanted content" : "HTTP content check did not match", .l7response)
        }
        return matched != rule.negated ? .passed("status \(code)", .l7ok, code: code) : .failed(failure.text, failure.kind, code: code)
    }

    private func matches(_ text: String, _ pattern: HTTPCheck.TextMatch, regexes: HTTPCheckRegexes, caseInsensitive: Bool) -> Bool {
        if pattern.method == .reg { return regexes[pattern.text, caseInsensitive: caseInsensitive]?.matches(text) ?? false }
        let (t, p) = caseInsensitive ? (text.lowercased(), pattern.text.lowercased()) : (text, pattern.text)
        switch pattern.method {
        case .str: return t == p
        case .beg: return t.hasPrefix(p)
        case .end: return t.hasSuffix(p)
        case .sub: return t.contains(p)
        case .reg: return false
        }
    }
}

/// The regular expressions of an HTTP check's rules, compiled once when its checker starts
/// (they were validated when lb.conf was read).
struct HTTPCheckRegexes: Sendable {
    private var compiled: [String: PCRE2Regex] = [:]
    private var caseless: [String: PCRE2Regex] = [:]

    init(_ rules: [HTTPCheck.Expect]) {
        for rule in rules {
            switch rule.match {
            case .rstatus(let p), .rstring(let p): compiled[p] = try? PCRE2Regex(p)
            case .header(let name, let value, _):
                if name.method == .reg { caseless[name.text] = try? PCRE2Regex(name.text, caseInsensitive: true) }
                if let value, value.method == .reg { compiled[value.text] = try? PCRE2Regex(value.text) }
            case .status, .string: break
            }
        }
    }

    subscript(pattern: String, caseInsensitive caseInsensitive: Bool = false) -> PCRE2Regex? {
        caseInsensitive ? caseless[pattern] : compiled[pattern]
    }
}

extension CheckKind {
    /// HAProxy's name of a check status, as `ok-status`/`error-status`/`tout-status` give it.
    init?(haproxyName: String) {
        switch haproxyName {
        case "L7OK": self = .l7ok
        case "L7OKC": self = .l7okConditional
        case "L6OK": self = .l6ok
        case "L4OK": self = .l4ok
        case "L7RSP": self = .l7response
        case "L7STS": self = .l7status
        case "L6RSP": self = .l6response
        case "L4CON": self = .l4connect
        case "L7TOUT": self = .l7timeout
        case "L6TOUT": self = .l6timeout
        case "L4TOUT": self = .l4timeout
        default: return nil
        }
    }
}
