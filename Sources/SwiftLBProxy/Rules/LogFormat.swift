import SwiftLBConfig

/// A HAProxy log-format string as rules use it — `lf-string`, `set-path`, `set-uri`,
/// `set-query`, `replace-header`'s replacement, `hdr NAME VALUE` of `return`: literal text,
/// `%%`, and `%[sample expression]`. HAProxy's log variables (`%ci`, `%T`…) belong to the
/// access log and are refused here with their name, not printed as text.
struct LogFormat {
    enum Part {
        case literal(String)
        case sample(SampleExpression)
    }

    let parts: [Part]

    /// A format that is only text (no `%`): rendering costs nothing.
    var constant: String? {
        if parts.isEmpty { return "" }
        if parts.count == 1, case .literal(let s) = parts[0] { return s }
        return nil
    }

    init(parts: [Part]) { self.parts = parts }

    /// `owner`: the proxy whose rule it is (what `%[be_conn]` without argument reads).
    init(parsing text: String, owner: String? = nil) throws(SampleExpression.Failure) {
        var parts: [Part] = []
        var literal = ""
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            guard c == "%" else {
                literal.append(c)
                i = text.index(after: i)
                continue
            }
            let next = text.index(after: i)
            guard next < text.endIndex else { throw SampleExpression.Failure(message: "'%' at the end of '\(text)' (write %% for a percent sign)") }
            if text[next] == "%" {
                literal.append("%")
                i = text.index(after: next)
                continue
            }
            guard text[next] == "[" else {
                let name = text[next...].prefix { $0.isLetter || $0.isNumber }
                throw SampleExpression.Failure(message: "log variable '%\(name)' is not supported in a rule's format: use %[fetch] (or %% for a percent sign)")
            }
            // The closing bracket outside parentheses: a regsub() argument may hold one.
            var depth = 0
            var j = text.index(after: next)
            var close: String.Index?
            while j < text.endIndex {
                let d = text[j]
                if d == "\\" {
                    j = text.index(after: j)
                    if j < text.endIndex { j = text.index(after: j) }
                    continue
                }
                if d == "(" { depth += 1 } else if d == ")" { depth -= 1 } else if d == "]" && depth <= 0 { close = j; break }
                j = text.index(after: j)
            }
            guard let close else { throw SampleExpression.Failure(message: "missing ']' in '\(text)'") }
            if !literal.isEmpty { parts.append(.literal(literal)); literal = "" }
            parts.append(.sample(try SampleExpression(parsing: String(text[text.index(after: next)..<close]), owner: owner)))
            i = text.index(after: close)
        }
        if !literal.isEmpty { parts.append(.literal(literal)) }
        self.parts = parts
    }

    /// A header value the configuration already parsed (`set-header NAME %[src]`): its fetches
    /// are the model's, read through the same input so variables and edits are seen.
    init(_ value: ValueFormat, owner: String? = nil) throws(SampleExpression.Failure) {
        var parts: [Part] = []
        for part in value.parts {
            switch part {
            case .literal(let s): parts.append(.literal(s))
            case .fetch(let f): parts.append(.sample(SampleExpression(model: f)))
            case .expression(let text): parts.append(.sample(try SampleExpression(parsing: text, owner: owner)))
            }
        }
        self.parts = parts
    }

    func render(_ input: SampleInput) -> String {
        if let constant { return constant }
        var out = ""
        for part in parts {
            switch part {
            case .literal(let s): out += s
            case .sample(let e): out += Self.encoded(e.evaluate(input)?.text ?? "")
            }
        }
        return out
    }

    /// A sample's text as HAProxy's build_logline writes it into a format (its
    /// `http_encode_map`): control bytes other than TAB, and DEL, as `%XX`. A CR or LF that a
    /// client smuggles through a fetch (`url_param(d),ub64dec`, a header, a variable) would
    /// otherwise end the header line being built and start one of its own — a header, a
    /// Content-Length, a whole response — in what the server or the client receives.
    static func encoded(_ text: String) -> String {
        func escaped(_ b: UInt8) -> Bool { (b < 0x20 && b != 0x09) || b == 0x7F }
        guard text.utf8.contains(where: escaped) else { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + 8)
        for b in text.utf8 {
            if escaped(b) {
                bytes += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 0x0F)]]
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension SampleExpression {
    /// A bare fetch of the configuration model, without converters.
    init(model fetch: SampleFetch) {
        self.fetch = .model(fetch)
        self.converters = []
        self.text = "\(fetch)"
    }
}
