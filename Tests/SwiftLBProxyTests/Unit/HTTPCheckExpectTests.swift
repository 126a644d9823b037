import NIOCore
@testable import SwiftLBConfig
import XCTest
@testable import SwiftLBHealth

/// `http-check expect` rules judged on one answer, pure (HAProxy 2.6's tcpcheck_eval_expect_http),
/// and the `X-Haproxy-Server-State` header of `http-check send-state` in HAProxy's words.
final class HTTPCheckExpectTests: XCTestCase {
    /// The answer of reg-tests/checks/http-check-expect.vtc's server.
    let vtcAnswer = Array("""
        HTTP/1.1 202 Accepted\r
        x-test1: true, next value\r
        x-test2: true, begin-value, value-end, value-sub-string, value-reg-123ABC\r
        x-begin-test: 1\r
        x-test-end: 1\r
        x-sub-test: 1\r
        x-reg-test1: 1\r
        x-hdr-name: x-test1\r
        Content-Length: 0\r
        \r

        """.utf8)

    private func rules(_ lines: String) throws -> [HTTPCheck.Expect] {
        try lines.split(separator: "\n").map { try KeywordRegistry.httpCheckExpect(words(String($0))) }
    }

    /// Splits like lb.conf does for these lines: blanks, and double quotes.
    private func words(_ line: String) -> [String] {
        var out: [String] = [], current = "", quoted = false, started = false
        for ch in line {
            if ch == "\"" { quoted.toggle(); started = true } else if ch == " " && !quoted {
                if started { out.append(current) }
                current = ""; started = false
            } else { current.append(ch); started = true }
        }
        if started { out.append(current) }
        return out
    }

    private func verdict(_ lines: String, _ answer: [UInt8]? = nil) throws -> CheckOutcome {
        let expects = try rules(lines)
        return try XCTUnwrap(HTTPCheckAnswer(answer ?? vtcAnswer)).verdict(expects, regexes: HTTPCheckRegexes(expects))
    }

    func testTheRegTestsRulesPassOnItsAnswer() throws {
        let all = """
            status 200-399
            hdr name "x-test1"
            hdr name -m str "X-Test2"
            hdr name -m beg "X-Begin-"
            hdr name -m end "-End"
            hdr name -m sub "-Sub-"
            hdr name -m reg "^[a-z]+-Reg-[a-z]+[0-9]$"
            fhdr name "x-test1" value "true, next value"
            hdr name "x-test2" value -m str "true"
            hdr name -m beg "x-test" value -m beg "begin-"
            hdr name -m beg "x-test" value -m end "-end"
            hdr name -m beg "x-test" value -m sub "-sub-"
            hdr name -m beg "x-test" value -m reg "^value-reg-[A-Z0-9]+$"
            fhdr name -m beg "x-test" value -m reg "value-reg-[A-Z0-9]+"
            """
        XCTAssertEqual(try verdict(all), .passed("status 202", .l7ok, code: 202))
        // Each rule decides: every one of them fails on an answer without these headers.
        let bare = Array("HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n".utf8)
        for rule in all.split(separator: "\n").dropFirst() {
            XCTAssertEqual(try verdict(String(rule), bare), .failed("Accepted", .l7status, code: 202), String(rule))
        }
    }

