/// Which server a request goes to beyond the balancer, as HAProxy 2.6 words it:
/// `use-server`, `force-persist`, `ignore-persist`, `option persist`, `persist rdp-cookie`,
/// `option prefer-last-server`, `http-send-name-header` and `source` (PersistenceModel.swift).
extension KeywordRegistry {
    static let persistKeywords: [Keyword] = [
        // HAProxy 2.6 requires the name (the docs' default `X-Server-Name` is refused there too).
        Keyword("http-send-name-header", SectionKind.backSide, usage: "http-send-name-header NAME") { p, c in
            guard let name = c.args.first else { throw ParseFailure("'http-send-name-header' requires a header string") }
            guard c.args.count == 1, isHeaderToken(name) else { throw ParseFailure("expects one header name, not '\(c.args.joined(separator: " "))'") }
            p.withOptions { $0.sendNameHeader = name.lowercased() }
        },
        // HAProxy reads it with strtol (base 0: `0x10`, `010` octal) and -1 turns it off.
        Keyword("max-keep-alive-queue", SectionKind.backSide, usage: "max-keep-alive-queue N") { p, c in
            guard let text = c.args.first, !text.isEmpty else {
                throw ParseFailure("'max-keep-alive-queue' expects expects an integer value (or -1 to disable)")
            }
            let (value, rest) = cInteger(text)
            if let bad = rest.first { throw ParseFailure("'max-keep-alive-queue' : unexpected character '\(bad)' in integer value '\(text)'") }
            p.withOptions { $0.maxKeepAliveQueue = value == -1 ? nil : value }
        },
        // HAProxy's messages; `msts` is its default name (what a session broker writes).
        Keyword("persist", SectionKind.backSide, usage: "persist rdp-cookie[(NAME)]") { p, c in
            guard let method = c.args.first else { throw ParseFailure("missing persist method.") }
            guard method.hasPrefix("rdp-cookie") else { throw ParseFailure("unknown persist method.") }
            var name = "msts"
            if method.dropFirst(10).first == "(" {
                guard let close = method.firstIndex(of: ")"), method.index(method.startIndex, offsetBy: 11) < close else {
                    throw ParseFailure("persist rdp-cookie(name)' requires an rdp cookie name.")
                }
                name = String(method[method.index(method.startIndex, offsetBy: 11)..<close])
            }
            p.withOptions { $0.rdpCookiePersistence = name }
        },
    ] + [("prefer-last-server", \ProxyOptions.preferLastServer), ("persist", \ProxyOptions.persist)].map { name, option in
        Keyword("option \(name)", SectionKind.backSide, usage: "[no] option \(name)", negatable: true) { p, c in
            try c.noArguments()
            p.withOptions { $0[keyPath: option] = !c.negated }
        }
    } + [
        Keyword("use-server", [.backend, .listen], usage: "use-server NAME if|unless CONDITION") { p, c in
            guard let name = c.args.first else { throw ParseFailure("'use-server' expects a server name") }
            guard c.args.count > 1, c.args[1] == "if" || c.args[1] == "unless" else {
                throw ParseFailure("'use-server' requires either 'if' or 'unless' followed by a condition")
            }
            let condition = try ACLParser.condition(c.args.dropFirst(), acls: p.acls, sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy)
            try p.gateFetches(condition)
            // The server may be declared further down: its name is checked with the backend.
            p.withBackend { $0.serverSelectionRules.append(ServerSelectionRule(server: name, condition: condition, line: c.line.number)) }
        },
    ] + [PersistenceRule.Kind.force, .ignore].map { kind in
        Keyword(kind.rawValue, [.backend, .listen], usage: "\(kind.rawValue) if|unless CONDITION") { p, c in
            guard let first = c.args.first, first == "if" || first == "unless" else {
                throw ParseFailure("'\(kind.rawValue)' requires either 'if' or 'unless' followed by a condition")
            }
            let condition = try ACLParser.condition(c.args[...], acls: p.acls, sampleCompiler: p.facts.sampleCompiler, ruleProxy: p.ruleProxy)
            try p.gateFetches(condition)
            p.withBackend { $0.persistenceRules.append(PersistenceRule(kind: kind, condition: condition, line: c.line.number)) }
        }
    } + [
        Keyword("source", SectionKind.backSide, usage: "source ADDR[:PORT]") { p, c in
            guard let text = c.args.first else {
                throw ParseFailure("'source' expects <addr>[:<port>], and optionally 'usesrc' <addr>, and 'interface' <name>")
            }
            let source = try sourceAddress(text)
            if c.args.count > 1 { try refuseSourceOptions(Array(c.args.dropFirst())) }
            p.withOptions { $0.source = source }
        },
        Keyword("usesrc", SectionKind.backSide, usage: "source ADDR usesrc …") { _, _ in
            throw ParseFailure("'usesrc' only allowed after a 'source' statement")
        },
    ]

