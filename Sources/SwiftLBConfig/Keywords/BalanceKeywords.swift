/// `balance ALGORITHM`: which server a new client gets (one balancer per file in SwiftLBProxy).
extension KeywordRegistry {
    static let balanceAlgorithms = ["roundrobin", "leastconn", "source", "random", "first"]
    /// Algorithms HAProxy has and SwiftLB does not.
    static let unsupportedBalance: [String: String] = [
        "static-rr": "use roundrobin", "uri": "not implemented", "hdr": "not implemented",
        "url_param": "not implemented", "rdp-cookie": "not implemented",
    ]

    static let balanceKeywords: [Keyword] = [
        Keyword("balance", SectionKind.backSide, usage: "balance ALGORITHM") { p, c in
            guard let word = c.args.first, c.args.count == 1 else {
                throw ParseFailure("expects one algorithm: \(balanceAlgorithms.joined(separator: ", "))")
            }
            if let algorithm = parseBalance(word) {
                p.withOptions { $0.balance = algorithm }
            } else if let reason = unsupportedBalance[word.split(separator: "(").first.map(String.init) ?? word] {
                throw ParseFailure("algorithm '\(word)': \(reason)")
            } else {
                throw ParseFailure("unknown algorithm '\(word)'\(didYouMean(word, in: balanceAlgorithms)); supported: \(balanceAlgorithms.joined(separator: ", "))")
            }
        },
    ]

    static func parseBalance(_ word: String) -> BalanceAlgorithm? {
        switch word {
        case "roundrobin": return .roundRobin
        case "leastconn": return .leastConn
        case "source": return .source
        case "first": return .first
        case "random": return .random(draws: 2)
        default:
            if word.hasPrefix("random("), word.hasSuffix(")"), let n = Int(word.dropFirst(7).dropLast()), (1...16).contains(n) {
                return .random(draws: n)
            }
            return nil
        }
    }
}
