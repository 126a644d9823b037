import NIOCore

/// An HTTP/1 message head as SwiftLB keeps it (HAProxy's HTX, Pingora's `RequestHeader`): the
/// bytes exactly as received — start line, header lines, the empty line — plus where each part
/// sits in them, plus a short list of edits. Nothing is copied into Strings to parse it;
/// serialising writes the untouched lines as they came, in runs, and the edits beside them.
///
/// Invariants: `bytes` is the whole head and nothing else (reader index 0); every range lies
/// inside it; a field's line ends with CRLF; edits never reorder the kept fields.
struct MessageHead {
    /// One header line: offsets into `bytes`. `valueStart..<valueEnd` is the value without
    /// surrounding whitespace; `lineStart..<lineEnd` the whole line with its CRLF.
    struct Field {
        var lineStart: Int32
        var nameEnd: Int32
        var valueStart: Int32
        var valueEnd: Int32
        var lineEnd: Int32
    }

    enum Kind { case request, response }

    let kind: Kind
    /// The head's bytes (a slice of what was received: no copy).
    let bytes: ByteBuffer
    /// Request: method, target, version. Response: version, status, reason (may be empty).
    let part1: Range<Int32>
    let part2: Range<Int32>
    let part3: Range<Int32>
    /// Where the start line's CRLF ends (the first field starts here).
    let startLineEnd: Int32
    /// 0 or 1: the minor version (the major is always 1). HTTP/1.2…1.9 are read as 1.1.
    let minorVersion: Int
    /// The parsed fields, never mutated after parsing (so a head shares its array with every
    /// copy, and edits never copy it): removal is marked in `removedMask` instead.
    let fields: [Field]
    /// Bit i set: field i is removed (a head has at most 128 fields; see `HeadParser.Limits`).
    private var removedMask: (UInt64, UInt64) = (0, 0)
    /// The most fields a head holds (the bits of `removedMask`): the parser refuses more,
    /// whatever `tune.http.maxhdr` allows.
    static let maxFields = 128
    /// Header lines added by edits, serialised after the kept fields, in order.
    var added: [(name: String, value: String)] = []
    /// Replaces the start line when set (without CRLF).
    var startLineOverride: String?
    /// `http-request set-uri` replaced the whole target: an HTTP/2 request's URI is then what
    /// the rule wrote, no longer its `scheme://authority` plus path (`balance uri` hashes it so).
    var uriSetWhole = false

    // MARK: start line

    /// The request method (request heads).
    var method: HTTPMethodName { HTTPMethodName(bytes: bytes, range: part1) }
    /// `PRI` in any case: the HTTP/2 preface's method, which HAProxy refuses in a request with
    /// 400 (http_wait_for_request: "PRI is reserved for the HTTP/2 preface").
    var isPrefaceMethod: Bool {
        guard part1.count == 3 else { return false }
        return bytes.withUnsafeReadableBytes { raw in
            let at = Int(part1.lowerBound)
            return asciiLower(raw[at]) == UInt8(ascii: "p") && asciiLower(raw[at + 1]) == UInt8(ascii: "r") && asciiLower(raw[at + 2]) == UInt8(ascii: "i")
        }
    }
    /// The request target as a String (request heads), or the override's.
    var target: String { string(part2) }
    /// The status code (response heads).
    let status: Int
    /// Whether the version was written exactly `HTTP/1.0` or `HTTP/1.1`, so that forwarding the
    /// start line as it came sends our own version (RFC 9110 §6.2); false for HTTP/1.2…1.9.
    /// A response's other words (`option accept-invalid-http-response`) go as HAProxy writes
    /// them: those it reads as 1.1 (`HTTP/2.0`, `ABCD/1.1`) become `HTTP/1.1`, the others
    /// (`ICY`, `HTTP/0.9`) stay as they came.
    var versionIsAsRead: Bool {
        if kind == .response && minorVersion == 0 { return true }
        let digitAt = kind == .request ? Int(part3.upperBound) - 1 : Int(part1.upperBound) - 1
        guard bytes.getInteger(at: digitAt, as: UInt8.self) == UInt8(ascii: "0") + UInt8(minorVersion) else { return false }
        // A strict head's version is `HTTP/1.x`; only a relaxed response's may not be.
        return kind == .request || bytes.getInteger(at: Int(part1.lowerBound), endianness: .big, as: UInt32.self) == 0x4854_5450  // "HTTP"
    }

