import NIOCore

/// Finds and checks one HTTP/1 message head at the front of a buffer (RFC 9112 §2-5), strictly:
/// what it accepts, every server parses the same way. A head that does not fit HAProxy's
/// buffer (`Limits`) is `.tooLarge`; everything else malformed is `.malformed` — bare LF,
/// a space before the colon, a control byte in a value, a method or name that is not a token,
/// a version other than HTTP/1.x. HAProxy answers both the same way: 400 to a request, 502 for
/// a response. Two things HAProxy repairs are repaired the same way, off the fast path
/// (`HeadNormaliser`): obsolete line folding and Content-Length lists or repeats.
///
/// Incremental: `parse` returns `.incomplete` until the empty line has arrived, remembering
/// how far it looked so a head that trickles in is scanned once.
struct HeadParser {
    enum Failure: Error, Equatable {
        case malformed(String)
        case tooLarge
    }

    enum Outcome {
        case incomplete
        case head(MessageHead)
        case failure(Failure)
    }

    /// HAProxy 2.6's bounds of a head, from `tune.bufsize` B (16384), `tune.maxrewrite` R
    /// (1024) and `tune.http.maxhdr` M (101), found byte for byte against haproxy on loopback
    /// (requests and responses alike, long start lines and long or many headers):
    /// * `maxHead`: the head's bytes as they came, at most B − 64 (what HAProxy's H1 layer
    ///   lets into its input buffer before it gives up on a head that has not ended);
    /// * `maxStored`: the head as HAProxy stores it (HTX: 8 bytes per block, the start line's
    ///   block 32 more, its three parts, each field's name and value without the spaces around
    ///   it, the end-of-head block), at most B − R − 37 — the buffer less the rewrite reserve;
    /// * `maxFields`: at most M − 1 header lines (HAProxy's list keeps a slot for its end) —
    ///   and never more than `MessageHead.maxFields` (128), what a head can hold, whatever M.
    /// A request line has no bound of its own (HAProxy has no 414, nor 431).
    struct Limits {
        var maxHead = 16384 - 64
        var maxStored: Int? = 16384 - 1024 - 37
        var maxFields = 100
        /// `option accept-invalid-http-request`: a `#` in a request target is accepted (HAProxy
        /// 2.6 refuses a fragment with 400 otherwise).
        var allowFragment = false
        /// `option accept-invalid-http-response` (HAProxy's PR_O2_RSPBUG_OK), a response's:
        /// where HAProxy 2.6's H1 parser lets it through, and no further —
        /// * the version may be any word of HAProxy's version bytes (A-Z, 0-9, `.`, `/`): it is
        ///   1.1 when it is 8 bytes whose sixth says 2 or more or whose sixth and eighth say 1.1
        ///   or more (HAProxy's H1_MF_VER_11), 1.0 otherwise (`ICY`, `HTTP/0.9`, `HTTP/1.10`);
        /// * a field name may hold visible bytes outside the token set (`"`, `@`, `(`…) and
        ///   bytes over 127. Blanks and control bytes in a name stay refused, where HAProxy
        ///   takes them too: `Transfer-Encoding : chunked` or a CR inside a name is read as a
        ///   framing field by a lenient client (response splitting), so it stays a 502.
        var acceptInvalidResponse: Bool {
            get { anyResponseVersion && anyResponseFieldName }
            set { (anyResponseVersion, anyResponseFieldName) = (newValue, newValue) }
        }
        /// Its two halves: an HTTP/2 stream's translator of the engine's output takes any
        /// version but not such names, which HPACK cannot carry (a byte over 127 stops the
        /// process in NIOHPACK): the stream is reset instead.
        var anyResponseVersion = false
        var anyResponseFieldName = false
        /// `tune.bufsize` when written, and the part of it rewrites keep (`tune.maxrewrite`):
        /// what `rewriteRoom` measures against.
        var bufferSize: Int?
        var rewriteReserve = 1024

        /// These bounds, with `acceptInvalidResponse` (a backend's option).
        var acceptingInvalidResponses: Limits {
            var relaxed = self
            relaxed.acceptInvalidResponse = true
            return relaxed
        }

        /// HAProxy's bounds for buffers of `bufferSize` bytes with `rewriteReserve` kept for
        /// rewrites and `maxHeaders` (`tune.http.maxhdr`).
        static func haproxy(bufferSize: Int, rewriteReserve: Int, maxHeaders: Int) -> Limits {
            Limits(maxHead: bufferSize - 64, maxStored: bufferSize - rewriteReserve - 37, maxFields: maxHeaders - 1)
        }

