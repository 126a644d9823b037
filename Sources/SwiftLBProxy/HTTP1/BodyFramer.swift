import NIOCore

/// Delimits one message body in a byte stream (RFC 9112 §6-7): by Content-Length, by chunked
/// coding, or until the connection closes. It takes from the front of a buffer exactly the bytes
/// that belong to this body and leaves the rest (the next pipelined message) in place.
///
/// Chunked bodies are checked as they pass — sizes in hex (below 2^56, HAProxy's bound; nginx's
/// is 2^59), whitespace after a size only before an extension, extensions named and without
/// control bytes, CRLF after each chunk, trailers bounded and each a `name: value` field — and
/// forwarded as they came (`decode: false`): the server reads exactly the framing SwiftLB read,
/// never a re-chunked version, so what passes is only what every server frames the same way. `decode: true` yields only the data, for an HTTP/1.0 client that cannot read chunks.
struct BodyFramer {
    enum Failure: Error, Equatable { case badChunk(String) }

    enum Mode: Equatable {
        case length(Int)
        case chunked
        case untilClose
    }

    private enum Chunk {
        case size(digits: Int, value: Int)
        /// Whitespace after the size: only an extension may follow (RFC 9112 §7.1.1 BWS).
        case sizeSpace(value: Int)
        /// Just after a `;`: optional whitespace, then the extension's name.
        case extensionStart(length: Int, value: Int)
        /// In an extension (`;name=value`).
        case sizeExtension(length: Int, value: Int)
        case sizeLF(value: Int)
        case data(remaining: Int)
        case dataCR
        case dataLF
        /// After the last chunk: trailer lines until the empty one. `lineLength` 0 = at a line
        /// start; `colon`: past the field name.
        case trailer(lineLength: Int, colon: Bool, total: Int)
        case trailerLF(empty: Bool, total: Int)
        case done
    }

    let mode: Mode
    private var remaining: Int
    private var chunk: Chunk = .size(digits: 0, value: 0)
    static let maxTrailers = 32768
    static let maxExtension = 4096
    /// Chunk sizes stay below 2^56 (HAProxy refuses larger ones, nginx those past 2^59).
    static let maxChunkSize = 1 << 56

    init(_ mode: Mode) {
        self.mode = mode
        if case .length(let n) = mode { remaining = n } else { remaining = 0 }
        if case .length(0) = mode { chunk = .done }
    }

    /// Whether the chunked body at the front of `input` (all or part of it) is well framed so
    /// far: a dry run on a copy, nothing taken.
    static func chunksMayBeValid(_ input: ByteBuffer) -> Bool {
        var framer = BodyFramer(.chunked)
        var copy = input
        do {
            _ = try framer.take(from: &copy, decode: false) { _ in }
            return true
        } catch {
            return false
        }
    }

    /// Whether the whole body has been taken.
    var isComplete: Bool {
        switch mode {
        case .length: remaining == 0
        case .chunked: if case .done = chunk { true } else { false }
        case .untilClose: false
        }
    }

    /// Bytes taken so far are all data (no chunk framing to strip).
    var isRaw: Bool { mode != .chunked }

    /// Takes this body's bytes from the front of `input` and hands them to `sink` (raw: as they
    /// came; decoded: chunk data only). Returns whether the body is complete.
    mutating func take(from input: inout ByteBuffer, decode: Bool = false, into sink: (ByteBuffer) -> Void) throws(Failure) -> Bool {
        switch mode {
        case .length:
            let n = min(remaining, input.readableBytes)
            if n > 0 {
                sink(input.readSlice(length: n)!)
                remaining -= n
            }
            return remaining == 0
        case .untilClose:
            if input.readableBytes > 0 { sink(input.readSlice(length: input.readableBytes)!) }
            return false
        case .chunked:
            return try takeChunked(from: &input, decode: decode, into: sink)
        }
    }

