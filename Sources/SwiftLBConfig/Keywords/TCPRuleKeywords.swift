/// Connection-level rules and client affinity tables: `tcp-request connection|content
/// accept|reject`, `tcp-request inspect-delay`, `stick-table type ip`, `stick on src`.
/// The tcp-request rules of frontends are run by the data path; stick tables are pending.
extension KeywordRegistry {
    static let backendTCPRuleStatus = KeywordStatus.pending("tcp-request rules run in frontends and listen sections; a backend's are not run yet")
    static let stickTableStatus = KeywordStatus.pending("stick tables are not implemented; 'cookie … insert' or 'balance source' keep clients on a server statelessly (both VIP instances agree)")

    static let tcpRuleKeywords: [Keyword] = [
        tcpRule(.connection, .accept, [.frontend, .listen]), tcpRule(.connection, .reject, [.frontend, .listen]),
        tcpRule(.content, .accept, SectionKind.rules), tcpRule(.content, .reject, SectionKind.rules),
        Keyword("tcp-request inspect-delay", SectionKind.rules, usage: "tcp-request inspect-delay TIME") { p, c in
            let delay = try c.time()
            p.withOptions { $0.tcpInspectDelay = delay }
        },
        Keyword("tcp-request connection expect-proxy", [.frontend, .listen], usage: "tcp-request connection expect-proxy layer4 [if|unless COND]",
                status: expectProxyStatus) { p, c in
            guard c.args.first == "layer4" else { throw ParseFailure("expects 'expect-proxy layer4'") }
            _ = try p.splitCondition(Array(c.args.dropFirst()))
        },
        Keyword("stick-table", SectionKind.rules, usage: "stick-table type ip size N [expire TIME] [store …]", status: stickTableStatus) { p, c in
            var args = c.args[...]
            var table = StickTable(type: "", size: 0, expire: nil, line: c.line.number)
            while let word = args.first {
                args = args.dropFirst()
                guard let value = args.first else { throw ParseFailure("'\(word)' expects a value") }
                args = args.dropFirst()
                switch word {
                case "type":
                    guard ["ip", "ipv6", "integer", "string", "binary"].contains(value) else { throw ParseFailure("unknown table type '\(value)'") }
                    table.type = value
                    if value == "string" || value == "binary", args.first == "len" { args = args.dropFirst(2) }
                case "size":
                    guard let size = parseSize(value), size > 0 else { throw ParseFailure("'size' expects a number of entries (k, m, g suffixes)") }
                    table.size = size
                case "expire":
                    guard let d = ConfigDuration(parsing: value) else { throw ParseFailure("'expire' expects a time") }
                    table.expire = d
                case "store": table.store = value.split(separator: ",").map(String.init)
                case "peers", "nopurge", "srvkey":
                    throw ParseFailure("stick-table '\(word)' is not supported by SwiftLB")
                default:
                    throw ParseFailure("unknown stick-table argument '\(word)'\(didYouMean(word, in: ["type", "size", "expire", "store"]))")
                }
            }
            guard !table.type.isEmpty, table.size > 0 else { throw ParseFailure("expects at least 'type ip size N'") }
            let done = table
            p.withBackend { $0.stickTable = done }
        },
        Keyword("stick on", SectionKind.backSide.subtracting([.defaults]), usage: "stick on SAMPLE [table NAME] [if|unless COND]", status: stickTableStatus) { p, c in
            let (words, condition) = try p.splitCondition(c.args)
            guard let sample = words.first else { throw ParseFailure("expects a sample, e.g. 'stick on src'") }
            var table: String?
            if words.count == 3, words[1] == "table" { table = words[2] } else if words.count != 1 { throw ParseFailure("expects 'stick on SAMPLE [table NAME]'") }
            p.withBackend { $0.stickRules.append(StickRule(sample: sample, table: table, condition: condition, line: c.line.number)) }
        },
    ]

    private static func tcpRule(_ layer: TCPRule.Layer, _ action: TCPRule.Action, _ sections: Set<SectionKind>) -> Keyword {
        Keyword("tcp-request \(layer.rawValue) \(action.rawValue)", sections, usage: "tcp-request \(layer.rawValue) \(action.rawValue) [if|unless COND]") { p, c in
            if p.section.kind == .backend { try p.gate(backendTCPRuleStatus, "'tcp-request \(layer.rawValue)' in a backend") }
            let (words, condition) = try p.splitCondition(c.args)
            try p.gateFetches(condition)
            guard words.isEmpty else { throw ParseFailure("unexpected '\(words[0])' before the condition") }
            let rule = TCPRule(layer: layer, action: action, condition: condition, line: c.line.number)
            switch p.section {
            case .frontend, .listen: p.withFrontend { $0.tcpRequestRules.append(rule) }
            default: p.withBackend { $0.tcpRequestRules.append(rule) }
            }
        }
    }

    /// `1m`, `200k`, `1g`, `5000`.
    static func parseSize(_ text: String) -> Int? {
        let factors: [Character: Int] = ["k": 1_000, "m": 1_000_000, "g": 1_000_000_000]
        if let last = text.last, let factor = factors[Character(last.lowercased())] { return Int(text.dropLast()).map { $0 * factor } }
        return Int(text)
    }
}