    /// `ADDR`, `ADDR:PORT` or `[IPv6]:PORT`, an IP literal (no port: any).
    static func sourceAddress(_ text: String) throws(ParseFailure) -> SourceAddress {
        var (host, port) = (text, 0)
        if text.hasPrefix("[") || text.filter({ $0 == ":" }).count == 1 {
            // Port 0 (any) is valid here, unlike a server's: read it apart.
            let zero = text.hasSuffix(":0")
            guard let (h, n) = parseAddress(zero ? String(text.dropLast()) + "1" : text) else {
                throw ParseFailure("'source \(text)': expected ADDR or ADDR:PORT (a port range is not supported by SwiftLB)")
            }
            (host, port) = (h, zero ? 0 : n)
        }
        guard IPNetwork.bytes(host) != nil else { throw ParseFailure("'source \(text)': SwiftLB expects an IP address here, not '\(host)'") }
        guard (0...65535).contains(port) else { throw ParseFailure("'source \(text)': invalid port") }
        return SourceAddress(host: host, port: port)
    }

    /// What may follow `source ADDR`: HAProxy's transparent-proxy and interface binding, which
    /// SwiftLB does not do (they need CAP_NET_ADMIN and policy routing; a silent plain bind
    /// would send the server another address than the operator asked for).
    static func refuseSourceOptions(_ words: [String]) throws(ParseFailure) {
        switch words[0] {
        case "usesrc":
            throw ParseFailure("'source … usesrc' (transparent proxying: connecting from the client's or another foreign address) is not supported by SwiftLB; write 'source ADDR[:PORT]' alone")
        case "interface":
            throw ParseFailure("'source … interface' (SO_BINDTODEVICE) is not supported by SwiftLB; write 'source ADDR[:PORT]' alone")
        default:
            throw ParseFailure("'source' only supports optional keywords 'interface' and 'usesrc', not '\(words[0])'")
        }
    }
}

/// strtol with base 0 as HAProxy reads some numbers: blanks, a sign, then `0x` hex, a leading
/// `0` octal, else decimal; the value and what follows the digits.
func cInteger(_ text: String) -> (Int, Substring) {
    var rest = text.drop { $0 == " " || $0 == "\t" }
    var sign = 1
    if let s = rest.first, s == "-" || s == "+" {
        sign = s == "-" ? -1 : 1
        rest = rest.dropFirst()
    }
    var radix = 10
    if rest.hasPrefix("0x") || rest.hasPrefix("0X"), let d = rest.dropFirst(2).first, d.isHexDigit {
        radix = 16
        rest = rest.dropFirst(2)
    } else if rest.hasPrefix("0") {
        radix = 8
    }
    let digits = rest.prefix { $0.hexDigitValue.map { $0 < radix } ?? false }
    // strtol's range: a value past it is LONG_MAX or LONG_MIN (ERANGE), never a wrap.
    var magnitude: UInt = 0, overflow = false
    for digit in digits where !overflow {
        let (shifted, o1) = magnitude.multipliedReportingOverflow(by: UInt(radix))
        let (sum, o2) = shifted.addingReportingOverflow(UInt(digit.hexDigitValue ?? 0))
        (magnitude, overflow) = (sum, o1 || o2)
    }
    let value: Int
    if sign > 0 {
        value = overflow || magnitude > UInt(Int.max) ? .max : Int(magnitude)
    } else {
        value = overflow || magnitude > UInt(Int.max) + 1 ? .min : Int(truncatingIfNeeded: 0 &- magnitude)
    }
    // No digits at all: strtol reads nothing and leaves the whole text.
    return digits.isEmpty && radix != 8 ? (0, text[...]) : (value, rest.dropFirst(digits.count))
}
