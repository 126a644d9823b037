import NIOCore
import SwiftLBConfig

/// The client's bytes as `tcp-request content` rules see them while inspecting: what has
/// arrived so far, and whether more may come (`final` once the inspect delay is over, the
/// buffer is full or the client half-closed). A fetch that needs bytes not there yet records
/// it (`wantsMore`), so the rule waits for them instead of deciding on a partial request —
/// HAProxy's "sample may change" answer.
final class InspectedPayload {
    var bytes: [UInt8]
    let final: Bool
    /// A fetch needed bytes beyond those held.
    private var missing = false
    /// A fetch read something more bytes would change (`req.len`, `req.payload(N,0)`).
    private var volatile = false

    init(_ buffer: ByteBuffer, final: Bool) {
        bytes = Array(buffer.readableBytesView)
        self.final = final
    }

    /// `count` bytes from `offset`, or nil (recording that more are wanted if more may come).
    func slice(_ offset: Int, _ count: Int) -> ArraySlice<UInt8>? {
        // Whatever the client put in a length field: never a negative or overflowing range.
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else {
            missing = true
            return nil
        }
        return bytes[offset..<(offset + count)]
    }

    /// After a rule's condition: whether to wait for more bytes instead of acting on
    /// `holds` — HAProxy's ACL_TEST_MISS (a fetch lacked bytes, or a volatile one did not match)
    /// while more may come. Clears the marks for the next condition.
    func mustWait(holds: Bool) -> Bool {
        defer { missing = false; volatile = false }
        return !final && (missing || (volatile && !holds))
    }

    /// What a fetch reads from these bytes: the bytes themselves for the payload fetches, the
    /// integer as text for `req.len` and `req.ssl_hello_type`.
    func value(_ fetch: SampleFetch) -> [UInt8]? {
        switch fetch {
        case .requestLength:
            volatile = true
            return Array(String(bytes.count).utf8)
        case .payload(let offset, let length):
            if length == 0 {
                volatile = true
                guard offset <= bytes.count else { missing = true; return nil }
                return Array(bytes[offset...])
            }
            return slice(offset, length).map(Array.init)
        case .payloadLV(let lengthOffset, let lengthSize, let dataOffset):
            guard lengthSize > 0, lengthSize <= 4, let field = slice(lengthOffset, lengthSize) else { return nil }
            let length = field.reduce(0) { $0 << 8 | Int($1) }
            return slice(dataOffset ?? lengthOffset + lengthSize, length).map(Array.init)
        case .sslHelloType:
            // A TLS record of type handshake (22) and version 3.x whose first handshake message
            // has arrived whole: its type. As HAProxy's, it waits for the whole message (a
            // ClientHello can span several reads), so that `accept if { req.ssl_hello_type 1 }`
            // lets the SNI and ALPN fetches after it see the complete hello.
            guard let header = slice(0, 9).map(Array.init) else { return nil }
            guard header[0] == 0x16, header[1] == 3, Int(header[3]) << 8 | Int(header[4]) >= 4 else { return nil }
            let messageLength = Int(header[6]) << 16 | Int(header[7]) << 8 | Int(header[8])
            guard slice(0, 9 + messageLength) != nil else { return nil }
            return Array(String(header[5]).utf8)
        case .requestSSLSNI:
            return serverName().map { Array($0.utf8) }
        case .requestSSLALPN:
            return firstALPN().map { Array($0.utf8) }
        case .rdpCookie(let name):
            guard case .found(let value) = rdpCookie(name) else { return nil }
            return Array(value)
        case .rdpCookieCount(let name):
            switch rdpCookie(name) {
            case .found: return Array("1".utf8)
            case .absent: return Array("0".utf8)
            case .short: return nil
            }
        case .requestProtoHTTP:
            return startsWithRequestLine() ? Array("1".utf8) : nil
        case .waitEnd:
            // HAProxy's `smp_fetch_wait_end`: no answer until the delay is over.
            if final { return Array("1".utf8) }
            missing = true
            return nil
        default:
            return nil
        }
    }

    private enum RDPCookie {
        case found(ArraySlice<UInt8>)
        /// Not a cookie line (or not the cookie named).
        case absent
        /// The bytes end before the line does (more are marked wanted).
        case short
    }

