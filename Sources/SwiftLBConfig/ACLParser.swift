import FoundationEssentials
import Glibc
import SwiftLBRegex

/// Parses `acl` lines and `if|unless` conditions. Kept apart from the section parser because
/// the same grammar serves `use_backend`, `http-request` and (later) `redirect`.
struct ACLParser {
    /// Fetches written as `name(arg)`: the argument is a header name.
    private static let headerFetches: [String: ACLCriterion.MatchMethod] = [
        "hdr": .exact, "req.hdr": .exact, "hdr_beg": .prefix, "hdr_end": .suffix,
        "hdr_sub": .substring, "hdr_reg": .regex, "hdr_cnt": .exact, "hdr_dom": .domain,
    ]
    private static let plainFetches: [String: (SampleFetch, ACLCriterion.MatchMethod)] = [
        "path": (.path, .exact), "path_beg": (.path, .prefix), "path_end": (.path, .suffix),
        "path_sub": (.path, .substring), "path_reg": (.path, .regex),
        "url": (.url, .exact), "url_beg": (.url, .prefix), "url_end": (.url, .suffix),
        "url_sub": (.url, .substring), "url_reg": (.url, .regex),
        "method": (.method, .exact), "query": (.query, .exact),
        "ssl_fc": (.sslFC, .found),
        "ssl_fc_sni": (.sslFCSNI, .exact), "src": (.src, .exact), "src_conn_cur": (.srcConnCur, .exact),
        "status": (.status, .exact), "capture.req.uri": (.capturedURI, .exact),
    ]

    /// Fetches parsed into the model whose evaluation the data path does not have yet.
    static let pendingFetches: [SampleFetch: String] = [
        .srcConnCur: "connections are not counted per client address yet",
    ]
    static let variableStatus = KeywordStatus.active

    /// HAProxy fetches SwiftLB does not evaluate: named as such, never "did you mean".
    static let knownFetches: Set<String> = [
        "always_false", "always_true", "base", "base_beg", "base_dir", "base_dom", "base_end", "base_len", "base_reg", "base_sub",
        "be_id", "be_name", "capture.req.hdr", "capture.req.method",
        "cook", "cook_beg", "cook_cnt", "cook_dom", "cook_end", "cook_len", "cook_reg", "cook_sub", "dst", "dst_conn", "dst_port",
        "fe_id", "fe_name", "hdr_cnt", "hdr_ip", "hdr_len", "hdr_val", "http_auth_group",
        "http_first_req", "method", "nbproc", "path_dir", "path_dom", "path_len", "rand", "req.body", "req.cook",
        "req.fhdr", "req.hdr_cnt", "req.hdr_ip", "req.len", "req.payload", "req.proto_http", "req.ssl_hello_type", "req.ssl_sni",
        "req.ssl_ver", "req_ssl_sni", "req_ssl_ver", "req_ssl_hello_type", "req.ver", "req_ver", "ssl_fc_cipher", "res.hdr", "res.cook", "res.len", "scheme", "sc_conn_cur", "sc0_conn_cur",
        "sc1_conn_cur", "sc2_conn_cur", "sc_http_req_rate", "sc0_http_req_rate", "sc1_http_req_rate", "sc2_http_req_rate",
        "shdr", "src_port", "src_http_req_rate", "src_conn_rate", "src_get_gpc0", "src_inc_gpc0", "src_http_err_rate",
        "srv_id", "ssl_c_used", "ssl_c_verify", "ssl_c_s_dn", "ssl_c_sha1", "ssl_fc_alpn",
        "ssl_fc_has_crt", "ssl_fc_has_sni", "ssl_fc_protocol", "stopping", "url_ip", "url_param", "url_port",
        "urlp", "urlp_val", "var",
    ]
    private static let integerOperators: Set<String> = ["eq", "ge", "gt", "le", "lt"]
    static var fetchNames: [String] {
        Array(plainFetches.keys).sorted() + Array(headerFetches.keys).filter { $0 != "hdr_cnt" }.map { "\($0)(name)" }.sorted()
    }

