/// Connection-level rules and client affinity tables: `tcp-request connection|content
/// accept|reject|track-scN`, `tcp-request inspect-delay`, `stick-table`, `stick on|match|
/// store-request`, `http-request track-scN`. Run by the data path (SwiftLBProxy/Stick, TCP).
extension KeywordRegistry {

    static let tcpRuleKeywords: [Keyword] = [
        tcpRule(.connection, .accept, [.frontend, .listen]), tcpRule(.connection, .reject, [.frontend, .listen]),
        tcpRule(.content, .accept, SectionKind.rules), tcpRule(.content, .reject, SectionKind.rules),
        Keyword("tcp-request inspect-delay", SectionKind.rules, usage: "tcp-request inspect-delay TIME") { p, c in
            let delay = try c.time()
            p.withOptions { $0.tcpInspectDelay = delay }
        },
        // HAProxy's delay before a backend's `tcp-response content` rules decide: without
        // such rules (SwiftLB runs none; they are refused) it delays nothing, in HAProxy too.
        Keyword("tcp-response inspect-delay", SectionKind.backSide, usage: "tcp-response inspect-delay TIME") { p, c in
            _ = try c.time()
            p.warn("'tcp-response inspect-delay' has no effect: it delays 'tcp-response content' rules, which SwiftLB does not run (they are refused)")
        },
        Keyword("tcp-request connection expect-proxy", [.frontend, .listen], usage: "tcp-request connection expect-proxy layer4 [if|unless COND]",
                status: expectProxyStatus) { p, c in
            guard c.args.first == "layer4" else { throw ParseFailure("expects 'expect-proxy layer4'") }
            _ = try p.splitCondition(Array(c.args.dropFirst()))
        },
        Keyword("stick-table", SectionKind.rules, usage: "stick-table type ip|ipv6|integer|string [len N] size N [expire TIME] [store DATA,…] [peers NAME] [srvkey name|addr]") { p, c in
            let table = try stickTable(c.args, line: c.line.number)
            switch p.section {
            case .frontend: p.withFrontend { $0.stickTable = table }
            default: p.withBackend { $0.stickTable = table }
            }
        },
        stickRule(.on), stickRule(.match), stickRule(.storeRequest), stickRule(.storeResponse),
        tcpRule(.session, .accept, [.frontend, .listen]), tcpRule(.session, .reject, [.frontend, .listen]),
        // HAProxy's upgrade of a TCP session to HTTP/1 (`proto h2` is refused: an upgraded
        // session speaks HTTP/1).
        Keyword("tcp-request content switch-mode", [.frontend, .listen], usage: "tcp-request content switch-mode http [proto h1] [if|unless COND]") { p, c in
            let (words, condition) = try p.splitCondition(c.args)
            guard words.first == "http" else { throw ParseFailure("expects 'switch-mode http [proto h1]' (only 'http' is a mode to switch to)") }
            let rest = Array(words.dropFirst())
            if rest.count == 2, rest[0] == "proto", rest[1] != "h1" {
                throw ParseFailure("'switch-mode http proto \(rest[1])' is not supported by SwiftLB: an upgraded session speaks HTTP/1 ('proto h1')")
            }
            guard rest.isEmpty || rest == ["proto", "h1"] else { throw ParseFailure("expects 'switch-mode http [proto h1]'") }
            p.withFrontend { $0.tcpRequestRules.append(TCPRule(layer: .content, action: .switchMode, condition: condition, line: c.line.number)) }
        },
    ] + (0...2).flatMap { n in [tcpTrack(.connection, n), tcpTrack(.session, n), tcpTrack(.content, n)] }
      + counterActionKeywords + sampleActionKeywords + (0...2).map { n in
        Keyword("http-request track-sc\(n)", SectionKind.rules, usage: "http-request track-sc\(n) SAMPLE [table NAME] [if|unless COND]") { p, c in
            let (words, condition) = try p.splitCondition(c.args)
            try p.gateFetches(condition)
            try p.addHTTPRule(.track(try tracking(n, words)), condition: condition, line: c.line.number, phase: .request)
        }
    }

