import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// The HTTP rule engine on heads, without sockets: rules run in the written order, edits are
/// seen by the rules after them, the first final action ends the list, variables live as long
/// as their scope, and what SwiftLB cannot run is refused when the rules are compiled.
final class HTTPRuleEngineTests: XCTestCase {
    private func run(_ rules: String, _ request: String, variables: StreamVariables = StreamVariables(),
                     source: String = "192.0.2.7") throws -> (MessageHead, HTTPRuleVerdict, StreamVariables) {
        let set = try requestRules(rules)
        var head = try requestHead(request)
        var input = SampleInput(facts: try facts(head, source: source), variables: variables)
        let verdict = set.evaluate(&head, &input)
        return (head, verdict, variables)
    }

    func testHeaderEditsRunInOrderAndLaterRulesSeeEarlierEdits() throws {
        let (head, verdict, _) = try run("""
                http-request set-header X-A one
                http-request add-header X-B two
                http-request set-header X-C %[req.hdr(x-a)]-seen if { hdr(x-a) one }
                http-request del-header X-Drop
            """, "GET / HTTP/1.1\r\nHost: h\r\nX-Drop: 1\r\nX-A: old\r\n\r\n")
        guard case .continue = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(serialised(head), "GET / HTTP/1.1\r\nHost: h\r\nX-A: one\r\nX-B: two\r\nX-C: one-seen\r\n\r\n")
    }

    func testDelHeaderMatchesNamesByMethod() throws {
        let request = "GET / HTTP/1.1\r\nHost: h\r\nX-Secret-A: 1\r\nx-secret-b: 2\r\nX-Trace-Id: 3\r\nVia-Me: 4\r\nX-Keep: 5\r\n\r\n"
        var (head, _, _) = try run("    http-request del-header x-secret -m beg\n", request)
        XCTAssertEqual(serialised(head), "GET / HTTP/1.1\r\nHost: h\r\nX-Trace-Id: 3\r\nVia-Me: 4\r\nX-Keep: 5\r\n\r\n")
        (head, _, _) = try run("    http-request del-header -id -m end\n", request)
        XCTAssertFalse(serialised(head).contains("Trace"))
        (head, _, _) = try run("    http-request del-header ECR -m sub\n", request)
        XCTAssertFalse(serialised(head).lowercased().contains("secret"))
        (head, _, _) = try run("    http-request del-header ^via|^x-keep -m reg\n", request)
        XCTAssertEqual(serialised(head), "GET / HTTP/1.1\r\nHost: h\r\nX-Secret-A: 1\r\nx-secret-b: 2\r\nX-Trace-Id: 3\r\n\r\n")
        (head, _, _) = try run("    http-request del-header x-keep -m str\n", request)
        XCTAssertFalse(serialised(head).contains("X-Keep"))
    }

    func testReplaceHeaderReplacesTheWholeValueInPlaceAndReplaceValueEachValue() throws {
        let request = "GET / HTTP/1.1\r\nHost: h\r\nX-Fwd: 10.0.0.1:80\r\nCache-Control: no-cache, max-age=10 ,private\r\nX-Last: z\r\n\r\n"
        let (head, _, _) = try run("""
                http-request replace-header X-Fwd ([0-9.]+):[0-9]+ ip=\\1
                http-request replace-value Cache-Control ^max-age=(.*)$ max-age=1\\1
                http-request replace-header X-Last nomatch gone
            """, request)
        XCTAssertEqual(serialised(head),
                       "GET / HTTP/1.1\r\nHost: h\r\nX-Fwd: ip=10.0.0.1\r\nCache-Control: no-cache,max-age=110,private\r\nX-Last: z\r\n\r\n")
    }

