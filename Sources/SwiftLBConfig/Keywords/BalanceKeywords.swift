/// `balance ALGORITHM`: which server a new client gets (one balancer per file in SwiftLBProxy).
extension KeywordRegistry {
    static let balanceAlgorithms = ["roundrobin", "static-rr", "leastconn", "source", "random", "first", "uri", "url_param", "hdr(NAME)",
                                    "rdp-cookie[(NAME)]"]
    /// Algorithms HAProxy has and SwiftLB does not.
    static let unsupportedBalance: [String: String] = [
        "hash": "'balance hash EXPRESSION' is not implemented: use uri, url_param or hdr(NAME)",
    ]

    static let balanceKeywords: [Keyword] = [
        Keyword("balance", SectionKind.backSide, usage: "balance ALGORITHM [OPTIONS]") { p, c in
            guard let word = c.args.first else {
                throw ParseFailure("expects an algorithm: \(balanceAlgorithms.joined(separator: ", "))")
            }
            let options = Array(c.args.dropFirst())
            if let algorithm = try parseBalance(word, options: options, warn: { p.remark($0) }) {
                p.withOptions { $0.balance = algorithm }
            } else if let reason = unsupportedBalance[word.split(separator: "(").first.map(String.init) ?? word] {
                throw ParseFailure("algorithm '\(word)': \(reason)")
            } else {
                throw ParseFailure("unknown algorithm '\(word)'\(didYouMean(word, in: balanceAlgorithms)); supported: \(balanceAlgorithms.joined(separator: ", "))")
            }
        },
    ]

    /// The algorithm `word` names with its `options`; nil when SwiftLB has no such algorithm.
    static func parseBalance(_ word: String, options: [String] = [], warn: (String) -> Void = { _ in }) throws -> BalanceAlgorithm? {
        func noOptions(_ algorithm: BalanceAlgorithm) throws -> BalanceAlgorithm {
            guard options.isEmpty else { throw ParseFailure("'\(word)' takes no options, got '\(options.joined(separator: " "))'") }
            return algorithm
        }
        switch word {
        case "roundrobin": return try noOptions(.roundRobin)
        // HAProxy's static round robin differs only in that weights cannot change at run
        // time; SwiftLB's round robin spreads the same way.
        case "static-rr": return try noOptions(.roundRobin)
        case "leastconn": return try noOptions(.leastConn)
        case "source": return try noOptions(.source)
        case "first": return try noOptions(.first)
        case "random": return try noOptions(.random(draws: 2))
        // HAProxy's default cookie name: the one Microsoft's clients send.
        case "rdp-cookie": return try noOptions(.rdpCookie("mstshash"))
        case "uri": return .requestHash(try uriOptions(options))
        case "url_param":
            guard let name = options.first, !name.isEmpty else { throw ParseFailure("'url_param' expects a parameter name") }
            // `check_post [MAX_WAIT]`: HAProxy's documented example still writes the old
            // max_wait number after it, which HAProxy reads and ignores.
            let extra = Array(options.dropFirst())
            if let first = extra.first {
                guard first == "check_post", extra.count == 1 || (extra.count == 2 && Int(extra[1]) != nil) else {
                    throw ParseFailure("'url_param \(name)': unknown option '\(extra.joined(separator: " "))' (check_post [MAX_WAIT] is the only one)")
                }
                warn("'balance url_param \(name) check_post': SwiftLB hashes the query string only, not a POST body (a request without the parameter is balanced round robin)")
            }
            return .requestHash(.urlParameter(name))
        default:
            if word.hasPrefix("random("), word.hasSuffix(")"), let n = Int(word.dropFirst(7).dropLast()), (1...16).contains(n) {
                return try noOptions(.random(draws: n))
            }
            if word.hasPrefix("rdp-cookie(") && word.hasSuffix(")") {
                let name = String(word.dropFirst(11).dropLast())
                guard !name.isEmpty else { throw ParseFailure("balance rdp-cookie : missing cookie name.") }
                return try noOptions(.rdpCookie(name))
            }
            if word.hasPrefix("hdr(") && word.hasSuffix(")") {
                let name = String(word.dropFirst(4).dropLast())
                guard !name.isEmpty else { throw ParseFailure("'hdr()' expects a header name: hdr(Host)") }
                var domainOnly = false
                for option in options {
                    guard option == "use_domain_only" else { throw ParseFailure("'\(word)': unknown option '\(option)' (use_domain_only is the only one)") }
                    domainOnly = true
                }
                return .requestHash(.header(name.lowercased(), domainOnly: domainOnly))
            }
            return nil
        }
    }

    /// `balance uri [len N] [depth N] [whole] [path-only]`.
    private static func uriOptions(_ options: [String]) throws -> RequestHashKey {
        var length: Int?, depth: Int?, whole = false, pathOnly = false
        var i = 0
        while i < options.count {
            switch options[i] {
            case "len", "depth":
                guard i + 1 < options.count, let n = Int(options[i + 1]), n > 0 else {
                    throw ParseFailure("'uri \(options[i])' expects a positive number")
                }
                if options[i] == "len" { length = n } else { depth = n }
                i += 2
            case "whole": whole = true; i += 1
            case "path-only": pathOnly = true; i += 1
            default: throw ParseFailure("'uri': unknown option '\(options[i])' (len N, depth N, whole, path-only)")
            }
        }
        return .uri(length: length, depth: depth, whole: whole, pathOnly: pathOnly)
    }
}
