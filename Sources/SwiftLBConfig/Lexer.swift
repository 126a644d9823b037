/// One logical line of lb.conf split into words, as HAProxy splits haproxy.cfg.
struct ConfigLine {
    let number: Int
    let words: [String]
}

/// Splits a configuration text into lines of words.
///
/// The rules are HAProxy's: words are separated by blanks; `#` starts a comment outside quotes;
/// double and single quotes group words (single quotes take everything literally); outside
/// single quotes a backslash escapes the next character, and `\r`, `\n`, `\t` and `\xHH`
/// stand for CR, LF, TAB and a byte (so `tcp-check send PING\r\n` sends a line). An
/// unterminated quote or a bad `\x` escape is an error of that line.
enum ConfigLexer {
    static func lines(of text: String, file: String) throws(ConfigErrors) -> [ConfigLine] {
        var result: [ConfigLine] = []
        var errors: [ConfigError] = []
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var words: [String] = []
            var word: [UInt8] = []
            var inWord = false
            var quote: UInt8?
            var bad: String?
            let bytes = Array(rawLine.utf8)
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
                    default: word.append(next); i += 2
                    }
                    continue
                }
                if let q = quote {
                    if b == q { quote = nil } else { word.append(b) }
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
                errors.append(ConfigError(file: file, line: number, keyword: words.first ?? String(decoding: word, as: UTF8.self), message: bad))
                continue
            }
            if inWord { words.append(String(decoding: word, as: UTF8.self)) }
            if !words.isEmpty { result.append(ConfigLine(number: number, words: words)) }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return result
    }
}
