/// keepalived 2.2's SMTP conversation (core/smtp.c), as a pure state machine: the server's
/// greeting, `HELO`, `MAIL FROM`, one `RCPT TO` per recipient, `DATA`, the message, `QUIT`.
/// Each step expects one reply code (220, 250, 250, 250, 354, 250, 221); another code ends
/// the mail and, as keepalived does, still says `QUIT`. No ESMTP, no TLS, no AUTH: keepalived
/// speaks plain SMTP to a relay it trusts, and so does this.
struct SMTPDialogue {
    enum Phase: Equatable {
        case greeting, helo, mail, recipient(Int), data, message, quit, done
    }

    /// What to do after a reply.
    enum Step: Equatable {
        case send(String)
        /// The conversation is over: close the connection.
        case close
    }

    /// How the mail went, once `phase` is `.done` (nil before).
    enum Outcome: Equatable {
        case sent
        /// `command` got `code` instead of what it expects.
        case refused(command: String, code: Int)
    }

    let message: SMTPMessage
    private(set) var phase = Phase.greeting
    private(set) var outcome: Outcome?

    init(message: SMTPMessage) {
        precondition(!message.recipients.isEmpty, "no mail without a recipient (SMTPAlert checks)")
        self.message = message
    }

    /// The command of a phase and the reply it expects, for messages.
    private var expectation: (command: String, code: Int) {
        switch phase {
        case .greeting: ("(E)SMTP greeting", 220)
        case .helo: ("HELO", 250)
        case .mail: ("MAIL", 250)
        case .recipient: ("RCPT", 250)
        case .data: ("DATA", 354)
        case .message: ("the message", 250)
        case .quit, .done: ("QUIT", 221)
        }
    }

    /// The server's reply `code` to the current phase: the next command, or close.
    mutating func reply(_ code: Int) -> Step {
        let expected = expectation
        guard code == expected.code else {
            switch phase {
            case .quit, .done:
                return finish()
            default:
                outcome = .refused(command: expected.command, code: code)
                return enter(.quit)
            }
        }
        switch phase {
        case .greeting: return enter(.helo)
        case .helo: return enter(.mail)
        case .mail: return enter(.recipient(0))
        case .recipient(let i): return i + 1 < message.recipients.count ? enter(.recipient(i + 1)) : enter(.data)
        case .data: return enter(.message)
        case .message:
            outcome = .sent
            return enter(.quit)
        case .quit, .done: return finish()
        }
    }

    /// No reply in time (or the connection broke) before `phase`'s reply: keepalived sends
    /// `QUIT` unless that was the command waiting.
    mutating func timedOut() -> Step {
        switch phase {
        case .quit, .done:
            return finish()
        default:
            if outcome == nil { outcome = .refused(command: expectation.command, code: 0) }
            return enter(.quit)
        }
    }

    private mutating func finish() -> Step {
        phase = .done
        return .close
    }

    private mutating func enter(_ next: Phase) -> Step {
        phase = next
        switch next {
        case .greeting, .done: return .close
        case .helo: return .send("HELO \(SMTPMessage.plain(message.heloName))\r\n")
        case .mail: return .send("MAIL FROM:<\(SMTPMessage.plain(message.from))>\r\n")
        case .recipient(let i): return .send("RCPT TO:<\(SMTPMessage.plain(message.recipients[i]))>\r\n")
        case .data: return .send("DATA\r\n")
        case .message: return .send(message.data)
        case .quit: return .send("QUIT\r\n")
        }
    }
}

/// One alert mail as keepalived writes it: `Subject: [ROUTER_ID] VRRP Instance NAME - Entering
/// MASTER state`, its fixed one-line body, and its headers (Date in local time, From, Subject,
/// `X-Mailer: Keepalived`, To with every recipient).
struct SMTPMessage: Equatable {
    var heloName: String
    var from: String
    var recipients: [String]
    var subject: String
    var body: String
    /// RFC 822's date, as keepalived's strftime "%a, %d %b %Y %H:%M:%S %z" writes it.
    var date: String

