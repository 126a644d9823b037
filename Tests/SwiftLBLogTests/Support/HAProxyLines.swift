import Foundation
import SwiftLBLog

/// Reads HAProxy's own log lines back into `LogRecord`s, so a test can render the same values
/// with SwiftLB's formats and compare the bytes: the values come from haproxy, the layout from us.
enum HAProxyLines {
    /// `<PRI>… tag[pid]: message\n` → the header (up to and including `: `) and the message.
    static func split(_ datagram: String) -> (header: String, message: String) {
        var text = Substring(datagram)
        if text.hasSuffix("\n") { text = text.dropLast() }
        guard let r = text.range(of: "]: ") else { return ("", String(text)) }
        return (String(text[..<r.upperBound]), String(text[r.upperBound...]))
    }

    /// `29/Nov/2026:22:56:38.548` (local time; the tests run with TZ=UTC) or without `.mmm`.
    static func date(_ s: Substring) -> LogTimestamp {
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let p = s.split(whereSeparator: { "/:.".contains($0) })
        var t = tm()
        t.tm_mday = Int32(p[0])!
        t.tm_mon = Int32(months.firstIndex(of: String(p[1]))!)
        t.tm_year = Int32(p[2])! - 1900
        t.tm_hour = Int32(p[3])!
        t.tm_min = Int32(p[4])!
        t.tm_sec = Int32(p[5])!
        let ms = p.count > 6 ? Int(p[6])! : 0
        return LogTimestamp(seconds: timegm(&t), microseconds: ms * 1000)
    }

    static func address(_ s: Substring) -> LogAddress {
        if s == "-" { return .none }
        if s == "unix" { return .unix }
        return LogAddress(ip: String(s), port: 0)!
    }

    static func address(_ ip: Substring, _ port: Substring) -> LogAddress {
        if ip == "-" { return .none }
        return LogAddress(ip: String(ip), port: UInt16(port)!)!
    }

    private static func number(_ s: Substring) -> Int { Int(s.hasPrefix("+") ? s.dropFirst() : s)! }

    static func termination(_ s: Substring) -> (Termination, CookieState?) {
        let b = Array(s.utf8)
        let t = Termination(Termination.Cause(rawValue: b[0])!, Termination.Phase(rawValue: b[1])!)
        guard b.count == 4, b[2] != UInt8(ascii: "-") else { return (t, nil) }
        return (t, CookieState(CookieState.Request(rawValue: b[2])!, CookieState.Response(rawValue: b[3])!))
    }

    /// The counters `ac/fc/bc/sc/rc` and `sq/bq`.
    private static func counters(_ conns: Substring, _ queues: Substring, into r: inout LogRecord) {
        let c = conns.split(separator: "/")
        r.activeConnections = number(c[0]); r.frontendConnections = number(c[1])
        r.backendConnections = number(c[2]); r.serverConnections = number(c[3])
        r.redispatched = c[4].hasPrefix("+"); r.retries = number(c[4])
        let q = queues.split(separator: "/")
        r.serverQueue = number(q[0]); r.backendQueue = number(q[1])
    }

    /// The fields httplog and tcplog start with: `ci:cp [date] ft b/s`.
    private static func leading(_ f: [Substring], into r: inout LogRecord) {
        let colon = f[0].lastIndex(of: ":")!
        r.client = address(f[0][..<colon], f[0][f[0].index(after: colon)...])
        r.acceptDate = date(f[1].dropFirst().dropLast())
        names(f[2], f[3], into: &r)
    }

    private static func names(_ ft: Substring, _ bs: Substring, into r: inout LogRecord) {
        r.frontendIsTLS = ft.hasSuffix("~")
        r.frontend = String(r.frontendIsTLS ? ft.dropLast() : ft)
        let slash = bs.firstIndex(of: "/")!
        r.backend = String(bs[..<slash])
        r.server = String(bs[bs.index(after: slash)...])
    }

