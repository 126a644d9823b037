#if canImport(Glibc)
import Glibc
#endif

/// A received syslog message taken apart as HAProxy 2.6's `parse_log_message` (src/log.c)
/// does, and rebuilt for another target by `build_log_header`: what a `log-forward` section
/// relays. Pure: bytes in, bytes out, the clock given.
///
/// RFC 5424 (`<PRI>1 TIMESTAMP HOST TAG PID MSGID SD MSG`) and RFC 3164 (`<PRI>Mmm dd
/// hh:mm:ss HOST [TAG[PID]: ]MSG`) headers are read; anything else keeps only its priority
/// (HAProxy's `bad_format`), and a message without `<PRI>` nothing.
public struct SyslogMessage: Equatable, Sendable {
    /// From `<PRI>`; nil without one (the target's facility, and level `emerg`, then apply).
    public var facility: Int?
    public var level: Int?
    /// The header's fields; empty when absent or NILVALUE (`-`).
    public var time: [UInt8] = []
    public var host: [UInt8] = []
    public var tag: [UInt8] = []
    public var pid: [UInt8] = []
    public var msgid: [UInt8] = []
    public var structuredData: [UInt8] = []
    /// What follows the header.
    public var text: [UInt8]

    static let legacyTimeLength = 15  // "Jan  1 00:00:00"
    static let isoTimeMinLength = 20  // "1970-01-01T00:00:00Z"
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"].map { Array($0.utf8) }

    public init(parsing buffer: [UInt8]) {
        text = buffer
        let b = buffer
        guard b.count >= 2, b[0] == UInt8(ascii: "<") else { return }
        var p = 1, value = 0
        while p < b.count, b[p] != UInt8(ascii: ">") {
            guard (0x30...0x39).contains(b[p]), value < 1_000_000 else { return }
            value = value * 10 + Int(b[p] - 0x30)
            p += 1
        }
        guard p < b.count else { return }
        facility = value >> 3
        level = value & 7
        p += 1
        text = Array(b[p...])
        let start = p
        if b.count - p > 2, b[p] == UInt8(ascii: "1"), b[p + 1] == 0x20 {
            if !parse5424(b, from: p + 2) { clearHeader(); text = Array(b[start...]) }
        } else if b.count - p > Self.legacyTimeLength {
            if !parse3164(b, from: p) { clearHeader(); text = Array(b[start...]) }
        }
    }

    private mutating func clearHeader() {
        time = []; host = []; tag = []; pid = []; msgid = []; structuredData = []
    }

    /// A field up to the next space (none may be empty or run past the end); `-` is empty.
    private static func field(_ b: [UInt8], _ p: inout Int) -> [UInt8]? {
        guard p < b.count, b[p] != 0x20 else { return nil }
        let start = p
        while b[p] != 0x20 { p += 1; if p >= b.count { return nil } }
        let value = Array(b[start..<p])
        p += 1
        return value == [UInt8(ascii: "-")] ? [] : value
    }

    private mutating func parse5424(_ b: [UInt8], from start: Int) -> Bool {
        var p = start
        if b.count - p > 2, b[p] == UInt8(ascii: "-"), b[p + 1] == 0x20 {
            time = [UInt8(ascii: "-")]
            p += 2
        } else if b.count - p > Self.isoTimeMinLength {
            let t = p
            p += 19
            if b[p] == UInt8(ascii: ".") {
                p += 1
                guard p < b.count else { return false }
                while b[p] != UInt8(ascii: "Z") && b[p] != UInt8(ascii: "+") && b[p] != UInt8(ascii: "-") {
                    guard (0x30...0x39).contains(b[p]) else { return false }
                    p += 1
                    guard p < b.count else { return false }
                }
            }
            p += b[p] == UInt8(ascii: "Z") ? 1 : 6
            guard p < b.count, b[p] == 0x20 else { return false }
            time = Array(b[t..<p])
            p += 1
        } else {
            return false
        }
        guard let host = Self.field(b, &p), let tag = Self.field(b, &p), let pid = Self.field(b, &p),
              let msgid = Self.field(b, &p) else { return false }
        self.host = host; self.tag = tag; self.pid = pid; self.msgid = msgid
        guard p < b.count else { return false }
        let sd = p
        if b[p] == UInt8(ascii: "[") {
            var inElement = false
            while true {
                if inElement {
                    if b[p] == UInt8(ascii: "]") && b[p - 1] != UInt8(ascii: "\\") { inElement = false }
                } else if b[p] == UInt8(ascii: "[") {
                    inElement = true
                } else if b[p] == 0x20 {
                    break
                } else {
                    return false
                }
                p += 1
                guard p < b.count else { return false }
            }
            structuredData = Array(b[sd..<p])
        } else if b[p] == UInt8(ascii: "-") {
            p += 1
            guard p < b.count, b[p] == 0x20 else { return false }
        } else {
            return false
        }
        p += 1
        text = Array(b[min(p, b.count)...])
        return true
    }

