/// HAProxy's `option redis-check` (src/tcpcheck.c): `PING` as a RESP array, `+PONG` expected.
/// Passed: info "Redis server is ok"; anything else (once the server closed or the timeout
/// decides, as HAProxy's string expect without `min-recv` waits for more) fails as "Layer7
/// wrong status" with the server's first line as its info (`-Error message`).
struct RedisCheck: CheckConversation {
    static let ping = Array("*1\r\n$4\r\nPING\r\n".utf8)
    static let pong = Array("+PONG\r\n".utf8)

    mutating func opening() -> [UInt8] { Self.ping }

    mutating func received(_ bytes: [UInt8], closed: Bool) -> ConversationStep {
        Self.evaluate(bytes, closed: closed).map(ConversationStep.finished) ?? .waitForMore
    }

    static func evaluate(_ bytes: [UInt8], closed: Bool) -> CheckOutcome? {
        if bytes.firstRange(of: pong) != nil { return .passed("PONG", .l7ok, code: 0, info: "Redis server is ok") }
        guard closed else { return nil }
        return .failed(SMTPCheck.firstLine(bytes), .l7status, code: 0)
    }
}