        /// HAProxy's room for rewrites: a message is received into its buffer up to the size
        /// less the reserve, so rules may add what the buffer has left — at least the reserve.
        /// nil without `tune.bufsize` (SwiftLB's heads are edit lists; nothing to run out of).
        func rewriteRoom(head: @autoclosure () -> Int, buffered: Int) -> Int? {
            guard let size = bufferSize else { return nil }
            return size - min(size - rewriteReserve, head() + buffered)
        }
    }

    let kind: MessageHead.Kind
    var limits: Limits
    /// How many bytes at the front were already searched for the end of the head.
    private var scanned = 0
    /// How far the start line of a head not ended yet was found to be a valid beginning (so a
    /// line that trickles in is looked at once, not again from its start at every read).
    private var startLine = StartLineScan()

    init(kind: MessageHead.Kind, limits: Limits = Limits()) {
        self.kind = kind
        self.limits = limits
    }

    /// Forgets the partial scan (the previous head was taken).
    mutating func reset() {
        scanned = 0
        startLine = StartLineScan()
    }

    /// Looks at `buffer`'s readable bytes; on success the head is read off the buffer (the rest,
    /// a body or the next message, stays).
    mutating func parse(_ buffer: inout ByteBuffer) -> Outcome {
        // Leading empty lines (CRLF or a bare LF) before a start line are skipped, as by
        // HAProxy's H1 parser (RFC 9112 §2.2), for a request and for a response alike.
        if let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self), first == 0x0D || first == 0x0A {
            while let byte = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) {
                if byte == 0x0A {
                    buffer.moveReaderIndex(forwardBy: 1)
                } else if byte == 0x0D, buffer.getInteger(at: buffer.readerIndex + 1, as: UInt8.self) == 0x0A {
                    buffer.moveReaderIndex(forwardBy: 2)
                } else {
                    break
                }
                scanned = 0
                startLine = StartLineScan()
            }
            if buffer.readableBytes == 1 && buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == 0x0D { return .incomplete }
        }
        let available = buffer.readableBytes
        let found: Int? = buffer.withUnsafeReadableBytes { raw in
            // memchr for each LF, then look at what follows: heads are short, lines are few.
            // "\n\r\n" ends a head; so does "\n\n", which `check` then refuses as a bare LF
            // (rather than waiting for a terminator that will never come).
            var i = max(0, scanned - 3)
            while i + 1 < raw.count {
                guard let p = findLF(raw, from: i) else { return nil }
                guard p + 1 < raw.count else { return nil }
                if raw[p + 1] == 0x0A { return p + 2 }
                if raw[p + 1] == 0x0D {
                    guard p + 2 < raw.count else { return nil }
                    if raw[p + 2] == 0x0A { return p + 3 }
                }
                i = p + 1
            }
            return nil
        }
        guard let length = found else {
            scanned = available
            if available > limits.maxHead { return .failure(.tooLarge) }
            // A start line whose bytes so far already cannot begin a valid one (binary noise, a
            // TLS hello on a plain port, CR-only line ends, HTTP/0.9's `GET /path` and its bare
            // LF) is refused now, as HAProxy's parser stops at the first byte that does not fit
            // — waiting for a head that never ends would answer it with a 408 at `timeout
            // http-request` (or a 504 at `timeout server`).
            let anyVersion = kind == .response && limits.anyResponseVersion
            if !buffer.withUnsafeReadableBytes({ startLine.mayBeValid($0, kind: kind, anyVersion: anyVersion) }) {
                return .failure(.malformed(kind == .request ? "request line" : "status line"))
            }
            return .incomplete
        }
        if length > limits.maxHead { return .failure(.tooLarge) }
        let bytes = buffer.getSlice(at: buffer.readerIndex, length: length)!
        var checked = Self.check(bytes, kind: kind, limits: limits)
        if case .normalise = checked {
            // Rare: a folded line or a Content-Length list/repeat. The head is rewritten into
            // a copy as HAProxy stores it, then checked again with nothing left to repair.
            checked = Self.check(HeadNormaliser.normalised(bytes), kind: kind, limits: limits, normalised: true)
        }
        switch checked {
        case .head(let head):
            buffer.moveReaderIndex(forwardBy: length)
            scanned = 0
            startLine = StartLineScan()
            return .head(head)
        case .failure(let failure):
            return .failure(failure)
        case .normalise:
            preconditionFailure("a normalised head asks for nothing more")
        }
    }

    /// What checking a complete head found.
    private enum Checked {
        case head(MessageHead)
        case failure(Failure)
        /// Valid once repaired as HAProxy repairs it (`HeadNormaliser`).
        case normalise
    }

    // MARK: checking a complete head

    /// `normalised`: `bytes` is `HeadNormaliser`'s output; whatever is still odd is refused
    /// here or by `MessageFraming` (an invalid or conflicting Content-Length).
    private static func check(_ bytes: ByteBuffer, kind: MessageHead.Kind, limits: Limits, normalised: Bool = false) -> Checked {
        bytes.withUnsafeReadableBytes { raw -> Checked in
            let n = raw.count
            // Start line.
            guard let lf = findLF(raw, from: 0) else { return .failure(.malformed("no start line")) }
            guard lf >= 1, raw[lf - 1] == 0x0D else { return .failure(.malformed("bare LF")) }
            let lineEnd = lf - 1
            guard let sp1 = (0..<lineEnd).first(where: { raw[$0] == 0x20 }) else { return .failure(.malformed("start line")) }
            var part1 = 0..<sp1
            var part2: Range<Int>
            var part3: Range<Int>
            var minor = 1
            var status = 0
            switch kind {
            case .request:
                guard let sp2 = (sp1 + 1..<lineEnd).first(where: { raw[$0] == 0x20 }) else { return .failure(.malformed("request line")) }
                part2 = sp1 + 1..<sp2
                part3 = sp2 + 1..<lineEnd
                guard !part1.isEmpty, part1.allSatisfy({ isToken(raw[$0]) }) else { return .failure(.malformed("method")) }
                guard !part2.isEmpty, part2.allSatisfy({ raw[$0] > 0x20 && raw[$0] < 0x7F && (raw[$0] != 0x23 || limits.allowFragment) }) else {
                    return .failure(.malformed("request target"))
                }
                guard let v = version(raw, part3) else { return .failure(.malformed("version")) }
                minor = v
            case .response:
                if let v = version(raw, part1) {
                    minor = v
                } else if limits.anyResponseVersion, let v = anyVersion(raw, 0..<sp1) {
                    minor = v
                } else {
                    return .failure(.malformed("version"))
                }
                let codeEnd = min(sp1 + 4, lineEnd)
                part2 = sp1 + 1..<codeEnd
                guard part2.count == 3, part2.allSatisfy({ raw[$0] >= 0x30 && raw[$0] <= 0x39 }) else { return .failure(.malformed("status code")) }
                status = part2.reduce(0) { $0 * 10 + Int(raw[$1] - 0x30) }
                if codeEnd == lineEnd {
                    part3 = lineEnd..<lineEnd  // "HTTP/1.1 200" without a reason: tolerated
                } else {
                    guard raw[codeEnd] == 0x20 else { return .failure(.malformed("status line")) }
                    part3 = codeEnd + 1..<lineEnd
                    guard part3.allSatisfy({ raw[$0] == 0x09 || (raw[$0] >= 0x20 && raw[$0] != 0x7F) }) else { return .failure(.malformed("reason")) }
                }
                part1 = 0..<sp1
            }
            // Fields.
            var fields: [MessageHead.Field] = []
            fields.reserveCapacity(16)
            // What HAProxy stores: the start line's block, its fields', the end of the head's.
            var stored = 8 + 32 + part1.count + part2.count + part3.count + 8
            var counted = 0
            var sawLength = false
            var p = lf + 1
            while p < n {
                if raw[p] == 0x0D {
                    // The empty line: must be the last two bytes.
                    guard p + 2 == n, raw[p + 1] == 0x0A else { return .failure(.malformed("bytes after the head")) }
                    break
                }
                if raw[p] == 0x20 || raw[p] == 0x09 {
                    // HAProxy unfolds a continued field line; one continuing the start line
                    // is refused (h1_headers_to_hdr_list), as by HAProxy.
                    if p == lf + 1 || normalised { return .failure(.malformed("obsolete line folding")) }
                    return .normalise
                }
                guard let end = findLF(raw, from: p) else { return .failure(.malformed("field line")) }
                guard raw[end - 1] == 0x0D else { return .failure(.malformed("bare LF")) }
                var colon = p
                while colon < end - 1 && isToken(raw[colon]) { colon += 1 }
                if raw[colon] != 0x3A && kind == .response && limits.anyResponseFieldName {
                    // Off the usual path: only a name that is not a token gets here.
                    while colon < end - 1 && raw[colon] != 0x3A && (raw[colon] > 0x20 && raw[colon] != 0x7F) { colon += 1 }
                }
                guard colon > p, raw[colon] == 0x3A else {
                    return .failure(.malformed(raw[colon] == 0x20 || raw[colon] == 0x09 ? "space before colon" : "field name"))
                }
                // HAProxy's HTX keeps a name's length in one byte: a longer name is a 400 (502).
                guard colon - p <= 255 else { return .failure(.malformed("field name over 255 bytes")) }
                var vs = colon + 1
                var ve = end - 1
                while vs < ve && (raw[vs] == 0x20 || raw[vs] == 0x09) { vs += 1 }
                while ve > vs && (raw[ve - 1] == 0x20 || raw[ve - 1] == 0x09) { ve -= 1 }
                for k in vs..<ve {
                    let b = raw[k]
                    if (b < 0x20 && b != 0x09) || b == 0x7F { return .failure(.malformed("control byte in a field value")) }
                }
                // A Content-Length that is not one number, or a second one: HAProxy merges
                // identical values into one field (h1_parse_cont_len_header). Names of 14
                // bytes are rare enough that this costs nothing on the usual head.
                if colon - p == 14 && !normalised && Self.isContentLength(raw, p) {
                    if sawLength || !Self.isDigits(raw, vs..<ve) { return .normalise }
                    sawLength = true
                }
                fields.append(MessageHead.Field(lineStart: Int32(p), nameEnd: Int32(colon), valueStart: Int32(vs), valueEnd: Int32(ve), lineEnd: Int32(end + 1)))
                if fields.count > MessageHead.maxFields { return .failure(.tooLarge) }
                // HAProxy keeps `Connection: close`/`keep-alive` as flags, not as a header.
                let value = colon - p == 10 && Self.isConnection(raw, p) ? Self.storedConnectionLength(raw, vs, ve) : ve - vs
                if let value {
                    counted += 1
                    if counted > limits.maxFields { return .failure(.tooLarge) }
                    stored += 8 + (colon - p) + value
                }
                p = end + 1
            }
            if let maxStored = limits.maxStored, stored > maxStored { return .failure(.tooLarge) }
            return .head(MessageHead(kind: kind, bytes: bytes,
                                        part1: Int32(part1.lowerBound)..<Int32(part1.upperBound),
                                        part2: Int32(part2.lowerBound)..<Int32(part2.upperBound),
                                        part3: Int32(part3.lowerBound)..<Int32(part3.upperBound),
                                        startLineEnd: Int32(lf + 1), minorVersion: minor, fields: fields, status: status))
        }
    }

    /// Whether the 10-byte name at `start` is `Connection`, in any case.
    private static func isConnection(_ raw: UnsafeRawBufferPointer, _ start: Int) -> Bool {
        isWord(raw, start..<start + 10, "connection")
    }

    /// Whether the 14-byte name at `start` is `Content-Length`, in any case.
    static func isContentLength(_ raw: UnsafeRawBufferPointer, _ start: Int) -> Bool {
        isWord(raw, start..<start + 14, "content-length")
    }

    private static func isDigits(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        !range.isEmpty && range.allSatisfy { raw[$0] >= 0x30 && raw[$0] <= 0x39 }
    }

    /// What HAProxy's H1 parser (`h1_parse_connection_header`, cleaning on) keeps of the
    /// Connection value `vs..<ve`: without `close` and `keep-alive`, the value as it came up
    /// to the last token kept so far, or once one was dropped the others joined by ","; nil
    /// when nothing is left (the header is not stored, nor counted).
    private static func storedConnectionLength(_ raw: UnsafeRawBufferPointer, _ vs: Int, _ ve: Int) -> Int? {
        var length = 0
        var p = vs
        var i = vs
        while i < ve {
            if raw[i] == 0x20 || raw[i] == 0x09 {
                i += 1
                continue
            }
            var n = i
            while n < ve && raw[n] != 0x2C { n += 1 }
            var end = n
            while end > i && (raw[end - 1] == 0x20 || raw[end - 1] == 0x09) { end -= 1 }
            if !isWord(raw, i..<end, "close") && !isWord(raw, i..<end, "keep-alive") {
                if vs + length == p {
                    length = n - vs
                } else {
                    if length > 0 { length += 1 }
                    length += end - i
                }
            }
            p = n
            i = n + 1
        }
        return length == 0 ? nil : length
    }

    private static func isWord(_ raw: UnsafeRawBufferPointer, _ range: Range<Int>, _ word: StaticString) -> Bool {
        guard range.count == word.utf8CodeUnitCount else { return false }
        let bytes = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for k in 0..<range.count where raw[range.lowerBound + k] | 0x20 != bytes[k] { return false }
        return true
    }

    /// `option accept-invalid-http-response`: any non-empty word of HAProxy's version bytes
    /// (A-Z, 0-9, `.`, `/`); 1 where HAProxy sets H1_MF_VER_11 (8 bytes, the sixth above 1, or
    /// 1 with the eighth 1 or more), else 0.
    private static func anyVersion(_ raw: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int? {
        guard !r.isEmpty, r.allSatisfy({ isVersionByte(raw[$0]) }) else { return nil }
        guard r.count == 8 else { return 0 }
        let major = raw[r.lowerBound + 5], minor = raw[r.lowerBound + 7]
        return major > 0x31 || (major == 0x31 && minor >= 0x31) ? 1 : 0
    }

    /// HAProxy's version bytes (HTTP_FLG_VER): A-Z, 0-9, `.` and `/`.
    static func isVersionByte(_ b: UInt8) -> Bool {
        (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x2F
    }

    /// `HTTP/1.0` → 0, `HTTP/1.1` (or any later 1.x) → 1; anything else nil.
    private static func version(_ raw: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int? {
        guard r.count == 8, raw[r.lowerBound] == 0x48, raw[r.lowerBound + 1] == 0x54, raw[r.lowerBound + 2] == 0x54,
              raw[r.lowerBound + 3] == 0x50, raw[r.lowerBound + 4] == 0x2F, raw[r.lowerBound + 5] == 0x31,
              raw[r.lowerBound + 6] == 0x2E else { return nil }
        let d = raw[r.lowerBound + 7]
        guard d >= 0x30 && d <= 0x39 else { return nil }
        return d == 0x30 ? 0 : 1
    }
}

/// The index of the first LF at or after `start`, by memchr.
@inline(__always)
func findLF(_ raw: UnsafeRawBufferPointer, from start: Int) -> Int? {
    guard start < raw.count, let base = raw.baseAddress, let hit = memchr(base + start, 0x0A, raw.count - start) else { return nil }
    return UnsafeRawPointer(hit) - base
}

/// RFC 9110 §5.6.2 tchar, as two bit masks over the 128 ASCII bytes (no table to load).
@inline(__always)
func isToken(_ b: UInt8) -> Bool {
    // Bits set for ! # $ % & ' * + - . 0-9 (bytes 0-63) and A-Z ^ _ ` a-z | ~ (bytes 64-127).
    let low: UInt64 = 0x03FF_6CFA_0000_0000
    let high: UInt64 = 0x57FF_FFFF_C7FF_FFFE
    if b < 64 { return low & (1 << UInt64(b)) != 0 }
    if b < 128 { return high & (1 << UInt64(b - 64)) != 0 }
    return false
}

#if canImport(Glibc)
import Glibc
#endif

/// Whether a head not ended yet can still begin with a start line `HeadParser.check` accepts,
/// resumed where the last look stopped. A request: a method of token bytes, a space, a target
/// of visible ASCII (`check` judges the rest of it once the line is whole), a space, then
/// `HTTP/1.`, a digit, CR and LF. A response: `HTTP/1.`, a digit, a space, three digits. It
/// only refuses bytes `check` would refuse too, so nothing valid is cut short.
struct StartLineScan {
    private enum Phase { case method, target, version, anyVersion, done }
    private var phase = Phase.method
    /// Bytes of the head looked at so far.
    private var offset = 0
    /// Bytes of the version template matched so far.
    private var matched = 0

    /// `anyVersion`: a response's version may be any word of version bytes
    /// (`option accept-invalid-http-response`); `check` judges the status after it.
    mutating func mayBeValid(_ raw: UnsafeRawBufferPointer, kind: MessageHead.Kind, anyVersion: Bool = false) -> Bool {
        if offset == 0 && kind == .response { phase = anyVersion ? .anyVersion : .version }
        let n = raw.count
        while offset < n {
            let b = raw[offset]
            switch phase {
            case .method:
                if b == 0x20 {
                    guard offset > 0 else { return false }
                    phase = .target
                } else if !isToken(b) {
                    return false
                }
            case .target:
                // As `check`: visible ASCII only (a CR or LF here is a line without a version).
                if b == 0x20 {
                    phase = .version
                } else if b < 0x20 || b >= 0x7F {
                    return false
                }
            case .version:
                let shape: StaticString = kind == .request ? "HTTP/1.#\r\n" : "HTTP/1.# ###"
                let expected = shape.utf8Start[matched]
                guard expected == 0x23 ? (b >= 0x30 && b <= 0x39) : b == expected else { return false }
                matched += 1
                if matched == shape.utf8CodeUnitCount { phase = .done }
            case .anyVersion:
                if b == 0x20 {
                    guard offset > 0 else { return false }
                    phase = .done
                } else if !HeadParser.isVersionByte(b) {
                    return false
                }
            case .done:
                return true
            }
            offset += 1
        }
        return true
    }
}
