import SwiftLBConfig
import SwiftLBRegex

/// A HAProxy sample expression — a fetch and a chain of converters, `req.hdr(host),lower` — as
/// `set-var(…)` takes it and `%[…]` embeds it. Compiled once from the text lb.conf keeps
/// (the model stores these as written), evaluated per request without parsing.
///
/// The fetches and converters are the ones haproxy.cfg files and HAProxy's reg-tests use with
/// HTTP rules; any other is refused when the rules are compiled, naming it, never evaluated as
/// empty.
struct SampleExpression {
    enum Fetch {
        /// A fetch the configuration model already names (src, path, req.hdr(x)…).
        case model(SampleFetch)
        case constant(SampleValue)
        /// `var(scope.name[,default])`.
        case variable(String, default: String?)
        /// `req.hdr(name[,occ])` (split at commas) or `req.fhdr(name[,occ])` (whole lines);
        /// occurrence nil: the last one, as HAProxy's fetches return.
        case requestHeader(String, occurrence: Int?, full: Bool)
        case responseHeader(String, occurrence: Int?, full: Bool)
        case requestHeaderCount(String)
        case responseHeaderCount(String)
        /// `req.cook(name)`: a cookie's value.
        case cookie(String)
        /// `res.cook(name)`, `scook(name)`: the value a response's last `Set-Cookie: name=…` sets.
        case responseCookie(String)
        case urlParameter(String)
        /// `status`, `req.ver`, `res.ver`, `base`, `fe_name`, `be_name`.
        case status, requestVersion, responseVersion, base, frontendName, backendName
        /// `fc_pp_unique_id`, `fc_pp_authority`: a TLV of the PROXY v2 header the client
        /// connection came with.
        case proxyTLV(UInt8)
        /// `pathq`: the path with its query (an absolute-form target's from its path on).
        case pathQuery
        /// `http_first_req`: the request is its client connection's first (a boolean).
        case firstRequest
        /// `capture.req.hdr(N)`: request capture slot N.
        case capturedRequest(Int)
        /// `fc_src`, `fc_dst`, `fc_src_port`, `fc_dst_port`: the client connection's ends.
        case frontConnection(destination: Bool, port: Bool)
        /// `internal.strm.is_htx`: the stream is HTTP (false while a tcp session is inspected).
        case isHTTPStream
        /// `req.hdr_ip(NAME[,OCC])` / `hdr_ip`: the address a request header holds.
        case requestHeaderIP(String, occurrence: Int?)
        /// `nbsrv(be)`, `be_conn`, `srv_is_up(be/s1)`…: a proxy's or server's state
        /// (ProxyStates.swift), an integer (`srv_is_up` a boolean).
        case proxyState(ProxyStateFetch)
    }

    enum Converter {
        case lower, upper, length, hex, base64
        /// `hex2i`: hex digits to an integer; any other byte fails the conversion (HAProxy).
        case hex2i
        /// `sha1`, `sha2`, `b64dec`, `crc32`, `djb2`, `xxh64`…: SampleConverters.swift.
        case bytes(ByteConverter)
        /// `map_<match>[_<output>](FILE[,DEFAULT])`.
        case map(SampleMap)
        case field(index: Int, delimiters: Set<UInt8>, count: Int)
        case word(index: Int, delimiters: Set<UInt8>, count: Int)
        case concat(prefix: String, variable: String?, suffix: String)
        case regsub(PCRE2Regex, replacement: String, global: Bool)
        case arithmetic(Operation, Operand)
        case not, bool
        case iif(String, String)
        /// `ipmask(MASK4[,MASK6])`.
        case ipMask(IPMask)
        /// `strcmp(VAR)` / `secure_memcmp(VAR)`: SampleConverters.swift.
        case compare(VariableComparison)
    }

    enum Operation { case add, sub, mul, div, mod }
    enum Operand {
        case constant(Int)
        case variable(String)
    }

    let fetch: Fetch
    let converters: [Converter]
    let text: String

    /// Why an expression was refused: names the part.
    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    // MARK: parsing