    /// What follows `DATA`, up to and with the final dot. keepalived does no dot-stuffing; its
    /// bodies are fixed lines that never start with a dot.
    var data: String {
        "Date: \(Self.plain(date))\r\nFrom: \(Self.plain(from))\r\nSubject: \(Self.plain(subject))\r\nX-Mailer: Keepalived\r\n"
            + "To: \(recipients.map(Self.plain).joined(separator: ", "))\r\n\r\n" + "\(Self.plain(body))\r\n\r\n.\r\n"
    }

    /// A value as one line of the conversation: control bytes dropped. lb.conf's escapes
    /// (`\r\n` in a quoted word) or an environment variable could otherwise put a CR/LF in a
    /// router_id, an address or an instance name and write SMTP commands or headers of their
    /// own (keepalived's reader has no escapes, so it never sends them either).
    static func plain(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return value }
        return String(String.UnicodeScalarView(value.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }))
    }

    /// The subject and body keepalived's vrrp_notify.c gives a state (`.initial`: stopping),
    /// for an instance or a sync group.
    static func text(group: Bool, name: String, routerID: String, state: Elector.State) -> (subject: String, body: String) {
        let what: (String, String)
        switch (state, group) {
        case (.master, false): what = ("Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <=")
        case (.backup, false): what = ("Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <=")
        case (.fault, false): what = ("Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <=")
        case (.initial, false): what = ("Stopping", "=> VRRP Instance stopping <=")
        case (.master, true): what = ("Entering MASTER state", "=> All VRRP group instances are now in MASTER state <=")
        case (.backup, true): what = ("Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <=")
        case (.fault, true): what = ("Entering FAULT state", "=> All VRRP group instances are now in FAULT state <=")
        case (.initial, true): what = ("Stopping", "=> All VRRP group instances are now stopping <=")
        }
        return ("[\(routerID)] VRRP \(group ? "Group" : "Instance") \(name) - \(what.0)", what.1)
    }
}

/// The reply codes in what an SMTP server sent: one per complete reply (a multi-line reply,
/// `250-…` lines then `250 …`, counts once, by its last line), as keepalived's reader takes
/// them. Bounded: more than `limit` bytes without a complete line is an error.
struct SMTPReplyReader {
    private var pending: [UInt8] = []
    let limit: Int
    /// Lines of the multi-line reply being read: one reply of more than `maxLines` lines (a
    /// server answering `220-…` forever) is an overflow, not work without end for the loop.
    private var continuation = 0
    let maxLines: Int

    init(limit: Int = 1024, maxLines: Int = 100) {
        self.limit = limit
        self.maxLines = maxLines
    }

    enum Failure: Error, Equatable { case overflow, malformed(String) }

    mutating func feed(_ bytes: some Sequence<UInt8>) throws(Failure) -> [Int] {
        pending.append(contentsOf: bytes)
        var codes: [Int] = []
        var start = 0
        var i = 0
        // One pass with a moving start; the consumed prefix is dropped once at the end.
        while i + 1 < pending.count {
            guard pending[i] == 13, pending[i + 1] == 10 else { i += 1; continue }
            let line = pending[start..<i]
            start = i + 2
            i = start
            guard line.count >= 3, line.prefix(3).allSatisfy({ (48...57).contains($0) }) else {
                throw .malformed(String(decoding: line.prefix(80), as: UTF8.self))
            }
            if line.count > 3 && line[line.startIndex + 3] == UInt8(ascii: "-") {
                continuation += 1
                if continuation > maxLines { throw .overflow }
                continue
            }
            continuation = 0
            codes.append(line.prefix(3).reduce(0) { $0 * 10 + Int($1 - 48) })
        }
        if start > 0 { pending.removeFirst(start) }
        if pending.count > limit { throw .overflow }
        return codes
    }
}
