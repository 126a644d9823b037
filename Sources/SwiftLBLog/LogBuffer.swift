#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes a log line is rendered into, plus the little state that makes rendering cheap:
/// the broken-down local and UTC time of the last second a date was written for (HAProxy
/// calls `localtime_r` per line; one call per second and per buffer is enough).
///
/// One buffer per event loop (the `LogSink` keeps one); `removeAll()` between lines keeps its
/// capacity, so steady-state rendering allocates nothing.
public struct LogBuffer {
    public var bytes: [UInt8] = []
    var local = DateCache(utc: false)
    var utc = DateCache(utc: true)

    public init(capacity: Int = 2048) {
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    /// Empties the line, keeping the capacity and the date caches.
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    /// The line as text (tests, stdout).
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    @inline(__always) mutating func append(_ byte: UInt8) { bytes.append(byte) }

    @inline(__always) mutating func append(contentsOf text: String) {
        var text = text
        text.withUTF8 { bytes.append(contentsOf: $0) }
    }

    @inline(__always) mutating func append(contentsOf raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
    }

    /// A signed decimal (HAProxy's `ltoa_o`).
    mutating func appendDecimal(_ value: Int) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(UInt64(value.magnitude))
        } else {
            appendDecimal(UInt64(value))
        }
    }

    mutating func appendDecimal(_ value: UInt64) {
        if value < 10 { append(UInt8(ascii: "0") &+ UInt8(value)); return }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        var n = value
        var count = 0
        withUnsafeMutableBytes(of: &digits) { raw in
            while n > 0 {
                raw[23 - count] = UInt8(ascii: "0") &+ UInt8(n % 10)
                n /= 10
                count += 1
            }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }

    /// `value` as zero-padded decimal of exactly `width` digits (HAProxy's `utoa_pad`).
    mutating func appendPadded(_ value: Int, width: Int) {
        var divisor = 1
        for _ in 1..<width { divisor *= 10 }
        var v = value
        while divisor > 0 {
            append(UInt8(ascii: "0") &+ UInt8((v / divisor) % 10))
            v %= divisor
            divisor /= 10
        }
    }

    /// Uppercase hex, at least `digits` digits (`%04X`-style; wider values keep every digit).
    mutating func appendHex(_ value: UInt64, digits: Int) {
        var width = digits
        while width < 16 && value >> (UInt64(width) * 4) != 0 { width += 1 }
        for i in stride(from: width - 1, through: 0, by: -1) {
            append(hexDigits[Int(value >> (UInt64(i) * 4) & 0xf)])
        }
    }
}

let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)
let monthNames: [String] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

/// A wall-clock instant with microseconds, as HAProxy keeps `accept_date` (a `timeval`).
public struct LogTimestamp: Sendable, Equatable {
    public var seconds: Int
    public var microseconds: Int

    public init(seconds: Int, microseconds: Int) {
        self.seconds = seconds
        self.microseconds = microseconds
    }

    public static var now: LogTimestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return LogTimestamp(seconds: ts.tv_sec, microseconds: ts.tv_nsec / 1000)
    }

    /// This instant plus `ms` milliseconds (HAProxy's `tv_ms_add`).
    func adding(milliseconds ms: Int) -> LogTimestamp {
        let us = microseconds + (ms % 1000) * 1000
        return LogTimestamp(seconds: seconds + ms / 1000 + us / 1_000_000, microseconds: us % 1_000_000)
    }
}

/// The calendar fields of one second, in local time or UTC, computed once per second.
struct DateCache {
    let utc: Bool
    var second = Int.min
    var year = 0, month = 0, day = 0, hour = 0, minute = 0, sec = 0
    /// `+hhmm`/`-hhmm`: the local offset from UTC (HAProxy's `get_gmt_offset`).
    var offset: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)

    init(utc: Bool) { self.utc = utc }

    mutating func load(_ seconds: Int) {
        if seconds == second { return }
        var t = time_t(seconds)
        var parts = tm()
        if utc { gmtime_r(&t, &parts) } else { localtime_r(&t, &parts) }
        year = Int(parts.tm_year) + 1900
        month = Int(parts.tm_mon)
        day = Int(parts.tm_mday)
        hour = Int(parts.tm_hour)
        minute = Int(parts.tm_min)
        sec = Int(parts.tm_sec)
        let gmtoff = utc ? 0 : Int(parts.tm_gmtoff)
        let m = abs(gmtoff) / 60
        let d = { (v: Int) in UInt8(ascii: "0") &+ UInt8(v) }
        offset = (gmtoff < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"), d(m / 600 % 10), d(m / 60 % 10), d(m % 60 / 10), d(m % 10))
        second = seconds
    }
}

