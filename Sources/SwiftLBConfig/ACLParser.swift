import SwiftLBRegex

/// Parses `acl` lines and `if|unless` conditions. Kept apart from the section parser because
/// the same grammar serves `use_backend`, `http-request` and (later) `redirect`.
struct ACLParser {
    /// Fetches written as `name(arg)`: the argument is a header name.
    private static let headerFetches: [String: ACLCriterion.MatchMethod] = [
        "hdr": .exact, "req.hdr": .exact, "hdr_beg": .prefix, "hdr_end": .suffix,
        "hdr_sub": .substring, "hdr_reg": .regex, "hdr_cnt": .exact,
    ]
    private static let plainFetches: [String: (SampleFetch, ACLCriterion.MatchMethod)] = [
        "path": (.path, .exact), "path_beg": (.path, .prefix), "path_end": (.path, .suffix),
        "path_sub": (.path, .substring), "path_reg": (.path, .regex),
        "url": (.url, .exact), "url_beg": (.url, .prefix), "url_end": (.url, .suffix),
        "url_sub": (.url, .substring), "url_reg": (.url, .regex),
        "method": (.method, .exact), "query": (.query, .exact),
        "ssl_fc": (.sslFC, .found),
    ]
    static var fetchNames: [String] {
        Array(plainFetches.keys).sorted() + Array(headerFetches.keys).filter { $0 != "hdr_cnt" }.map { "\($0)(name)" }.sorted()
    }

    /// Parses the words after `acl NAME`.
    static func criterion(_ words: ArraySlice<String>) throws(ParseFailure) -> ACLCriterion {
        guard let fetchWord = words.first else { throw ParseFailure("missing fetch method, expected one of \(fetchNames.joined(separator: ", "))") }
        var fetch: SampleFetch
        var method: ACLCriterion.MatchMethod
        if let open = fetchWord.firstIndex(of: "("), fetchWord.hasSuffix(")") {
            let name = String(fetchWord[..<open])
            let arg = String(fetchWord[fetchWord.index(after: open)..<fetchWord.index(before: fetchWord.endIndex)])
            guard let m = headerFetches[name], name != "hdr_cnt" else {
                throw ParseFailure("unknown fetch method '\(fetchWord)'\(suggestion(name))")
            }
            guard !arg.isEmpty else { throw ParseFailure("'\(name)' needs a header name, as in \(name)(host)") }
            fetch = .header(arg.lowercased())
            method = m
        } else if let (f, m) = plainFetches[fetchWord] {
            fetch = f
            method = m
        } else {
            throw ParseFailure("unknown fetch method '\(fetchWord)'\(suggestion(fetchWord))")
        }
        var caseInsensitive = false
        var rest = words.dropFirst()
        flags: while let flag = rest.first, flag.hasPrefix("-") {
            rest = rest.dropFirst()
            switch flag {
            case "-i": caseInsensitive = true
            case "-m":
                guard let name = rest.first, let m = ACLCriterion.MatchMethod(rawValue: name) else {
                    throw ParseFailure("'-m' needs one of str, beg, end, sub, reg, found")
                }
                method = m
                rest = rest.dropFirst()
            case "--": break flags
            default: throw ParseFailure("unsupported ACL flag '\(flag)' (supported: -i, -m, --)")
            }
        }
        let patterns = Array(rest)
        if fetch == .sslFC && !patterns.isEmpty { throw ParseFailure("'ssl_fc' is a boolean and takes no pattern") }
        if patterns.isEmpty && method != .found {
            throw ParseFailure("no pattern to match '\(fetchWord)' against")
        }
        var regexes: [PCRE2Regex] = []
        if method == .regex {
            for p in patterns {
                do { regexes.append(try PCRE2Regex(p, caseInsensitive: caseInsensitive)) } catch {
                    throw ParseFailure("invalid regular expression '\(p)': \(error)")
                }
            }
        }
        let bytes = patterns.map { Array((caseInsensitive ? $0.lowercased() : $0).utf8) }
        return ACLCriterion(fetch: fetch, method: method, caseInsensitive: caseInsensitive,
                            patterns: bytes, regexes: regexes, constant: nil)
    }

    private static func suggestion(_ word: String) -> String {
        let all = Array(plainFetches.keys) + Array(headerFetches.keys)
        return didYouMean(word, in: all)
    }

    /// ACLs every proxy knows without declaring them.
    static let predefined: [String: ACL] = [
        "TRUE": ACL(name: "TRUE", criteria: [ACLCriterion(fetch: .method, method: .found, caseInsensitive: false, patterns: [], regexes: [], constant: true)]),
        "FALSE": ACL(name: "FALSE", criteria: [ACLCriterion(fetch: .method, method: .found, caseInsensitive: false, patterns: [], regexes: [], constant: false)]),
    ]

    /// Parses `if|unless TERM…` starting at `words.first`, resolving names in `acls`.
    static func condition(_ words: ArraySlice<String>, acls: [String: ACL]) throws(ParseFailure) -> Condition {
        guard let keyword = words.first, keyword == "if" || keyword == "unless" else {
            throw ParseFailure("expected 'if' or 'unless' before a condition")
        }
        var alternatives: [[Condition.Term]] = [[]]
        var rest = Array(words.dropFirst())
        guard !rest.isEmpty else { throw ParseFailure("'\(keyword)' needs at least one ACL") }
        var i = 0
        while i < rest.count {
            var word = rest[i]
            if word == "||" || word == "or" {
                guard !(alternatives.last!.isEmpty) else { throw ParseFailure("'\(word)' with nothing before it") }
                alternatives.append([])
                i += 1
                continue
            }
            var negated = false
            if word.hasPrefix("!") {
                negated = true
                word.removeFirst()
                if word.isEmpty { i += 1; guard i < rest.count else { throw ParseFailure("'!' with no ACL after it") }; word = rest[i] }
            }
            let acl: ACL
            if word == "{" {
                // anonymous ACL: { fetch [flags] pattern… }
                guard let close = rest[(i + 1)...].firstIndex(of: "}") else { throw ParseFailure("'{' without a matching '}'") }
                let crit = try criterion(rest[(i + 1)..<close])
                acl = ACL(name: "{anonymous}", criteria: [crit])
                i = close + 1
            } else {
                guard let found = acls[word] ?? predefined[word] else {
                    let near = didYouMean(word, in: Array(acls.keys))
                    throw ParseFailure("no ACL named '\(word)' is declared before this line\(near)")
                }
                acl = found
                i += 1
            }
            alternatives[alternatives.count - 1].append(Condition.Term(negated: negated, acl: acl))
        }
        guard !(alternatives.last!.isEmpty) else { throw ParseFailure("condition ends with '||'") }
        rest.removeAll()
        return Condition(inverted: keyword == "unless", alternatives: alternatives)
    }
}

/// A failure inside one line; the section parser adds file, line and keyword.
struct ParseFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
