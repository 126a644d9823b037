/// What the program running a configuration is, for `.if` conditions (`version_atleast()`,
/// `feature()`, `openssl_version_atleast()`, `ssllib_name_startswith()`).
///
/// SwiftLB speaks HAProxy 2.6's configuration language, so it answers version questions as
/// the HAProxy release its behaviour is measured against (2.6.12): a file written for HAProxy
/// with `.if version_atleast(2.5)` takes the branch HAProxy 2.6 takes. The SSL library is the
/// one the binary really loaded; SwiftLBConfig does not link OpenSSL, so the executable
/// passes its `OpenSSL_version()` text in (nil: no SSL library known, and the OpenSSL
/// predicates are errors, as in an HAProxy built without OpenSSL).
public struct BuildFacts: Sendable {
    /// The HAProxy version SwiftLB's configuration language and behaviour follow.
    public static let haproxyCompatibleVersion = "2.6.12"
    public var version: String
    /// `+NAME` / `-NAME` words, as HAProxy's "Feature list" (`feature(NAME)` is true for `+NAME`).
    public var features: [String]
    /// `OpenSSL_version(OPENSSL_VERSION)`: "OpenSSL 3.0.19 27 Jan 2026".
    public var sslLibrary: String?
    /// What compiles the sample expressions of ACLs (SwiftLBProxy's); nil refuses them.
    public var sampleCompiler: ACLSampleCompiler?
    /// RLIMIT_NOFILE as the process started, before it raised it: HAProxy derives the default
    /// `maxconn` from it (DescriptorBudget), also at a reload. nil: the current limit.
    public var descriptorsAtBoot: DescriptorLimits?
    /// `-L NAME` of the command line: which `peers` sections this instance belongs to (their
    /// listener and connections count in the descriptor budget). nil: `localpeer`, else the host name.
    public var localPeer: String?
    /// `-i ID` of the command line: which keepalived `@ID` lines are this node's
    /// (KeepalivedConditional). nil: the host name up to its first dot.
    public var configID: String?

    public init(version: String = BuildFacts.haproxyCompatibleVersion, features: [String] = [], sslLibrary: String? = nil,
                sampleCompiler: ACLSampleCompiler? = nil) {
        self.version = version
        self.features = features
        self.sslLibrary = sslLibrary
        self.sampleCompiler = sampleCompiler
    }

    /// What a parse without the executable's facts knows: the version, no features, no SSL library.
    public static let unknown = BuildFacts()
}

/// HAProxy's configuration condition language (src/cfgcond.c): `TERM [&& TERM…] [|| …]`, where
/// a term is `!TERM`, `( EXPR )`, a number (0 false, anything else true) or a predicate
/// `defined(VAR)`, `feature(NAME)`, `streq(A,B)`, `strneq(A,B)`, `version_atleast(V)`,
/// `version_before(V)`, `openssl_version_atleast(V)`, `openssl_version_before(V)`,
/// `ssllib_name_startswith(NAME)`. `&&` binds tighter than `||`; an empty condition is false.
/// Pure: the environment and the build facts are passed in.
struct ConfigCondition {
    let facts: BuildFacts
    let environment: [String: String]