    func testTargetRewritesKeepWhatTheyDoNotReplace() throws {
        var (head, _, _) = try run("    http-request set-path /new%[path]\n", "GET /a/b?x=1 HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(head.currentTarget, "/new/a/b?x=1")
        XCTAssertTrue(serialised(head).hasPrefix("GET /new/a/b?x=1 HTTP/1.1\r\n"))
        (head, _, _) = try run("    http-request set-query y=2\n", "GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(head.currentTarget, "/a?y=2")
        (head, _, _) = try run("    http-request set-query y=2\n", "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(head.currentTarget, "/a?y=2")
        (head, _, _) = try run("    http-request set-uri /fixed\n", "GET /a?x=1 HTTP/1.0\r\n\r\n")
        XCTAssertTrue(serialised(head).hasPrefix("GET /fixed HTTP/1.0\r\n"))
        (head, _, _) = try run("    http-request replace-path /api/(.*) /v2/\\1\n", "GET /api/users?id=3 HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(head.currentTarget, "/v2/users?id=3")
        (head, _, _) = try run("    http-request replace-path /nomatch/(.*) /v2/\\1\n", "GET /api/x HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertNil(head.startLineOverride)
        // Absolute-form: the path after the authority.
        (head, _, _) = try run("    http-request set-path /p\n", "GET http://example.com/a?q HTTP/1.1\r\nHost: example.com\r\n\r\n")
        XCTAssertEqual(head.currentTarget, "http://example.com/p?q")
        // A rule after the rewrite sees the new path.
        (head, _, _) = try run("""
                http-request set-path /b
                http-request set-header X-Path %[path] if { path /b }
            """, "GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertEqual(head.values(of: "x-path"), ["/b"])
    }

    func testTheFirstFinalActionEndsTheList() throws {
        let rules = """
                http-request set-header X-Before 1
                http-request deny if { path /deny }
                http-request allow if { path /allow }
                http-request set-header X-After 1
            """
        var (head, verdict, _) = try run(rules, "GET /deny HTTP/1.1\r\nHost: h\r\n\r\n")
        guard case .respond(let response, .deny) = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(response.status, 403)
        XCTAssertEqual(head.values(of: "x-after"), [])
        (head, verdict, _) = try run(rules, "GET /allow HTTP/1.1\r\nHost: h\r\n\r\n")
        guard case .allow = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(head.values(of: "x-before"), ["1"])
        XCTAssertEqual(head.values(of: "x-after"), [])
        (head, verdict, _) = try run(rules, "GET /other HTTP/1.1\r\nHost: h\r\n\r\n")
        guard case .continue = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(head.values(of: "x-after"), ["1"])
    }

    func testConditionsOnAddressesNetworksAndVariables() throws {
        let rules = """
                acl internal src 10.0.0.0/8 192.0.2.0/24
                http-request set-var(txn.zone) str(inside) if internal
                http-request set-var(txn.zone) str(outside) unless internal
                http-request deny if { var(txn.zone) -m str outside }
                http-request set-header X-Zone %[src]
            """
        var (_, verdict, vars) = try run(rules, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", source: "192.0.2.9")
        guard case .continue = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(vars.get("txn.zone"), .string("inside"))
        (_, verdict, vars) = try run(rules, "GET / HTTP/1.1\r\nHost: h\r\n\r\n", source: "198.51.100.1")
        guard case .respond(_, .deny) = verdict else { return XCTFail("\(verdict)") }
        XCTAssertEqual(vars.get("txn.zone"), .string("outside"))
        // LOCALHOST, IPv6, and an IPv4-mapped IPv6 client.
        (_, verdict, _) = try run("    http-request deny if LOCALHOST\n", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", source: "::1")
        guard case .respond = verdict else { return XCTFail("::1 is LOCALHOST: \(verdict)") }
        (_, verdict, _) = try run("    http-request deny if { src 10.1.0.0/16 }\n", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", source: "::ffff:10.1.2.3")
        guard case .respond = verdict else { return XCTFail("mapped address: \(verdict)") }
    }

    func testAFetchThatFindsNothingLeavesTheVariableAsItWas() throws {
        let vars = StreamVariables()
        vars.set("txn.host", .string("kept"))
        let (_, _, after) = try run("    http-request set-var(txn.host) req.hdr(x-missing)\n", "GET / HTTP/1.1\r\nHost: h\r\n\r\n", variables: vars)
        XCTAssertEqual(after.get("txn.host"), .string("kept"))
    }

    func testVariableScopesLiveAsLongAsHAProxySays() throws {
        let vars = StreamVariables(process: ProcessVariables())
        vars.beginTransaction()
        for scope in ["proc", "sess", "txn", "req", "res"] { vars.set("\(scope).v", .integer(1)) }
        vars.beginResponse()
        XCTAssertNil(vars.get("req.v"), "req. ends where the response starts")
        XCTAssertEqual(vars.get("txn.v"), .integer(1))
        vars.endTransaction()
        XCTAssertNil(vars.get("txn.v"))
        XCTAssertNil(vars.get("res.v"))
        XCTAssertEqual(vars.get("sess.v"), .integer(1), "sess. lives as long as the connection")
        XCTAssertEqual(vars.get("proc.v"), .integer(1))
        let other = StreamVariables(process: vars.process)
        XCTAssertEqual(other.get("proc.v"), .integer(1), "proc. is shared by every stream")
        XCTAssertNil(other.get("sess.v"))
        XCTAssertNil(vars.get("nosuchscope.v"))
    }

    func testSampleExpressionsAndConverters() throws {
        let head = try requestHead("GET /One/Two/three?qs=it_is_yes&b=2 HTTP/1.1\r\nHost: Example.COM:8080\r\nX-L: a, b ,c\r\nX-L: d\r\nCookie: a=1; SID=xyz\r\n\r\n")
        let vars = StreamVariables()
        vars.set("txn.n", .integer(5))
        vars.set("sess.s", .string("S"))
        let input = SampleInput(facts: try facts(head), variables: vars)
        func eval(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> String? {
            do { return try SampleExpression(parsing: text).evaluate(input)?.text } catch {
                XCTFail("\(text): \(error)", file: file, line: line)
                return nil
            }
        }
        XCTAssertEqual(eval("req.hdr(host),lower"), "example.com:8080")
        XCTAssertEqual(eval("req.hdr(host),lower,regsub(:\\d+$,,)"), "example.com")
        XCTAssertEqual(eval("hdr(x-l)"), "d")
        XCTAssertEqual(eval("hdr(x-l,1)"), "a")
        XCTAssertEqual(eval("hdr(x-l,-2)"), "c")
        XCTAssertEqual(eval("req.fhdr(x-l,1)"), "a, b ,c")
        XCTAssertEqual(eval("hdr_cnt(x-l)"), "4")
        XCTAssertEqual(eval("path,lower,field(4,/,1)"), "three")
        XCTAssertEqual(eval("path,upper,word(2,/,1)"), "TWO")
        XCTAssertEqual(eval("path,field(-1,/)"), "three")
        XCTAssertEqual(eval("path,field(2,/,0)"), "One/Two/three")
        XCTAssertEqual(eval("url_param(qs),upper,field(2,_,2)"), "IS_YES")
        XCTAssertEqual(eval("url_param(qs),word(1,_,2)"), "it_is")
        XCTAssertEqual(eval("url_param(nope)"), nil)
        XCTAssertEqual(eval("req.cook(SID)"), "xyz")
        XCTAssertEqual(eval("str(abc),concat(<,sess.s,>)"), "abc<S>")
        XCTAssertEqual(eval("str(abc),hex"), "616263")
        XCTAssertEqual(eval("str(hello),base64"), "aGVsbG8=")
        XCTAssertEqual(eval("str(123456789),crc32"), String(0xCBF4_3926))
        XCTAssertEqual(eval("var(txn.n),add(2),mul(3)"), "21")
        XCTAssertEqual(eval("int(7),sub(txn.n)"), "2")
        XCTAssertEqual(eval("var(txn.nothing,dflt)"), "dflt")
        XCTAssertEqual(eval("var(txn.nothing)"), nil)
        XCTAssertEqual(eval("str(a-b-c),regsub(-,+,g)"), "a+b+c")
        XCTAssertEqual(eval("str(a-b-c),regsub(-,+)"), "a+b-c")
        XCTAssertEqual(eval("method"), "GET")
        XCTAssertEqual(eval("src"), "192.0.2.7")
        XCTAssertEqual(eval("src_port"), "40000")
        XCTAssertEqual(eval("base"), "Example.COM:8080/One/Two/three")
        XCTAssertEqual(eval("req.ver"), "1.1")
        XCTAssertEqual(eval("ssl_fc"), "0")
        XCTAssertEqual(eval("bool(1),not"), "0")
        XCTAssertEqual(eval("int(0),iif(yes,no)"), "no")
    }

    func testLogFormatsRenderSamplesAndRefuseLogVariables() throws {
        let head = try requestHead("GET /p HTTP/1.1\r\nHost: h\r\n\r\n")
        let input = SampleInput(facts: try facts(head))
        XCTAssertEqual(try LogFormat(parsing: "path=%[path] 100%% [x]").render(input), "path=/p 100% [x]")
        XCTAssertEqual(try LogFormat(parsing: "%[str(a]b),regsub(\\],c)]").render(input), "acb")
        XCTAssertThrowsError(try LogFormat(parsing: "%ci:%cp")) { error in
            XCTAssertTrue("\(error)".contains("'%ci'"), "\(error)")
        }
        XCTAssertThrowsError(try LogFormat(parsing: "%[path"))
    }

    func testWhatCannotRunIsRefusedWithFileLineAndKeyword() throws {
        let config = try ConfigParser.parse(text: """
            frontend fe
                bind :8080
                http-request set-var(txn.a) path
                http-request set-var(txn.b) ssl_fc_cipherlist_str,hex
                http-request return status 200 content-type text/plain lf-string "%[nosuch()]"
                http-request set-var(txn.c) path,nosuchconv
                mode http
            """, file: "lb.conf", acceptingPending: true, environment: [:])
        XCTAssertThrowsError(try ProxyRules.compile(config)) { error in
            let errors = (error as! ConfigErrors).errors
            XCTAssertEqual(errors.map(\.line), [4, 5, 6])
            XCTAssertEqual(errors[0].file, "lb.conf")
            XCTAssertEqual(errors[0].keyword, "http-request set-var(txn.b)")
            XCTAssertTrue(errors[0].message.contains("'ssl_fc_cipherlist_str'"), errors[0].message)
            XCTAssertEqual(errors[1].keyword, "http-request return")
            XCTAssertTrue(errors[2].message.contains("'nosuchconv'"), errors[2].message)
        }
    }

    func testResponseRulesReadTheResponseAndSetTheStatus() throws {
        let set = try requestRules("""
                http-response set-var(txn.st) status
                http-response set-var(txn.server) res.hdr(server)
                http-response set-status 503 if { var(txn.st) -m str 200 }
                http-response del-header Server
            """, phase: .response)
        let request = try requestHead("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        var head = try responseHead("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n")
        let vars = StreamVariables()
        var input = SampleInput(facts: try facts(request), variables: vars)
        _ = set.evaluate(&head, &input)
        XCTAssertEqual(serialised(head), "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        XCTAssertEqual(vars.get("txn.server"), .string("nginx"))
        XCTAssertEqual(head.currentStatus, 503)
        XCTAssertEqual(vars.get("txn.st"), .integer(200))
    }

    func testDenyReturnAndRedirectBuildTheirResponses() throws {
        let bench = try RuleBench("""
            frontend fe
                bind :8080
                http-request deny deny_status 400 content-type text/plain string nope hdr x-a b if { path /denybody }
                http-request return status 201 content-type application/json lf-string "{\\"p\\":\\"%[path]\\"}" hdr x-empty %[req.hdr(x-no)] if { path /ret }
                http-request redirect scheme https code 301 if { path /sch }
                http-request redirect location /elsewhere if { path /loc }
                http-request auth realm Staff if { path /auth }
                mode http
            """)
        XCTAssertEqual(try bench.answer("GET /denybody HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
                       "HTTP/1.1 400 Bad Request\r\nx-a: b\r\ncontent-length: 4\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\nnope")
        XCTAssertEqual(try bench.answer("GET /ret HTTP/1.1\r\nHost: h\r\n\r\n"),
                       "HTTP/1.1 201 Created\r\ncontent-length: 12\r\ncontent-type: application/json\r\n\r\n{\"p\":\"/ret\"}")
        XCTAssertEqual(try bench.answer("HEAD /ret HTTP/1.0\r\n\r\n"),
                       "HTTP/1.1 201 Created\r\ncontent-length: 12\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n")
        XCTAssertEqual(try bench.answer("GET /sch?a=1 HTTP/1.1\r\nHost: h.example\r\n\r\n"),
                       "HTTP/1.1 301 Moved Permanently\r\ncontent-length: 0\r\nlocation: https://h.example/sch?a=1\r\n\r\n")
        XCTAssertEqual(try bench.answer("GET /loc HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
                       "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /elsewhere\r\ncache-control: no-cache\r\nconnection: keep-alive\r\n\r\n")
        let auth = try bench.answer("GET /auth HTTP/1.1\r\nHost: h\r\n\r\n") ?? ""
        XCTAssertTrue(auth.hasPrefix("HTTP/1.1 401 Unauthorized\r\ncontent-length: 112\r\n"), auth)
        XCTAssertTrue(auth.contains("\r\nwww-authenticate: Basic realm=\"Staff\"\r\n\r\n<html>"), auth)
        XCTAssertNil(try bench.answer("GET /other HTTP/1.1\r\nHost: h\r\n\r\n"))
    }
}
