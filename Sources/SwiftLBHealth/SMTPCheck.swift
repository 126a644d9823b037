/// HAProxy's `option smtpchk` (src/tcpcheck.c's `*smtp-check` ruleset): the banner must be a
/// reply (`NNN ` within its first 4 bytes, else "Layer7 invalid response") and a 2xx one (else
/// "Layer7 wrong status" with its code); then `HELO localhost` (or the configured `EHLO
/// DOMAIN`) must get a 2xx reply, multi-line ones included, and `QUIT` a 2xx too. The last
/// reply's code and text are the check's code and info (`code: 221, info: "… closing"`), as a
/// failing reply's are.
struct SMTPCheck: CheckConversation {
    let command: String

    private enum Phase { case banner, hello, quit, done }
    private var phase = Phase.banner

    init(command: String) { self.command = command }

    mutating func opening() -> [UInt8] { [] }

    mutating func received(_ bytes: [UInt8], closed: Bool) -> ConversationStep {
        switch phase {
        case .banner:
            // min-recv 4: four bytes decide, or the close.
            guard bytes.count >= 4 || closed else { return .waitForMore }
            guard Self.isReply(bytes) else { return .finished(.failed(Self.firstLine(bytes), .l7response)) }
            guard bytes.first == UInt8(ascii: "2") else { return .finished(Self.wrongStatus(bytes)) }
            phase = .hello
            return .send(Array("\(command)\r\n".utf8))
        case .hello:
            // No minimum: a reply that does not match yet may still complete; the close decides.
            guard Self.isPositiveMultilineReply(bytes) else { return closed ? .finished(Self.wrongStatus(bytes)) : .waitForMore }
            phase = .quit
            return .send(Array("QUIT\r\n".utf8))
        case .quit:
            guard bytes.count >= 4 || closed else { return .waitForMore }
            phase = .done
            let reply = Self.code(bytes)
            guard bytes.first == UInt8(ascii: "2"), Self.isReply(bytes, separators: [UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: "\r")]) else {
                return .finished(Self.wrongStatus(bytes))
            }
            return .finished(.passed("SMTP \(reply): \(Self.text(bytes))", .l7ok, code: reply, info: Self.text(bytes)))
        case .done:
            return .waitForMore
        }
    }

    /// `^[0-9]{3}[ \r]` (the separators given).
    static func isReply(_ bytes: [UInt8], separators: [UInt8] = [UInt8(ascii: " "), UInt8(ascii: "\r")]) -> Bool {
        bytes.count >= 4 && bytes.prefix(3).allSatisfy { (0x30...0x39).contains($0) } && separators.contains(bytes[3])
    }

    /// `^(2[0-9]{2}-[^\r]*\r\n)*2[0-9]{2}[ \r]`: continuation lines, then the last line of a 2xx reply.
    static func isPositiveMultilineReply(_ bytes: [UInt8]) -> Bool {
        var at = bytes.startIndex
        while at + 4 <= bytes.endIndex {
            guard bytes[at] == UInt8(ascii: "2"), bytes[(at + 1)...(at + 2)].allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
            if bytes[at + 3] == UInt8(ascii: " ") || bytes[at + 3] == UInt8(ascii: "\r") { return true }
            guard bytes[at + 3] == UInt8(ascii: "-"), let cr = bytes[(at + 4)...].firstIndex(of: UInt8(ascii: "\r")),
                  cr + 1 < bytes.endIndex, bytes[cr + 1] == UInt8(ascii: "\n") else { return false }
            at = cr + 2
        }
        return false
    }

    /// The reply's code, `res.payload(0,3)` (0 when it is not a number).
    static func code(_ bytes: [UInt8]) -> Int {
        Int(String(decoding: bytes.prefix(3), as: UTF8.self)) ?? 0
    }

    /// `res.payload(4,0),ltrim(' '),cut_crlf`: the text after the code, up to the end of line.
    static func text(_ bytes: [UInt8]) -> String {
        firstLine(Array(bytes.dropFirst(4).drop { $0 == UInt8(ascii: " ") }))
    }

    /// `cut_crlf`: up to the first CR or LF.
    static func firstLine(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
    }

    private static func wrongStatus(_ bytes: [UInt8]) -> CheckOutcome {
        .failed(text(bytes), .l7status, code: code(bytes))
    }
}