    /// The value of `text`, or the reason it cannot be evaluated (HAProxy's wording).
    func evaluate(_ text: String) -> Result<Bool, ConditionFailure> {
        var scanner = Scanner(bytes: Array(text.utf8), facts: facts, environment: environment)
        scanner.skipBlanks()
        if scanner.atEnd { return .success(false) }  // HAProxy: empty = false
        do throws(ConditionFailure) {
            let value = try scanner.expression(depth: 64)
            scanner.skipBlanks()
            if !scanner.atEnd {
                throw ConditionFailure("unexpected character '\(Character(UnicodeScalar(scanner.bytes[scanner.index])))' at the end of conditional expression '\(text)'")
            }
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    /// A recursive-descent reader that evaluates as it parses (every predicate is cheap and
    /// free of side effects, so HAProxy's short-circuit order does not change the answer).
    private struct Scanner {
        let bytes: [UInt8]
        let facts: BuildFacts
        let environment: [String: String]
        var index = 0

        init(bytes: [UInt8], facts: BuildFacts, environment: [String: String]) {
            self.bytes = bytes
            self.facts = facts
            self.environment = environment
        }

        var atEnd: Bool { index >= bytes.count }
        var rest: String { String(decoding: bytes[min(index, bytes.count)...], as: UTF8.self) }

        mutating func skipBlanks() {
            while index < bytes.count, bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t") { index += 1 }
        }

        mutating func take(_ token: String) -> Bool {
            skipBlanks()
            let t = Array(token.utf8)
            guard index + t.count <= bytes.count, Array(bytes[index..<(index + t.count)]) == t else { return false }
            index += t.count
            skipBlanks()
            return true
        }

        mutating func expression(depth: Int) throws(ConditionFailure) -> Bool {
            guard depth > 0 else { throw ConditionFailure("unparsable conditional expression '\(rest)' (nested too deep)") }
            var value = try conjunction(depth: depth - 1)
            while take("||") { value = try conjunction(depth: depth - 1) || value }
            return value
        }

        mutating func conjunction(depth: Int) throws(ConditionFailure) -> Bool {
            var value = try term(depth: depth - 1)
            while take("&&") { value = try term(depth: depth - 1) && value }
            return value
        }

        mutating func term(depth: Int) throws(ConditionFailure) -> Bool {
            skipBlanks()
            guard !atEnd else { throw ConditionFailure("unparsable conditional sub-expression '\(rest)'") }
            guard depth > 0 else { throw ConditionFailure("unparsable conditional expression '\(rest)' (nested too deep)") }
            if take("!") { return try !term(depth: depth - 1) }
            let start = index
            if take("(") {
                let value = try expression(depth: depth - 1)
                guard take(")") else { throw ConditionFailure("expected ')' after conditional expression '\(String(decoding: bytes[start...], as: UTF8.self))'") }
                return value
            }
            // A number (strtol: optional sign, digits): 0 is false, anything else true.
            var end = index
            if end < bytes.count, bytes[end] == UInt8(ascii: "-") || bytes[end] == UInt8(ascii: "+") { end += 1 }
            let digits = end
            while end < bytes.count, bytes[end] >= 0x30, bytes[end] <= 0x39 { end += 1 }
            if end > digits {
                let value = bytes[digits..<end].contains { $0 != UInt8(ascii: "0") }
                index = end
                return value
            }
            var nameEnd = index
            while nameEnd < bytes.count, bytes[nameEnd] != UInt8(ascii: "("), bytes[nameEnd] != UInt8(ascii: " ") { nameEnd += 1 }
            let name = String(decoding: bytes[index..<nameEnd], as: UTF8.self)
            guard let arity = Self.predicates[name] else { throw ConditionFailure("unparsable conditional expression '\(rest)'") }
            index = nameEnd
            let args = try arguments(of: name)
            guard args.count == arity else {
                throw ConditionFailure("\(args.count < arity ? "missing" : "too many") arguments (\(arity) expected, got \(args.count)) of predicate '\(name)' used in conditional expression")
            }
            return try predicate(name, args)
        }

        static let predicates: [String: Int] = [
            "defined": 1, "feature": 1, "streq": 2, "strneq": 2, "version_atleast": 1, "version_before": 1,
            "openssl_version_atleast": 1, "openssl_version_before": 1, "ssllib_name_startswith": 1,
        ]

        /// `(a, "b c", 'd')`: comma-separated, blanks around an argument dropped, quotes removed.
        mutating func arguments(of name: String) throws(ConditionFailure) -> [String] {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "(") else {
                throw ConditionFailure("missing arguments (expected '(') of predicate '\(name)' used in conditional expression")
            }
            index += 1
            var args: [String] = []
            var current: [UInt8] = []
            var quote: UInt8?
            while index < bytes.count {
                let b = bytes[index]
                index += 1
                if let q = quote {
                    if b == q { quote = nil } else { current.append(b) }
                } else if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                    quote = b
                } else if b == UInt8(ascii: ",") || b == UInt8(ascii: ")") {
                    let word = String(decoding: current, as: UTF8.self).trimmingBlanks
                    if !(b == UInt8(ascii: ")") && args.isEmpty && word.isEmpty) { args.append(word) }
                    current = []
                    if b == UInt8(ascii: ")") { return args }
                } else {
                    current.append(b)
                }
            }
            throw ConditionFailure("missing closing ')' in arguments of predicate '\(name)' used in conditional expression")
        }

        func predicate(_ name: String, _ args: [String]) throws(ConditionFailure) -> Bool {
            switch name {
            case "defined": return environment[args[0]] != nil
            case "feature":
                // The last +NAME/-NAME word decides; a name not listed is false.
                for word in facts.features.reversed() where word.dropFirst() == args[0] { return word.hasPrefix("+") }
                return false
            case "streq": return args[0] == args[1]
            case "strneq": return args[0] != args[1]
            case "version_atleast", "version_before":
                guard let mine = haproxyVersion(facts.version) else { throw ConditionFailure("internal error: unparsable current version '\(facts.version)'") }
                guard let theirs = haproxyVersion(args[0]) else {
                    throw ConditionFailure("invalid version '\(args[0])' in argument 1 of predicate '\(name)' used in conditional expression")
                }
                return name == "version_atleast" ? !mine.lexicographicallyPrecedes(theirs) : mine.lexicographicallyPrecedes(theirs)
            case "openssl_version_atleast", "openssl_version_before":
                guard let library = facts.sslLibrary else { throw ConditionFailure("predicate '\(name)' needs an SSL library, and none is known") }
                let words = library.split(separator: " ")
                guard words.count >= 2, let mine = sslVersion(String(words[1])) else { throw ConditionFailure("cannot read the SSL library's version in '\(library)'") }
                guard let theirs = sslVersion(args[0]) else {
                    throw ConditionFailure("invalid version '\(args[0])' in argument 1 of predicate '\(name)' used in conditional expression")
                }
                return name == "openssl_version_atleast" ? !mine.lexicographicallyPrecedes(theirs) : mine.lexicographicallyPrecedes(theirs)
            case "ssllib_name_startswith":
                return facts.sslLibrary?.hasPrefix(args[0]) ?? false
            default:
                preconditionFailure("predicate table and evaluator disagree on '\(name)'")
            }
        }
    }
}

