/// The fetches of stick tables (`sc0_http_req_rate`, `sc_conn_cur(0)`, `src_http_req_rate`,
/// `table_cnt`, `table_avl`)
/// and of tcp-request content inspection (`req.len`, `req.payload(0,4)`,
/// `req.payload_lv(…)`, `req.ssl_hello_type`, `req.ssl_sni`, `req.rdp_cookie`), as ACLs write them. Kept apart
/// from `ACLParser` so the request-header fetches there stay one list.
public enum StickFetchParser {
    private static let counters: [String: StickCounterFetch.Counter] = [
        "conn_cur": .connCur, "conn_cnt": .connCount, "conn_rate": .connRate,
        "http_req_cnt": .httpReqCount, "http_req_rate": .httpReqRate,
        "get_gpt0": .gpt0, "get_gpc0": .gpc0, "get_gpc1": .gpc1, "gpc0_rate": .gpc0Rate, "gpc1_rate": .gpc1Rate,
        "inc_gpc0": .incGPC0, "inc_gpc1": .incGPC1, "clr_gpc0": .clearGPC0, "clr_gpc1": .clearGPC1,
    ]

    /// For sample expressions (`%[sc_get_gpc0(0)]`, `set-var(…) sc0_inc_gpc0`): the stick
    /// fetch `word` names, nil when none; the error's message names what is wrong.
    public static func stickFetch(_ word: String) -> Result<SampleFetch?, StickFetchError> {
        do { return .success(try fetch(word)) } catch { return .failure(StickFetchError(message: error.message)) }
    }

    /// The fetch `word` names (with its `(args)`), nil when it is none of these.
    static func fetch(_ word: String) throws(ParseFailure) -> SampleFetch? {
        var name = word
        var args: [String] = []
        if let open = word.firstIndex(of: "("), word.hasSuffix(")") {
            name = String(word[..<open])
            args = word[word.index(after: open)..<word.index(before: word.endIndex)].split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        }
        func ints(_ range: ClosedRange<Int>) throws(ParseFailure) -> [Int] {
            // HAProxy's relative `+N`/`-N` offset of req.payload_lv is not supported: refused, not read as absolute.
            if args.contains(where: { $0.hasPrefix("+") }) { throw ParseFailure("'\(name)': relative offsets (+N) are not supported by SwiftLB") }
            let values = args.compactMap { Int($0) }
            // Offsets and lengths within the 64 KiB a session may hold (larger ones can never
            // match, and their sums must not overflow).
            guard range.contains(args.count), values.count == args.count, values.allSatisfy({ $0 >= 0 && $0 <= 65_536 }) else {
                throw ParseFailure("'\(name)' expects \(range.lowerBound == range.upperBound ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)") number(s), as in \(name)(0,4)")
            }
            return values
        }
        switch name {
        case "req.len", "req_len":
            _ = try ints(0...0)
            return .requestLength
        case "req.payload", "payload":
            let v = try ints(2...2)
            return .payload(offset: v[0], length: v[1])
        case "req.payload_lv", "payload_lv":
            let v = try ints(2...3)
            guard (1...4).contains(v[1]) else { throw ParseFailure("'\(name)': the length field is 1 to 4 bytes, not \(v[1])") }
            return .payloadLV(lengthOffset: v[0], lengthSize: v[1], dataOffset: v.count == 3 ? v[2] : nil)
        case "req.ssl_hello_type", "req_ssl_hello_type":
            _ = try ints(0...0)
            return .sslHelloType
        case "req.ssl_sni", "req_ssl_sni":
            _ = try ints(0...0)
            return .requestSSLSNI
        case "req.ssl_alpn":
            _ = try ints(0...0)
            return .requestSSLALPN
        case "req.proto_http", "req_proto_http":
            _ = try ints(0...0)
            return .requestProtoHTTP
        case "wait_end":
            _ = try ints(0...0)
            return .waitEnd
        case "rdp_cookie", "req.rdp_cookie", "req_rdp_cookie", "rdp_cookie_cnt", "req.rdp_cookie_cnt":
            // The cookie's name, optional (`rdp_cookie(mstshash)`); none or empty: any name.
            guard args.count <= 1 else { throw ParseFailure("'\(name)' takes at most a cookie name, as in \(name)(mstshash)") }
            let cookie = args.first.flatMap { $0.isEmpty ? nil : $0 }
            return name.hasSuffix("_cnt") ? .rdpCookieCount(cookie) : .rdpCookie(cookie)
        default: break
        }
        if name == "table_cnt" || name == "table_avl" {
            guard args.count <= 1 else { throw ParseFailure("'\(name)' takes at most a table name") }
            return .stickCounter(StickCounterFetch(entry: .table(args.first), counter: name == "table_cnt" ? .tableCount : .tableAvailable))
        }
        // sc0_http_req_rate[(TABLE)], sc_http_req_rate(N[,TABLE]), src_http_req_rate[(TABLE)]
        if name.hasPrefix("sc_"), let counter = counters[String(name.dropFirst(3))] {
            guard (1...2).contains(args.count), let n = Int(args[0]), (0...2).contains(n) else {
                throw ParseFailure("'\(name)' expects a counter number 0 to 2, as in \(name)(0)")
            }
            return .stickCounter(StickCounterFetch(entry: .tracked(n, table: args.count == 2 ? args[1] : nil), counter: counter))
        }
        if name.count > 4, name.hasPrefix("sc"), let n = Int(String(name.dropFirst(2).prefix(1))), name.dropFirst(3).hasPrefix("_"),
           let counter = counters[String(name.dropFirst(4))] {
            guard (0...2).contains(n), args.count <= 1 else { throw ParseFailure("'\(name)': counters are sc0 to sc2, with at most a table name") }
            return .stickCounter(StickCounterFetch(entry: .tracked(n, table: args.first), counter: counter))
        }
        if name.hasPrefix("src_"), let counter = counters[String(name.dropFirst(4))] {
            guard args.count <= 1 else { throw ParseFailure("'\(name)' takes at most a table name") }
            return .stickCounter(StickCounterFetch(entry: .source(table: args.first), counter: counter))
        }
        return nil
    }

    public struct StickFetchError: Error { public let message: String }

    /// `-m bin` patterns: hex digits, two per byte.
    static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var i = 0
        while i < digits.count {
            guard let hi = hex(digits[i]), let lo = hex(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func hex(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