    /// `owner`: the proxy whose rule holds it, what a state fetch without argument (`be_conn`)
    /// reads, as HAProxy fills the argument when it loads the file; nil: the proxy running it.
    init(parsing text: String, owner: String? = nil) throws(Failure) {
        self.text = text
        let elements = Self.splitTopLevel(text)
        guard let first = elements.first, !first.isEmpty else { throw Failure(message: "empty sample expression") }
        let (name, args) = try Self.call(first)
        let state: ProxyStateFetch?
        do { state = try ProxyStateFetch(expressionFetch: name, arguments: args, owner: owner) } catch { throw Failure(message: error.message) }
        if let state { fetch = .proxyState(state) } else { fetch = try Self.fetch(name, args) }
        var converters: [Converter] = []
        for element in elements.dropFirst() {
            let (name, args) = try Self.call(element)
            converters.append(try Self.converter(name, args))
        }
        self.converters = converters
    }

    /// `name(a,b)` → ("name", ["a", "b"]); `name` → ("name", []).
    private static func call(_ element: Substring) throws(Failure) -> (String, [String]) {
        let element = element.trimmingBlanks()
        guard let open = element.firstIndex(of: "(") else { return (element, []) }
        guard element.hasSuffix(")") else { throw Failure(message: "missing ')' in '\(element)'") }
        let name = String(element[..<open])
        let inside = element[element.index(after: open)..<element.index(before: element.endIndex)]
        return (name, splitArguments(inside))
    }