    private mutating func parse3164(_ b: [UInt8], from start: Int) -> Bool {
        var p = start
        guard Self.months.contains(where: { b[p..<p + 3].elementsEqual($0) }) else { return false }
        time = Array(b[p..<p + Self.legacyTimeLength])
        p += Self.legacyTimeLength
        guard p < b.count, b[p] == 0x20 else { return false }
        p += 1
        guard p < b.count, b[p] != 0x20 else { return false }
        let h = p
        while b[p] != 0x20 { p += 1; if p >= b.count { return false } }
        host = Array(b[h..<p])
        p += 1
        text = Array(b[min(p, b.count)...])
        // TAG[PID]: is optional: a word ended by ':' and a space.
        let rest = text
        var q = 0
        while q < rest.count, rest[q] != 0x20, rest[q] != UInt8(ascii: ":") { q += 1 }
        guard q + 1 < rest.count, rest[q] == UInt8(ascii: ":"), rest[q + 1] == 0x20 else { return true }
        var tagEnd: Int?, pidStart: Int?, pidEnd: Int?
        for i in 0..<q {
            if rest[i] == UInt8(ascii: "[") {
                tagEnd = i; pidStart = i + 1
            } else if rest[i] == UInt8(ascii: "]"), pidStart != nil {
                guard rest[i + 1] == UInt8(ascii: ":") else { return true }
                pidEnd = i
            }
        }
        tag = Array(rest[0..<(tagEnd ?? q)])
        if let pidStart, let pidEnd { pid = Array(rest[pidStart..<pidEnd]) }
        text = Array(rest[(q + 2)...])
        return true
    }

    /// The header `build_log_header` writes for `format` (`.unspecified`: chosen from the
    /// fields as HAProxy's LOG_FORMAT_UNSPEC is: rfc5424 or rfc3164 with a host, local with a
    /// tag, priority with a PRI, raw otherwise).
    public func header(_ format: SyslogFormat, level: Int, facility: Int, now: LogTimestamp, buffer: inout LogBuffer) -> [UInt8] {
        var format = format
        if format == .unspecified {
            if !host.isEmpty {
                format = time == [UInt8(ascii: "-")] || time.count >= Self.isoTimeMinLength ? .rfc5424 : .rfc3164
            } else if !tag.isEmpty {
                format = .local
            } else {
                format = self.level != nil ? .priority : .raw
            }
        }
        var out: [UInt8] = []
        switch format {
        case .local, .rfc3164, .rfc5424, .priority:
            out += Array("<\(facility << 3 + level)>".utf8)
        case .timed, .short:
            out += Array("<\(level)>".utf8)
        case .iso, .raw, .unspecified:
            break
        }
        switch format {
        case .local, .rfc3164:
            out += legacyTime(now: now, buffer: &buffer)
        case .rfc5424:
            out += Array("1 ".utf8)
            out += time == [UInt8(ascii: "-")] ? Array("- ".utf8) : isoTime(now: now, buffer: &buffer)
        case .timed, .iso:
            out += isoTime(now: now, buffer: &buffer)
        case .priority, .short, .raw, .unspecified:
            break
        }
        func nilOr(_ value: [UInt8]) -> [UInt8] { (value.isEmpty ? [UInt8(ascii: "-")] : value) + [0x20] }
        switch format {
        case .rfc3164, .local:
            if format == .rfc3164 { out += (host.isEmpty ? Array("localhost".utf8) : host) + [0x20] }
            if !tag.isEmpty {
                out += tag
                if !pid.isEmpty { out += [UInt8(ascii: "[")] + pid + [UInt8(ascii: "]")] }
                out += Array(": ".utf8)
            }
        case .rfc5424:
            out += nilOr(host) + nilOr(tag) + nilOr(pid) + nilOr(msgid) + nilOr(structuredData)
        default:
            break
        }
        return out
    }

    /// `Mmm dd hh:mm:ss `: the received one, or made from a received ISO time, or now.
    private func legacyTime(now: LogTimestamp, buffer: inout LogBuffer) -> [UInt8] {
        if time.count == Self.legacyTimeLength { return time + [0x20] }
        if time.count >= Self.isoTimeMinLength, let month = Self.number(time[5...6]), (1...12).contains(month) || month == 0 {
            let m = month == 0 ? 0 : month - 1
            return Self.months[m] + [0x20, time[8] != UInt8(ascii: "0") ? time[8] : 0x20, time[9], 0x20] + Array(time[11..<19]) + [0x20]
        }
        buffer.removeAll()
        buffer.appendLegacySyslogDate(now.seconds)
        return buffer.withUnsafeBytes { Array($0) }
    }

    /// An ISO time: the received one, or made from a received legacy time (this year, the
    /// last if that month is still to come; zone `-00:00`, unknown), or now.
    private func isoTime(now: LogTimestamp, buffer: inout LogBuffer) -> [UInt8] {
        if time.count >= Self.isoTimeMinLength { return time + [0x20] }
        if time.count == Self.legacyTimeLength, let month = Self.months.firstIndex(where: { time[0..<3].elementsEqual($0) }) {
            var seconds = now.seconds
            var tm = tm()
            localtime_r(&seconds, &tm)
            let year = Int(tm.tm_year) + 1900 - (Int(tm.tm_mon) < month ? 1 : 0)
            let prefix = padded(year, 4) + "-" + padded(month + 1, 2) + "-"
            return Array(prefix.utf8) + [time[4] != 0x20 ? time[4] : UInt8(ascii: "0"), time[5], UInt8(ascii: "T")]
                + Array(time[7..<15]) + Array("-00:00 ".utf8)
        }
        buffer.removeAll()
        buffer.appendISODate(now)
        return buffer.withUnsafeBytes { Array($0) } + [0x20]
    }

    private static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var n = 0
        for d in digits { guard (0x30...0x39).contains(d) else { return nil }; n = n * 10 + Int(d - 0x30) }
        return n
    }
}

private func padded(_ n: Int, _ width: Int) -> String {
    let digits = String(n)
    return String(repeating: "0", count: Swift.max(0, width - digits.count)) + digits
}
