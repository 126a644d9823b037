import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// The actions and fetches HAProxy's reg-tests use, on heads without sockets: `set-method`,
/// `capture SAMPLE len N`, `reject`, `http_first_req`, `capture.req.hdr`, `status` and
/// `capture.req.uri` in ACLs, and `%[…]` expressions beyond the model's fetches in header
/// values (refused with their line when SwiftLB cannot evaluate them).
final class HAProxyRuleActionsTests: XCTestCase {
    func testSetMethodRewritesTheStartLineAndTheExchangeFollowsIt() throws {
        let set = try requestRules("    http-request set-method GET if { method HEAD }\n")
        var head = try requestHead("HEAD /x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n")
        var input = SampleInput(facts: try facts(head))
        guard case .continue = set.evaluate(&head, &input) else { return XCTFail("not continued") }
        XCTAssertEqual(serialised(head), "GET /x?q=1 HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(HTTPMethodName(text: head.currentMethod), .get)
        XCTAssertEqual(HTTPMethodName(text: "HEAD"), .head)
        XCTAssertEqual(HTTPMethodName(text: "PURGE"), .other)
    }

    func testCaptureFillsItsSlotAfterTheHeaderCapturesCutToItsLength() throws {
        let config = try ConfigParser.parse(text: """
            frontend fe
                bind :8080
                capture request header User-Agent len 3
                http-request capture req.hdr(host) len 4
                http-request capture req.hdr(x-missing) len 9
                http-request set-header X-Slot1 %[capture.req.hdr(1)]
                mode http
            """, file: "t.cfg", acceptingPending: true, environment: [:])
        let captures = config.frontends[0].captures
        XCTAssertEqual(captures.map(\.byRule), [false, true, true])
        let set = try HTTPRuleSet(config.frontends[0].httpRequestRules, phase: .request, proxyName: "fe", file: "t.cfg")
        var head = try requestHead("GET / HTTP/1.1\r\nHost: hostname:80\r\nUser-Agent: curl/8\r\n\r\n")
        var input = SampleInput(facts: try facts(head))
        let declared = HeaderCaptures.logValues(captures, response: false, from: head)
        XCTAssertEqual(declared, ["cur", nil, nil])
        input.captures = declared ?? []
        _ = set.evaluate(&head, &input)
        XCTAssertEqual(HTTPClientConnection.slots(input.captures, as: declared!), ["cur", "host", nil])
        XCTAssertEqual(head.values(of: "x-slot1"), ["host"])
        XCTAssertNil(HeaderCaptures.logValues(captures, response: true, from: head), "no response capture: the field disappears")
        XCTAssertThrowsError(try ConfigParser.parse(text: "backend b\n    http-request capture req.hdr(host) len 4\n", file: "t.cfg",
                                                    acceptingPending: true, environment: [:])) { error in
            XCTAssertTrue("\(error)".contains("frontend or listen"), "\(error)")
        }
    }

    func testRejectEndsTheListWithoutAnAnswer() throws {
        let set = try requestRules("""
                http-request reject unless { hdr(sec-websocket-key) -m found }
                http-request set-header X-After 1
            """)
        var head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        var input = SampleInput(facts: try facts(head))
        guard case .reject = set.evaluate(&head, &input) else { return XCTFail("not rejected") }
        XCTAssertEqual(head.values(of: "x-after"), [])
        head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\nSec-WebSocket-Key: k\r\n\r\n")
        input = SampleInput(facts: try facts(head))
        guard case .continue = set.evaluate(&head, &input) else { return XCTFail("rejected") }
        XCTAssertEqual(head.values(of: "x-after"), ["1"])
    }

    func testFirstRequestStatusAndCapturedURIInRulesAndACLs() throws {
        let set = try requestRules("""
                http-after-response set-header first %[http_first_req]
                http-after-response set-header empty "<%[str()]>"
                http-after-response set-header crc "%[res.fhdr(server),crc32]" if { status eq 200 }
                http-after-response set-status 234 if { capture.req.uri /stats }
                http-after-response set-header low "%[res.hdr(server),lower]" if { status ge 500 }
            """, phase: .afterResponse)
        let request = try requestHead("GET /stats HTTP/1.1\r\nHost: h\r\n\r\n")
        var head = try responseHead("HTTP/1.1 200 OK\r\nServer: NGINX\r\nContent-Length: 0\r\n\r\n")
        var input = SampleInput(facts: try facts(request))
        input.firstRequest = true
        _ = set.evaluate(&head, &input)
        XCTAssertEqual(head.values(of: "first"), ["1"])
        XCTAssertEqual(head.values(of: "empty"), ["<>"])
        XCTAssertEqual(head.values(of: "crc"), ["1394834611"])  // zlib.crc32(b"NGINX")
        XCTAssertEqual(head.currentStatus, 234)
        XCTAssertEqual(head.values(of: "low"), [])
        head = try responseHead("HTTP/1.1 503 Service Unavailable\r\nServer: NGINX\r\nContent-Length: 0\r\n\r\n")
        input = SampleInput(facts: try facts(try requestHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n")))
        _ = set.evaluate(&head, &input)
        XCTAssertEqual(head.values(of: "first"), ["0"])
        XCTAssertEqual(head.values(of: "low"), ["nginx"])
        XCTAssertEqual(head.currentStatus, 503)
    }

    func testAHeaderExpressionSwiftLBCannotEvaluateIsRefusedWithItsLine() throws {
        let config = try ConfigParser.parse(text: """
            frontend fe
                bind :8080
                http-request set-header X-Ok %[req.hdr(host),lower]
                http-request set-header X-Bad %[rand]
                http-response add-header X-Bad2 "a %[res.hdr(server),nosuch] b"
                mode http
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        XCTAssertThrowsError(try ProxyRules.compile(config)) { error in
            let errors = (error as! ConfigErrors).errors
            XCTAssertEqual(errors.map(\.line), [4, 5])
            XCTAssertEqual(errors.map(\.keyword), ["http-request set-header", "http-response add-header"])
            XCTAssertTrue(errors[0].message.contains("'rand'"), errors[0].message)
            XCTAssertTrue(errors[1].message.contains("'nosuch'"), errors[1].message)
        }
    }
}

extension HAProxyRuleActionsTests {
    /// HAProxy trims the blanks around a value set by `set-header`/`add-header`.
    func testHeaderValuesLoseTheBlanksAroundThem() throws {
        let set = try requestRules("""
                http-request set-header X-A "a: "
                http-request set-header X-A "%[req.fhdr(x-a)] b"
                http-request add-header X-B "  c  "
            """)
        var head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        var input = SampleInput(facts: try facts(head))
        _ = set.evaluate(&head, &input)
        XCTAssertEqual(head.values(of: "x-a"), ["a: b"])
        XCTAssertEqual(head.values(of: "x-b"), ["c"])
    }
}