    /// Parses the words after `acl NAME`.
    /// `sampleCompiler`: the parse's `BuildFacts.sampleCompiler`, for a fetch with converters or
    /// one only the rules know.
    /// `ruleProxy`: the proxy whose rule it is (nil in `defaults`), what a state fetch without
    /// argument reads.
    static func criterion(_ words: ArraySlice<String>, sampleCompiler: ACLSampleCompiler? = nil, ruleProxy: String?) throws(ParseFailure) -> ACLCriterion {
        guard let fetchWord = words.first else { throw ParseFailure("missing fetch method, expected one of \(fetchNames.joined(separator: ", "))") }
        if hasConverters(fetchWord) { return try expression(words, fetchWord: fetchWord, integer: false, sampleCompiler) }
        var fetch: SampleFetch
        var method: ACLCriterion.MatchMethod
        if let f = try StickFetchParser.fetch(fetchWord) {
            fetch = f
            method = f.isInteger ? .integer : (f.readsPayload && !f.isTextPayload ? .binary : .exact)
            if f == .waitEnd { method = .found }  // a boolean
        } else if let f = try proxyStateFetch(fetchWord, ruleProxy: ruleProxy) {
            if f.isBoolean {
                // With `-m` (other than `bool`), HAProxy matches the 0/1 sample as the method says:
                // `-m int 3` never holds, `-m found` always does, `-m str 0` holds when down.
                if let m = words.firstIndex(of: "-m"), m + 1 < words.endIndex, words[m + 1] != "bool" {
                    return try rest(of: words, fetch: .proxyState(f), method: .exact, fetchWord: fetchWord)
                }
                // Without, its boolean match reads the sample alone: words after it
                // (`srv_is_up(be/s1) gt 1`) are taken as patterns and never consulted, so the
                // ACL holds when the sample is 1.
                return try rest(of: [fetchWord, "1"], fetch: .proxyState(f), method: .integer, fetchWord: fetchWord)
            }
            (fetch, method) = (.proxyState(f), .integer)
        } else if let open = fetchWord.firstIndex(of: "("), fetchWord.hasSuffix(")") {
            let name = String(fetchWord[..<open])
            let arg = String(fetchWord[fetchWord.index(after: open)..<fetchWord.index(before: fetchWord.endIndex)])
            if name == "var" {
                guard !arg.isEmpty else { throw ParseFailure("'var' needs a variable name, as in var(txn.name)") }
                return try rest(of: words, fetch: .variable(arg), method: .exact, fetchWord: fetchWord)
            }
            if name == "http_auth" {
                // A boolean: the Basic credentials are those of a user of the list.
                guard !arg.isEmpty else { throw ParseFailure("'http_auth' needs a userlist, as in http_auth(admins)") }
                guard words.count == 1 else { throw ParseFailure("'http_auth(\(arg))' is a boolean and takes no pattern") }
                return ACLCriterion(fetch: .httpAuth(arg), method: .found, caseInsensitive: false, patterns: [], regexes: [], constant: nil)
            }
            guard let m = headerFetches[name], name != "hdr_cnt" else {
                if sampleCompiler != nil, (try? sampleCompiler?(fetchWord)) != nil {
                    return try expression(words, fetchWord: fetchWord, integer: name.hasSuffix("_cnt"), sampleCompiler)
                }
                if knownFetches.contains(name) { throw ParseFailure("fetch '\(name)' is not supported by SwiftLB") }
                throw ParseFailure("unknown fetch method '\(fetchWord)'\(suggestion(name))")
            }
            guard !arg.isEmpty else { throw ParseFailure("'\(name)' needs a header name, as in \(name)(host)") }
            fetch = .header(arg.lowercased())
            method = m
        } else if let (f, m) = plainFetches[fetchWord] {
            fetch = f
            method = m
        } else if let f = TLSFetch(name: fetchWord) {
            (fetch, method) = (.tls(f), f.isBoolean ? .found : .exact)
        } else if sampleCompiler != nil, (try? sampleCompiler?(fetchWord)) != nil {
            return try expression(words, fetchWord: fetchWord, integer: false, sampleCompiler)
        } else if knownFetches.contains(fetchWord) {
            throw ParseFailure("fetch '\(fetchWord)' is not supported by SwiftLB")
        } else {
            throw ParseFailure("unknown fetch method '\(fetchWord)'\(suggestion(fetchWord))")
        }
        return try rest(of: words, fetch: fetch, method: method, fetchWord: fetchWord)
    }

    /// `nbsrv`, `nbsrv(be_app)`, `srv_is_up(be_app/s1)`…; nil for any other fetch.
    private static func proxyStateFetch(_ fetchWord: String, ruleProxy: String?) throws(ParseFailure) -> ProxyStateFetch? {
        guard let open = fetchWord.firstIndex(of: "(") else { return try ProxyStateFetch(name: fetchWord, argument: nil, owner: ruleProxy) }
        guard fetchWord.hasSuffix(")") else { return nil }
        let argument = String(fetchWord[fetchWord.index(after: open)..<fetchWord.index(before: fetchWord.endIndex)])
        return try ProxyStateFetch(name: String(fetchWord[..<open]), argument: argument, owner: ruleProxy)
    }

