import NIOCore

/// Repairs the two things in a received head that HAProxy 2.6 repairs rather than refuses,
/// into a copy that `HeadParser` then checks as usual (found against haproxy on loopback):
/// * obsolete line folding (RFC 9112 §5.2): the CR and LF before a continuation line become
///   two spaces, so the field is one line whose value keeps the continuation's own blanks
///   (`a\r\n b` → `a   b`), as h1_headers_to_hdr_list does in place;
/// * Content-Length (h1_parse_cont_len_header): a list of identical numbers (`5, 5`) becomes
///   its last number as written (`5,05` → `05`), and a further Content-Length line with the
///   same number is dropped (not forwarded, not counted toward the head's bounds).
/// What cannot be repaired is left as it came: a Content-Length that is not a list of digits
/// (`5,`, `+5`, `5 5`) or that disagrees with an earlier one is refused by `MessageFraming`,
/// 400 for a request and 502 for a response, as HAProxy answers. Only heads that need it come
/// here, so the usual head is neither copied nor scanned twice.
enum HeadNormaliser {
    static func normalised(_ head: ByteBuffer) -> ByteBuffer {
        var bytes = Array(head.readableBytesView)
        guard let startLineEnd = bytes.firstIndex(of: 0x0A).map({ $0 + 1 }) else { return head }
        unfold(&bytes, from: startLineEnd)
        var out = ByteBuffer()
        out.reserveCapacity(bytes.count)
        out.writeBytes(bytes[0..<startLineEnd])
        var length: UInt64?
        var p = startLineEnd
        while p < bytes.count {
            let end = bytes[p...].firstIndex(of: 0x0A).map { $0 + 1 } ?? bytes.count
            let line = bytes[p..<end]
            if end - p >= 17, bytes[p + 14] == 0x3A, bytes[end - 2] == 0x0D,
               bytes.withUnsafeBytes({ HeadParser.isContentLength($0, p) }),
               case let (value, word)? = contentLength(bytes[(p + 15)..<(end - 2)]) {
                if length == nil {
                    length = value
                    out.writeBytes(bytes[p..<(p + 14)])
                    out.writeStaticString(": ")
                    out.writeBytes(word)
                    out.writeStaticString("\r\n")
                    p = end
                    continue
                }
                if length == value {
                    p = end  // the same length again: HAProxy skips the field
                    continue
                }
            }
            out.writeBytes(line)
            p = end
        }
        return out
    }

    /// Replaces the CRLF before each continuation line (one starting with SP or HTAB) after
    /// the start line with two spaces. A bare LF is left for the parser to refuse.
    private static func unfold(_ bytes: inout [UInt8], from start: Int) {
        var i = start
        while i + 1 < bytes.count {
            if bytes[i] == 0x0A, i > start, bytes[i - 1] == 0x0D, bytes[i + 1] == 0x20 || bytes[i + 1] == 0x09 {
                bytes[i - 1] = 0x20
                bytes[i] = 0x20
            }
            i += 1
        }
    }

    /// A Content-Length value as HAProxy 2.6 reads it: numbers separated by commas, blanks
    /// around each, every number the same. Returns the number and the last one as written;
    /// nil for anything else (an empty element, a sign, an overflow, different numbers).
    static func contentLength(_ value: ArraySlice<UInt8>) -> (UInt64, ArraySlice<UInt8>)? {
        var result: (UInt64, ArraySlice<UInt8>)?
        var i = value.startIndex
        let end = value.endIndex
        while true {
            while i < end && (value[i] == 0x20 || value[i] == 0x09) { i += 1 }
            let wordStart = i
            var n: UInt64 = 0
            while i < end, value[i] >= 0x30, value[i] <= 0x39 {
                let (times, o1) = n.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times.addingReportingOverflow(UInt64(value[i] - 0x30))
                if o1 || o2 { return nil }
                n = sum
                i += 1
            }
            if i == wordStart { return nil }
            if let earlier = result?.0, earlier != n { return nil }
            result = (n, value[wordStart..<i])
            while i < end && (value[i] == 0x20 || value[i] == 0x09) { i += 1 }
            if i == end { return result }
            if value[i] != 0x2C { return nil }
            i += 1
        }
    }
}
