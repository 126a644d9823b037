import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SwiftLBConfig
import SwiftLBTestSupport
import XCTest
@testable import SwiftLBHA

/// keepalived's `smtp_alert`: the dialogue (pure), then real mails to a real SMTP listener on
/// loopback (Tests/fixtures/smtp_recorder.py) — one accepted, one refused, one never answered,
/// one to a closed port — each bounded and only logged when it fails.
final class SMTPAlertTests: XCTestCase {
    private let message = SMTPMessage(heloName: "lb1.example", from: "lb@example.org", recipients: ["a@example.org", "b@example.org"],
                                      subject: "[LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state",
                                      body: "=> VRRP Instance is now owning VRRP VIPs <=", date: "Tue, 01 Dec 2026 07:40:00 +0000")

    func testTheDialogueIsKeepalivedsAndARefusalStillSaysQuit() {
        var d = SMTPDialogue(message: message)
        XCTAssertEqual(d.reply(220), .send("HELO lb1.example\r\n"))
        XCTAssertEqual(d.reply(250), .send("MAIL FROM:<lb@example.org>\r\n"))
        XCTAssertEqual(d.reply(250), .send("RCPT TO:<a@example.org>\r\n"))
        XCTAssertEqual(d.reply(250), .send("RCPT TO:<b@example.org>\r\n"), "one RCPT per recipient")
        XCTAssertEqual(d.reply(250), .send("DATA\r\n"))
        XCTAssertEqual(d.reply(354), .send("Date: Tue, 01 Dec 2026 07:40:00 +0000\r\nFrom: lb@example.org\r\n"
                                           + "Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state\r\nX-Mailer: Keepalived\r\n"
                                           + "To: a@example.org, b@example.org\r\n\r\n=> VRRP Instance is now owning VRRP VIPs <=\r\n\r\n.\r\n"))
        XCTAssertNil(d.outcome)
        XCTAssertEqual(d.reply(250), .send("QUIT\r\n"))
        XCTAssertEqual(d.outcome, .sent)
        XCTAssertEqual(d.reply(221), .close)
        XCTAssertEqual(d.phase, .done)

        var refused = SMTPDialogue(message: message)
        _ = refused.reply(220); _ = refused.reply(250); _ = refused.reply(250)
        XCTAssertEqual(refused.reply(550), .send("QUIT\r\n"), "keepalived says QUIT after an unexpected code")
        XCTAssertEqual(refused.outcome, .refused(command: "RCPT", code: 550))
        XCTAssertEqual(refused.reply(500), .close, "whatever QUIT gets, the conversation is over")

        var greeting = SMTPDialogue(message: message)
        XCTAssertEqual(greeting.reply(554), .send("QUIT\r\n"))
        XCTAssertEqual(greeting.outcome, .refused(command: "(E)SMTP greeting", code: 554))

        var silent = SMTPDialogue(message: message)
        _ = silent.reply(220)
        XCTAssertEqual(silent.timedOut(), .send("QUIT\r\n"))
        XCTAssertEqual(silent.timedOut(), .close, "no second QUIT")
    }