    func string(_ range: Range<Int32>) -> String {
        bytes.getString(at: Int(range.lowerBound), length: Int(range.count)) ?? ""
    }

    // MARK: fields

    init(kind: Kind, bytes: ByteBuffer, part1: Range<Int32>, part2: Range<Int32>, part3: Range<Int32>,
         startLineEnd: Int32, minorVersion: Int, fields: [Field], status: Int) {
        precondition(fields.count <= MessageHead.maxFields, "a head has at most 128 fields")
        self.kind = kind
        self.bytes = bytes
        self.part1 = part1
        self.part2 = part2
        self.part3 = part3
        self.startLineEnd = startLineEnd
        self.minorVersion = minorVersion
        self.fields = fields
        self.status = status
    }

    @inline(__always)
    func isRemoved(_ i: Int) -> Bool {
        i < 64 ? removedMask.0 & (1 << UInt64(i)) != 0 : removedMask.1 & (1 << UInt64(i - 64)) != 0
    }

    /// Indices of the fields still kept.
    var keptIndices: [Int] { fields.indices.filter { !isRemoved($0) } }

    /// Whether field `i`'s name is `lowercaseName` (ASCII, case-insensitive).
    func name(_ i: Int, is lowercaseName: StaticString) -> Bool {
        let f = fields[i]
        let length = Int(f.nameEnd - f.lineStart)
        guard length == lowercaseName.utf8CodeUnitCount else { return false }
        return bytes.withUnsafeReadableBytes { raw in
            let want = lowercaseName.utf8Start
            for k in 0..<length where raw[Int(f.lineStart) + k] | 0x20 != want[k] | 0x20 {
                // `| 0x20` folds ASCII letters; the names compared here are letters and '-'.
                return false
            }
            return true
        }
    }

    /// Whether field `i`'s name equals `lowercaseName` given as bytes (from configuration).
    func name(_ i: Int, isBytes lowercaseName: [UInt8]) -> Bool {
        let f = fields[i]
        let length = Int(f.nameEnd - f.lineStart)
        guard length == lowercaseName.count else { return false }
        return bytes.withUnsafeReadableBytes { raw in
            for k in 0..<length where asciiLower(raw[Int(f.lineStart) + k]) != lowercaseName[k] { return false }
            return true
        }
    }

    func name(_ i: Int) -> String { string(fields[i].lineStart..<fields[i].nameEnd) }
    func value(_ i: Int) -> String { string(fields[i].valueStart..<fields[i].valueEnd) }
    func valueRange(_ i: Int) -> Range<Int32> { fields[i].valueStart..<fields[i].valueEnd }

    /// Indices of the kept fields named `lowercaseName`.
    func indices(of lowercaseName: StaticString) -> [Int] {
        var found: [Int] = []
        for i in fields.indices where !isRemoved(i) && name(i, is: lowercaseName) { found.append(i) }
        return found
    }

    func firstIndex(of lowercaseName: StaticString) -> Int? {
        fields.indices.first { !isRemoved($0) && name($0, is: lowercaseName) }
    }

    func contains(_ lowercaseName: StaticString) -> Bool { firstIndex(of: lowercaseName) != nil }

    /// Every value of the header named `lowercaseName` (kept fields and additions), one per line.
    func values(of lowercaseName: String) -> [String] {
        let wanted = Array(lowercaseName.utf8)
        var out: [String] = []
        for i in fields.indices where !isRemoved(i) && name(i, isBytes: wanted) { out.append(value(i)) }
        for (name, value) in added where name.utf8.count == wanted.count && name.lowercased() == lowercaseName { out.append(value) }
        return out
    }

    /// Whether field `i`'s value, split at commas, contains `lowercaseToken` (case-insensitive).
    func value(_ i: Int, hasToken lowercaseToken: StaticString) -> Bool {
        var found = false
        forEachToken(i) { token in if !found && bytes(token, equal: lowercaseToken) { found = true } }
        return found
    }