    /// The reg-test's backend whole, its check variables and log-format patterns too, parsed
    /// as lb.conf and judged on its answer; each -lf rule decides on an answer that lacks
    /// what it looks for.
    func testTheRegTestsBackendWithVariablesAndLogFormats() throws {
        let config = try ConfigParser.parse(text: #"""
            defaults
                mode http
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            backend be1
                option httpchk
                http-check expect status 200-399
                http-check expect hdr name "x-test1"
                http-check set-var(check.hdr_name) res.fhdr(x-hdr-name)
                http-check expect hdr name-lf -m str "%[var(check.hdr_name)]"
                http-check expect hdr name-lf -m str "%[res.fhdr(x-hdr-name)]"
                http-check expect fhdr name "x-test1" value "true, next value"
                http-check set-var(check.hdr_value) str(x-test1)
                http-check expect hdr name -m beg "x-" value-lf -m str "%[var(check.hdr_value)]"
                http-check expect fhdr name -m beg "x-" value-lf -m str "%[res.fhdr(x-hdr-name)]"
                http-check unset-var(check.hdr_value)
                http-check expect hdr name -m beg "x-" value-lf -m str "%[var(check.hdr_value)]"
                server srv 127.0.0.1:1 check
            """#, file: "lb.conf")
        let check = try XCTUnwrap(config.backends["be1"]?.options.httpCheck)
        XCTAssertEqual(check.expects.map(\.assignments.count), [0, 0, 1, 0, 0, 1, 0, 1])
        let answer = try XCTUnwrap(HTTPCheckAnswer(vtcAnswer))
        let all = answer.verdict(check.expects, regexes: HTTPCheckRegexes(check.expects))
        XCTAssertEqual(all, .failed("log-format string evaluated to an empty string", .l7response, code: 202), "the unset variable renders empty")
        let vtc = Array(check.expects.dropLast())
        XCTAssertEqual(answer.verdict(vtc, regexes: HTTPCheckRegexes(vtc)), .passed("status 202", .l7ok, code: 202))
        let renamed = Array(String(decoding: vtcAnswer, as: UTF8.self).replacingOccurrences(of: "x-hdr-name: x-test1", with: "x-hdr-name: x-nothere").utf8)
        XCTAssertEqual(try XCTUnwrap(HTTPCheckAnswer(renamed)).verdict(vtc, regexes: HTTPCheckRegexes(vtc)), .failed("Accepted", .l7status, code: 202))
        XCTAssertEqual(answer.sample(.responseHeader("X-Test2", fullLine: false), [:]), "value-reg-123ABC", "res.hdr: the last value")
        XCTAssertEqual(answer.sample(.responseHeader("x-test1", fullLine: true), [:]), "true, next value")
        XCTAssertNil(answer.sample(.responseHeader("x-none", fullLine: true), [:]))
    }

    func testHeaderValuesAreSplitOnCommasUnlessFullLine() throws {
        XCTAssertEqual(try verdict(#"hdr name "x-test1" value "next value""#).kind, .l7ok)
        XCTAssertEqual(try verdict(#"fhdr name "x-test1" value "next value""#).kind, .l7status, "fhdr: the whole line")
        XCTAssertEqual(try verdict(#"hdr name "x-test1" value "True""#).kind, .l7status, "values are case-sensitive")
        XCTAssertEqual(try verdict(#"hdr name -m reg "^X-TEST1$""#).kind, .l7ok, "names are not")
    }

    func testNegationStatusesAndComments() throws {
        XCTAssertEqual(try verdict("status 200,201-299"), .passed("status 202", .l7ok, code: 202))
        XCTAssertEqual(try verdict("! status 200,201-299"), .failed("Accepted", .l7status, code: 202))
        XCTAssertEqual(try verdict("rstatus ^2[0-9]{2}").kind, .l7ok)
        XCTAssertEqual(try verdict("! rstatus ^2 comment \"no 2xx wanted\""), .failed("Accepted comment: no 2xx wanted", .l7status, code: 202))
        XCTAssertEqual(try verdict("status 500 error-status L7RSP").kind, .l7response)
        XCTAssertEqual(try verdict("status 202 ok-status L6OK").kind, .l6ok)
        // The first failing rule decides; the last rule's ok-status is the pass's.
        XCTAssertEqual(try verdict("status 500 comment first\nstatus 404 comment second").text, "Accepted comment: first")
        XCTAssertEqual(try verdict("status 202 ok-status L4OK\nstatus 202").kind, .l7ok)
    }

    func testBodyMatches() throws {
        let answer = Array("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nready: yes\n".utf8)
        XCTAssertEqual(try verdict("string ready", answer).kind, .l7ok)
        XCTAssertEqual(try verdict("! string ready", answer), .failed("HTTP check matched unwanted content", .l7response, code: 200))
        XCTAssertEqual(try verdict("rstring \"^ready: (yes|no)$\"", answer).kind, .l7ok)
        XCTAssertEqual(try verdict("string maintenance", answer), .failed("HTTP content check did not match", .l7response, code: 200))
        XCTAssertEqual(try verdict("string ready"), .failed("HTTP content check could not find a response body", .l7response, code: 202))
        XCTAssertNil(HTTPCheckAnswer(Array("SSH-2.0-OpenSSH\r\n".utf8)))
    }

    /// HAProxy's `srv_hlt_st` table and the fields after it.
    func testServerStateHeader() {
        var h = ServerStateHeader(state: .up, health: 4, rise: 2, fall: 3, address: "127.0.0.1", port: 8080, backend: "be", server: "srv",
                                  node: "lb1", weight: 10, totalWeight: 30, sessions: 2, backendSessions: 7)
        XCTAssertEqual(h.value, "UP; address=127.0.0.1; port=8080; name=be/srv; node=lb1; weight=10/30; scur=2/7; qcur=0")
        h.health = 2
        XCTAssertTrue(h.value.hasPrefix("UP 1/3; "), h.value)
        h.state = .stopping
        XCTAssertTrue(h.value.hasPrefix("NOLB 1/3; "), h.value)
        h.health = 4
        XCTAssertTrue(h.value.hasPrefix("NOLB; "), h.value)
        h.state = .down
        h.health = 0
        XCTAssertTrue(h.value.hasPrefix("DOWN; "), h.value)
        h.health = 1
        h.throttlePercent = 40
        XCTAssertEqual(h.value, "DOWN 1/2; address=127.0.0.1; port=8080; name=be/srv; node=lb1; weight=10/30; scur=2/7; qcur=0; throttle=40%")
    }

    /// The header follows the configured ones and precedes `Connection: close`, as HAProxy
    /// writes it.
    func testStateHeaderPlaceInTheRequest() throws {
        var check = HTTPCheck()
        check.headers = [("X-Test", "1")]
        let probe = HealthProbe(address: try .init(ipAddress: "127.0.0.1", port: 1), http: check, host: "h", timeout: .seconds(1))
        let request = probe.requestBytes(check, state: "UP; address=127.0.0.1")
        XCTAssertTrue(request.contains("X-Test: 1\r\nX-Haproxy-Server-State: UP; address=127.0.0.1\r\nConnection: close\r\n"), request)
        XCTAssertFalse(probe.requestBytes(check).contains("X-Haproxy-Server-State"))
    }

    /// When an answer is whole without the server closing: its framing says.
    func testWhenAnAnswerIsComplete() {
        func complete(_ text: String, bodiless: Bool = false) -> Bool { HTTPCheckAnswer.isComplete(Array(text.utf8), bodiless: bodiless) }
        XCTAssertTrue(complete("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        XCTAssertFalse(complete("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no"))
        XCTAssertFalse(complete("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"), "the head is not over")
        XCTAssertTrue(complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"))
        XCTAssertFalse(complete("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"))
        XCTAssertTrue(complete("HTTP/1.1 204 No Content\r\n\r\n"))
        XCTAssertTrue(complete("HTTP/1.1 101 Switching Protocols\r\nUpgrade: raw\r\n\r\n"))
        XCTAssertTrue(complete("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", bodiless: true), "HEAD")
        XCTAssertFalse(complete("HTTP/1.0 200 OK\r\n\r\nto the close"), "no framing: the close ends it")
    }
}
