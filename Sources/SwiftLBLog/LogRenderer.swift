#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

extension LogFormat {
    /// Writes one record through this format: HAProxy 2.6's `sess_build_logline`, case for case
    /// — which values honour `Q`, which print `-` when empty, which are `#XX`-encoded, where a
    /// separator is swallowed (after a space, or after a field that printed nothing at all).
    /// The record is only borrowed: rendering retains none of its Strings.
    func renderNodes(_ record: LogRecord, into out: inout LogBuffer) {
        /// HAProxy's `last_isspace`: true at the start and after a separator.
        var lastIsSpace = true
        for node in nodes {
            switch node.kind {
            case .separator:
                if !lastIsSpace { out.append(UInt8(ascii: " ")); lastIsSpace = true }
            case .text(let start, let end):
                literals.withUnsafeBytes { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[Int(start)..<Int(end)])) }
                lastIsSpace = false
            case .sample(let index):
                record.text(index < record.samples.count ? record.samples[index] : nil, node.options, &out)
                lastIsSpace = false
            case .variable(let variable):
                if variable.isCapture && (variable.isRequestCapture ? record.requestHeaders : record.responseHeaders)?.isEmpty ?? true {
                    if node.options.contains(.json) { out.append(contentsOf: "null"); lastIsSpace = false }
                    continue  // no capture configured: the field vanishes, the separator stays single
                }
                record.write(variable, node.options, mode, &out)
                lastIsSpace = false
            }
        }
    }
}

/// The renderer's per-variable writers, as methods of the record so it is borrowed, not copied.
extension LogRecord {
    // MARK: variables