    /// The comma-separated tokens of field `i`, lowercased.
    func tokens(_ i: Int) -> [String] {
        var out: [String] = []
        forEachToken(i) { range in out.append(string(range).lowercased()) }
        return out
    }

    /// Calls `body` with the range of each non-empty comma-separated token of field `i`.
    func forEachToken(_ i: Int, _ body: (Range<Int32>) -> Void) {
        let f = fields[i]
        bytes.withUnsafeReadableBytes { raw in
            var p = Int(f.valueStart)
            let end = Int(f.valueEnd)
            while p < end {
                while p < end && (raw[p] == 0x20 || raw[p] == 0x09 || raw[p] == 0x2C) { p += 1 }
                var q = p
                while q < end && raw[q] != 0x2C { q += 1 }
                var e = q
                while e > p && (raw[e - 1] == 0x20 || raw[e - 1] == 0x09) { e -= 1 }
                if e > p { body(Int32(p)..<Int32(e)) }
                p = q + 1
            }
        }
    }

    /// Whether the bytes of `range` are `lowercase` (ASCII, case-insensitive).
    func bytes(_ range: Range<Int32>, equal lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        return bytes.withUnsafeReadableBytes { raw in
            for k in 0..<Int(range.count) where asciiLower(raw[Int(range.lowerBound) + k]) != lowercase.utf8Start[k] { return false }
            return true
        }
    }

    /// Field `i`'s value is exactly `lowercase` (case-insensitive), e.g. `chunked`.
    func value(_ i: Int, equals lowercase: StaticString) -> Bool { bytes(valueRange(i), equal: lowercase) }

    /// Whether field `i`'s line is `name: value` CRLF exactly: one space after the colon,
    /// nothing after the value (what a line rewritten in canonical form looks like).
    func isPlainLine(_ i: Int) -> Bool {
        let f = fields[i]
        guard f.valueStart == f.nameEnd + 2, f.valueEnd + 2 == f.lineEnd else { return false }
        return bytes.getInteger(at: bytes.readerIndex + Int(f.nameEnd) + 1, as: UInt8.self) == 0x20
    }

    /// Field `i`'s value as a Content-Length: 1*DIGIT, no overflow; nil otherwise.
    func decimalValue(_ i: Int) -> Int? {
        let f = fields[i]
        return bytes.withUnsafeReadableBytes { raw in
            parseDecimal(UnsafeRawBufferPointer(rebasing: raw[Int(f.valueStart)..<Int(f.valueEnd)]))
        }
    }

    // MARK: edits

    mutating func remove(_ i: Int) {
        if i < 64 { removedMask.0 |= 1 << UInt64(i) } else { removedMask.1 |= 1 << UInt64(i - 64) }
    }

    /// Removes every kept field named `lowercaseName` and every addition of that name.
    mutating func removeAll(_ lowercaseName: String) {
        let wanted = Array(lowercaseName.utf8)
        for i in fields.indices where !isRemoved(i) && name(i, isBytes: wanted) { remove(i) }
        if !added.isEmpty { added.removeAll { $0.name.utf8.count == wanted.count && $0.name.lowercased() == lowercaseName } }
    }

    mutating func add(_ name: String, _ value: String) {
        // One allocation for the usual few additions (forwarded-for, a cookie, cache-control).
        if added.isEmpty { added.reserveCapacity(4) }
        added.append((name, value))
    }

    /// `set-header`: removes every line of that name, then adds one.
    mutating func set(_ name: String, _ value: String) {
        removeAll(name.lowercased())
        add(name, value)
    }

    // MARK: serialising

    /// Bytes `write(into:)` will produce, for the buffer's capacity.
    var serialisedSizeEstimate: Int {
        var size = bytes.readableBytes + (startLineOverride?.utf8.count ?? 0) + 2
        for (name, value) in added { size += name.utf8.count + value.utf8.count + 4 }
        return size
    }