    /// `store` data SwiftLB keeps; HAProxy's others (gpc(N), gpt(N) arrays, bytes and error
    /// counters…) are refused.
    static let stickStoreData = ["server_id", "server_key", "gpt0", "gpc0", "gpc0_rate(PERIOD)", "gpc1", "gpc1_rate(PERIOD)", "conn_cur",
                                 "conn_cnt", "conn_rate(PERIOD)", "http_req_cnt", "http_req_rate(PERIOD)"]
    private static let stickRates: Set<Substring> = ["conn_rate", "http_req_rate", "gpc0_rate", "gpc1_rate"]

    static func stickTable(_ words: [String], line: Int) throws(ParseFailure) -> StickTable {
        var args = words[...]
        var table = StickTable(type: "", size: 0, expire: nil, line: line)
        while let word = args.first {
            args = args.dropFirst()
            guard let value = args.first else { throw ParseFailure("'\(word)' expects a value") }
            args = args.dropFirst()
            switch word {
            case "type":
                guard ["ip", "ipv6", "integer", "string"].contains(value) else {
                    throw ParseFailure(value == "binary" ? "stick-table type 'binary' is not supported by SwiftLB (ip, ipv6, integer, string)"
                                                         : "unknown table type '\(value)' (ip, ipv6, integer, string)")
                }
                table.type = value
                if value == "string", args.first == "len" {
                    guard let n = args.dropFirst().first.flatMap({ Int($0) }), (1...Int(UInt32.max)).contains(n) else {
                        throw ParseFailure("'len' expects a number of bytes from 1 to \(UInt32.max)")
                    }
                    table.keyLength = n
                    table.lengthWritten = true
                    args = args.dropFirst(2)
                }
            case "size":
                // HAProxy reads a table's size with binary suffixes: 100k is 102400 entries.
                // HAProxy keeps it in an unsigned int.
                guard let size = parseSize(value, unit: 1024), (1...Int(UInt32.max)).contains(size) else {
                    throw ParseFailure("'size' expects a number of entries from 1 to \(UInt32.max) (k, m, g suffixes)")
                }
                table.size = size
            case "expire":
                guard let d = ConfigDuration(parsing: value) else { throw ParseFailure("'expire' expects a time") }
                table.expire = d
            case "store":
                for data in value.split(separator: ",").map(String.init) {
                    let name = data.prefix { $0 != "(" }
                    if stickRates.contains(name) {
                        guard data.hasSuffix(")"), ConfigDuration(parsing: String(data.dropFirst(name.count + 1).dropLast())) != nil else {
                            throw ParseFailure("'\(name)' expects a period, as in \(name)(10s)")
                        }
                    } else if !["server_id", "server_key", "conn_cur", "conn_cnt", "http_req_cnt", "gpt0", "gpc0", "gpc1"].contains(data) {
                        throw ParseFailure("stick-table store '\(data)' is not supported by SwiftLB (supported: \(stickStoreData.joined(separator: ", ")))")
                    }
                    table.store.append(data)
                }
            case "peers":
                table.peers = value
            case "srvkey":
                guard value == "name" || value == "addr" else { throw ParseFailure("'srvkey' expects 'name' or 'addr'") }
                table.serverKeyIsAddress = value == "addr"
            case "nopurge", "write-to":
                throw ParseFailure("stick-table '\(word)' is not supported by SwiftLB")
            default:
                throw ParseFailure("unknown stick-table argument '\(word)'\(didYouMean(word, in: ["type", "size", "expire", "store", "peers", "srvkey"]))")
            }
        }
        guard !table.type.isEmpty, table.size > 0 else { throw ParseFailure("expects at least 'type ip size N'") }
        return table
    }

    private static func stickRule(_ kind: StickRule.Kind) -> Keyword {
        Keyword("stick \(kind.rawValue)", SectionKind.backSide.subtracting([.defaults]),
                usage: "stick \(kind.rawValue) SAMPLE [table NAME] [if|unless COND]") { p, c in
            let (words, condition) = try p.splitCondition(c.args)
            try p.gateFetches(condition)
            guard let sample = words.first else { throw ParseFailure("expects a sample, e.g. 'stick \(kind.rawValue) src'") }
            var table: String?
            if words.count == 3, words[1] == "table" { table = words[2] } else if words.count != 1 {
                throw ParseFailure("expects 'stick \(kind.rawValue) SAMPLE [table NAME]'")
            }
            let rule = StickRule(kind: kind, sample: sample, table: table, condition: condition, line: c.line.number)
            try p.noteProxyStates(in: rule.sampleExpression)
            p.withBackend { $0.stickRules.append(rule) }
        }
    }