    private mutating func takeChunked(from input: inout ByteBuffer, decode: Bool, into sink: (ByteBuffer) -> Void) throws(Failure) -> Bool {
        var consumed = 0  // bytes of `input` (from its reader index) that belong to this body
        var dataStart = 0 // decode: where the current run of data began
        let count = input.readableBytes
        var failure: Failure?
        input.withUnsafeReadableBytes { raw in
            while consumed < count, failure == nil {
                let b = raw[consumed]
                switch chunk {
                case .size(let digits, let value):
                    if let h = hexValue(b) {
                        guard value < Self.maxChunkSize >> 4 else { failure = .badChunk("chunk size too large"); return }
                        chunk = .size(digits: digits + 1, value: value << 4 | h)
                    } else if digits == 0 {
                        failure = .badChunk("chunk size expected"); return
                    } else if b == 0x0D {
                        chunk = .sizeLF(value: value)
                    } else if b == 0x3B {
                        chunk = .extensionStart(length: 1, value: value)
                    } else if b == 0x20 || b == 0x09 {
                        chunk = .sizeSpace(value: value)
                    } else {
                        failure = .badChunk("invalid byte in chunk size"); return
                    }
                    consumed += 1
                case .sizeSpace(let value):
                    if b == 0x3B {
                        chunk = .extensionStart(length: 1, value: value)
                    } else if b != 0x20 && b != 0x09 {
                        failure = .badChunk("whitespace after the chunk size not before an extension"); return
                    }
                    consumed += 1
                case .extensionStart(let length, let value):
                    if isToken(b) {
                        chunk = .sizeExtension(length: length + 1, value: value)
                    } else if (b != 0x20 && b != 0x09) || length >= Self.maxExtension {
                        failure = .badChunk("chunk extension without a name"); return
                    } else {
                        chunk = .extensionStart(length: length + 1, value: value)
                    }
                    consumed += 1
                case .sizeExtension(let length, let value):
                    if b == 0x3B {
                        chunk = .extensionStart(length: length + 1, value: value)
                    } else if b == 0x0D {
                        chunk = .sizeLF(value: value)
                    } else if (b < 0x20 && b != 0x09) || b == 0x7F {
                        failure = .badChunk("control byte in a chunk extension"); return
                    } else if length >= Self.maxExtension {
                        failure = .badChunk("chunk extension too long"); return
                    } else {
                        chunk = .sizeExtension(length: length + 1, value: value)
                    }
                    consumed += 1
                case .sizeLF(let value):
                    guard b == 0x0A else { failure = .badChunk("CRLF expected after the chunk size"); return }
                    consumed += 1
                    chunk = value == 0 ? .trailer(lineLength: 0, colon: false, total: 0) : .data(remaining: value)
                    dataStart = consumed
                case .data(let left):
                    let n = min(left, count - consumed)
                    consumed += n
                    if n == left {
                        if decode && n > 0 { sink(input.getSlice(at: input.readerIndex + dataStart, length: consumed - dataStart)!) }
                        chunk = .dataCR
                    } else {
                        chunk = .data(remaining: left - n)
                    }
                case .dataCR:
                    guard b == 0x0D else { failure = .badChunk("CRLF expected after chunk data"); return }
                    consumed += 1
                    chunk = .dataLF
                case .dataLF:
                    guard b == 0x0A else { failure = .badChunk("CRLF expected after chunk data"); return }
                    consumed += 1
                    chunk = .size(digits: 0, value: 0)
                case .trailer(let lineLength, let colon, let total):
                    guard total < Self.maxTrailers else { failure = .badChunk("trailers too large"); return }
                    if b == 0x0D {
                        // A trailer line is a field (RFC 9112 §7.1.2): a name, a colon, a value.
                        guard lineLength == 0 || colon else { failure = .badChunk("trailer line without a colon"); return }
                        chunk = .trailerLF(empty: lineLength == 0, total: total + 1)
                    } else if (b < 0x20 && b != 0x09) || b == 0x7F {
                        failure = .badChunk("control byte in a trailer"); return
                    } else if !colon && b == 0x3A && lineLength > 0 {
                        chunk = .trailer(lineLength: lineLength + 1, colon: true, total: total + 1)
                    } else if !colon && !isToken(b) {
                        failure = .badChunk(lineLength == 0 && (b == 0x20 || b == 0x09) ? "folded trailer line" : "trailer name is not a token"); return
                    } else if !colon && lineLength == 255 {
                        // HAProxy's HTX keeps a name's length in one byte, a trailer's as a header's.
                        failure = .badChunk("trailer name over 255 bytes"); return
                    } else {
                        chunk = .trailer(lineLength: lineLength + 1, colon: colon, total: total + 1)
                    }
                    consumed += 1
                case .trailerLF(let empty, let total):
                    guard b == 0x0A else { failure = .badChunk("CRLF expected in trailers"); return }
                    consumed += 1
                    if empty { chunk = .done; return }
                    chunk = .trailer(lineLength: 0, colon: false, total: total + 1)
                case .done:
                    return
                }
            }
        }
        if let failure { throw failure }
        if decode {
            // A chunk's data that continues past this buffer: hand over what came so far.
            if case .data = chunk, consumed > dataStart {
                sink(input.getSlice(at: input.readerIndex + dataStart, length: consumed - dataStart)!)
            }
            input.moveReaderIndex(forwardBy: consumed)
        } else if consumed > 0 {
            sink(input.readSlice(length: consumed)!)
        }
        if case .done = chunk { return true }
        return false
    }

    @inline(__always)
    private func hexValue(_ b: UInt8) -> Int? {
        switch b {
        case 0x30...0x39: Int(b - 0x30)
        case 0x41...0x46: Int(b - 0x41 + 10)
        case 0x61...0x66: Int(b - 0x61 + 10)
        default: nil
        }
    }
}

/// Wraps data in chunks, for a body that has no length towards an HTTP/1.1 client that keeps
/// its connection (a close-delimited response from an HTTP/1.0 server).
enum ChunkEncoder {
    static func chunk(_ data: ByteBuffer, allocator: ByteBufferAllocator) -> (prefix: ByteBuffer, data: ByteBuffer, suffix: StaticString) {
        var prefix = allocator.buffer(capacity: 18)
        prefix.writeString(String(data.readableBytes, radix: 16))
        prefix.writeStaticString("\r\n")
        return (prefix, data, "\r\n")
    }

    static let last: StaticString = "0\r\n\r\n"
}