extension LogBuffer {
    /// `dd/Mmm/yyyy:HH:MM:SS` of `seconds` (local or UTC).
    private mutating func appendDayAndTime(_ seconds: Int, utc useUTC: Bool) {
        if useUTC { utc.load(seconds) } else { local.load(seconds) }
        let c = useUTC ? utc : local
        appendPadded(c.day, width: 2); append(UInt8(ascii: "/"))
        append(contentsOf: monthNames[c.month]); append(UInt8(ascii: "/"))
        appendPadded(c.year, width: 4); append(UInt8(ascii: ":"))
        appendPadded(c.hour, width: 2); append(UInt8(ascii: ":"))
        appendPadded(c.minute, width: 2); append(UInt8(ascii: ":"))
        appendPadded(c.sec, width: 2)
    }

    /// `%t`, `%tr`: `29/Nov/2026:22:56:38.548`, local time (HAProxy's `date2str_log`).
    mutating func appendLogDate(_ t: LogTimestamp) {
        appendDayAndTime(t.seconds, utc: false)
        append(UInt8(ascii: "."))
        appendPadded(t.microseconds / 1000 % 1000, width: 3)
    }

    /// `%T`, `%trg`: `29/Nov/2026:22:56:38 +0000` (HAProxy's `gmt2str_log`).
    mutating func appendGMTDate(_ t: LogTimestamp) {
        appendDayAndTime(t.seconds, utc: true)
        append(contentsOf: " +0000")
    }

    /// `%Tl`, `%trl`: local time and its offset, `29/Nov/2026:23:56:38 +0100`.
    mutating func appendLocalDate(_ t: LogTimestamp) {
        appendDayAndTime(t.seconds, utc: false)
        append(UInt8(ascii: " "))
        let o = local.offset
        append(o.0); append(o.1); append(o.2); append(o.3); append(o.4)
    }

    /// `Nov 29 22:56:38 ` — the RFC 3164 timestamp, day padded with a space (`%2d`).
    mutating func appendLegacySyslogDate(_ seconds: Int) {
        local.load(seconds)
        append(contentsOf: monthNames[local.month]); append(UInt8(ascii: " "))
        if local.day < 10 { append(UInt8(ascii: " ")) }
        appendDecimal(local.day); append(UInt8(ascii: " "))
        appendPadded(local.hour, width: 2); append(UInt8(ascii: ":"))
        appendPadded(local.minute, width: 2); append(UInt8(ascii: ":"))
        appendPadded(local.sec, width: 2); append(UInt8(ascii: " "))
    }

    /// `2026-11-29T22:56:38.550167+00:00` — the RFC 5424 timestamp HAProxy sends
    /// (`timeofday_as_iso_us`).
    mutating func appendISODate(_ t: LogTimestamp) {
        local.load(t.seconds)
        appendPadded(local.year, width: 4); append(UInt8(ascii: "-"))
        appendPadded(local.month + 1, width: 2); append(UInt8(ascii: "-"))
        appendPadded(local.day, width: 2); append(UInt8(ascii: "T"))
        appendPadded(local.hour, width: 2); append(UInt8(ascii: ":"))
        appendPadded(local.minute, width: 2); append(UInt8(ascii: ":"))
        appendPadded(local.sec, width: 2); append(UInt8(ascii: "."))
        appendPadded(t.microseconds, width: 6)
        let o = local.offset
        append(o.0); append(o.1); append(o.2); append(UInt8(ascii: ":")); append(o.3); append(o.4)
    }
}
