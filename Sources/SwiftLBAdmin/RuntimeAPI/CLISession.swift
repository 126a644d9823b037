/// One control-socket connection's state, as HAProxy's CLI keeps it: the access level (which
/// `user`/`operator` can only lower), whether the interactive `prompt` mode is on, the idle
/// timeout (`set timeout cli`), and whether the connection must close.
///
/// Without `prompt` a connection takes one line (one or more `;`-separated commands) and
/// closes after answering it, as `echo "show stat" | socat` expects; with `prompt` it stays
/// open and prints `> ` after each answer until `quit`.
public struct CLISession: Sendable, Equatable {
    private enum State: Equatable {
        case oneShot
        case interactive
        case closed
    }
    private var state: State = .oneShot
    public private(set) var level: AccessLevel
    /// Idle time after which the connection is closed, nanoseconds (`stats timeout`).
    public private(set) var timeoutNanoseconds: Int64
    /// The payload of the command being run (the lines after a line ending in `<<`), if any.
    public internal(set) var payload: String?

    public init(level: AccessLevel, timeoutNanoseconds: Int64 = 10_000_000_000) {
        self.level = level
        self.timeoutNanoseconds = timeoutNanoseconds
    }

    public var isInteractive: Bool { state == .interactive }
    public var isClosed: Bool { state == .closed }

    /// `prompt`: toggles the interactive mode.
    mutating func togglePrompt() {
        switch state {
        case .oneShot: state = .interactive
        case .interactive: state = .oneShot
        case .closed: preconditionFailure("prompt on a closed CLI session")
        }
    }

    /// `quit`, an idle timeout, or the end of a one-shot line.
    mutating func close() { state = .closed }

    /// The end of a line: a one-shot session is done.
    mutating func lineAnswered() {
        if state == .oneShot { state = .closed }
    }

    /// `user`/`operator`: the level can go down, never up. Returns false when refused.
    mutating func lower(to newLevel: AccessLevel) -> Bool {
        guard newLevel <= level else { return false }
        level = newLevel
        return true
    }

    mutating func setTimeout(nanoseconds: Int64) { timeoutNanoseconds = nanoseconds }

    /// What follows every command's answer: a blank line, or the prompt.
    var answerSuffix: String { state == .interactive ? "\n> " : "\n" }
}

/// HAProxy's CLI line syntax: commands separated by `;`, words by spaces or tabs, a backslash
/// makes the next character literal (`\;`, `\ `, `\\`).
public enum CLILine {
    public static func commands(_ line: String) -> [[String]] {
        var commands: [[String]] = []
        var words: [String] = []
        var word = ""
        var inWord = false
        var escaped = false
        func endWord() {
            if inWord { words.append(word) }
            word = ""
            inWord = false
        }
        for c in line {
            if escaped {
                word.append(c)
                inWord = true
                escaped = false
                continue
            }
            switch c {
            case "\\":
                escaped = true
            case " ", "\t", "\r":
                endWord()
            case ";":
                endWord()
                commands.append(words)
                words = []
            default:
                word.append(c)
                inWord = true
            }
        }
        endWord()
        commands.append(words)
        // `show info;` has an empty last command; a line that is only blanks is one empty command.
        let nonEmpty = commands.filter { !$0.isEmpty }
        return nonEmpty.isEmpty ? [[]] : nonEmpty
    }
}