    /// An `option httplog` message (without captures).
    static func httplog(_ message: String) -> LogRecord {
        let f = message.split(separator: " ", maxSplits: 12)
        var r = LogRecord()
        leading(f, into: &r)
        let t = f[4].split(separator: "/").map { number($0) }
        r.setHTTPTimers(TR: t[0], Tw: t[1], Tc: t[2], Tr: t[3], Ta: t[4])
        r.loggedEarly = f[6].hasPrefix("+")
        r.status = number(f[5]); r.bytesOut = Int64(number(f[6]))
        r.requestCookie = f[7] == "-" ? nil : String(f[7])
        r.responseCookie = f[8] == "-" ? nil : String(f[8])
        (r.termination, r.cookie) = termination(f[9])
        counters(f[10], f[11], into: &r)
        let request = f[12].dropFirst().dropLast()
        if request != "<BADREQ>" { r.setRequestLine(String(request)) }
        return r
    }

    /// An `option tcplog` message.
    static func tcplog(_ message: String) -> LogRecord {
        let f = message.split(separator: " ")
        var r = LogRecord()
        leading(f, into: &r)
        let t = f[4].split(separator: "/").map { number($0) }
        r.setTCPTimers(Tw: t[0], Tc: t[1], Tt: t[2])
        r.bytesOut = Int64(number(f[5]))
        (r.termination, r.cookie) = termination(f[6])
        counters(f[7], f[8], into: &r)
        return r
    }

    /// Words split on spaces outside double quotes, quotes kept.
    static func words(_ s: String) -> [Substring] {
        var result: [Substring] = []
        var start: String.Index?
        var quoted = false
        for i in s.indices {
            let c = s[i]
            if c == "\"" { quoted.toggle() }
            if c == " " && !quoted {
                if let st = start { result.append(s[st..<i]); start = nil }
            } else if start == nil {
                start = i
            }
        }
        if let st = start { result.append(s[st...]) }
        return result
    }

    /// An `option httplog clf` message.
    static func clf(_ message: String) -> LogRecord {
        let w = words(message)
        func unquote(_ s: Substring) -> Substring { s.hasPrefix("\"") ? s.dropFirst().dropLast() : s }
        var r = LogRecord()
        r.client = address(unquote(w[0]), unquote(w[10]))
        var accept = date(w[3].dropFirst())
        accept.microseconds = Int(w[11])! * 1000
        r.acceptDate = accept
        let request = unquote(w[5])
        if request != "<BADREQ>" { r.setRequestLine(String(request)) }
        r.status = Int(w[6])!; r.bytesOut = Int64(number(w[7]))
        r.frontendIsTLS = unquote(w[12]).hasSuffix("~")
        r.frontend = String(r.frontendIsTLS ? unquote(w[12]).dropLast() : unquote(w[12]))
        r.backend = String(unquote(w[13])); r.server = String(unquote(w[14]))
        r.setHTTPTimers(TR: Int(w[15])!, Tw: Int(w[16])!, Tc: Int(w[17])!, Tr: Int(w[18])!, Ta: number(w[19]))
        (r.termination, r.cookie) = termination(unquote(w[20]))
        counters(w[21...25].joined(separator: "/")[...], "\(w[26])/\(w[27])"[...], into: &r)
        return r
    }

    /// `k=v k=v …` where a value may hold spaces (a date with its zone) but never `=`, except
    /// the last one, `r=…`, which is everything after it.
    static func keyValues(_ message: String) -> [String: Substring] {
        var result: [String: Substring] = [:]
        var text = Substring(message)
        if let r = text.range(of: " r=") {
            result["r"] = text[r.upperBound...]
            text = text[..<r.lowerBound]
        }
        var key: String?
        var value: Substring = ""
        for word in text.split(separator: " ") {
            if let eq = word.firstIndex(of: "="), word.first != "{", word.first != "\"" {
                if let key { result[key] = value }
                key = String(word[..<eq])
                value = word[word.index(after: eq)...]
            } else {
                value = text[value.startIndex..<word.endIndex]
            }
        }
        if let key { result[key] = value }
        return result
    }
}
