import FoundationEssentials
import Glibc

/// One logical line of lb.conf split into words, as HAProxy splits haproxy.cfg.
struct ConfigLine {
    let number: Int
    let words: [String]
    /// The text the words come from (empty for lines made by the parser itself).
    var raw: Substring = ""
}

/// Splits a configuration text into lines of words.
///
/// The rules are HAProxy's (src/tools.c, parse_line): words are separated by blanks; `#`
/// starts a comment outside quotes; double and single quotes group words (single quotes take
/// everything literally); outside single quotes `\r`, `\n`, `\t` and `\xHH` stand for CR,
/// LF, TAB and a byte (so `tcp-check send PING\r\n` sends a line), and `\ `, `\\`, `\#`,
/// `\'`, `\"` (and `\$` inside double quotes) for the character itself; any other backslash
/// stays as written (`\1` in a replacement, `\.` in a regex). An unterminated quote or a bad
/// `\x` escape is an error of that line.
///
/// Inside double quotes, environment variables are expanded as HAProxy 2.x does: `$NAME`,
/// `${NAME}`, `${NAME-default}` (the default only when NAME is not set) and `"${NAME[*]}"`
/// (one word per blank-separated value). Outside double quotes a `$` is literal, as in
/// HAProxy (which expands "only within double quotes").
enum ConfigLexer {
    /// Separates the words of a `${NAME[*]}` expansion until the word is split.
    private static let wordBreak: UInt8 = 0

    static func lines(of text: String, file: String,
                      environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigErrors) -> [ConfigLine] {
        var result: [ConfigLine] = []
        var errors: [ConfigError] = []
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            switch line(rawLine, number: number, file: file, environment: environment) {
            case .success(let line?): result.append(line)
            case .success(nil): continue
            case .failure(let error): errors.append(error)
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return result
    }

    /// One line of text split into words (nil: blank or a comment). `global setenv` lines
    /// change the environment as the file is read, so the parser lexes a line that holds a
    /// `$` again from its `raw` text once they have run.
    static func line(_ rawLine: Substring, number: Int, file: String, environment: [String: String]) -> Result<ConfigLine?, ConfigError> {
        var words: [String] = []
        var word: [UInt8] = []
        var inWord = false
        var quote: UInt8?
        var bad: String?
        let bytes = Array(rawLine.utf8)
        // keepalived's comment: a line whose first character is `!` (HAProxy has none).
        if bytes.first(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") }) == UInt8(ascii: "!") { return .success(nil) }
        var i = 0
        scan: while i < bytes.count {
            let b = bytes[i]
            if b == UInt8(ascii: "\\") && quote != UInt8(ascii: "'") && i + 1 < bytes.count {
                let next = bytes[i + 1]
                inWord = true
                switch next {
                case UInt8(ascii: "r"): word.append(0x0D); i += 2
                case UInt8(ascii: "n"): word.append(0x0A); i += 2
                case UInt8(ascii: "t"): word.append(0x09); i += 2
                case UInt8(ascii: "x"):
                    guard i + 3 < bytes.count, let v = UInt8(String(decoding: bytes[(i + 2)...(i + 3)], as: UTF8.self), radix: 16) else {
                        bad = "invalid \\x escape: two hex digits expected"; break scan
                    }
                    word.append(v); i += 4
                case UInt8(ascii: " "), UInt8(ascii: "\\"), UInt8(ascii: "#"), UInt8(ascii: "'"), UInt8(ascii: "\""):
                    word.append(next); i += 2
                case UInt8(ascii: "$") where quote == UInt8(ascii: "\""):
                    word.append(next); i += 2
                default:
                    // Not an escape (HAProxy: "other combinations left unchanged", e.g.
                    // \1 in a replacement, \. in a regex): the backslash stays.
                    word.append(b); i += 1
                }
                continue
            }
            if let q = quote {
                if b == q {
                    quote = nil
                } else if q == UInt8(ascii: "\""), b == UInt8(ascii: "$"), let (value, consumed) = expand(bytes, at: i, environment) {
                    word += value
                    i += consumed
                    continue
                } else {
                    word.append(b)
                }
                i += 1
                continue
            }
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "'"):
                quote = b; inWord = true
            case UInt8(ascii: "#"):
                break scan  // a comment: the rest of the line is ignored
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                if inWord { words.append(String(decoding: word, as: UTF8.self)); word = []; inWord = false }
            default:
                word.append(b); inWord = true
            }
            i += 1
        }
        if quote != nil { bad = "unterminated quote" }
        if let bad {
            return .failure(ConfigError(file: file, line: number, keyword: words.first ?? String(decoding: word, as: UTF8.self), message: bad))
        }
        if inWord { words.append(String(decoding: word, as: UTF8.self)) }
        // `"${NAME[*]}"` became several words.
        words = words.flatMap { $0.utf8.contains(wordBreak) ? $0.split(separator: "\u{0}").map(String.init) : [$0] }
        return .success(words.isEmpty ? nil : ConfigLine(number: number, words: words, raw: rawLine))
    }

    /// `$NAME`, `${NAME}`, `${NAME-default}`, `${NAME[*]}` at `bytes[at]` (a `$`): the value and
    /// how many bytes the reference took; nil when no variable name follows (a literal `$`).
    private static func expand(_ bytes: [UInt8], at start: Int, _ environment: [String: String]) -> ([UInt8], Int)? {
        func isNameByte(_ b: UInt8, first: Bool) -> Bool {
            (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == UInt8(ascii: "_") || (!first && b >= 0x30 && b <= 0x39)
        }
        var i = start + 1
        if i < bytes.count, bytes[i] == UInt8(ascii: "{") {
            guard let close = bytes[(i + 1)...].firstIndex(of: UInt8(ascii: "}")) else { return nil }
            var inner = String(decoding: bytes[(i + 1)..<close], as: UTF8.self)
            let split = inner.hasSuffix("[*]")
            if split { inner.removeLast(3) }
            let (name, fallback): (String, String?) = {
                guard let dash = inner.firstIndex(of: "-") else { return (inner, nil) }
                return (String(inner[..<dash]), String(inner[inner.index(after: dash)...]))
            }()
            let nameBytes = Array(name.utf8)
            guard let first = nameBytes.first, isNameByte(first, first: true), nameBytes.allSatisfy({ isNameByte($0, first: false) }) else { return nil }
            var value = Array((environment[name] ?? fallback ?? "").utf8)
            if split {
                value = Array(String(decoding: value, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: "\u{0}").utf8)
            }
            return (value, close + 1 - start)
        }
        guard i < bytes.count, isNameByte(bytes[i], first: true) else { return nil }
        while i < bytes.count, isNameByte(bytes[i], first: false) { i += 1 }
        let name = String(decoding: bytes[(start + 1)..<i], as: UTF8.self)
        return (Array((environment[name] ?? "").utf8), i - start)
    }
}