    fileprivate func write(_ v: LogVariable, _ o: LogFormatOptions, _ mode: LogMode, _ out: inout LogBuffer) {
        let json = o.contains(.json)
        let early = self.loggedEarly && !json
        switch v {
        case .clientIP: ip(self.client, o, &out)
        case .clientPort: port(self.client, o, &out)
        case .frontendIP: ip(self.frontendAddress, o, &out)
        case .frontendPort: port(self.frontendAddress, o, &out)
        case .backendSourceIP: ip(self.backendSource, o, &out)
        case .backendSourcePort: port(self.backendSource, o, &out)
        case .serverIP: ip(self.serverAddress, o, &out)
        case .serverPort:
            // A unix server has no port; HAProxy prints 0 (the listener id is a client's).
            if case .unix = serverAddress { out.appendDecimal(0) } else { port(self.serverAddress, o, &out) }

        case .acceptDate: date(o, &out) { $0.appendLogDate(self.acceptDate) }
        case .requestDate: date(o, &out) { $0.appendLogDate(self.requestDate) }
        case .acceptDateGMT: date(o, &out) { $0.appendGMTDate(self.acceptDate) }
        case .requestDateGMT: date(o, &out) { $0.appendGMTDate(self.requestDate) }
        case .acceptDateLocal: date(o, &out) { $0.appendLocalDate(self.acceptDate) }
        case .requestDateLocal: date(o, &out) { $0.appendLocalDate(self.requestDate) }
        case .timestamp:
            if o.contains(.hex) && !json { out.appendHex(UInt64(max(0, self.acceptDate.seconds)), digits: 4) } else { out.appendDecimal(self.acceptDate.seconds) }
        case .acceptMilliseconds:
            if o.contains(.hex) && !json { out.appendHex(UInt64(self.acceptDate.microseconds / 1000), digits: 2) }
            else if json { out.appendDecimal(self.acceptDate.microseconds / 1000) }
            else { out.appendPadded(self.acceptDate.microseconds / 1000, width: 3) }

        case .frontend: text(self.frontend, o, &out)
        case .frontendTransport:
            if json {
                jsonString(self.frontend, suffix: self.frontendIsTLS ? UInt8(ascii: "~") : nil, &out)
            } else {
                if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
                out.append(contentsOf: self.frontend)
                if self.frontendIsTLS { out.append(UInt8(ascii: "~")) }
                if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
            }
        case .backend: text(self.backend, o, &out)
        case .server: text(self.server, o, &out)
        case .sslCipher: text(self.sslCipher, o, &out)
        case .sslVersion: text(self.sslVersion, o, &out)
        case .hostname: text(ProcessFacts.hostname, o, &out)
        case .uniqueID: text(self.uniqueID, o, &out)
        case .requestCookie: text(self.requestCookie, o, &out)
        case .responseCookie: text(self.responseCookie, o, &out)

        case .Th: out.appendDecimal(self.handshake)
        case .Ti: out.appendDecimal(self.idle)
        case .TR: out.appendDecimal(self.TR)
        case .Tq: out.appendDecimal(self.Tq)
        case .Tw: out.appendDecimal(self.Tw)
        case .Tc: out.appendDecimal(self.Tc)
        case .Tr: out.appendDecimal(self.Tr)
        case .Td: out.appendDecimal(mode == .http ? self.TdHTTP : self.TdTCP)
        case .Ta: if early { out.append(UInt8(ascii: "+")) }; out.appendDecimal(self.Ta)
        case .Tt: if early { out.append(UInt8(ascii: "+")) }; out.appendDecimal(self.Tt)
        case .Tu: if early { out.append(UInt8(ascii: "+")) }; out.appendDecimal(self.Tu)

        case .status: out.appendDecimal(self.status)
        case .bytesOut: if early { out.append(UInt8(ascii: "+")) }; out.appendDecimal(Int(self.bytesOut))
        case .bytesIn: out.appendDecimal(Int(self.bytesIn))

        case .terminationState, .terminationCookie:
            if json { out.append(UInt8(ascii: "\"")) }
            out.append(self.termination.cause.rawValue)
            out.append(self.termination.phase.rawValue)
            if v == .terminationCookie {
                out.append(self.cookie?.request.rawValue ?? UInt8(ascii: "-"))
                out.append(self.cookie?.response.rawValue ?? UInt8(ascii: "-"))
            }
            if json { out.append(UInt8(ascii: "\"")) }

        case .activeConnections: out.appendDecimal(self.activeConnections)
        case .frontendConnections: out.appendDecimal(self.frontendConnections)
        case .backendConnections: out.appendDecimal(self.backendConnections)
        case .serverConnections: out.appendDecimal(self.serverConnections)
        case .retries: if self.redispatched && !json { out.append(UInt8(ascii: "+")) }; out.appendDecimal(self.retries)
        case .serverQueue: out.appendDecimal(self.serverQueue)
        case .backendQueue: out.appendDecimal(self.backendQueue)
        case .requestCounter: counter(self.requestCounter, o, &out)
        case .logCounter: counter(self.logCounter, o, &out)
        case .pid: counter(Int(ProcessFacts.pid), o, &out)

        case .requestHeaders: captureBlock(self.requestHeaders ?? [], o, &out)
        case .responseHeaders: captureBlock(self.responseHeaders ?? [], o, &out)
        case .requestHeaderList: captureList(self.requestHeaders ?? [], o, &out)
        case .responseHeaderList: captureList(self.responseHeaders ?? [], o, &out)

        case .request, .method, .uri, .path, .pathOnly, .query, .version:
            requestPart(v, o, &out)
        }
    }

    // MARK: value kinds

    /// HAProxy's `lf_text_len`: quoted with Q, `\`-escaped with E, `-` when empty under M.
    fileprivate func text(_ value: String?, _ o: LogFormatOptions, _ out: inout LogBuffer) {
        if o.contains(.json) {
            if let value, !value.isEmpty { jsonString(value, suffix: nil, &out) } else { out.append(contentsOf: "null") }
            return
        }
        if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
        if let value, !value.isEmpty {
            if o.contains(.escape) {
                var value = value
                value.withUTF8 { for b in $0 { if isRFC5424Special(b) { out.append(UInt8(ascii: "\\")) }; out.append(b) } }
            } else {
                out.append(contentsOf: value)
            }
        } else if o.contains(.mandatory) && !o.contains(.quote) {
            out.append(UInt8(ascii: "-"))
        }
        if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
    }