    /// An ACL on a sample expression (`hdr(host),lower,map_str(FILE) -m found`): compiled by
    /// the parse's `sampleCompiler`, matched as a string unless `-m` says otherwise (as an
    /// integer for a count).
    private static func expression(_ words: ArraySlice<String>, fetchWord: String, integer: Bool,
                                   _ sampleCompiler: ACLSampleCompiler?) throws(ParseFailure) -> ACLCriterion {
        guard let compile = sampleCompiler else {
            throw ParseFailure("'\(fetchWord)': an ACL on a sample expression needs SwiftLB's rules (this parse has no sample compiler)")
        }
        let compiled: any Sendable
        do { compiled = try compile(fetchWord) } catch { throw ParseFailure("'\(fetchWord)': \(error)") }
        var criterion = try rest(of: words, fetch: .expression(fetchWord), method: integer ? .integer : .exact, fetchWord: fetchWord)
        criterion.sample = compiled
        return criterion
    }

    /// `hdr(host),lower`: a comma outside the fetch's parentheses.
    static func hasConverters(_ word: String) -> Bool {
        var depth = 0
        for c in word.utf8 {
            if c == UInt8(ascii: "(") { depth += 1 } else if c == UInt8(ascii: ")") { depth -= 1 } else if c == UInt8(ascii: ","), depth == 0 { return true }
        }
        return false
    }