/// Why a condition could not be evaluated.
struct ConditionFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// HAProxy's split_version: `A[.B[.C[.D]]][-{dev,pre,rc}N][-…-COMMIT]` as seven numbers
/// (the tag is 1 for dev, 2 for pre/rc, 3 for a release), compared in order.
func haproxyVersion(_ text: String) -> [Int]? {
    var value = [0, 0, 0, 0, 3, 0, 0]
    let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
    let numbers = parts[0].split(separator: ".", omittingEmptySubsequences: false)
    guard !parts[0].isEmpty, numbers.count <= 4 else { return nil }
    for (i, n) in numbers.enumerated() {
        guard let v = Int(n), v >= 0 else { return nil }
        value[i] = v
    }
    guard parts.count == 2 else { return value }
    var tag = Substring(parts[1])
    for (prefix, rank) in [("dev", 1), ("rc", 2), ("pre", 2)] where tag.hasPrefix(prefix) {
        value[4] = rank
        tag = tag.dropFirst(prefix.count)
        let digits = tag.prefix { $0.isNumber }
        value[5] = Int(digits) ?? 0
        tag = tag.dropFirst(digits.count)
        if tag.isEmpty { return value }
        guard tag.hasPrefix("-") else { return nil }
        tag = tag.dropFirst()
        break
    }
    // The commit count: the number after the last '-' (0 when not a number).
    let last = tag.split(separator: "-", omittingEmptySubsequences: false).last ?? ""
    value[6] = Int(last) ?? 0
    return value
}

/// `3.0.19`, `1.1.1k`: major, minor, patch and the patch letter (a=1…), as numbers.
func sslVersion(_ text: String) -> [Int]? {
    var result: [Int] = []
    for part in text.split(separator: ".", omittingEmptySubsequences: false) {
        let digits = part.prefix { $0.isNumber }
        guard let v = Int(digits) else { return nil }
        result.append(v)
        let letters = part.dropFirst(digits.count)
        if let l = letters.first, letters.count == 1, let a = l.asciiValue, a >= 0x61, a <= 0x7A { result.append(Int(a) - 0x60) }
        else if !letters.isEmpty { return nil }
        else { result.append(0) }
    }
    guard !result.isEmpty, result.count <= 8 else { return nil }
    while result.count < 8 { result.append(0) }
    return result
}

extension String {
    var trimmingBlanks: String {
        let bytes = Array(utf8)
        guard let first = bytes.firstIndex(where: { $0 != 0x20 && $0 != 0x09 }) else { return "" }
        let last = bytes.lastIndex(where: { $0 != 0x20 && $0 != 0x09 })!
        return String(decoding: bytes[first...last], as: UTF8.self)
    }
}