    /// Bytes `write(into:)` produces, exactly (what a rewrite adds is the difference).
    var serialisedSize: Int {
        var size = (startLineOverride.map { $0.utf8.count + 2 } ?? Int(startLineEnd)) + 2
        for (i, f) in fields.enumerated() where !isRemoved(i) { size += Int(f.lineEnd - f.lineStart) }
        for (name, value) in added { size += name.utf8.count + value.utf8.count + 4 }
        return size
    }

    /// Writes the head: the start line (or its override), the kept lines as they came (runs of
    /// adjacent kept lines in one copy), the added lines, and the empty line.
    func write(into out: inout ByteBuffer) {
        bytes.withUnsafeReadableBytes { raw in
            if let startLineOverride {
                out.writeString(startLineOverride)
                out.writeStaticString("\r\n")
            } else {
                out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[0..<Int(startLineEnd)]))
            }
            var runStart = -1
            var runEnd = -1
            for (i, f) in fields.enumerated() {
                if isRemoved(i) { continue }
                if Int(f.lineStart) == runEnd {
                    runEnd = Int(f.lineEnd)
                } else {
                    if runStart >= 0 { out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[runStart..<runEnd])) }
                    runStart = Int(f.lineStart)
                    runEnd = Int(f.lineEnd)
                }
            }
            if runStart >= 0 { out.writeBytes(UnsafeRawBufferPointer(rebasing: raw[runStart..<runEnd])) }
        }
        for (name, value) in added {
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
        out.writeStaticString("\r\n")
    }

    /// The head in `buffer`, reusing its storage when nothing else holds it (the previous
    /// head written from it has gone out): no allocation per head on a busy connection.
    func serialise(into buffer: inout ByteBuffer) {
        buffer.clear(minimumCapacity: serialisedSizeEstimate + 64)
        write(into: &buffer)
    }

    /// The head as a new buffer.
    func serialised(allocator: ByteBufferAllocator) -> ByteBuffer {
        // Rounded up: NIO's writeString may reserve a little more than the bytes it writes.
        var out = allocator.buffer(capacity: (serialisedSizeEstimate + 64) & ~63)
        write(into: &out)
        return out
    }
}

/// 1*DIGIT as an Int: no sign, no spaces, no overflow (a Content-Length, a chunk of a date).
func parseDecimal<C: Collection<UInt8>>(_ digits: C) -> Int? {
    guard !digits.isEmpty, digits.count <= 19 else { return nil }
    var value = 0
    for b in digits {
        guard b >= 0x30 && b <= 0x39 else { return nil }
        let (times, o1) = value.multipliedReportingOverflow(by: 10)
        let (sum, o2) = times.addingReportingOverflow(Int(b - 0x30))
        if o1 || o2 { return nil }
        value = sum
    }
    return value
}

@inline(__always)
func asciiLower(_ b: UInt8) -> UInt8 { (b >= 0x41 && b <= 0x5A) ? b | 0x20 : b }

/// A request method, compared without building a String. The methods the proxy reasons about
/// are named; any other token is `.other`.
enum HTTPMethodName: Equatable {
    case get, head, post, put, delete, options, trace, connect, patch, other

    init(bytes: ByteBuffer, range: Range<Int32>) {
        self = bytes.withUnsafeReadableBytes { raw -> HTTPMethodName in
            let m = UnsafeRawBufferPointer(rebasing: raw[Int(range.lowerBound)..<Int(range.upperBound)])
            func eq(_ s: StaticString) -> Bool {
                m.count == s.utf8CodeUnitCount && memcmp(m.baseAddress!, s.utf8Start, m.count) == 0
            }
            switch m.count {
            case 3: return eq("GET") ? .get : eq("PUT") ? .put : .other
            case 4: return eq("HEAD") ? .head : eq("POST") ? .post : .other
            case 5: return eq("TRACE") ? .trace : eq("PATCH") ? .patch : .other
            case 6: return eq("DELETE") ? .delete : .other
            case 7: return eq("OPTIONS") ? .options : eq("CONNECT") ? .connect : .other
            default: return .other
            }
        }
    }

    /// RFC 9110 §9.2.2: methods a client expects may be repeated.
    var isIdempotent: Bool {
        switch self {
        case .get, .head, .options, .put, .delete, .trace: true
        default: false
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