    private func ip(_ address: LogAddress, _ o: LogFormatOptions, _ out: inout LogBuffer) {
        if address == .none { text(nil, o, &out); return }
        if o.contains(.json) {
            out.append(UInt8(ascii: "\"")); out.appendIP(address); out.append(UInt8(ascii: "\""))
        } else if o.contains(.hex) {
            out.appendIPHex(address)
        } else {
            if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
            out.appendIP(address)
            if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
        }
    }

    private func port(_ address: LogAddress, _ o: LogFormatOptions, _ out: inout LogBuffer) {
        switch address {
        case .none: text(nil, o, &out)
        case .unix: out.appendDecimal(listenerID)
        case .v4(_, let p), .v6(_, _, let p):
            if o.contains(.hex) && !o.contains(.json) { out.appendHex(UInt64(p), digits: 4) } else { out.appendDecimal(Int(p)) }
        }
    }

    private func date(_ o: LogFormatOptions, _ out: inout LogBuffer, _ write: (inout LogBuffer) -> Void) {
        if o.contains(.json) { out.append(UInt8(ascii: "\"")) }
        write(&out)
        if o.contains(.json) { out.append(UInt8(ascii: "\"")) }
    }

    /// `%rt %lc %pid`: decimal, or `%04X` with X.
    private func counter(_ value: Int, _ o: LogFormatOptions, _ out: inout LogBuffer) {
        if o.contains(.hex) && !o.contains(.json) { out.appendHex(UInt64(max(0, value)), digits: 4) } else { out.appendDecimal(value) }
    }

    /// `%hr`: `{a|b}`, each value `#XX`-encoded with the header map.
    private func captureBlock(_ values: [String?], _ o: LogFormatOptions, _ out: inout LogBuffer) {
        if o.contains(.json) { captureList(values, o, &out); return }
        if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
        out.append(UInt8(ascii: "{"))
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: "|")) }
            if let value { encoded(value, header: true, o, &out) }
        }
        out.append(UInt8(ascii: "}"))
        if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
    }

    /// `%hrl`: the values space-separated, `-` for a missing one (or `""` with Q).
    private func captureList(_ values: [String?], _ o: LogFormatOptions, _ out: inout LogBuffer) {
        if o.contains(.json) {
            out.append(UInt8(ascii: "["))
            for (i, value) in values.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if let value { jsonString(value, suffix: nil, &out) } else { out.append(contentsOf: "null") }
            }
            out.append(UInt8(ascii: "]"))
            return
        }
        for (i, value) in values.enumerated() {
            if i > 0 { out.append(UInt8(ascii: " ")) }
            if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
            if let value { encoded(value, header: true, o, &out) } else if !o.contains(.quote) { out.append(UInt8(ascii: "-")) }
            if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
        }
    }

    private func encoded(_ value: String, header: Bool, _ o: LogFormatOptions, _ out: inout LogBuffer) {
        var value = value
        value.withUTF8 { encode(UnsafeRawBufferPointer($0), header: header, escape: o.contains(.escape), &out) }
    }

    // MARK: the request line

    /// `%r` and the parts HAProxy cuts out of it, scanning the line the way src/log.c does.
    private func requestPart(_ v: LogVariable, _ o: LogFormatOptions, _ out: inout LogBuffer) {
        guard let line = requestLine else {
            if o.contains(.json) { out.append(contentsOf: "null"); return }
            quoted(o, &out) { $0.append(contentsOf: "<BADREQ>") }
            return
        }
        line.withUnsafeReadableBytes { raw in
            switch RequestLineParts.part(v, raw) {
            case nil:
                if o.contains(.json) { out.append(contentsOf: "null"); return }
                quoted(o, &out) { $0.append(contentsOf: "<BADREQ>") }
            case .http09?:
                if o.contains(.json) { out.append(contentsOf: "\"HTTP/0.9\""); return }
                quoted(o, &out) { $0.append(contentsOf: "HTTP/0.9") }
            case .range(let part)?:
                let bytes = UnsafeRawBufferPointer(rebasing: raw[part])
                if o.contains(.json) {
                    jsonBytes(bytes, &out)
                } else {
                    quoted(o, &out) { encode(bytes, header: false, escape: o.contains(.escape), &$0) }
                }
            }
        }
    }

    private func quoted(_ o: LogFormatOptions, _ out: inout LogBuffer, _ body: (inout LogBuffer) -> Void) {
        if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
        body(&out)
        if o.contains(.quote) { out.append(UInt8(ascii: "\"")) }
    }

    // MARK: JSON

    private func jsonString(_ value: String, suffix: UInt8?, _ out: inout LogBuffer) {
        var value = value
        value.withUTF8 { jsonBytes(UnsafeRawBufferPointer($0), trustUTF8: true, suffix: suffix, &out) }
    }
}