/// The `.if / .elif / .else / .endif` blocks of one file and the `.notice / .warning / .alert /
/// .diag` directives, as HAProxy 2.6 reads them (src/cfgparse.c, readcfgfile): a line inside a
/// branch not taken is dropped before any keyword sees it; blocks nest (at most 256 levels);
/// each file has its own blocks. Pure: fed the lexed lines, it says what to do with each.
struct ConditionalBlocks {
    /// One level of `.if`. `take`: this branch is read; `drop`: not read, a later branch may
    /// be; `skip`: not read, and no later branch will be (one was taken, or the enclosing
    /// branch is not read).
    private enum Level {
        case ifTake, ifDrop, ifSkip, elifTake, elifDrop, elifSkip, elseTake, elseDrop

        var reading: Bool { self == .ifTake || self == .elifTake || self == .elseTake }
        var afterElse: Bool { self == .elseTake || self == .elseDrop }
        /// A branch of this level was (or is being) taken, or the enclosing one is not read.
        var settled: Bool { self == .ifTake || self == .ifSkip || self == .elifTake || self == .elifSkip }
    }

    enum Outcome: Equatable {
        /// An ordinary line to parse.
        case keep
        /// A directive or a line of a branch not taken: nothing more to do.
        case consumed
        case error(String)
        case warning(String)
        case notice(String)
        /// `.alert`: HAProxy stops reading the configuration here.
        case abort(String)
    }

    /// Replaced when a `setenv` line changes the environment (`.if defined(NAME)`).
    var condition: ConfigCondition
    private var levels: [Level] = []
    /// Where the innermost open `.if` is, for "non-terminated '.if'".
    private var openedAt: [Int] = []

    init(condition: ConfigCondition) {
        self.condition = condition
    }

    private var reading: Bool { levels.last?.reading ?? true }

    mutating func feed(_ line: ConfigLine) -> Outcome {
        let keyword = line.words[0]
        guard keyword.hasPrefix(".") else { return reading ? .keep : .consumed }
        let expression = line.words.dropFirst().joined(separator: " ")
        switch keyword {
        case ".if":
            guard levels.count < 256 else { return .error("too many nested '.if', max is 256") }
            openedAt.append(line.number)
            if !reading {
                levels.append(.ifSkip)
                return .consumed
            }
            switch condition.evaluate(expression) {
            case .success(let value): levels.append(value ? .ifTake : .ifDrop); return .consumed
            case .failure(let failure):
                levels.append(.ifSkip)
                return .error("\(failure.message) in '.if'")
            }
        case ".elif":
            guard let level = levels.last else { return .error("lone '.elif' with no matching '.if'") }
            if level.afterElse { return .error("'.elif' after '.else' is not permitted") }
            if level.settled {
                levels[levels.count - 1] = .elifSkip
                return .consumed
            }
            switch condition.evaluate(expression) {
            case .success(let value): levels[levels.count - 1] = value ? .elifTake : .elifDrop; return .consumed
            case .failure(let failure):
                levels[levels.count - 1] = .elifSkip
                return .error("\(failure.message) in '.elif'")
            }
        case ".else":
            guard let level = levels.last else { return .error("lone '.else' with no matching '.if'") }
            if level.afterElse { return .error("'.else' after '.else' is not permitted") }
            levels[levels.count - 1] = level.settled ? .elseDrop : .elseTake
            return .consumed
        case ".endif":
            guard !levels.isEmpty else { return .error("lone '.endif' with no matching '.if'") }
            levels.removeLast()
            openedAt.removeLast()
            return .consumed
        default:
            break
        }
        guard reading else { return .consumed }
        switch keyword {
        case ".alert", ".warning", ".notice", ".diag":
            if line.words.count > 2 {
                return .error("Unexpected argument '\(line.words[2])' for '\(keyword)'. Use quotes if the message should contain spaces")
            }
            let message = line.words.count > 1 ? line.words[1] : ""
            switch keyword {
            case ".alert": return .abort(message)
            case ".warning": return .warning(message)
            case ".notice": return .notice(message)
            default: return .consumed  // .diag: HAProxy shows it only with -dD; SwiftLB has no diagnostic mode
            }
        default:
            return .error("unknown directive '\(keyword)'")
        }
    }

    /// At the end of the file: the line of an `.if` never closed, if any.
    var unterminated: Int? { openedAt.last }
}
