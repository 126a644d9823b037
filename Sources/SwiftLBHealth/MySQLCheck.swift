import SwiftLBConfig

/// HAProxy's `option mysql-check` (src/tcpcheck.c), byte for byte: without a user, the
/// server's initial handshake packet is read and must not be an error packet (a server that
/// refuses this host answers 0xff with its error, e.g. 1129 "Host is blocked"); with `user
/// NAME`, a client authentication packet without password and a COM_QUIT are sent at once, and
/// the packet after the greeting must be OK. The server's version is the passed check's info;
/// an error packet fails it as "Layer7 wrong status" with the MySQL error number as its code
/// and the rest of the packet as its info.
struct MySQLCheck: CheckConversation {
    let user: String?
    let post41: Bool

    mutating func opening() -> [UInt8] {
        user.map { Self.loginAndQuit(user: $0, post41: post41) } ?? []
    }

    mutating func received(_ bytes: [UInt8], closed: Bool) -> ConversationStep {
        Self.evaluate(bytes, login: user != nil, closed: closed).map(ConversationStep.finished) ?? .waitForMore
    }

    /// The client authentication packet (sequence 1, 4.1 or pre-4.1 layout, no password) and
    /// COM_QUIT (sequence 0), as HAProxy sends them.
    static func loginAndQuit(user: String, post41: Bool) -> [UInt8] {
        let name = Array(user.utf8)
        var body: [UInt8]
        if post41 {
            body = [0x00, 0x82, 0x00, 0x00]           // capabilities: 4.1 protocol, secure connection
            body += [0x00, 0x80, 0x00, 0x01]          // max packet
            body += [0x21]                            // character set: utf8
            body += [UInt8](repeating: 0, count: 23)  // reserved
        } else {
            body = [0x00, 0x80]                       // capabilities
            body += [0x00, 0x00, 0x01]                // max packet
        }
        body += name + [0x00]                         // user, NUL-terminated
        body += [0x00]                                // empty auth response
        let length = body.count
        let header: [UInt8] = [UInt8(length & 0xff), UInt8((length >> 8) & 0xff), UInt8((length >> 16) & 0xff), 0x01]
        return header + body + [0x01, 0x00, 0x00, 0x00, 0x01]
    }

    /// The verdict on what the server sent, or nil to wait for more: the greeting at offset 0
    /// and, with a login, the answer after it. A truncated packet fails only once the server
    /// closed.
    static func evaluate(_ bytes: [UInt8], login: Bool, closed: Bool) -> CheckOutcome? {
        switch packet(bytes, at: 0, closed: closed) {
        case .incomplete: return nil
        case .failed(let outcome): return outcome
        case .ok(let greetingEnd):
            if login {
                switch packet(bytes, at: greetingEnd, closed: closed) {
                case .incomplete: return nil
                case .failed(let outcome): return outcome
                case .ok: break
                }
            }
            let version = bytes.dropFirst(5).prefix { $0 != 0 }
            return .passed("MySQL \(String(decoding: version, as: UTF8.self))\(login ? ", login accepted" : "")", .l7ok, code: 0,
                           info: String(decoding: version, as: UTF8.self))
        }
    }

    private enum Packet {
        case incomplete
        case failed(CheckOutcome)
        /// Where the packet ends.
        case ok(Int)
    }

    /// HAProxy's `tcpcheck_mysql_expect_packet`: a 3-byte length and a sequence id, the whole
    /// packet, and an error if its first byte is 0xff.
    private static func packet(_ bytes: [UInt8], at offset: Int, closed: Bool) -> Packet {
        guard bytes.count >= offset + 4 else {
            return closed ? .failed(.failed("truncated MySQL packet", .l7response)) : .incomplete
        }
        let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16
        guard bytes.count >= offset + 4 + length else {
            return closed ? .failed(.failed("truncated MySQL packet", .l7response)) : .incomplete
        }
        guard length > 0, bytes[offset + 4] == 0xff else { return .ok(offset + 4 + length) }
        let code = bytes.count >= offset + 7 ? Int(bytes[offset + 5]) | Int(bytes[offset + 6]) << 8 : 0
        // HAProxy's info: the rest of what arrived after the error number (4.1 servers put
        // '#' and the SQLSTATE first).
        let message = String(decoding: bytes.dropFirst(offset + 7), as: UTF8.self)
        return .failed(.failed(message, .l7status, code: code))
    }
}
