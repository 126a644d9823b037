/// HAProxy's `option spop-check` (src/tcpcheck.c's `*spop-check` ruleset, src/flt_spoe.c's
/// healthcheck frames): a HAPROXY-HELLO frame with the `healthcheck` item is sent to the SPOE
/// agent, whose AGENT-HELLO must be a whole (FIN) frame naming version 2.0 and a
/// max-frame-size in 256…16380. Passed: "Layer7 check passed", info "SPOA server is ok"; else
/// "Layer7 invalid response" with SPOE's reason ("invalid frame received", "unsupported
/// version", "fragmentation not supported"…), HAProxy's wording.
struct SPOPCheck: CheckConversation {
    /// HAProxy's MAX_FRAME_SIZE (tune.bufsize 16384 - 4) and MIN_FRAME_SIZE.
    static let maxFrameSize: UInt64 = 16380
    static let minFrameSize: UInt64 = 256

    /// The 82 bytes HAProxy 2.6 sends: length, HAPROXY-HELLO (1), FIN, stream 0, frame 0, then
    /// supported-versions "2.0", max-frame-size 16380 (uint32), capabilities "", healthcheck true.
    static let hello: [UInt8] = {
        var frame: [UInt8] = [1, 0, 0, 0, 1, 0, 0]
        func string(_ s: String) { let b = Array(s.utf8); frame += encodeVarint(UInt64(b.count)) + b }
        string("supported-versions"); frame.append(8); string("2.0")
        string("max-frame-size"); frame.append(3); frame += encodeVarint(maxFrameSize)
        string("capabilities"); frame.append(8); string("")
        string("healthcheck"); frame.append(0x11)
        let n = UInt32(frame.count)
        return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + frame
    }()

    mutating func opening() -> [UInt8] { Self.hello }

