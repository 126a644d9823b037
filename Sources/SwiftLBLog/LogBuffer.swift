#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes a log line is rendered into, plus the little state that makes rendering cheap:
/// the date text of the last second a date was written for (HAProxy calls `localtime_r` per
/// line; one call per second and per buffer is enough).
///
/// One buffer per event loop (the `LogSink` keeps one); `removeAll()` between lines keeps its
/// capacity, so steady-state rendering allocates nothing. The bytes live in raw memory written
/// with plain stores (an Array's append costs a uniqueness check and a generic copy per piece);
/// copies of a `LogBuffer` share that memory, so keep one per owner.
public struct LogBuffer {
    private let storage: Storage
    var local = DateCache(utc: false)
    var utc = DateCache(utc: true)

    final class Storage {
        var base: UnsafeMutableRawPointer
        var count = 0
        var capacity: Int

        init(capacity: Int) {
            self.capacity = max(capacity, 64)
            base = .allocate(byteCount: self.capacity, alignment: 8)
        }

        deinit { base.deallocate() }

        func grow(_ needed: Int) {
            var newCapacity = capacity * 2
            while newCapacity < needed { newCapacity *= 2 }
            let bigger = UnsafeMutableRawPointer.allocate(byteCount: newCapacity, alignment: 8)
            bigger.copyMemory(from: base, byteCount: count)
            base.deallocate()
            base = bigger
            capacity = newCapacity
        }
    }

    public init(capacity: Int = 2048) {
        storage = Storage(capacity: capacity)
    }

    public var count: Int { storage.count }

    /// Empties the line, keeping the capacity and the date caches.
    public func removeAll() { storage.count = 0 }

    /// Keeps the first `count` bytes.
    func truncate(to count: Int) {
        if count < storage.count { storage.count = count }
    }