    /// The `Cookie: NAME=VALUE\r\n` line that follows the 11 bytes of an RDP connection
    /// request's TPKT and X.224 headers, as HAProxy's fetch_rdp_cookie_name reads it: `Cookie:`
    /// and the name without case, blanks after the colon skipped, the value up to CR LF.
    private func rdpCookie(_ name: String?) -> RDPCookie {
        let cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        func short() -> RDPCookie {
            missing = true
            return .short
        }
        func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5A ? c | 0x20 : c }
        func matches(_ text: String, at i: Int) -> Bool {
            bytes.count - i >= text.utf8.count && zip(bytes[i...], text.utf8).allSatisfy { lower($0) == lower($1) }
        }
        guard bytes.count > 18 else { return short() }
        guard matches("Cookie:", at: 11) else { return .absent }
        var i = 18
        while i < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
        if let name {
            let length = name.utf8.count
            guard bytes.count - i > length else { return short() }
            guard bytes[i + length] == UInt8(ascii: "="), matches(name, at: i) else { return .absent }
            i += length + 1
        } else {
            while i < bytes.count, bytes[i] != UInt8(ascii: "=") {
                if bytes[i] == cr || bytes[i] == lf { return .absent }
                i += 1
            }
            guard i < bytes.count else { return short() }
            i += 1
        }
        let start = i
        while i < bytes.count, bytes[i] != cr { i += 1 }
        guard bytes.count - i >= 2 else { return short() }
        return bytes[i + 1] == lf ? .found(bytes[start..<i]) : .absent
    }

    /// `req.proto_http`: the bytes start with `METHOD SP TARGET SP HTTP/x.y` and its line end
    /// (a line not ended yet waits for more; HAProxy's request line parser, which `PRI *
    /// HTTP/2.0` passes too).
    private func startsWithRequestLine() -> Bool {
        guard let end = bytes.prefix(8192).firstIndex(of: UInt8(ascii: "\n")) else {
            if bytes.count < 8192 { missing = true }
            return false
        }
        var line = bytes[..<end]
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, !parts[1].isEmpty else { return false }
        let token = parts[0].allSatisfy { c in
            (c >= 0x21 && c <= 0x7E) && !"()<>@,;:\\\"/[]?={}".utf8.contains(c)
        }
        let version = Array(parts[2])
        return token && version.count == 8 && version.starts(with: "HTTP/".utf8) && (0x30...0x39).contains(version[5])
            && version[6] == UInt8(ascii: ".") && (0x30...0x39).contains(version[7])
    }

    /// The `server_name` of a ClientHello at the start of the bytes (RFC 6066 §3).
    private func serverName() -> String? {
        guard let ext = helloExtension(0), ext.count >= 5, ext[2] == 0 else { return nil }
        let nameLength = Int(ext[3]) << 8 | Int(ext[4])
        guard 5 + nameLength <= ext.count else { return nil }
        return String(decoding: ext[5..<(5 + nameLength)], as: UTF8.self)
    }

    /// The first protocol of a ClientHello's ALPN extension (RFC 7301), as HAProxy returns it.
    private func firstALPN() -> String? {
        guard let ext = helloExtension(16), ext.count >= 3 else { return nil }
        let length = Int(ext[2])
        guard length > 0, 3 + length <= ext.count else { return nil }
        return String(decoding: ext[3..<(3 + length)], as: UTF8.self)
    }

    /// The body of extension `wanted` of a ClientHello at the start of the bytes (RFC 8446
    /// §4.1.2): after the record and handshake headers, version, random, session id, cipher
    /// suites and compression methods.
    private func helloExtension(_ wanted: Int) -> [UInt8]? {
        guard let record = slice(0, 5), record[0] == 0x16, record[1] == 3 else { return nil }
        let recordLength = Int(record[3]) << 8 | Int(record[4])
        guard let body = slice(5, recordLength).map(Array.init), body.count >= 4, body[0] == 1 else { return nil }
        var i = 4 + 2 + 32  // handshake header, version, random
        func skip(_ lengthBytes: Int) -> Bool {
            guard i + lengthBytes <= body.count else { return false }
            let n = body[i..<(i + lengthBytes)].reduce(0) { $0 << 8 | Int($1) }
            i += lengthBytes + n
            return i <= body.count
        }
        guard skip(1), skip(2), skip(1), i + 2 <= body.count else { return nil }  // session id, ciphers, compression
        let end = min(body.count, i + 2 + (Int(body[i]) << 8 | Int(body[i + 1])))
        i += 2
        while i + 4 <= end {
            let type = Int(body[i]) << 8 | Int(body[i + 1])
            let length = Int(body[i + 2]) << 8 | Int(body[i + 3])
            i += 4
            guard i + length <= end else { return nil }
            if type == wanted { return Array(body[i..<(i + length)]) }
            i += length
        }
        return nil
    }
}

extension SampleInput {
    /// The bytes a payload fetch reads, nil outside of inspection or when they are not there.
    func payloadBytes(_ fetch: SampleFetch) -> [UInt8]? {
        // An HTTP stream is HTTP: `HTTP` holds there.
        if inspected == nil {
            switch fetch {
            case .requestProtoHTTP, .waitEnd: return Array("1".utf8)
            // HAProxy's `req.len` on an HTTP stream: the request's size in its buffer (so
            // `REQ_CONTENT` holds for every request).
            case .requestLength: return requestHead.map { Array(String($0.serialisedSize).utf8) }
            default: break
            }
        }
        return inspected?.value(fetch)
    }

    /// Payload fetches as the string samples ACLs compare.
    func payloadSamples(_ fetch: SampleFetch) -> [String] {
        payloadBytes(fetch).map { [String(decoding: $0, as: UTF8.self)] } ?? []
    }
}