    mutating func received(_ bytes: [UInt8], closed: Bool) -> ConversationStep {
        // `expect custom min-recv 4`: the length, then the whole frame (or the close) decide.
        guard bytes.count >= 4 || closed else { return .waitForMore }
        let length = bytes.count >= 4 ? Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3]) : 0
        guard bytes.count >= 4 + length || closed else { return .waitForMore }
        let frame = bytes.count >= 4 ? Array(bytes[4..<min(bytes.count, 4 + length)]) : []
        if let reason = Self.problem(inAgentHello: frame) { return .finished(.failed(reason, .l7response)) }
        return .finished(.passed("SPOA server is ok", .l7ok, info: "SPOA server is ok"))
    }

    /// SPOE's reason an AGENT-HELLO frame (without its length) is refused, or nil when it is good.
    static func problem(inAgentHello frame: [UInt8]) -> String? {
        let invalid = "invalid frame received"
        guard let type = frame.first else { return invalid }
        // AGENT-DISCONNECT: HAProxy reports its own decoding's status, never the agent's text.
        guard type == 101 else { return type == 102 ? disconnectProblem(frame) : invalid }
        guard frame.count >= 7 else { return invalid }
        guard frame[4] & 1 == 1 else { return "fragmentation not supported" }
        guard frame[5] == 0, frame[6] == 0 else { return invalid }
        var p = 7
        var version = false, maxFrame = false
        while p < frame.count {
            guard let key = decodeBuffer(frame, &p), !key.isEmpty else { return invalid }
            if key.starts(with: Array("version".utf8)) {
                guard p < frame.count, frame[p] & 0x0F == 8 else { return invalid }
                p += 1
                guard let value = decodeBuffer(frame, &p) else { return invalid }
                guard parseVersion(value) == 2000 else { return "unsupported version" }
                version = true
            } else if key.starts(with: Array("max-frame-size".utf8)) {
                guard p < frame.count, [2, 3, 4, 5].contains(frame[p] & 0x0F) else { return invalid }
                p += 1
                guard let size = decodeVarint(frame, &p) else { return invalid }
                guard size >= minFrameSize, size <= maxFrameSize else { return "max-frame-size too big or too small" }
                maxFrame = true
            } else if key.starts(with: Array("capabilities".utf8)) {
                guard p < frame.count, frame[p] & 0x0F == 8 else { return invalid }
                p += 1
                guard decodeBuffer(frame, &p) != nil else { return invalid }
            } else {
                guard skipData(frame, &p) else { return invalid }
            }
        }
        if !version { return "version value not found" }
        if !maxFrame { return "max-frame-size value not found" }
        return nil
    }

    /// SPOE's status codes' reasons (`spoe_frm_err_reasons`), by code.
    static let reasons = ["normal", "I/O error", "a timeout occurred", "frame is too big", "invalid frame received",
                          "version value not found", "max-frame-size value not found", "capabilities value not found",
                          "unsupported version", "max-frame-size too big or too small", "fragmentation not supported",
                          "invalid interlaced frames", "frame-id not found", "resource allocation error", "an unknown error occurred"]

    /// An AGENT-DISCONNECT always fails the check: with the agent's `status-code` reason when
    /// it decodes ("normal" without one; an unknown code is "an unknown error occurred"), else with the decoding's.
    private static func disconnectProblem(_ frame: [UInt8]) -> String {
        guard frame.count >= 7 else { return "invalid frame received" }
        guard frame[4] & 1 == 1 else { return "fragmentation not supported" }
        guard frame[5] == 0, frame[6] == 0 else { return "invalid frame received" }
        var p = 7, code: UInt64? = nil
        while p < frame.count {
            guard let key = decodeBuffer(frame, &p), !key.isEmpty else { return "invalid frame received" }
            if key.starts(with: Array("status-code".utf8)) {
                guard p < frame.count, [2, 3, 4, 5].contains(frame[p] & 0x0F) else { return "invalid frame received" }
                p += 1
                guard let value = decodeVarint(frame, &p) else { return "invalid frame received" }
                code = value
            } else {
                guard skipData(frame, &p) else { return "invalid frame received" }
            }
        }
        guard let code else { return "normal" }
        return code < UInt64(reasons.count) ? reasons[Int(code)] : reasons[reasons.count - 1]
    }

    /// `spoe_str_to_vsn`: "MAJ.MIN" with optional spaces around, as MAJ*1000+MIN; nil if bad.
    static func parseVersion(_ text: [UInt8]) -> Int? {
        var p = 0
        while p < text.count, text[p] == 0x20 || (0x09...0x0D).contains(text[p]) { p += 1 }
        var major = 0, minor = 0
        while p < text.count, text[p] != UInt8(ascii: ".") {
            guard (0x30...0x39).contains(text[p]) else { return nil }
            major = major * 10 + Int(text[p] - 0x30); p += 1
            if major > 1_000_000 { return nil }
        }
        guard major > 0, p < text.count else { return nil }
        p += 1
        guard p < text.count, (0x30...0x39).contains(text[p]) else { return nil }
        while p < text.count, (0x30...0x39).contains(text[p]) { minor = minor * 10 + Int(text[p] - 0x30); p += 1; if minor > 999 { return nil } }
        while p < text.count, text[p] == 0x20 || (0x09...0x0D).contains(text[p]) { p += 1 }
        guard p == text.count else { return nil }
        return major * 1000 + minor
    }

    /// HAProxy's varint (include/haproxy/intops.h): below 240 one byte, else 4 bits then 7 per byte.
    static func encodeVarint(_ value: UInt64) -> [UInt8] {
        guard value >= 240 else { return [UInt8(value)] }
        var out: [UInt8] = [UInt8(truncatingIfNeeded: value) | 240]
        var i = (value - 240) >> 4
        while i >= 128 { out.append(UInt8(truncatingIfNeeded: i) | 128); i = (i - 128) >> 7 }
        out.append(UInt8(i))
        return out
    }

    static func decodeVarint(_ bytes: [UInt8], _ p: inout Int) -> UInt64? {
        guard p < bytes.count else { return nil }
        var value = UInt64(bytes[p]); p += 1
        guard value >= 240 else { return value }
        var shift: UInt64 = 4
        while true {
            guard p < bytes.count, shift < 64 else { return nil }
            let b = bytes[p]; p += 1
            value &+= UInt64(b) << shift
            shift += 7
            if b < 128 { return value }
        }
    }

    private static func decodeBuffer(_ bytes: [UInt8], _ p: inout Int) -> [UInt8]? {
        guard let n = decodeVarint(bytes, &p), n <= UInt64(bytes.count - p) else { return nil }
        defer { p += Int(n) }
        return Array(bytes[p..<p + Int(n)])
    }

    /// `spoe_skip_data`: a typed value of an item the check does not read.
    private static func skipData(_ bytes: [UInt8], _ p: inout Int) -> Bool {
        guard p < bytes.count else { return false }
        let type = bytes[p] & 0x0F; p += 1
        switch type {
        case 2, 3, 4, 5: return decodeVarint(bytes, &p) != nil
        case 6: p += 4; return p <= bytes.count
        case 7: p += 16; return p <= bytes.count
        case 8, 9: return decodeBuffer(bytes, &p) != nil
        default: return true
        }
    }
}