    func testTheSubjectsAndBodiesAreKeepalivedsForEachState() {
        XCTAssertEqual(SMTPMessage.text(group: false, name: "VI_1", routerID: "LVS_DEVEL", state: .backup).subject, "[LVS_DEVEL] VRRP Instance VI_1 - Entering BACKUP state")
        XCTAssertEqual(SMTPMessage.text(group: false, name: "VI_1", routerID: "r", state: .fault).body, "=> VRRP Instance is no longer owning VRRP VIPs <=")
        XCTAssertEqual(SMTPMessage.text(group: false, name: "VI_1", routerID: "r", state: .initial).subject, "[r] VRRP Instance VI_1 - Stopping")
        XCTAssertEqual(SMTPMessage.text(group: true, name: "G", routerID: "r", state: .master).subject, "[r] VRRP Group G - Entering MASTER state")
        XCTAssertEqual(SMTPMessage.text(group: true, name: "G", routerID: "r", state: .master).body, "=> All VRRP group instances are now in MASTER state <=")
        // strftime's RFC 822 date: "Tue, 01 Dec 2026 07:40:00 +0000".
        let date = SMTPAlert.rfc822Date()
        XCTAssertNotNil(date.range(of: #"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"#, options: .regularExpression), date)
    }

    func testTheReplyReaderTakesAMultiLineReplyByItsLastLine() throws {
        var reader = SMTPReplyReader(limit: 64)
        XCTAssertEqual(try reader.feed(Array("220-first\r\n220-sec".utf8)), [])
        XCTAssertEqual(try reader.feed(Array("ond\r\n220 ready\r\n250 ok\r\n2".utf8)), [220, 250])
        XCTAssertEqual(try reader.feed(Array("21 bye\r\n".utf8)), [221])
        XCTAssertThrowsError(try reader.feed(Array("hello\r\n".utf8)))
        var flooded = SMTPReplyReader(limit: 64)
        XCTAssertThrowsError(try flooded.feed([UInt8](repeating: 65, count: 100)))
        // A reply that never ends (`250-x` forever, in one read or many) is an overflow, read
        // in one pass.
        var endless = SMTPReplyReader()
        XCTAssertThrowsError(try endless.feed(Array(String(repeating: "250-x\r\n", count: 150_000).utf8))) { error in
            XCTAssertEqual(error as? SMTPReplyReader.Failure, .overflow)
        }
        var trickled = SMTPReplyReader()
        XCTAssertThrowsError(try { for _ in 0..<200 { _ = try trickled.feed(Array("250-x\r\n".utf8)) } }())
        var long = SMTPReplyReader()
        XCTAssertEqual(try long.feed(Array((String(repeating: "250-x\r\n", count: 99) + "250 ok\r\n").utf8)), [250], "99 lines and the last one: a reply")
    }

    /// A CR/LF in a configured value (lb.conf's `\r\n` escape in a quoted word, or an
    /// environment variable) never becomes a command or a header of its own.
    func testControlBytesInConfiguredValuesNeverReachTheWireAsLines() {
        let hostile = SMTPMessage(heloName: "h\r\nRSET", from: "lb@x\r\nX-Injected: from", recipients: ["a@x\r\nRCPT TO:<evil@x>"],
                                  subject: "[LAB\r\n.\r\nRCPT TO:<evil@x>] VRRP Instance VI\r\nBcc: y - Entering MASTER state",
                                  body: "=> b <=", date: "d")
        var d = SMTPDialogue(message: hostile)
        XCTAssertEqual(d.reply(220), .send("HELO hRSET\r\n"))
        XCTAssertEqual(d.reply(250), .send("MAIL FROM:<lb@xX-Injected: from>\r\n"))
        XCTAssertEqual(d.reply(250), .send("RCPT TO:<a@xRCPT TO:<evil@x>>\r\n"))
        XCTAssertEqual(d.reply(250), .send("DATA\r\n"))
        guard case .send(let data) = d.reply(354) else { return XCTFail("no DATA") }
        XCTAssertEqual(data.components(separatedBy: "\r\n").count, 10, data.debugDescription)
        XCTAssertTrue(data.contains("Subject: [LAB.RCPT TO:<evil@x>] VRRP Instance VIBcc: y - Entering MASTER state\r\n"), data)
        XCTAssertTrue(data.hasSuffix("\r\n\r\n.\r\n") && !data.dropLast(5).contains("\r\n.\r\n"), "one end of DATA only")
    }

    // MARK: real mails

    private var group: MultiThreadedEventLoopGroup!
    private var recorder: SpawnedProcess?
    private var directory: String!
    private let lines = NIOLockedValueBox<[String]>([])

    override func setUpWithError() throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        directory = NSTemporaryDirectory() + "smtp-alert-\(getpid())-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDown() {
        recorder?.stop()
        try? group.syncShutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts the recorder in `mode` on a free loopback port; returns the port.
    private func startRecorder(_ mode: String) throws -> Int {
        let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/smtp_recorder.py").path
        let process = try SpawnedProcess("/usr/bin/python3", [fixture, "127.0.0.1", "0", "\(directory!)/smtp.log", mode], stdout: .pipe)
        recorder = process
        let first = String(decoding: process.readAvailable(process.output, timeout: 10), as: UTF8.self)
        return try XCTUnwrap(Int(first.trimmingCharacters(in: .whitespacesAndNewlines)), "the recorder's port: \(first)")
    }

    private var dialogue: [String] {
        ((try? String(contentsOfFile: "\(directory!)/smtp.log", encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    private func alert(port: Int, timeout: Int64 = 1, noFaultMails: Bool = false) throws -> SMTPAlert {
        var settings = SMTPAlertSettings()
        settings.recipients = ["acassen@firewall.loc", "failover@firewall.loc"]
        settings.from = "Alexandre.Cassen@firewall.loc"
        settings.server = "127.0.0.1"
        settings.port = port
        settings.heloName = "lb1.test"
        settings.connectTimeout = .seconds(timeout)
        settings.noFaultMails = noFaultMails
        let lines = self.lines
        let logger = Logger(label: "smtp-alert-test") { _ in LineLogHandler { event in lines.withLockedValue { $0.append("\(event.level) \(event.message)") } } }
        return try XCTUnwrap(SMTPAlert(settings: settings, routerID: "LVS_DEVEL", loop: group.next(), logger: logger))
    }

    private func send(_ alert: SMTPAlert, _ state: Elector.State, name: String = "VI_1") throws {
        try group.next().submit { alert.send(group: false, name: name, state: state) }.wait()
    }

    func testAMailReachesARealSMTPServerAsKeepalivedWritesIt() throws {
        let port = try startRecorder("normal")
        let mailer = try alert(port: port)
        try send(mailer, .master)
        XCTAssertTrue(poll(10) { self.dialogue.contains("-- closed") }, "\(dialogue)")
        let recorded = dialogue.filter { !$0.hasPrefix("C: Date: ") }
        XCTAssertEqual(recorded, [
            "S: 220-recorder ESMTP", "S: 220 ready",
            "C: HELO lb1.test", "S: 250 recorder",
            "C: MAIL FROM:<Alexandre.Cassen@firewall.loc>", "S: 250 ok",
            "C: RCPT TO:<acassen@firewall.loc>", "S: 250 ok",
            "C: RCPT TO:<failover@firewall.loc>", "S: 250 ok",
            "C: DATA", "S: 354 go ahead",
            "C: From: Alexandre.Cassen@firewall.loc",
            "C: Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state",
            "C: X-Mailer: Keepalived",
            "C: To: acassen@firewall.loc, failover@firewall.loc",
            "C: ",
            "C: => VRRP Instance is now owning VRRP VIPs <=",
            "C: ",
            "C: .", "S: 250 queued",
            "C: QUIT", "S: 221 bye",
            "-- closed",
        ])
        XCTAssertEqual(dialogue.filter { $0.hasPrefix("C: Date: ") }.count, 1)
        XCTAssertTrue(poll(5) { self.lines.withLockedValue { $0 }.contains {
            $0.hasPrefix("info") && $0.contains("\"[LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state\" sent to acassen@firewall.loc, failover@firewall.loc via 127.0.0.1:\(port)")
        } }, "\(lines.withLockedValue { $0 })")

        // The same state twice in a row is mailed once; FAULT is not mailed with no_email_faults.
        var mail = StateMail(alert: mailer, group: false, name: "VI_1")
        var quiet = StateMail(alert: try alert(port: port, noFaultMails: true), group: false, name: "VI_2")
        try group.next().submit {
            mail.entered(.backup); mail.entered(.backup)
            quiet.entered(.fault)
        }.wait()
        XCTAssertTrue(poll(10) { self.dialogue.filter { $0 == "-- closed" }.count == 2 }, "\(dialogue)")
        usleep(300_000)
        XCTAssertEqual(dialogue.filter { $0.hasPrefix("C: Subject: ") }, ["C: Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering MASTER state",
                                                                          "C: Subject: [LVS_DEVEL] VRRP Instance VI_1 - Entering BACKUP state"])
    }

    func testARefusedRecipientIsLoggedAndTheConversationEndsWithQuit() throws {
        let port = try startRecorder("reject-rcpt")
        try send(try alert(port: port), .fault)
        XCTAssertTrue(poll(10) { self.dialogue.contains("-- closed") }, "\(dialogue)")
        XCTAssertEqual(Array(dialogue.suffix(5)), ["C: RCPT TO:<acassen@firewall.loc>", "S: 550 no such user", "C: QUIT", "S: 221 bye", "-- closed"])
        XCTAssertTrue(poll(5) { self.lines.withLockedValue { $0 }.contains {
            $0.hasPrefix("warning") && $0.contains("Entering FAULT state\" not sent via 127.0.0.1:\(port): the server answered 550 to RCPT")
        } }, "\(lines.withLockedValue { $0 })")
    }

    /// A server that accepts and never answers: given up after smtp_connect_timeout (1 s
    /// here), with a QUIT; a closed port: refused at once. Neither blocks the loop meanwhile.
    func testASilentServerIsGivenUpAfterTheTimeoutAndAClosedPortAtOnce() throws {
        let port = try startRecorder("silent")
        let mailer = try alert(port: port)
        let started = Date()
        try send(mailer, .master)
        // The loop stays free while the mail waits.
        XCTAssertNoThrow(try group.next().submit { true }.wait())
        XCTAssertLessThan(Date().timeIntervalSince(started), 0.5)
        XCTAssertTrue(poll(5) { self.lines.withLockedValue { $0 }.contains { $0.contains("not sent via 127.0.0.1:\(port): no reply within 1 s (smtp_connect_timeout)") } },
                      "\(lines.withLockedValue { $0 })")
        let elapsed = Date().timeIntervalSince(started)
        XCTAssertGreaterThan(elapsed, 0.9)
        XCTAssertLessThan(elapsed, 4, "bounded by the timeout (then the QUIT's own)")
        try XCTAssertNoThrow(mailer.drain(within: .seconds(5)).wait())

        // A stop waits for a mail under way, but only so long: here 300 ms of a 30 s timeout.
        let slow = try alert(port: port, timeout: 30)
        try send(slow, .initial)
        let draining = Date()
        try XCTAssertNoThrow(slow.drain(within: .milliseconds(300)).wait())
        XCTAssertGreaterThan(Date().timeIntervalSince(draining), 0.25)
        XCTAssertLessThan(Date().timeIntervalSince(draining), 2)

        recorder?.stop()
        let closed = try alert(port: port)
        try send(closed, .backup)
        XCTAssertTrue(poll(5) { self.lines.withLockedValue { $0 }.contains { $0.contains("Entering BACKUP state\" not sent via 127.0.0.1:\(port): cannot connect") } },
                      "\(lines.withLockedValue { $0 })")
    }
}
