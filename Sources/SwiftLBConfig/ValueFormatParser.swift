/// Parses header values such as `%[src]`, `https://%[req.hdr(host)]%[path]` or
/// `%{+Q}[ssl_c_s_dn]`.
///
/// The model's fetches are read here; any other `%[…]` (a converter such as `,lower`, a
/// response fetch) is kept as an expression for the rule engine, which compiles it when the
/// runtime is built and refuses what it cannot evaluate with the rule's line. A `%T` log
/// variable is refused here rather than sent out verbatim.
enum ValueFormatParser {
    static let fetches: [String: SampleFetch] = [
        "src": .src, "src_port": .srcPort, "dst": .dst, "dst_port": .dstPort,
        "method": .method, "path": .path, "query": .query, "url": .url, "ssl_fc": .sslFC,
    ]

    static func parse(_ text: String) throws(ParseFailure) -> ValueFormat {
        var parts: [ValueFormat.Part] = []
        var literal = ""
        var rest = Substring(text)
        while let percent = rest.firstIndex(of: "%") {
            literal += rest[..<percent]
            var after = rest[rest.index(after: percent)...]
            if after.hasPrefix("%") {
                literal += "%"
                rest = after.dropFirst()
                continue
            }
            if after.hasPrefix("{"), let end = after.firstIndex(of: "}") {
                // `%{+Q}[ssl_c_s_dn]`: HAProxy 2.6 writes a header value's sample as it is
                // whatever its quoting (+Q) or hex (+X) flag says.
                let flags = after[after.index(after: after.startIndex)..<end].split(separator: ",")
                guard !flags.isEmpty, flags.allSatisfy({ ["+Q", "-Q", "+X", "-X"].contains($0) }) else {
                    throw ParseFailure("unsupported format in '\(text)': of the '%{…}' flags only +Q and +X are supported in a value (they change nothing there, as in HAProxy)")
                }
                after = after[after.index(after: end)...]
            }
            guard after.hasPrefix("["), let close = after.firstIndex(of: "]") else {
                throw ParseFailure("unsupported format in '\(text)': only %[fetch], %{+Q}[fetch] and %% are supported")
            }
            let expr = String(after[after.index(after: after.startIndex)..<close])
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
            parts.append(try part(expr, in: text))
            rest = after[after.index(after: close)...]
        }
        literal += rest
        if !literal.isEmpty { parts.append(.literal(literal)) }
        return ValueFormat(parts: parts)
    }

    private static func part(_ expr: String, in text: String) throws(ParseFailure) -> ValueFormat.Part {
        if let f = fetches[expr] { return .fetch(f) }
        for prefix in ["req.hdr(", "hdr("] where expr.hasPrefix(prefix) && expr.hasSuffix(")") {
            let name = expr.dropFirst(prefix.count).dropLast()
            if !name.isEmpty && !name.contains(",") { return .fetch(.header(name.lowercased())) }
        }
        // `var(txn.name)`: a variable set by an earlier `set-var` (scopes proc, sess, txn, req, res).
        if expr.hasPrefix("var(") && expr.hasSuffix(")") {
            let name = String(expr.dropFirst(4).dropLast())
            let scopes = ["proc.", "sess.", "txn.", "req.", "res."]
            if scopes.contains(where: { name.hasPrefix($0) && name.count > $0.count }) && !name.contains(",") { return .fetch(.variable(name)) }
            if !name.contains(",") { throw ParseFailure("'%[\(expr)]': a variable is named SCOPE.NAME with a scope among proc, sess, txn, req, res") }
        }
        guard !expr.isEmpty else { throw ParseFailure("empty '%[]' in '\(text)'") }
        return .expression(expr)
    }
}
