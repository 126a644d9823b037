import XCTest
@testable import SwiftLBConfig

/// How the HTTP check of a backend is put together from `option httpchk` and `http-check send`
/// in its section and in `defaults`, as HAProxy 2.6 does (reg-tests/checks/http-check-send.vtc),
/// and the protocol check options.
final class CheckKeywordTests: XCTestCase {
    func testHTTPCheckSendInheritance() throws {
        let config = try parseOrFail("""
            defaults
                mode http
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                option httpchk GET /status HTTP/1.1\\r\\nHdr:\\ must-be-removed
                http-check send hdr Host "my-www-host" hdr X-test true body "test"
            backend own_option
                option httpchk
                server s 127.0.0.1:1 check
            backend inherits
                server s 127.0.0.1:1 check
            backend own_send
                http-check send hdr Host other body "other test"
                server s 127.0.0.1:1 check
            backend legacy
                option httpchk GET / HTTP/1.1\\r\\nHost:\\ www
                server s 127.0.0.1:1 check
            """)
        let own = try XCTUnwrap(config.backends["own_option"]?.options.httpCheck)
        XCTAssertEqual([own.method, own.uri, own.version], ["OPTIONS", "/", "HTTP/1.0"])
        XCTAssertTrue(own.headers.isEmpty)
        XCTAssertNil(own.body)
        let inherited = try XCTUnwrap(config.backends["inherits"]?.options.httpCheck)
        XCTAssertEqual([inherited.method, inherited.uri, inherited.version], ["GET", "/status", "HTTP/1.1"])
        XCTAssertEqual(inherited.headers.map { "\($0.0): \($0.1)" }, ["Host: my-www-host", "X-test: true"], "the send's headers replace the option's")
        XCTAssertEqual(inherited.body, "test")
        let send = try XCTUnwrap(config.backends["own_send"]?.options.httpCheck)
        XCTAssertEqual([send.method, send.uri, send.version], ["OPTIONS", "/", "HTTP/1.0"], "a proxy's own send starts afresh")
        XCTAssertEqual(send.headers.map { "\($0.0): \($0.1)" }, ["Host: other"])
        XCTAssertEqual(send.body, "other test")
        XCTAssertEqual(config.backends["legacy"]?.options.httpCheck?.headers.map { "\($0.0): \($0.1)" }, ["Host: www"])
    }

    func testProtocolChecks() throws {
        let config = try parseOrFail("""
            defaults
                mode tcp
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            backend mysql
                option httpchk
                option mysql-check user haproxy pre-41
                server s 127.0.0.1:1 check
            backend smtp
                option smtpchk EHLO example.test
                server s 127.0.0.1:1 check
            backend ldap
                option ldap-check
                server s 127.0.0.1:1 check
            backend tls
                option ssl-hello-chk
                server s 127.0.0.1:1 check
            """)
        XCTAssertEqual(config.backends["mysql"]?.options.protocolCheck, .mysql(user: "haproxy", post41: false))
        XCTAssertNil(config.backends["mysql"]?.options.httpCheck, "the last check option wins")
        XCTAssertEqual(config.backends["smtp"]?.options.protocolCheck, .smtp(command: "EHLO example.test"))
        XCTAssertEqual(config.backends["ldap"]?.options.protocolCheck, .ldap)
        XCTAssertEqual(config.backends["tls"]?.options.protocolCheck, .sslHello)
        XCTAssertFalse(parseErrors("backend b\n    option mysql-check user x post-42\n").isEmpty)
        XCTAssertFalse(parseErrors("backend b\n    option smtpchk FOO bar\n").isEmpty)
    }

    func testTCPCheckExpectMinRecvAndComment() throws {
        let config = try parseOrFail("""
            backend b
                option tcp-check
                tcp-check connect
                tcp-check expect min-recv 5 !rstring "^error" comment "negative check"
                tcp-check expect string "valid" comment "positive check"
                server s 127.0.0.1:1 check
            """)
        XCTAssertEqual(config.backends["b"]?.options.tcpCheck, [
            .connect(TCPCheckConnect()),
            .expect(negated: true, match: .rstring("^error"), minRecv: 5, comment: "negative check"),
            .expect(negated: false, match: .string(Array("valid".utf8)), comment: "positive check"),
        ])
    }

    /// reg-tests/checks/http-check-expect.vtc's rules (but its log-format ones), each a rule of
    /// its own in order, with HAProxy's options before or after the match.
    func testHTTPCheckExpectRules() throws {
        let config = try parseOrFail("""
            defaults
                mode http
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            backend be1
                option httpchk
                http-check send-state
                http-check expect status 200,201-299
                http-check expect hdr name "x-test1"
                http-check expect hdr name -m reg "^[a-z]+-Reg-[a-z]+[0-9]\\$"
                http-check expect fhdr name "x-test1" value "true, next value"
                http-check expect hdr name -m beg "x-test" value -m end "-end"
                http-check expect ! rstatus ^5 comment "no server error" error-status L7RSP
                http-check expect min-recv 10 ok-status L7OKC tout-status L7TOUT ! string maintenance
                server s 127.0.0.1:1 check
            backend plain
                option httpchk
                server s 127.0.0.1:1 check
            """)
        let check = try XCTUnwrap(config.backends["be1"]?.options.httpCheck)
        XCTAssertTrue(check.sendState)
        XCTAssertFalse(try XCTUnwrap(config.backends["plain"]?.options.httpCheck).sendState)
        XCTAssertEqual(check.expects.map(\.match), [
            .status([200...200, 201...299]),
            .header(name: .init(.str, "x-test1"), value: nil, fullLine: false),
            .header(name: .init(.reg, "^[a-z]+-Reg-[a-z]+[0-9]$"), value: nil, fullLine: false),
            .header(name: .init(.str, "x-test1"), value: .init(.str, "true, next value"), fullLine: true),
            .header(name: .init(.beg, "x-test"), value: .init(.end, "-end"), fullLine: false),
            .rstatus("^5"),
            .string("maintenance"),
        ])
        let negative = check.expects[5]
        XCTAssertEqual([negative.negated, negative.comment == "no server error", negative.errorStatus == "L7RSP"], [true, true, true])
        let last = check.expects[6]
        XCTAssertEqual(last.negated, true)
        XCTAssertEqual(last.minRecv, 10)
        XCTAssertEqual([last.okStatus, last.timeoutStatus], ["L7OKC", "L7TOUT"])
        XCTAssertEqual(config.backends["plain"]?.options.httpCheck?.expect, .status([200...399]), "HAProxy's implicit rule")
    }
}