    /// `sc-inc-gpc0(N)`, `sc-inc-gpc1(N)`, `sc-set-gpt0(N) VALUE` in `tcp-request connection|
    /// session|content` (frontends) and `http-request|http-response` rules.
    static let counterActionKeywords: [Keyword] = ["sc-inc-gpc0", "sc-inc-gpc1", "sc-set-gpt0"].flatMap { name in
        [TCPRule.Layer.connection, .session, .content].map { layer in
            Keyword("tcp-request \(layer.rawValue) \(name)", layer == .content ? SectionKind.rules : [.frontend, .listen],
                    usage: "tcp-request \(layer.rawValue) \(name)(SC)\(name == "sc-set-gpt0" ? " VALUE" : "") [if|unless COND]") { p, c in
                let (words, condition) = try p.splitCondition(c.args)
                let action = try counterAction(name, c.words, words)
                try p.addTCPRequestRule(TCPRule(layer: layer, action: .stickCounter, condition: condition, line: c.line.number, counterAction: action))
            }
        } + [HTTPRulePhase.request, .response].map { phase in
            Keyword("\(phase.rawValue) \(name)", SectionKind.proxies,
                    usage: "\(phase.rawValue) \(name)(SC)\(name == "sc-set-gpt0" ? " VALUE" : "") [if|unless COND]") { p, c in
                let (words, condition) = try p.splitCondition(c.args)
                try p.addHTTPRule(.stickCounter(try counterAction(name, c.words, words)), condition: condition, line: c.line.number, phase: phase)
            }
        }
    }

    /// `set-var(SCOPE.NAME) EXPR`, `set-src EXPR`, `set-dst EXPR`, `set-src-port EXPR`,
    /// `set-dst-port EXPR` in `tcp-request connection|session|content` rules.
    static let sampleActionKeywords: [Keyword] = [TCPRule.Layer.connection, .session, .content].flatMap { layer in
        [TCPRule.Action.setVariable, .setSource, .setDestination, .setSourcePort, .setDestinationPort].map { action in
            Keyword("tcp-request \(layer.rawValue) \(action.rawValue)", layer == .content ? SectionKind.rules : [.frontend, .listen],
                    usage: "tcp-request \(layer.rawValue) \(action.rawValue)\(action == .setVariable ? "(SCOPE.NAME)" : "") EXPRESSION [if|unless COND]") { p, c in
                let (words, condition) = try p.splitCondition(c.args)
                guard words.count == 1 else { throw ParseFailure("'\(action.rawValue)' expects one sample expression") }
                var rule = TCPRule(layer: layer, action: action, condition: condition, line: c.line.number)
                rule.expression = words[0]
                if action == .setVariable {
                    guard let word = c.words.dropFirst(2).first(where: { $0.hasPrefix("set-var(") }), word.hasSuffix(")"), word.count > 9 else {
                        throw ParseFailure("expects 'set-var(SCOPE.NAME) EXPRESSION', e.g. set-var(sess.src) src")
                    }
                    let name = String(word.dropFirst(8).dropLast())
                    guard ["proc.", "sess.", "txn.", "req.", "res."].contains(where: name.hasPrefix) else {
                        throw ParseFailure("variable '\(name)' needs a scope: proc., sess., txn., req. or res.")
                    }
                    rule.variable = name
                }
                try p.addTCPRequestRule(rule)
            }
        }
    }

