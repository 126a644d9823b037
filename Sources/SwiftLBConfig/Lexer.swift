/// One logical line of lb.conf split into words, as HAProxy splits haproxy.cfg.
struct ConfigLine {
    let number: Int
    let words: [String]
}

/// Splits a configuration text into lines of words.
///
/// The rules are HAProxy's: words are separated by blanks; `#` starts a comment outside quotes;
/// double and single quotes group words (single quotes take everything literally); a backslash
/// escapes the next character. An unterminated quote is an error of that line.
enum ConfigLexer {
    static func lines(of text: String, file: String) throws(ConfigErrors) -> [ConfigLine] {
        var result: [ConfigLine] = []
        var errors: [ConfigError] = []
        var number = 0
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var words: [String] = []
            var word = ""
            var inWord = false
            var quote: Character?
            var escaped = false
            for ch in rawLine {
                if escaped {
                    word.append(ch); escaped = false; inWord = true; continue
                }
                if let q = quote {
                    if ch == q { quote = nil } else if ch == "\\" && q == "\"" { escaped = true } else { word.append(ch) }
                    continue
                }
                switch ch {
                case "\\": escaped = true; inWord = true
                case "\"", "'": quote = ch; inWord = true
                case "#":
                    // a comment: the rest of the line is ignored
                    if inWord { words.append(word); word = ""; inWord = false }
                    quote = nil
                    break
                case " ", "\t", "\r":
                    if inWord { words.append(word); word = ""; inWord = false }
                default:
                    word.append(ch); inWord = true
                }
                if ch == "#" && quote == nil && !escaped { break }
            }
            if quote != nil {
                errors.append(ConfigError(file: file, line: number, keyword: words.first ?? word,
                                          message: "unterminated quote"))
                continue
            }
            if inWord { words.append(word) }
            if !words.isEmpty { result.append(ConfigLine(number: number, words: words)) }
        }
        if !errors.isEmpty { throw ConfigErrors(errors) }
        return result
    }
}
