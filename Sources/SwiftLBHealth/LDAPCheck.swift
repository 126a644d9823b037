/// HAProxy's `option ldap-check` (src/tcpcheck.c, `tcpcheck_ldap_expect_bindrsp`): an
/// anonymous LDAPv3 simple bind request is sent; the answer must be a BER sequence (0x30, read
/// once 14 bytes or the close arrived), message id 1, a bindResponse (0x61) whose resultCode is
/// 0. Anything else is "Not LDAPv3 protocol" ("Layer7 invalid response"); a non-zero result
/// fails as "Layer7 wrong status" with it as the code. Lengths on 2 or 4 bytes are read (Active
/// Directory's), as HAProxy does.
struct LDAPCheck: CheckConversation {
    /// BindRequest: messageID 1, version 3, empty name, simple authentication with no password.
    static let bindRequest: [UInt8] = [0x30, 0x0c, 0x02, 0x01, 0x01, 0x60, 0x07, 0x02, 0x01, 0x03, 0x04, 0x00, 0x80, 0x00]

    mutating func opening() -> [UInt8] { Self.bindRequest }

    mutating func received(_ bytes: [UInt8], closed: Bool) -> ConversationStep {
        Self.evaluate(bytes, closed: closed).map(ConversationStep.finished) ?? .waitForMore
    }

    private static let notLDAP = CheckOutcome.failed("Not LDAPv3 protocol", .l7response)

    /// The verdict, or nil to wait for more.
    static func evaluate(_ bytes: [UInt8], closed: Bool) -> CheckOutcome? {
        // `expect rbinary "^30" min-recv 14`.
        guard bytes.count >= 14 || closed else { return nil }
        guard bytes.first == 0x30, bytes.count >= 2 else { return notLDAP }
        var at = 1
        var lengthBytes = 0
        var length: Int
        if bytes[at] & 0x80 != 0 {
            lengthBytes = Int(bytes[at] & 0x7f)
            guard lengthBytes == 2 || lengthBytes == 4 else { return notLDAP }
            guard bytes.count >= at + 1 + lengthBytes else { return closed ? tooShort : nil }
            length = bytes[(at + 1)...(at + lengthBytes)].reduce(0) { $0 << 8 | Int($1) }
        } else {
            length = Int(bytes[at])
        }
        at += 1 + lengthBytes
        guard bytes.count >= 2 + lengthBytes + length else { return closed ? tooShort : nil }
        guard bytes.count >= at + 4, Array(bytes[at..<(at + 4)]) == [0x02, 0x01, 0x01, 0x61] else { return notLDAP }
        at += 4
        // The bindResponse's own length.
        at += 1 + (bytes.count > at && bytes[at] & 0x80 != 0 ? Int(bytes[at] & 0x7f) : 0)
        guard bytes.count >= at + 3, bytes[at] == 0x0a, bytes[at + 1] == 0x01 else { return notLDAP }
        let code = Int(bytes[at + 2])
        guard code == 0 else {
            return .failed("See RFC: http://tools.ietf.org/html/rfc4511#section-4.1.9", .l7status, code: code)
        }
        return .passed("LDAP bind accepted", .l7ok, code: 0, info: "Success")
    }

    /// A truncated answer once the server closed (HAProxy prints no description).
    private static let tooShort = CheckOutcome.failed("", .l7response)
}