    /// The `(N)` of `sc-inc-gpc0(N)` (0 without it, as in HAProxy) and, for `sc-set-gpt0`, its
    /// value (the words before the condition).
    private static func counterAction(_ name: String, _ line: [String], _ words: [String]) throws(ParseFailure) -> StickCounterAction {
        guard let word = line.dropFirst().first(where: { $0.hasPrefix(name) }) else { throw ParseFailure("expects '\(name)(SC)'") }
        var counter = 0
        if word != name {
            let inside = word.dropFirst(name.count)
            guard inside.hasPrefix("("), inside.hasSuffix(")"), let n = Int(inside.dropFirst().dropLast()), (0...2).contains(n) else {
                throw ParseFailure("'\(word)': expects \(name)(0), \(name)(1) or \(name)(2)")
            }
            counter = n
        }
        if name == "sc-set-gpt0" {
            guard words.count == 1 else { throw ParseFailure("'\(word)' expects one value: an integer or a sample expression") }
            return StickCounterAction(counter: counter, kind: .setGPT0(words[0]))
        }
        guard words.isEmpty else { throw ParseFailure("unexpected '\(words[0])' before the condition") }
        return StickCounterAction(counter: counter, kind: .incrementGPC(name == "sc-inc-gpc0" ? 0 : 1))
    }

    /// `track-scN SAMPLE [table NAME]` (the words before the condition).
    private static func tracking(_ counter: Int, _ words: [String]) throws(ParseFailure) -> StickTracking {
        guard let sample = words.first else { throw ParseFailure("expects a sample, e.g. 'track-sc\(counter) src'") }
        if words.count == 1 { return StickTracking(counter: counter, sample: sample, table: nil) }
        guard words.count == 3, words[1] == "table" else { throw ParseFailure("expects 'track-sc\(counter) SAMPLE [table NAME]'") }
        return StickTracking(counter: counter, sample: sample, table: words[2])
    }

    private static func tcpTrack(_ layer: TCPRule.Layer, _ counter: Int) -> Keyword {
        Keyword("tcp-request \(layer.rawValue) track-sc\(counter)", [.frontend, .listen],
                usage: "tcp-request \(layer.rawValue) track-sc\(counter) SAMPLE [table NAME] [if|unless COND]") { p, c in
            let (words, condition) = try p.splitCondition(c.args)
            try p.gateFetches(condition)
            let rule = TCPRule(layer: layer, action: .track, condition: condition, line: c.line.number, tracking: try tracking(counter, words))
            try p.noteProxyStates(of: rule)
            p.withFrontend { $0.tcpRequestRules.append(rule) }
        }
    }

    private static func tcpRule(_ layer: TCPRule.Layer, _ action: TCPRule.Action, _ sections: Set<SectionKind>) -> Keyword {
        Keyword("tcp-request \(layer.rawValue) \(action.rawValue)", sections, usage: "tcp-request \(layer.rawValue) \(action.rawValue) [if|unless COND]") { p, c in
            let (words, condition) = try p.splitCondition(c.args)
            try p.gateFetches(condition)
            guard words.isEmpty else { throw ParseFailure("unexpected '\(words[0])' before the condition") }
            try p.addTCPRequestRule(TCPRule(layer: layer, action: action, condition: condition, line: c.line.number))
        }
    }

    /// `1m`, `200k`, `1g`, `5000` (`unit` 1000, or 1024 for HAProxy's table sizes).
    /// nil for what is not a number, and for a product too large for an Int.
    static func parseSize(_ text: String, unit: Int = 1000) -> Int? {
        let factors: [Character: Int] = ["k": unit, "m": unit * unit, "g": unit * unit * unit]
        guard let last = text.last, let factor = factors[Character(last.lowercased())] else { return Int(text) }
        guard let number = Int(text.dropLast()) else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: factor)
        return overflow ? nil : product
    }
}

extension SectionParser {
    /// A `tcp-request` rule of this section: a frontend's or `listen`'s run when the connection
    /// or request comes in, a backend's (`content` only, as in HAProxy) once the backend is
    /// chosen. A `listen`'s content rules are its backend half's too: they run when another
    /// frontend routes to it (its own frontend runs them once, as a frontend).
    func addTCPRequestRule(_ rule: TCPRule) throws(ParseFailure) {
        try noteProxyStates(of: rule)
        switch section {
        case .backend: withBackend { $0.tcpRequestRules.append(rule) }
        case .listen:
            withFrontend { $0.tcpRequestRules.append(rule) }
            if rule.layer == .content { withBackend { $0.tcpRequestRules.append(rule) } }
        default: withFrontend { $0.tcpRequestRules.append(rule) }
        }
    }

    func noteProxyStates(of rule: TCPRule) throws(ParseFailure) {
        for expression in rule.sampleExpressions { try noteProxyStates(in: expression) }
    }
}