/// HAProxy's `rfc5424_escape_map`: what `E` prefixes with a backslash.
@inline(__always) func isRFC5424Special(_ b: UInt8) -> Bool {
    b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b == UInt8(ascii: "]")
}

/// HAProxy's `lf_encode_*`: bytes outside 32…126, `"` and `#` (plus `{|}` in header captures)
/// become `#XX`; with E, `"\]` left over get a backslash.
func encode(_ raw: UnsafeRawBufferPointer, header: Bool, escape: Bool, _ out: inout LogBuffer) {
    for b in raw {
        let special = b < 32 || b >= 127 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "#")
            || (header && (b == UInt8(ascii: "{") || b == UInt8(ascii: "|") || b == UInt8(ascii: "}")))
        if special {
            out.append(UInt8(ascii: "#"))
            out.append(hexDigits[Int(b >> 4)])
            out.append(hexDigits[Int(b & 0xf)])
        } else if escape && isRFC5424Special(b) {
            out.append(UInt8(ascii: "\\"))
            out.append(b)
        } else {
            out.append(b)
        }
    }
}

/// A JSON string literal: `"` and `\` escaped, control bytes as `\u00XX`; bytes from the wire
/// (not known to be UTF-8) above 126 as `\u00XX` too, so the line is always valid JSON.
func jsonBytes(_ raw: UnsafeRawBufferPointer, trustUTF8: Bool = false, suffix: UInt8? = nil, _ out: inout LogBuffer) {
    out.append(UInt8(ascii: "\""))
    for b in raw {
        switch b {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            out.append(UInt8(ascii: "\\")); out.append(b)
        case UInt8(ascii: "\n"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "n"))
        case UInt8(ascii: "\r"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "r"))
        case UInt8(ascii: "\t"): out.append(UInt8(ascii: "\\")); out.append(UInt8(ascii: "t"))
        case let c where c < 32 || c == 127 || (c > 127 && !trustUTF8):
            out.append(contentsOf: "\\u00")
            out.append(hexDigits[Int(c >> 4)]); out.append(hexDigits[Int(c & 0xf)])
        default:
            out.append(b)
        }
    }
    if let suffix { out.append(suffix) }
    out.append(UInt8(ascii: "\""))
}

extension LogVariable {
    var isCapture: Bool { self == .requestHeaders || self == .responseHeaders || self == .requestHeaderList || self == .responseHeaderList }
    var isRequestCapture: Bool { self == .requestHeaders || self == .requestHeaderList }
}

/// The process facts `%pid` and `%H` print, read once.
enum ProcessFacts {
    static let pid: Int32 = getpid()
    static let hostname: String = {
        var name = [CChar](repeating: 0, count: 256)
        guard gethostname(&name, 255) == 0 else { return "" }
        return String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}