    /// The line's bytes, borrowed for the duration of `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: storage.base, count: storage.count))
    }

    /// A copy of the line's bytes (tests, callers off the data path).
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The line as text (tests, stdout).
    public var string: String { withUnsafeBytes { String(decoding: $0, as: UTF8.self) } }

    @inline(__always) func append(_ byte: UInt8) {
        let s = storage
        if s.count == s.capacity { s.grow(s.count + 1) }
        s.base.storeBytes(of: byte, toByteOffset: s.count, as: UInt8.self)
        s.count += 1
    }

    @inline(__always) func append(contentsOf raw: UnsafeRawBufferPointer) {
        guard let source = raw.baseAddress, raw.count > 0 else { return }
        let s = storage
        if s.count + raw.count > s.capacity { s.grow(s.count + raw.count) }
        if raw.count <= 16 {  // most pieces are a few bytes: a loop beats a call to memmove
            let to = s.base + s.count
            for i in 0..<raw.count { to.storeBytes(of: source.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self) }
        } else {
            (s.base + s.count).copyMemory(from: source, byteCount: raw.count)
        }
        s.count += raw.count
    }

    @inline(__always) func append(contentsOf text: String) {
        if text.utf8.withContiguousStorageIfAvailable({ append(contentsOf: UnsafeRawBufferPointer($0)) }) == nil {
            for b in text.utf8 { append(b) }
        }
    }

    /// A signed decimal (HAProxy's `ltoa_o`).
    func appendDecimal(_ value: Int) {
        if value < 0 {
            append(UInt8(ascii: "-"))
            appendDecimal(UInt64(value.magnitude))
        } else {
            appendDecimal(UInt64(value))
        }
    }

    func appendDecimal(_ value: UInt64) {
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
            append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[(24 - count)...]))
        }
    }

    /// `value` as zero-padded decimal of exactly `width` digits (HAProxy's `utoa_pad`).
    func appendPadded(_ value: Int, width: Int) {
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
    func appendHex(_ value: UInt64, digits: Int) {
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

/// The calendar text of one second, in local time or UTC, formatted once per second: the
/// `dd/Mmm/yyyy:HH:MM:SS` of `%t`, the `Mmm dd HH:MM:SS ` of an RFC 3164 header, the
/// `yyyy-mm-ddTHH:MM:SS` of an RFC 5424 one, and the `+hhmm` offset from UTC.
struct DateCache {
    let utc: Bool
    var second = Int.min
    /// Fixed-size text (no heap, no reference counting when appended).
    var dayTime = Text()      // 20 bytes
    var legacy = Text()       // 16 bytes
    var iso = Text()          // 19 bytes
    var offset = Text()       // 5 bytes: HAProxy's `get_gmt_offset`

    struct Text {
        var storage: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var count = 0

        mutating func append(_ b: UInt8) {
            withUnsafeMutableBytes(of: &storage) { $0[count] = b }
            count += 1
        }
        mutating func two(_ v: Int) { append(UInt8(ascii: "0") &+ UInt8(v / 10 % 10)); append(UInt8(ascii: "0") &+ UInt8(v % 10)) }
        mutating func four(_ v: Int) { two(v / 100); two(v % 100) }
        mutating func word(_ w: String) { for b in w.utf8 { append(b) } }
    }

    init(utc: Bool) { self.utc = utc }

    mutating func load(_ seconds: Int) {
        if seconds == second { return }
        var t = time_t(seconds)
        var parts = tm()
        if utc { gmtime_r(&t, &parts) } else { localtime_r(&t, &parts) }
        let year = Int(parts.tm_year) + 1900, month = Int(parts.tm_mon), day = Int(parts.tm_mday)
        let hour = Int(parts.tm_hour), minute = Int(parts.tm_min), sec = Int(parts.tm_sec)
        func time(_ text: inout Text) {
            text.two(hour); text.append(UInt8(ascii: ":")); text.two(minute); text.append(UInt8(ascii: ":")); text.two(sec)
        }
        dayTime = Text()
        dayTime.two(day); dayTime.append(UInt8(ascii: "/")); dayTime.word(monthNames[month]); dayTime.append(UInt8(ascii: "/"))
        dayTime.four(year); dayTime.append(UInt8(ascii: ":")); time(&dayTime)
        legacy = Text()
        legacy.word(monthNames[month]); legacy.append(UInt8(ascii: " "))
        legacy.append(day < 10 ? UInt8(ascii: " ") : UInt8(ascii: "0") &+ UInt8(day / 10)); legacy.append(UInt8(ascii: "0") &+ UInt8(day % 10))
        legacy.append(UInt8(ascii: " ")); time(&legacy); legacy.append(UInt8(ascii: " "))
        iso = Text()
        iso.four(year); iso.append(UInt8(ascii: "-")); iso.two(month + 1); iso.append(UInt8(ascii: "-")); iso.two(day)
        iso.append(UInt8(ascii: "T")); time(&iso)
        let gmtoff = utc ? 0 : Int(parts.tm_gmtoff)
        let minutes = abs(gmtoff) / 60
        offset = Text()
        offset.append(gmtoff < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+")); offset.two(minutes / 60); offset.two(minutes % 60)
        second = seconds
    }
}

extension LogBuffer {
    private func append(_ text: DateCache.Text) {
        Swift.withUnsafeBytes(of: text.storage) { append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<text.count])) }
    }

    /// `%t`, `%tr`: `29/Nov/2026:22:56:38.548`, local time (HAProxy's `date2str_log`).
    mutating func appendLogDate(_ t: LogTimestamp) {
        local.load(t.seconds)
        append(local.dayTime)
        append(UInt8(ascii: "."))
        appendPadded(t.microseconds / 1000 % 1000, width: 3)
    }

    /// `%T`, `%trg`: `29/Nov/2026:22:56:38 +0000` (HAProxy's `gmt2str_log`).
    mutating func appendGMTDate(_ t: LogTimestamp) {
        utc.load(t.seconds)
        append(utc.dayTime)
        append(contentsOf: " +0000")
    }

    /// `%Tl`, `%trl`: local time and its offset, `29/Nov/2026:23:56:38 +0100`.
    mutating func appendLocalDate(_ t: LogTimestamp) {
        local.load(t.seconds)
        append(local.dayTime)
        append(UInt8(ascii: " "))
        append(local.offset)
    }

    /// `Nov 29 22:56:38 ` — the RFC 3164 timestamp, day padded with a space (`%2d`).
    mutating func appendLegacySyslogDate(_ seconds: Int) {
        local.load(seconds)
        append(local.legacy)
    }

    /// `2026-11-29T22:56:38.550167+00:00` — the RFC 5424 timestamp HAProxy sends
    /// (`timeofday_as_iso_us`).
    mutating func appendISODate(_ t: LogTimestamp) {
        local.load(t.seconds)
        append(local.iso)
        append(UInt8(ascii: "."))
        appendPadded(t.microseconds, width: 6)
        let o = local.offset
        Swift.withUnsafeBytes(of: o.storage) { raw in
            append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<3]))
            append(UInt8(ascii: ":"))
            append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[3..<5]))
        }
    }
}
