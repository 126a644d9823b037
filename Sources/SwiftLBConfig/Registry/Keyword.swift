/// Whether SwiftLB acts on a keyword: the one gate between "parsed" and "accepted".
///
/// The project's rule is to refuse what it does not act on, so a keyword whose model field
/// the data path does not read yet is parsed (its syntax is checked and the model filled) and
/// then refused with file, line and the reason. Making it real is a one-line change: its
/// registration's status becomes `.active`.
public enum KeywordStatus: Sendable, Equatable {
    /// Parsed and acted on.
    case active
    /// Parsed into the model; refused until the data path acts on it (the reason says what
    /// it waits for).
    case pending(String)
    /// HAProxy or keepalived know it; SwiftLB has no plan to act on it. The reason says what
    /// to write instead.
    case unsupported(String)
}

/// The kinds of sections lb.conf has: HAProxy's, the `vrrp` section, and the blocks of
/// keepalived.conf that lb.conf reads verbatim.
enum SectionKind: String, CaseIterable, Sendable {
    case global, defaults, frontend, backend, listen, vrrp
    case httpErrors = "http-errors"
    case userlist
    case peers
    case ring
    case logForward = "log-forward"
    case vrrpScript = "vrrp_script"
    case vrrpTrackProcess = "vrrp_track_process"
    case trackFile = "track_file"
    case globalDefs = "global_defs"

    static let proxies: Set<SectionKind> = [.defaults, .frontend, .backend, .listen]
    /// HAProxy's "frontend capability": sections that accept connections.
    static let frontSide: Set<SectionKind> = [.defaults, .frontend, .listen]
    /// HAProxy's "backend capability": sections that hold servers.
    static let backSide: Set<SectionKind> = [.defaults, .backend, .listen]
    static let rules: Set<SectionKind> = [.frontend, .backend, .listen]
}

/// One line as a keyword's parser sees it.
struct KeywordCall {
    let line: ConfigLine
    /// The words after the keyword's name: `timeout client 5s` gives `["5s"]`.
    let args: [String]
    /// Written as `no option NAME`.
    let negated: Bool
    let section: SectionKind
    var words: [String] { line.words }
}

/// A keyword's parser: reads the call into the parser's model, or throws what is wrong.
typealias KeywordParser = @Sendable (SectionParser, KeywordCall) throws -> Void

/// One registered keyword, as keepalived's `install_keyword` and HAProxy's `cfg_kw_list`
/// register theirs: its name (one to three words: `bind`, `timeout client`,
/// `tcp-request connection accept`), the sections it may appear in, its argument shape (for
/// messages and docs), its status and its parser. Each feature registers its keywords in its
/// own file under Keywords/; `KeywordRegistry` only collects them.
struct Keyword: Sendable {
    let name: String
    let sections: Set<SectionKind>
    /// Where HAProxy accepts it, when wider than `sections` (`redirect` in a backend): there
    /// it is refused, not ignored.
    let haproxySections: Set<SectionKind>
    /// The argument shape, e.g. `timeout client TIME`.
    let usage: String
    let status: KeywordStatus
    /// Accepts HAProxy's `no` prefix (`no option http-server-close`).
    let negatable: Bool
    /// nil for keywords that are refused without reading their arguments (`.unsupported`).
    let parse: KeywordParser?

    init(_ name: String, _ sections: Set<SectionKind>, haproxy: Set<SectionKind>? = nil, usage: String? = nil,
         status: KeywordStatus = .active, negatable: Bool = false, parse: KeywordParser?) {
        self.name = name
        self.sections = sections
        self.haproxySections = haproxy ?? sections
        self.usage = usage ?? name
        self.status = status
        self.negatable = negatable
        self.parse = parse
    }

    /// A keyword HAProxy or keepalived knows and SwiftLB refuses: it is recognised (no
    /// misleading "did you mean"), and the reason says what to write instead.
    static func unsupported(_ name: String, _ sections: Set<SectionKind>, _ reason: String) -> Keyword {
        Keyword(name, sections, status: .unsupported(reason), parse: nil)
    }

    /// The first word: the family a multi-word keyword belongs to (`timeout`, `option`).
    var family: String { String(name.split(separator: " ")[0]) }
    var wordCount: Int { name.split(separator: " ").count }
}

/// Argument readers shared by keyword parsers; each throws the message the line gets.
extension KeywordCall {
    /// The name as written, for messages: `timeout client`.
    var written: String { words.prefix(words.count - args.count).joined(separator: " ") }

    func noArguments() throws(ParseFailure) {
        guard args.isEmpty else { throw ParseFailure("'\(written)' takes no argument") }
    }

    /// Exactly one argument.
    func one(_ what: String) throws(ParseFailure) -> String {
        guard args.count == 1 else { throw ParseFailure("expects \(what)") }
        return args[0]
    }

    func positiveInt() throws(ParseFailure) -> Int {
        guard args.count == 1, let n = Int(args[0]), n > 0 else { throw ParseFailure("expects one positive number") }
        return n
    }

    func int(in range: ClosedRange<Int>) throws(ParseFailure) -> Int {
        guard args.count == 1, let n = Int(args[0]), range.contains(n) else {
            throw ParseFailure("expects a number from \(range.lowerBound) to \(range.upperBound)")
        }
        return n
    }

    func time() throws(ParseFailure) -> ConfigDuration {
        guard args.count == 1, let d = ConfigDuration(parsing: args[0]) else { throw ParseFailure("expects a time, e.g. '30s'") }
        return d
    }
}
