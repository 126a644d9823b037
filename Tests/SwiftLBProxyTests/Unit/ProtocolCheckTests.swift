import XCTest
@testable import SwiftLBHealth

/// The protocol checks' bytes and verdicts without sockets, on the packets of HAProxy's own
/// reg-tests (reg-tests/checks/*.vtc).
final class ProtocolCheckTests: XCTestCase {
    private func hex(_ s: String) -> [UInt8] {
        var out: [UInt8] = []
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            out.append(UInt8(s[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    /// reg-tests/checks/mysql-check.vtc: the greeting of MySQL 8.0.19, the login packets its
    /// listeners accept byte for byte, the error 1251 it answers.
    func testMySQL() {
        XCTAssertEqual(MySQLCheck.loginAndQuit(user: "user", post41: false), hex("0B00000100800000017573657200000100000001"))
        XCTAssertEqual(MySQLCheck.loginAndQuit(user: "user", post41: true),
                       hex("2600000100820000008000012100000000000000000000000000000000000000000000007573657200000100000001"))
        let greeting = hex("4A0000000A382E302E3139000A0000006F3C025E6249410D00FFFFFF0200FFC715000000000000000000007C182159106E2761144322200063616368696E675F736861325F70617373776F726400")
        let passed = CheckOutcome.passed("MySQL 8.0.19", .l7ok, code: 0, info: "8.0.19")
        XCTAssertEqual(MySQLCheck.evaluate(greeting, login: false, closed: false), passed)
        XCTAssertNil(MySQLCheck.evaluate(Array(greeting.prefix(30)), login: false, closed: false), "half a packet: wait")
        XCTAssertEqual(MySQLCheck.evaluate(Array(greeting.prefix(30)), login: false, closed: true)?.kind, .l7response)
        XCTAssertNil(MySQLCheck.evaluate(greeting, login: true, closed: false), "a login waits for the answer")
        XCTAssertEqual(MySQLCheck.evaluate(greeting + hex("03000002000000"), login: true, closed: false),
                       .passed("MySQL 8.0.19, login accepted", .l7ok, code: 0, info: "8.0.19"))
        let refusal = hex("67000002FFE304436C69656E7420646F6573206E6F7420737570706F72742061757468656E7469636174696F6E2070726F746F636F6C20726571756573746564206279207365727665723B20636F6E736964657220757067726164696E67204D7953514C20636C69656E74")
        XCTAssertEqual(MySQLCheck.evaluate(greeting + refusal, login: true, closed: false),
                       .failed("Client does not support authentication protocol requested by server; consider upgrading MySQL client", .l7status, code: 1251))
        XCTAssertEqual(MySQLCheck.evaluate(hex("05000000FF6904") + Array("#HY000".utf8), login: false, closed: false)?.code, 1129)
    }

    /// One SMTP exchange driven by `replies` (arrivals, accumulated as the runner does until
    /// the check sends), as reg-tests/checks/smtp-check.vtc's servers.
    private func smtp(_ replies: [String], command: String = "HELO localhost", closeAfter: Bool = false) -> (sent: [String], result: ConversationStep) {
        var check = SMTPCheck(command: command)
        var sent: [String] = []
        var buffer: [UInt8] = []
        var last = ConversationStep.waitForMore
        for (i, reply) in replies.enumerated() {
            buffer += Array(reply.utf8)
            last = check.received(buffer, closed: closeAfter && i == replies.count - 1)
            if case .send(let bytes) = last {
                sent.append(String(decoding: bytes, as: UTF8.self))
                buffer = []
            }
        }
        return (sent, last)
    }

    func testSMTP() {
        var fresh = SMTPCheck(command: "HELO localhost")
        XCTAssertEqual(fresh.opening(), [], "the server speaks first")
        XCTAssertEqual(fresh.received(Array("22".utf8), closed: false), .waitForMore, "min-recv 4")
        let ok = smtp(["220 smtp-check.vtc SMTP Server\r\n", "250 smtp-check.vtc\r\n", "221 smtp-check.vtc closing\r\n"])
        XCTAssertEqual(ok.sent, ["HELO localhost\r\n", "QUIT\r\n"])
        XCTAssertEqual(ok.result, .finished(.passed("SMTP 221: smtp-check.vtc closing", .l7ok, code: 221, info: "smtp-check.vtc closing")))
        let ehlo = smtp(["220 x\r\n", "250-smtp-check.vtc\r\n250-KEYWORD\r\n", "250 LAST KEYWORD\r\n", "221 bye\r\n"], command: "EHLO domain.tld")
        XCTAssertEqual(ehlo.sent, ["EHLO domain.tld\r\n", "QUIT\r\n"], "a multi-line reply is waited for")
        let trickle = smtp(["2", "2", "0", "\r\n", "2", "4", "8", "\r\n", "2", "2", "1", " ok\r\n"])
        XCTAssertEqual(trickle.result, .finished(.passed("SMTP 221: ok", .l7ok, code: 221, info: "ok")), "a reply a byte at a time")
        XCTAssertEqual(smtp(["I'm not a SMTP server\r\n"]).result, .finished(.failed("I'm not a SMTP server", .l7response)))
        XCTAssertEqual(smtp(["421 Try again later\r\n"]).result, .finished(.failed("Try again later", .l7status, code: 421)))
        XCTAssertEqual(smtp(["220 x\r\n", "512 DNS error\r\n"]).result, .waitForMore, "no minimum: the close decides")
        XCTAssertEqual(smtp(["220 x\r\n", "512 DNS error\r\n"], closeAfter: true).result, .finished(.failed("DNS error", .l7status, code: 512)))
        XCTAssertTrue(SMTPCheck.isPositiveMultilineReply(Array("250-a\r\n250 b\r\n".utf8)))
        XCTAssertFalse(SMTPCheck.isPositiveMultilineReply(Array("250-a\r\n550 b\r\n".utf8)))
        XCTAssertFalse(SMTPCheck.isPositiveMultilineReply(Array("250-a\r\n250".utf8)), "the last line not there yet")
        XCTAssertFalse(SMTPCheck.isPositiveMultilineReply(Array("250-a\r250 b\r\n".utf8)), "a CR without its LF")
        let long = Array((String(repeating: "250-EXTENSION\r\n", count: 5000) + "250 OK\r\n").utf8)
        XCTAssertTrue(SMTPCheck.isPositiveMultilineReply(long), "a long reply is read line by line, in place")
    }

    /// reg-tests/checks/ldap-check.vtc's answers: success, not a bindResponse, resultCode 1,
    /// 4-byte lengths split over two arrivals.
    func testLDAP() {
        XCTAssertEqual(LDAPCheck.bindRequest, hex("300C020101600702010304008000"))
        XCTAssertEqual(LDAPCheck.evaluate(hex("300C02010161070A010004000400"), closed: false), .passed("LDAP bind accepted", .l7ok, code: 0, info: "Success"))
        XCTAssertEqual(LDAPCheck.evaluate(hex("300C02010160070A010004000400"), closed: false), .failed("Not LDAPv3 protocol", .l7response))
        XCTAssertEqual(LDAPCheck.evaluate(hex("300C02010161070A010104000400"), closed: false)?.code, 1)
        let split = hex("308400000010020101618400000007 0A01".replacingOccurrences(of: " ", with: ""))
        XCTAssertNil(LDAPCheck.evaluate(split, closed: false), "the rest is on its way")
        XCTAssertEqual(LDAPCheck.evaluate(split + hex("0004000400"), closed: false)?.kind, .l7ok)
        XCTAssertNil(LDAPCheck.evaluate(hex("300C"), closed: false), "min-recv 14")
        XCTAssertEqual(LDAPCheck.evaluate(Array("HTTP/1.1 400 Bad".utf8), closed: false), .failed("Not LDAPv3 protocol", .l7response))
    }

    /// The SSLv3 hello of HAProxy's ssl-hello-chk, and its verdicts.
    func testSSLHello() {
        let hello = SSLHelloCheck.clientHello(time: 0x01020304)
        XCTAssertEqual(hello.count, 126, "5-byte record header + 0x79")
        XCTAssertEqual(Array(hello[0..<15]), hex("160300007901000075030001020304"))
        XCTAssertEqual(Array(hello[43..<49]), hex("00004E000100"))
        XCTAssertEqual(Array(hello.suffix(4)), hex("003A0100"))
        XCTAssertEqual(SSLHelloCheck.evaluate(hex("1503000002"), closed: false)?.kind, .l6ok)
        XCTAssertNil(SSLHelloCheck.evaluate(hex("15"), closed: false), "min-recv 5")
        XCTAssertEqual(SSLHelloCheck.evaluate([], closed: true), .failed("TCPCHK got an empty response at step 2", .l6response))
        XCTAssertEqual(SSLHelloCheck.evaluate(Array("HTTP/1.1 400".utf8), closed: false)?.kind, .l6response)
    }

    /// reg-tests/checks/redis-check.vtc and pgsql-check.vtc's answers.
    func testRedisAndPostgres() {
        XCTAssertEqual(RedisCheck.evaluate(Array("+PONG\r\n".utf8), closed: false), .passed("PONG", .l7ok, code: 0, info: "Redis server is ok"))
        XCTAssertNil(RedisCheck.evaluate(Array("-Error message\r\n".utf8), closed: false), "a string expect waits for more")
        XCTAssertEqual(RedisCheck.evaluate(Array("-Error message\r\n".utf8), closed: true), .failed("-Error message", .l7status, code: 0))

        XCTAssertEqual(PostgresCheck.startupMessage(user: "postgres").count, 23, "the reg-test's servers read 23 bytes")
        XCTAssertEqual(PostgresCheck.evaluate(hex("520000000800000000"), closed: false)?.text, "authentication request")
        XCTAssertEqual(PostgresCheck.evaluate(hex("52000000170000000A534352414D2D5348412D3235360000"), closed: false)?.kind, .l7ok, "SASL")
        XCTAssertEqual(PostgresCheck.evaluate(hex("450000000B53464154414C00"), closed: false), .failed("FATAL", .l7response))
        XCTAssertEqual(PostgresCheck.evaluate(Array("Not a PostgreSQL response".utf8), closed: false), .failed("PostgreSQL unknown error", .l7status, code: 0))
        XCTAssertNil(PostgresCheck.evaluate(hex("52000000"), closed: false), "min-recv 5")
    }
}
