import Foundation
import XCTest

/// SwiftLB's own answers and its head limits against haproxy 2.6 side by side (one
/// configuration text, real servers on loopback): the exact bytes each puts on the wire for
/// every error it generates, whether the connection stays for the next request, and the
/// status at both sides of every head-size boundary.
final class ErrorPageParityTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// Short timeouts, the same for both (the harness's own defaults differ per program).
    let defaults = """
        defaults
            mode http
            timeout connect 1s
            timeout client 5s
            timeout server 1s
            timeout http-request 1s

        """

    /// Everything each program sends back to `request` (`then` written 300 ms later) until
    /// it closes or 8 s pass (haproxy retries a refused server 3 times, 1 s apart): SwiftLB's
    /// bytes, then haproxy's.
    private func both(_ ports: [Int], _ request: String, then: String? = nil) throws -> [String] {
        try sideBySideAnswers(ports, Array(request.utf8), then: then.map { Array($0.utf8) })
    }

    private func assertSame(_ answers: [String], status: Int, _ name: String, file: StaticString = #filePath, line: UInt = #line) {
        assertSameAnswer(answers, status: status, name, file: file, line: line)
    }

    func testEveryBuiltInAnswerIsHAProxysBytes() throws {
        let junk = try ScriptedBackend(.junk)
        defer { junk.stop() }
        let silent = try ScriptedBackend(.silent)
        defer { silent.stop() }
        let dead = refusedPort()  // nothing listens there
        let config = { (port: Int) in
            self.defaults + """
            frontend fe
                bind 127.0.0.1:\(port)
                http-request deny if { path /deny }
                use_backend dead if { path_beg /dead }
                use_backend junk if { path_beg /junk }
                use_backend silent if { path_beg /silent }
                use_backend strict if { path_beg /strict }
                use_backend buffered if { path_beg /buffered }
                default_backend nosrv
            backend nosrv
            backend dead
                server s 127.0.0.1:\(dead)
            backend junk
                server s 127.0.0.1:\(junk.port)
            backend silent
                server s 127.0.0.1:\(silent.port)
            backend strict
                option http-restrict-req-hdr-names reject
                server s 127.0.0.1:\(dead)
            backend buffered
                option http-buffer-request
                server s 127.0.0.1:\(dead)
            """
        }
        let sides = try SideBySide(config, in: dir)
        defer { sides.stop() }
        let last = "GET /nosrv HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
        // H1-layer refusals: the page verbatim, closed.
        assertSame(try both(sides.ports, "GET / HTTP/1.1\r\nHost : a\r\n\r\n" + last), status: 400, "malformed")
        assertSame(try both(sides.ports, "GET / HTTP/1.1\r\nHost: a\r\n"), status: 408, "slow head")
        assertSame(try both(sides.ports, "GET /deny HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"), status: 400,
                   "WebSocket without its key, refused before the rules")
        assertSame(try both(sides.ports, "POST /silent HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n"), status: 400,
                   "a broken chunk with the head")
        // A stream's answers: lower-case names, the connection kept for the next request
        // (pipelined here: `last` is answered too) unless the client or the body says close.
        for (name, request, status) in [
            ("no server", "GET /nosrv HTTP/1.1\r\nHost: a\r\n\r\n", 503),
            ("connection refused", "GET /dead HTTP/1.1\r\nHost: a\r\n\r\n", 503),
            ("not HTTP", "GET /junk HTTP/1.1\r\nHost: a\r\n\r\n", 502),
            ("timeout server", "GET /silent HTTP/1.1\r\nHost: a\r\n\r\n", 504),
            ("deny", "GET /deny HTTP/1.1\r\nHost: a\r\n\r\n", 403),
            ("restricted header name", "GET /strict HTTP/1.1\r\nHost: a\r\nx_a: 1\r\n\r\n", 403),
            ("HEAD", "HEAD /nosrv HTTP/1.1\r\nHost: a\r\n\r\n", 503),
            ("HTTP/1.0", "GET /nosrv HTTP/1.0\r\n\r\n", 503),
            ("HTTP/1.0 keep-alive", "GET /nosrv HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", 503),
            ("a body all in", "POST /nosrv HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 503),
            ("a chunked body all in", "POST /junk HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 502),
        ] {
            assertSame(try both(sides.ports, request + last), status: status, name)
        }
        // A body that does not come in time for `option http-buffer-request`: the stream's 408.
        assertSame(try both(sides.ports, "POST /buffered HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab"), status: 408, "a body too slow")
        // A body not all in: the answer says close, and closes.
        assertSame(try both(sides.ports, "POST /nosrv HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\nabc"), status: 503, "a body not all in")
        // A chunk that breaks once the stream runs: the stream's 400, closed.
        assertSame(try both(sides.ports, "POST /silent HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", then: "zz\r\n"),
                   status: 400, "a broken chunk")
    }

    /// HAProxy's bounds with its defaults (tune.bufsize 16384, tune.maxrewrite 1024,
    /// tune.http.maxhdr 101) and with others: the last head each program forwards and the
    /// first it refuses, for a long target, a long header, blanks around a value, many header
    /// lines — the refusal byte for byte the same 400.
    func testHeadLimitsAreHAProxys() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        func target(_ total: Int) -> String {
            let rest = " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            return "GET /" + String(repeating: "a", count: total - 5 - rest.utf8.count) + rest
        }
        func field(_ total: Int, spaces: Bool = false) -> String {
            let start = "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
            let fill = total - start.utf8.count - "X: \r\n\r\n".utf8.count
            return start + "X: " + (spaces ? String(repeating: " ", count: fill - 1) + "v" : String(repeating: "b", count: fill)) + "\r\n\r\n"
        }
        func connection(_ total: Int, _ value: String) -> String {
            // HTTP/1.0 (the same size) closes without "close".
            let start = "GET / HTTP/1.\(value.contains("close") ? 1 : 0)\r\nHost: a\r\nConnection: \(value)\r\n"
            return start + "X: " + String(repeating: "b", count: total - start.utf8.count - "X: \r\n\r\n".utf8.count) + "\r\n\r\n"
        }
        func fields(_ count: Int) -> String {
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n" + (2..<count).map { "X-\($0): v\r\n" }.joined() + "\r\n"
        }
        for (global, boundaries) in [
            // HAProxy stores these heads in their bytes + 27 (a long target) or + 31 (a long
            // header) — `Connection: close` is a flag to it, not a header — and that must not
            // pass 16384 - 1024 - 37; blanks around a value it does not store, but the bytes
            // as they came must fit 16384 - 64.
            ("", [(target(15296), target(15297)), (field(15292), field(15293)), (field(16320, spaces: true), field(16321, spaces: true)),
                  (fields(101), fields(102))]),
            ("global\n    tune.bufsize 8192\n    tune.maxrewrite 512\n    tune.http.maxhdr 10\n",
             [(target(7616), target(7617)), (field(8128, spaces: true), field(8129, spaces: true)), (fields(10), fields(11))]),
            // Connection values partly kept: "foo" (3 bytes stored of 10), "foo,  bar" (all 9),
            // "foo,bar" (7 of 15).
            ("", [(connection(15276, "close, foo"), connection(15277, "close, foo")), (connection(15276, "foo, close"), connection(15277, "foo, close")),
                  (connection(15269, "foo,  bar"), connection(15270, "foo,  bar")),
                  (connection(15277, "close,foo , bar"), connection(15278, "close,foo , bar"))]),
        ] {
            let sides = try SideBySide({ port in
                global + self.defaults + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    default_backend be
                backend be
                    server s 127.0.0.1:\(backend.port)
                """
            }, in: dir)
            defer { sides.stop() }
            for (fits, tooLarge) in boundaries {
                let name = "\(global.isEmpty ? "defaults" : "8192/512/10"), \(fits.utf8.count) bytes, \(fits.components(separatedBy: "\r\n").count) lines"
                let answers = try both(sides.ports, fits)
                XCTAssertEqual(answers.map { statusCode($0) }, [200, 200], name)
                assertSame(try both(sides.ports, tooLarge), status: 400, name + " + 1")
            }
        }
    }

    /// A server's head past the same bounds: HAProxy's 502, at the same byte.
    func testResponseHeadLimitIsHAProxys() throws {
        // "HTTP/1.1 200 OK", X-Huge, Content-Length: 15273 bytes with 15225 h's, stored in
        // exactly the 15323 bytes HAProxy has.
        let fits = try ScriptedBackend(.hugeHead(bytes: 15225))
        defer { fits.stop() }
        let tooLarge = try ScriptedBackend(.hugeHead(bytes: 15226))
        defer { tooLarge.stop() }
        let sides = try SideBySide({ port in
            self.defaults + """
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend large if { path /large }
                default_backend fits
            backend fits
                server s 127.0.0.1:\(fits.port)
            backend large
                server s 127.0.0.1:\(tooLarge.port)
            """
        }, in: dir)
        defer { sides.stop() }
        let ok = try both(sides.ports, "GET /fits HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(ok.map { statusCode($0) }, [200, 200])
        assertSame(try both(sides.ports, "GET /large HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"), status: 502, "a head one byte too large")
    }

    /// On an HTTP/2 frontend the same pages: status, header fields and body as haproxy's h2
    /// output (curl's view of it: HPACK and frames may differ, what they carry may not). No
    /// http-request rules here: a frontend without them has no other way to HAProxy's pages.
    func testHTTP2AnswersAreHAProxys() throws {
        let junk = try ScriptedBackend(.junk)
        defer { junk.stop() }
        let sides = try SideBySide({ port in
            self.defaults + """
            frontend fe
                bind 127.0.0.1:\(port) proto h2
                use_backend junk if { path /junk }
                default_backend nosrv
            backend nosrv
            backend junk
                server s 127.0.0.1:\(junk.port)
            """
        }, in: dir)
        defer { sides.stop() }
        for (path, status) in [("/nosrv", 503), ("/junk", 502)] {
            // The response as curl shows it (`-D -`): status line, fields in order, body.
            let answers = sides.ports.map { curl(["--http2-prior-knowledge", "-D", "-", "http://127.0.0.1:\($0)\(path)"], maxTime: 10).out }
            XCTAssertTrue(answers[1].hasPrefix("HTTP/2 \(status) \r\n"), "haproxy \(path): \(answers[1])")
            XCTAssertEqual(answers[0], answers[1], path)
        }
        // HAProxy's bound for an h2 request (what it stores: here, with curl's fields and a
        // 5-digit port in :authority and host, a 15155-byte value is the last that fits) and
        // past it no answer but RST_STREAM(PROTOCOL_ERROR): curl's 92.
        for (length, expected) in [(15155, "503 0"), (15156, "000 92")] {
            let results = sides.ports.map { port in
                let value = String(repeating: "b", count: length - 2 * ("\(port)".count - 5))
                let out = curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Big: " + value,
                                "http://127.0.0.1:\(port)/"], maxTime: 10)
                return "\(out.out) \(out.status)"
            }
            XCTAssertEqual(results, [expected, expected], "a \(length)-byte header over HTTP/2")
        }
    }
}