    /// `-f FILE`: one pattern per line, as HAProxy reads a pattern file — leading blanks
    /// dropped, empty lines and `#` comments skipped, the rest of the line (spaces included)
    /// the pattern. Read once, when the configuration is parsed (and at each reload).
    static func patternFile(_ path: String) throws(ParseFailure) -> [String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ParseFailure("failed to open pattern file <\(path)>")
        }
        var patterns: [String] = []
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\r\n" }) {
            let pattern = line.drop { $0 == " " || $0 == "\t" }.filter { $0 != "\r" }
            if pattern.isEmpty || pattern.hasPrefix("#") { continue }
            patterns.append(String(pattern))
        }
        return patterns
    }

    /// The flags and patterns after the fetch.
    private static func rest(of words: ArraySlice<String>, fetch: SampleFetch, method: ACLCriterion.MatchMethod,
                             fetchWord: String) throws(ParseFailure) -> ACLCriterion {
        var method = method
        var caseInsensitive = false
        var rest = words.dropFirst()
        var filePatterns: [String] = []
        flags: while let flag = rest.first, flag.hasPrefix("-") {
            rest = rest.dropFirst()
            switch flag {
            case "-i": caseInsensitive = true
            case "-f":
                guard let path = rest.first else { throw ParseFailure("'-f' needs a file of patterns") }
                filePatterns += try patternFile(path)
                rest = rest.dropFirst()
            case "-m":
                guard let name = rest.first, let m = ACLCriterion.MatchMethod(rawValue: name) else {
                    throw ParseFailure("'-m' needs one of str, beg, end, sub, reg, found, bin, int")
                }
                method = m
                rest = rest.dropFirst()
            case "--": break flags
            default: throw ParseFailure("unsupported ACL flag '\(flag)' (supported: -i, -f, -m, --)")
            }
        }
        var patterns = Array(rest) + filePatterns
        if fetch == .sslFC && !patterns.isEmpty { throw ParseFailure("'ssl_fc' is a boolean and takes no pattern") }
        if fetch == .src {
            guard !patterns.isEmpty else { throw ParseFailure("no address or network to match 'src' against") }
            for p in patterns where !isIPNetwork(p) {
                throw ParseFailure("'\(p)' is not an address or network (10.0.0.0/8, 192.0.2.1, 2001:db8::/32)")
            }
            var criterion = ACLCriterion(fetch: fetch, method: .exact, caseInsensitive: false, patterns: [], regexes: [], constant: nil, networks: patterns)
            criterion.networkSet = IPNetworkSet(patterns.compactMap(IPNetwork.init))
            return criterion
        }
        if ((fetch.isInteger || fetch == .status) && method != .found) || method == .integer {
            var op = "eq"
            if let first = patterns.first, integerOperators.contains(first) { op = first; patterns.removeFirst() }
            guard patterns.count >= 1, patterns.allSatisfy({ Int($0) != nil }) else {
                throw ParseFailure("'\(fetchWord)' compares a number: '\(fetchWord) gt 10'")
            }
            return ACLCriterion(fetch: fetch, method: .exact, caseInsensitive: false, patterns: patterns.map { Array($0.utf8) },
                                regexes: [], constant: nil, integerOperator: op)
        }
        if patterns.isEmpty && method != .found {
            throw ParseFailure("no pattern to match '\(fetchWord)' against")
        }
        if method == .binary {
            let bytes = try patterns.map { p throws(ParseFailure) -> [UInt8] in
                guard let b = StickFetchParser.hexBytes(p) else { throw ParseFailure("'-m bin' expects hex digits, not '\(p)'") }
                return b
            }
            return ACLCriterion(fetch: fetch, method: .binary, caseInsensitive: false, patterns: bytes, regexes: [], constant: nil)
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

    /// ACLs every proxy knows without declaring them (HAProxy's predefined ACLs that SwiftLB
    /// can evaluate; LOCALHOST needs the pending `src` fetch).
    static let predefined: [String: ACL] = {
        func constant(_ name: String, _ value: Bool) -> ACL {
            ACL(name: name, criteria: [ACLCriterion(fetch: .method, method: .found, caseInsensitive: false, patterns: [], regexes: [], constant: value)])
        }
        var result = ["TRUE": constant("TRUE", true), "FALSE": constant("FALSE", false)]
        result["HTTP"] = ACL(name: "HTTP", criteria: [ACLCriterion(fetch: .requestProtoHTTP, method: .found, caseInsensitive: false, patterns: [],
                                                                regexes: [], constant: nil)])
        for method in ["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT", "TRACE"] {
            let patterns = method == "GET" ? ["GET", "HEAD"] : [method]
            result["METH_\(method)"] = ACL(name: "METH_\(method)", criteria: [ACLCriterion(fetch: .method, method: .exact, caseInsensitive: false,
                                                                                    patterns: patterns.map { Array($0.utf8) }, regexes: [], constant: nil)])
        }
        // `tcp-request content accept if WAIT_END`: hold the connection for the inspect delay;
        // `REQ_CONTENT`: some bytes came (`req.len gt 0`).
        result["WAIT_END"] = ACL(name: "WAIT_END", criteria: [ACLCriterion(fetch: .waitEnd, method: .found, caseInsensitive: false, patterns: [],
                                                                        regexes: [], constant: nil)])
        result["REQ_CONTENT"] = ACL(name: "REQ_CONTENT", criteria: [ACLCriterion(fetch: .requestLength, method: .exact, caseInsensitive: false,
                                                                              patterns: [Array("0".utf8)], regexes: [], constant: nil,
                                                                              integerOperator: "gt")])
        result["LOCALHOST"] = ACL(name: "LOCALHOST", criteria: [ACLCriterion(fetch: .src, method: .exact, caseInsensitive: false, patterns: [],
                                                                          regexes: [], constant: nil, networks: ["127.0.0.1/8", "::1"])])
        return result
    }()

    /// HAProxy's predefined ACLs on fetches that need the parse's sample compiler (`req.ver`)
    /// or a compiled pattern: made when a condition names them.
    static let predefinedDefinitions: [String: String] = [
        "HTTP_1.0": "req.ver 1.0", "HTTP_1.1": "req.ver 1.1", "HTTP_2.0": "req.ver 2.0",
        "HTTP_URL_ABS": "url_reg ^[^/:]*://", "HTTP_URL_SLASH": "url_beg /", "HTTP_URL_STAR": "url *",
        "RDP_COOKIE": "req.rdp_cookie_cnt gt 0",
    ]

    private static func predefinedOnFetches(_ name: String, sampleCompiler: ACLSampleCompiler?) throws(ParseFailure) -> ACL? {
        guard let definition = predefinedDefinitions[name] else { return nil }
        let words = definition.split(separator: " ").map(String.init)
        return ACL(name: name, criteria: [try criterion(words[...], sampleCompiler: sampleCompiler, ruleProxy: nil)])
    }

    /// Parses `if|unless TERM…` starting at `words.first`, resolving names in `acls`.
    static func condition(_ words: ArraySlice<String>, acls: [String: ACL], sampleCompiler: ACLSampleCompiler? = nil,
                          ruleProxy: String?) throws(ParseFailure) -> Condition {
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
                let crit = try criterion(rest[(i + 1)..<close], sampleCompiler: sampleCompiler, ruleProxy: ruleProxy)
                acl = ACL(name: "{anonymous}", criteria: [crit])
                i = close + 1
            } else {
                var named = acls[word] ?? predefined[word]
                if named == nil { named = try predefinedOnFetches(word, sampleCompiler: sampleCompiler) }
                guard let found = named else {
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

/// `10.0.0.0/8`, `192.0.2.1`, `2001:db8::/32`, `::1`.
func isIPNetwork(_ text: String) -> Bool {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count <= 2 else { return false }
    let address = String(parts[0])
    var v6 = in6_addr()
    let isV6 = inet_pton(AF_INET6, address, &v6) == 1
    guard isIPv4(address) || isV6 else { return false }
    if parts.count == 2 {
        guard let prefix = Int(parts[1]), (0...(isV6 ? 128 : 32)).contains(prefix) else { return isIPv4(String(parts[1])) }
    }
    return true
}

/// A failure inside one line; the section parser adds file, line and keyword.
struct ParseFailure: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
