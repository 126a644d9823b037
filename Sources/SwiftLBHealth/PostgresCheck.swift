/// HAProxy's `option pgsql-check user NAME` (src/tcpcheck.c): a StartupMessage (protocol 3.0,
/// user NAME, the database defaulting to the user's name) is sent; the answer must not be an
/// ErrorResponse ('E', "Layer7 invalid response" with the error's text, e.g. `FATAL`), and its
/// first 9 bytes must be an authentication request ('R') of a method HAProxy knows (ok,
/// cleartext, MD5, SCM, GSS, SSPI, SASL…: "PostgreSQL server is ok"), else "Layer7 wrong
/// status", "PostgreSQL unknown error". It does not log in, so it cannot tell a primary from
/// a standby.
struct PostgresCheck: CheckConversation {
    let user: String

    mutating func opening() -> [UInt8] { Self.startupMessage(user: user) }

    mutating func received(_ bytes: [UInt8], closed: Bool) -> ConversationStep {
        Self.evaluate(bytes, closed: closed).map(ConversationStep.finished) ?? .waitForMore
    }

    /// Length, protocol 3.0, `user` NAME, terminator.
    static func startupMessage(user: String) -> [UInt8] {
        var body: [UInt8] = [0x00, 0x03, 0x00, 0x00]
        body += Array("user".utf8) + [0] + Array(user.utf8) + [0] + [0]
        let length = UInt32(body.count + 4)
        return withUnsafeBytes(of: length.bigEndian) { Array($0) } + body
    }

    /// The authentication methods HAProxy accepts (`(00|02|03|04|05|06|07|09|0A)`).
    private static let knownMethods: Set<UInt8> = [0x00, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x09, 0x0a]

    /// `expect !rstring "^E" min-recv 5`, then `expect rbinary "^52000000..000000(…)" min-recv 9`.
    static func evaluate(_ bytes: [UInt8], closed: Bool) -> CheckOutcome? {
        guard bytes.count >= 5 || closed else { return nil }
        if bytes.first == UInt8(ascii: "E") {
            // `res.payload(6,0)` as a C string: the first field's text after its type byte.
            return .failed(String(decoding: bytes.dropFirst(6).prefix { $0 != 0 }, as: UTF8.self), .l7response)
        }
        guard bytes.count >= 9 || closed else { return nil }
        let isAuthRequest = bytes.count >= 9 && bytes[0] == UInt8(ascii: "R") && bytes[1...3].allSatisfy { $0 == 0 }
            && bytes[5...7].allSatisfy { $0 == 0 } && knownMethods.contains(bytes[8])  // byte 4: any length (HAProxy's `[A-Z0-9]{2}` on its hex)
        return isAuthRequest ? .passed("authentication request", .l7ok, code: 0, info: "PostgreSQL server is ok")
            : .failed("PostgreSQL unknown error", .l7status, code: 0)
    }
}