    /// Splits at commas outside parentheses (the fetch and each converter).
    static func splitTopLevel(_ text: String) -> [Substring] {
        var parts: [Substring] = []
        var depth = 0
        var start = text.startIndex
        var i = text.startIndex
        var escaped = false
        while i < text.endIndex {
            let c = text[i]
            if escaped {
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else if c == "(" {
                depth += 1
            } else if c == ")" {
                depth = max(0, depth - 1)
            } else if c == "," && depth == 0 {
                parts.append(text[start..<i])
                start = text.index(after: i)
            }
            i = text.index(after: i)
        }
        parts.append(text[start...])
        return parts
    }

    /// Arguments: commas separate, a backslash escapes the next character, quotes group.
    static func splitArguments(_ text: Substring) -> [String] {
        var args: [String] = []
        var current = ""
        var quote: Character?
        var i = text.startIndex
        while i < text.endIndex {
            let c = text[i]
            if let q = quote {
                if c == q { quote = nil } else { current.append(c) }
            } else if c == "\\" {
                let next = text.index(after: i)
                if next < text.endIndex {
                    let n = text[next]
                    // `\,` `\)` `\\` `\"` are escapes; any other pair stays (a regex's `\d`).
                    if n == "," || n == ")" || n == "(" || n == "\\" || n == "\"" || n == "'" {
                        current.append(n)
                    } else {
                        current.append(c)
                        current.append(n)
                    }
                    i = text.index(after: next)
                    continue
                }
                current.append(c)
            } else if c == "\"" || c == "'" {
                quote = c
            } else if c == "," {
                args.append(current)
                current = ""
            } else {
                current.append(c)
            }
            i = text.index(after: i)
        }
        args.append(current)
        return args
    }

    private static let modelFetches: [String: SampleFetch] = [
        "src": .src, "src_port": .srcPort, "dst": .dst, "dst_port": .dstPort,
        "method": .method, "path": .path, "query": .query, "url": .url, "ssl_fc": .sslFC,
        "ssl_fc_sni": .sslFCSNI, "src_conn_cur": .srcConnCur, "capture.req.uri": .capturedURI,
    ]

    /// The fetches `%[…]` and `set-var` accept, for messages.
    static let fetchNames = (Array(modelFetches.keys) + [
        "base", "be_name", "bool", "cook", "fe_name", "hdr", "hdr_cnt", "int", "req.cook", "req.fhdr", "req.hdr", "req.hdr_cnt",
        "req.ver", "req_ver", "res.cook", "res.fhdr", "res.hdr", "res.hdr_cnt", "res.ver", "scook", "shdr", "status", "str", "url_param", "urlp", "var",
        "http_first_req", "capture.req.hdr", "pathq", "fc_pp_unique_id", "fc_pp_authority",
        "fc_src", "fc_dst", "fc_src_port", "fc_dst_port", "ipv4", "ipv6", "internal.strm.is_htx", "hdr_ip", "req.hdr_ip",
    ] + TLSFetch.names + ProxyStateFetch.Kind.allCases.map(\.rawValue)).sorted()

    private static func fetch(_ name: String, _ args: [String]) throws(Failure) -> Fetch {
        func needs(_ n: ClosedRange<Int>) throws(Failure) {
            guard n.contains(args.count), args.first.map({ !$0.isEmpty }) ?? (n.lowerBound == 0) else {
                throw Failure(message: "fetch '\(name)' expects \(n.lowerBound == n.upperBound ? "\(n.lowerBound)" : "\(n.lowerBound) to \(n.upperBound)") argument(s)")
            }
        }
        func occurrence() throws(Failure) -> Int? {
            guard args.count == 2 else { return nil }
            guard let n = Int(args[1]), n != 0 else { throw Failure(message: "'\(name)': the occurrence must be a non-zero number") }
            return n
        }
        if let f = modelFetches[name] ?? TLSFetch(name: name).map({ .tls($0) }) {
            try needs(0...0)
            return .model(f)
        }
        switch name {
        // `str()`: the empty string (HAProxy accepts an empty argument here).
        case "str":
            if args.count != 1 { try needs(1...1) }
            return .constant(.string(args.first ?? ""))
        case "int":
            try needs(1...1)
            guard let v = Int(args[0]) else { throw Failure(message: "'int' expects a number, not '\(args[0])'") }
            return .constant(.integer(v))
        case "bool":
            try needs(1...1)
            guard let v = Int(args[0]) else { throw Failure(message: "'bool' expects 0 or 1") }
            return .constant(.boolean(v != 0))
        case "var":
            try needs(1...2)
            guard VariableScope.split(args[0]) != nil else { throw Failure(message: "'var(\(args[0]))': expects SCOPE.NAME with scope proc, sess, txn, req or res") }
            return .variable(args[0], default: args.count == 2 ? args[1] : nil)
        case "hdr", "req.hdr": try needs(1...2); return .requestHeader(args[0].lowercased(), occurrence: try occurrence(), full: false)
        case "req.fhdr": try needs(1...2); return .requestHeader(args[0].lowercased(), occurrence: try occurrence(), full: true)
        case "res.hdr", "shdr": try needs(1...2); return .responseHeader(args[0].lowercased(), occurrence: try occurrence(), full: false)
        case "res.fhdr": try needs(1...2); return .responseHeader(args[0].lowercased(), occurrence: try occurrence(), full: true)
        case "hdr_cnt", "req.hdr_cnt": try needs(1...1); return .requestHeaderCount(args[0].lowercased())
        case "hdr_ip", "req.hdr_ip": try needs(1...2); return .requestHeaderIP(args[0].lowercased(), occurrence: try occurrence())
        case "res.hdr_cnt": try needs(1...1); return .responseHeaderCount(args[0].lowercased())
        case "req.cook", "cook": try needs(1...1); return .cookie(args[0])
        case "res.cook", "scook": try needs(1...1); return .responseCookie(args[0])
        case "url_param", "urlp": try needs(1...1); return .urlParameter(args[0])
        case "status": try needs(0...0); return .status
        case "req.ver", "req_ver": try needs(0...0); return .requestVersion
        case "res.ver", "resp_ver": try needs(0...0); return .responseVersion
        case "base": try needs(0...0); return .base
        case "fe_name": try needs(0...0); return .frontendName
        case "be_name": try needs(0...0); return .backendName
        case "http_first_req": try needs(0...0); return .firstRequest
        case "fc_src", "fc_dst", "fc_src_port", "fc_dst_port":
            try needs(0...0)
            return .frontConnection(destination: name.hasPrefix("fc_dst"), port: name.hasSuffix("_port"))
        case "internal.strm.is_htx": try needs(0...0); return .isHTTPStream
        case "ipv4", "ipv6":
            try needs(1...1)
            guard let bytes = IPNetwork.bytes(args[0]), name == "ipv6" || bytes.count == 4 else {
                throw Failure(message: "'\(name)' expects an \(name == "ipv4" ? "IPv4" : "IPv6") address, not '\(args[0])'")
            }
            return .constant(.string(args[0]))
        case "pathq": try needs(0...0); return .pathQuery
        case "fc_pp_unique_id": try needs(0...0); return .proxyTLV(ProxyHeader.TLVType.uniqueID)
        case "fc_pp_authority": try needs(0...0); return .proxyTLV(ProxyHeader.TLVType.authority)
        case "capture.req.hdr":
            try needs(1...1)
            guard let slot = Int(args[0]), slot >= 0 else { throw Failure(message: "'capture.req.hdr' expects a capture slot number") }
            return .capturedRequest(slot)
        default:
            // Stick counters: `sc_get_gpc0(0)`, `sc0_inc_gpc0`, `src_http_req_rate(t)`…
            switch StickFetchParser.stickFetch(args.isEmpty ? name : "\(name)(\(args.joined(separator: ",")))") {
            case .success(let f?): return .model(f)
            case .failure(let e): throw Failure(message: e.message)
            case .success(nil): break
            }
            throw Failure(message: "sample fetch '\(name)' is not supported by SwiftLB's rules (supported: \(fetchNames.joined(separator: ", ")))")
        }
    }

    static let converterNames = (["add", "base64", "bool", "concat", "div", "field", "hex", "hex2i", "iif", "ipmask", "length", "lower", "map_*", "mod",
                                  "mul", "not", "regsub", "secure_memcmp", "strcmp", "sub", "upper", "word"] + ByteConverter.names).sorted()

    private static func converter(_ name: String, _ args: [String]) throws(Failure) -> Converter {
        func noArgs() throws(Failure) { guard args.isEmpty else { throw Failure(message: "converter '\(name)' takes no argument") } }
        func delimiters(_ text: String) -> Set<UInt8> { Set(text.utf8) }
        func fieldArgs() throws(Failure) -> (Int, Set<UInt8>, Int) {
            guard (2...3).contains(args.count), let index = Int(args[0]), index != 0, !args[1].isEmpty else {
                throw Failure(message: "'\(name)' expects INDEX,DELIMITERS[,COUNT] (index non-zero)")
            }
            let count = args.count == 3 ? Int(args[2]) : 1
            guard let count, count >= 0 else { throw Failure(message: "'\(name)': the count must be 0 or more") }
            return (index, delimiters(args[1]), count)
        }
        switch name {
        case "lower": try noArgs(); return .lower
        case "upper": try noArgs(); return .upper
        case "length", "len": try noArgs(); return .length
        case "hex": try noArgs(); return .hex
        case "hex2i": try noArgs(); return .hex2i
        case "base64": try noArgs(); return .base64
        case "not": try noArgs(); return .not
        case "bool": try noArgs(); return .bool
        case "field": let (i, d, c) = try fieldArgs(); return .field(index: i, delimiters: d, count: c)
        case "word": let (i, d, c) = try fieldArgs(); return .word(index: i, delimiters: d, count: c)
        case "concat":
            guard (1...3).contains(args.count) else { throw Failure(message: "'concat' expects PREFIX[,VARIABLE[,SUFFIX]]") }
            let variable = args.count >= 2 && !args[1].isEmpty ? args[1] : nil
            if let variable, VariableScope.split(variable) == nil { throw Failure(message: "'concat': '\(variable)' is not SCOPE.NAME") }
            return .concat(prefix: args[0], variable: variable, suffix: args.count == 3 ? args[2] : "")
        case "regsub":
            guard (2...3).contains(args.count) else { throw Failure(message: "'regsub' expects REGEX,SUBSTITUTION[,FLAGS]") }
            let flags = args.count == 3 ? args[2] : ""
            guard flags.allSatisfy({ $0 == "g" || $0 == "i" }) else { throw Failure(message: "'regsub' flags are g and i") }
            do {
                return .regsub(try PCRE2Regex(args[0], caseInsensitive: flags.contains("i")), replacement: args[1], global: flags.contains("g"))
            } catch {
                throw Failure(message: "'regsub': invalid regular expression '\(args[0])': \(error)")
            }
        case "add", "sub", "mul", "div", "mod":
            guard args.count == 1 else { throw Failure(message: "'\(name)' expects one number or variable") }
            let op: Operation = ["add": .add, "sub": .sub, "mul": .mul, "div": .div, "mod": .mod][name]!
            if let n = Int(args[0]) { return .arithmetic(op, .constant(n)) }
            guard VariableScope.split(args[0]) != nil else { throw Failure(message: "'\(name)' expects a number or SCOPE.NAME") }
            return .arithmetic(op, .variable(args[0]))
        case "ipmask": return .ipMask(try IPMask(args))
        case "strcmp", "secure_memcmp": return .compare(try VariableComparison(name, args))
        case "iif":
            guard args.count == 2 else { throw Failure(message: "'iif' expects TRUE,FALSE") }
            return .iif(args[0], args[1])
        default:
            if let c = try ByteConverter(name, args) { return .bytes(c) }
            if let (match, output) = SampleMap.kind(name) {
                guard (1...2).contains(args.count), !args[0].isEmpty else { throw Failure(message: "'\(name)' expects FILE[,DEFAULT]") }
                return .map(try SampleMap(match: match, output: output, path: args[0], defaultValue: args.count == 2 ? args[1] : nil))
            }
            throw Failure(message: "converter '\(name)' is not supported by SwiftLB's rules (supported: \(converterNames.joined(separator: ", ")))")
        }
    }

    // MARK: evaluating

    /// The value, or nil when the fetch finds nothing (then `set-var` leaves the variable as it
    /// was and `%[…]` prints nothing, as HAProxy does).
    func evaluate(_ input: SampleInput) -> SampleValue? {
        guard var value = fetchValue(input) else { return nil }
        for converter in converters {
            guard let next = apply(converter, to: value, input) else { return nil }
            value = next
        }
        return value
    }

    private func fetchValue(_ input: SampleInput) -> SampleValue? {
        switch fetch {
        case .model(let f):
            switch f {
            case .sslFC: return .boolean(input.facts.isTLS)
            case .tls(let fetch): return input.tlsValue(fetch)
            case .srcConnCur: return input.sourceConnections.map { .integer($0) }
            case .stickCounter(let f): return input.stick?.value(f, source: input.facts.source?.ipAddress).map { .integer($0) }
            case .srcPort, .dstPort: return input.samples(f).first.flatMap { Int($0) }.map { .integer($0) }
            case .header(let name): return Self.occurrence((input.requestHead?.values(of: name) ?? []).flatMap(SampleInput.commaSplit), nil).map { .string($0) }
            default: return input.samples(f).first.map { .string($0) }
            }
        case .constant(let v): return v
        case .variable(let name, let fallback): return input.variables?.get(name) ?? fallback.map { .string($0) }
        case .requestHeader(let name, let occ, let full):
            let lines = input.requestHead?.values(of: name) ?? []
            return Self.occurrence(full ? lines : lines.flatMap(SampleInput.commaSplit), occ).map { .string($0) }
        case .responseHeader(let name, let occ, let full):
            guard let response = input.response else { return nil }
            let lines = response.values(of: name)
            return Self.occurrence(full ? lines : lines.flatMap(SampleInput.commaSplit), occ).map { .string($0) }
        case .requestHeaderCount(let name): return .integer((input.requestHead?.values(of: name) ?? []).flatMap(SampleInput.commaSplit).count)
        case .responseHeaderCount(let name):
            guard let response = input.response else { return nil }
            return .integer(response.values(of: name).flatMap(SampleInput.commaSplit).count)
        case .cookie(let name): return Self.cookie(name, in: input.requestHead?.values(of: "cookie") ?? []).map { .string($0) }
        case .responseCookie(let name):
            // One cookie per Set-Cookie line: NAME=VALUE before its attributes; the last wins.
            let lines = input.response?.values(of: "set-cookie") ?? []
            return lines.reversed().lazy.compactMap { line -> String? in
                let pair = line.prefix { $0 != ";" }.trimmingBlanks()
                return pair.hasPrefix(name + "=") ? String(pair.dropFirst(name.count + 1)) : nil
            }.first.map { .string($0) }
        case .urlParameter(let name): return Self.urlParameter(name, in: input.query).map { .string($0) }
        case .status: return (input.response?.currentStatus).map { .integer($0) }
        case .requestVersion: return input.requestHead.map { .string(String($0.versionText.dropFirst(5))) }
        case .responseVersion: return input.response.map { .string(String($0.versionText.dropFirst(5))) }
        case .base:
            guard let host = input.requestHead?.values(of: "host").last else { return .string(String(input.path)) }
            return .string(host + input.path)
        case .frontendName: return .string(input.frontendName)
        case .backendName: return input.backendName.isEmpty ? nil : .string(input.backendName)
        case .firstRequest: return .boolean(input.firstRequest)
        case .proxyTLV(let type):
            return input.proxyTLVs.first { $0.type == type }.map { .string(String(decoding: $0.value, as: UTF8.self)) }
        case .pathQuery:
            let target = input.target
            return TargetRewrite.pathStart(target).map { .string(String(target[$0...])) }
        case .capturedRequest(let slot): return slot < input.captures.count ? input.captures[slot].map { .string($0) } : nil
        case .frontConnection(let destination, let port):
            let address = destination ? input.facts.connectionDestination ?? input.facts.destination
                                      : input.facts.connectionSource ?? input.facts.source
            return port ? address?.port.map { .integer($0) } : address?.ipAddress.map { .string($0) }
        case .isHTTPStream: return .boolean(input.inspected == nil)
        case .requestHeaderIP(let name, let occurrence):
            let values = (input.requestHead?.values(of: name) ?? []).flatMap(SampleInput.commaSplit)
            return Self.occurrence(values, occurrence).flatMap(IPMask.normalized).map { .string($0) }
        case .proxyState(let f):
            guard let value = input.facts.proxyStates?.value(f, backend: input.backendName) else { return nil }
            return f.isBoolean ? .boolean(value == 1) : .integer(value)
        }
    }

    /// HAProxy's occurrence: 1 the first, -1 the last (the default), out of range: none.
    static func occurrence(_ values: [String], _ occ: Int?) -> String? {
        let n = occ ?? -1
        if n > 0 { return n <= values.count ? values[n - 1] : nil }
        // Counted from the end (magnitude: -Int.min does not fit an Int); 0 is refused when parsed.
        let back = n.magnitude
        return back >= 1 && back <= UInt(values.count) ? values[values.count - Int(back)] : nil
    }

    static func cookie(_ name: String, in headers: [String]) -> String? {
        for line in headers.reversed() {
            for pair in line.split(separator: ";").reversed() {
                let p = pair.trimmingBlanks()
                if p.hasPrefix(name + "=") { return String(p.dropFirst(name.count + 1)) }
            }
        }
        return nil
    }

    static func urlParameter(_ name: String, in query: Substring) -> String? {
        for pair in query.split(separator: "&") {
            if pair == name[...] { return "" }
            if pair.hasPrefix(name + "=") { return String(pair.dropFirst(name.count + 1)) }
        }
        return nil
    }

    private func apply(_ converter: Converter, to value: SampleValue, _ input: SampleInput) -> SampleValue? {
        switch converter {
        case .lower: return .string(value.text.lowercased())
        case .upper: return .string(value.text.uppercased())
        case .length: return .integer(value.text.utf8.count)
        case .hex: return .string(value.bytes.map(Self.hexByte).joined())
        case .hex2i:
            var n = 0
            for byte in value.bytes {
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                n = n &<< 4 &+ Int(digit)
            }
            return .integer(n)
        case .base64: return .string(Base64.encode(value.bytes))
        case .bytes(let c): return c.apply(value.bytes)
        case .map(let map): return map.lookup(value)
        case .not: return .boolean(!value.isTrue)
        case .bool: return .boolean(value.isTrue)
        case .iif(let yes, let no): return .string(value.isTrue ? yes : no)
        case .ipMask(let mask): return mask.apply(value.text).map { .string($0) }
        case .compare(let comparison): return input.variables?.get(comparison.variable).map { comparison.apply(value, $0) }
        case .field(let index, let delimiters, let count):
            return .string(Self.fields(value.text, index: index, delimiters: delimiters, count: count, skipEmpty: false))
        case .word(let index, let delimiters, let count):
            return .string(Self.fields(value.text, index: index, delimiters: delimiters, count: count, skipEmpty: true))
        case .concat(let prefix, let variable, let suffix):
            return .string(value.text + prefix + (variable.flatMap { input.variables?.get($0)?.text } ?? "") + suffix)
        case .regsub(let regex, let replacement, let global):
            return .string(Self.regsub(value.text, regex, replacement, global: global))
        case .arithmetic(let op, let operand):
            guard let a = value.integer else { return nil }
            let b: Int
            switch operand {
            case .constant(let n): b = n
            case .variable(let name): guard let v = input.variables?.get(name)?.integer else { return nil }; b = v
            }
            return .integer(op.apply(a, b))
        }
    }

    /// `field`/`word`: `count` fields (0: all the rest) from the `index`th (1-based; negative
    /// from the end, extending towards the start), delimiters between them kept. `word` skips
    /// empty fields (runs of delimiters count as one).
    static func fields(_ text: String, index: Int, delimiters: Set<UInt8>, count: Int, skipEmpty: Bool) -> String {
        let bytes = Array(text.utf8)
        var ranges: [Range<Int>] = []
        var start = 0
        for (i, b) in bytes.enumerated() where delimiters.contains(b) {
            ranges.append(start..<i)
            start = i + 1
        }
        ranges.append(start..<bytes.count)
        if skipEmpty { ranges.removeAll { $0.isEmpty } }
        let n = ranges.count
        // A count past the fields there are is all of them (any Int the configuration wrote).
        let count = min(count, n)
        let first: Int, last: Int
        if index > 0 {
            first = index - 1
            guard first < n else { return "" }
            last = count == 0 ? n - 1 : min(n - 1, first + count - 1)
        } else {
            last = n + index
            guard last >= 0 else { return "" }
            first = count == 0 ? 0 : max(0, last - count + 1)
        }
        return String(decoding: bytes[ranges[first].lowerBound..<ranges[last].upperBound], as: UTF8.self)
    }

    /// `regsub`: the first match (every match with `g`) replaced by the expansion of
    /// `replacement` (`\1`… name groups).
    static func regsub(_ text: String, _ regex: PCRE2Regex, _ replacement: String, global: Bool) -> String {
        let subject = Array(text.utf8)
        var out: [UInt8] = []
        var position = 0
        while position <= subject.count, let match = regex.firstMatch(in: subject, from: position), let whole = match[0] {
            out.append(contentsOf: subject[position..<whole.lowerBound])
            out.append(contentsOf: PCRE2Regex.expand(replacement, subject: subject, match: match) ?? [])
            if whole.isEmpty {
                // An empty match: copy one byte and move on, or the loop never ends.
                if whole.upperBound < subject.count { out.append(subject[whole.upperBound]) }
                position = whole.upperBound + 1
            } else {
                position = whole.upperBound
            }
            if !global { break }
        }
        if position < subject.count { out.append(contentsOf: subject[position...]) }
        return String(decoding: out, as: UTF8.self)
    }
}

extension SampleExpression {
    /// Two upper-case hex digits, as HAProxy's `hex` converter prints a byte.
    static func hexByte(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0F)]])
    }
}

/// Standard base64 (RFC 4648 §4, with padding), for the `base64` converter.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(alphabet[Int(b0 >> 2)])
            out.append(alphabet[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? alphabet[Int((b1 & 0x0F) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? alphabet[Int(b2 & 0x3F)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
