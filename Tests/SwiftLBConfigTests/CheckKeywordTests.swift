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
            .connect(port: nil),
            .expect(negated: true, match: .rstring("^error"), minRecv: 5, comment: "negative check"),
            .expect(negated: false, match: .string(Array("valid".utf8)), comment: "positive check"),
        ])
    }
}
