import Foundation
import XCTest

/// `errorloc`, `errorloc302`, `errorloc303` and `http-error`, beside HAProxy 2.6 on the same
/// configuration: each status SwiftLB generates (a refused request, a denied one, no server
/// reachable) is answered with the proxy's redirect or reply, byte for byte as haproxy's.
final class ErrorReplyTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testErrorLocationsAndHTTPErrorsAnswerAsHAProxy() throws {
        let page = try dir.write("404.http", "HTTP/1.1 404 Not Here\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\ngone\n")
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                errorloc 503 http://example.test/sorry?from=lb
                errorloc303 403 /denied
                errorloc302 400 /bad-request
                http-error status 404 errorfile \(page)
                http-request deny if { path /deny }
                http-request deny deny_status 404 if { path /missing }
                use_backend be_replies if { path_beg /r/ }
                use_backend be_bare if { path_beg /bare }
                use_backend be_default if { path_beg /default }
                default_backend be_dead
            backend be_dead
                retries 0
                server s1 127.0.0.1:1
            backend be_replies
                retries 0
                http-error status 503 content-type text/plain string "busy now" hdr x-reason maintenance hdr x-path %[path]
                http-error status 403 content-type text/plain lf-string "no entry to %[path]"
                http-request deny if { path /r/deny }
                server s1 127.0.0.1:1
            backend be_bare
                retries 0
                http-error status 503
                server s1 127.0.0.1:1
            backend be_default
                retries 0
                errorfile 503 \(page)
                http-error status 503 default-errorfiles
                server s1 127.0.0.1:1
            """
        }, in: dir)
        defer { both.stop() }
        // (request, answered by the stream after a failed connect: HAProxy closes after it
        // without a `connection` header, where SwiftLB says `connection: close` as RFC 9112
        // §9.6 asks; the comparison leaves that line out)
        let requests: [(String, streamError: Bool)] = [
            ("GET / HTTP/1.1\r\nHost: x\r\n\r\n", true),                     // no server: 503 → errorloc
            ("GET /deny HTTP/1.1\r\nHost: x\r\n\r\n", false),                // 403 → errorloc303
            ("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n", false),             // 404 → http-error's errorfile
            ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", false),                   // malformed: the mux's own 400, errorloc302 or not
            ("GET /r/x HTTP/1.1\r\nHost: x\r\n\r\n", true),                  // the backend's http-error 503
            ("GET /r/deny HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false),  // its lf-string 403
            ("GET /bare HTTP/1.1\r\nHost: x\r\n\r\n", true),                 // http-error without payload: empty
            ("GET /default HTTP/1.1\r\nHost: x\r\n\r\n", true),              // default-errorfiles: the frontend's errorloc
        ]
        for (request, streamError) in requests {
            var ours = try rawExchange(both.lbPort, request)
            if streamError { ours = ours.replacingOccurrences(of: "\r\nconnection: close\r\n\r\n", with: "\r\n\r\n") }
            let theirs = try rawExchange(both.haproxyPort, request)
            XCTAssertFalse(theirs.isEmpty, request)
            XCTAssertEqual(ours, theirs, "request: \(request.debugDescription)")
        }
        XCTAssertTrue(try rawExchange(both.lbPort, requests[0].0).contains("location: http://example.test/sorry?from=lb\r\n"))
    }

    /// Several lines for one status, of different kinds and some from `defaults`: HAProxy applies
    /// them in line order (a defaults section's first), so the last one wins for the status.
    func testLastLineForAStatusWinsWhateverItsKind() throws {
        let fromDefaults = try dir.write("defaults.http", "HTTP/1.1 503 From Defaults\r\ncontent-type: text/plain\r\ncontent-length: 9\r\n\r\ndefaults\n")
        let fromFile = try dir.write("file.http", "HTTP/1.1 503 From File\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nfile\n")
        let fromSection = try dir.write("section.http", "HTTP/1.1 503 From Section\r\ncontent-type: text/plain\r\ncontent-length: 8\r\n\r\nsection\n")
        let both = try SideBySide({ port in
            """
            http-errors site
                errorfile 503 \(fromSection)
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
                errorfile 503 \(fromDefaults)
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend b1 if { path /b1 }
                use_backend b2 if { path /b2 }
                use_backend b3 if { path /b3 }
                use_backend b4 if { path /b4 }
                use_backend b5 if { path /b5 }
                default_backend b6
            backend b1
                retries 0
                errorfiles site
                server s1 127.0.0.1:1
            backend b2
                retries 0
                errorloc 503 /elsewhere
                errorfiles site 503
                server s1 127.0.0.1:1
            backend b3
                retries 0
                errorfiles site
                errorfile 503 \(fromFile)
                server s1 127.0.0.1:1
            backend b4
                retries 0
                http-error status 503 content-type text/plain string "reply"
                errorfiles site
                server s1 127.0.0.1:1
            backend b5
                retries 0
                errorfiles site
                errorloc303 503 /later
                server s1 127.0.0.1:1
            backend b6
                retries 0
                errorfile 503 \(fromFile)
                http-error status 503 content-type text/plain string "reply"
                errorfiles site
                errorfile 503 \(fromFile)
                server s1 127.0.0.1:1
            """
        }, in: dir)
        defer { both.stop() }
        let expected = ["b1": "503 From Section", "b2": "503 From Section", "b3": "503 From File", "b4": "503 From Section",
                        "b5": "303 See Other", "b6": "503 From File"]
        for (backend, status) in expected.sorted(by: { $0.key < $1.key }) {
            let request = "GET /\(backend) HTTP/1.1\r\nHost: x\r\n\r\n"
            let ours = try rawExchange(both.lbPort, request).replacingOccurrences(of: "\r\nconnection: close\r\n\r\n", with: "\r\n\r\n")
            let theirs = try rawExchange(both.haproxyPort, request)
            XCTAssertTrue(theirs.hasPrefix("HTTP/1.1 \(status)"), "haproxy, \(backend): \(theirs)")
            XCTAssertEqual(ours, theirs, backend)
        }
    }

    /// Wrong arguments are refused on their line, naming the keyword.
    func testBadArgumentsNameTheLineAndKeyword() throws {
        let cases = [
            ("errorloc 418 /tea", "errorloc"),
            ("errorloc303 503", "errorloc303"),
            ("http-error 503 string x", "http-error"),
            ("http-error status 302 content-type text/plain string x", "http-error"),
            ("http-error status 503 string x", "http-error"),  // a body needs a content-type
        ]
        for (line, keyword) in cases {
            let file = try dir.write("lb.conf", "defaults\n    mode http\nbackend b\n    \(line)\n    server s1 127.0.0.1:1\n")
            let result = runCommand(Paths.swiftlb, ["check", "-c", file])
            let text = result.out + result.err
            XCTAssertNotEqual(result.status, 0, line)
            XCTAssertTrue(text.contains("lb.conf:4") && text.contains("'\(keyword)'"), "\(line): \(text)")
        }
    }

    /// `errorfiles NAME CODE` for a status the section has no file for: haproxy -c warns
    /// once per proxy (a `listen` once), naming the proxy, the section and the line, and
    /// zero-warning refuses the file; `swiftlb check` prints the same warnings.
    func testErrorfilesNamingAnUndeclaredStatusWarnsAsHAProxy() throws {
        let page = try dir.write("503.http", "HTTP/1.1 503 Down\r\ncontent-length: 0\r\n\r\n")
        // (No `option httplog`: without a `log` line haproxy warns that it is ignored.)
        let body = "defaults\n    mode http\n    timeout connect 2s\n    timeout client 5s\n    timeout server 5s\n" + """
            frontend f
                bind 127.0.0.1:\(freePort())
                errorfiles e 404 503
                default_backend b
            backend b
                errorfiles e 403
                server s 127.0.0.1:\(freePort())
            listen l
                bind 127.0.0.1:\(freePort())
                errorfiles e 503 500
                server s 127.0.0.1:\(freePort())
            http-errors e
                errorfile 503 \(page)

            """
        let warnings = { (text: String) in
            text.split(separator: "\n").filter { $0.contains("[WARNING]") }.map { $0.split(separator: ":", maxSplits: 1).last.map(String.init) ?? "" }
        }
        for zeroWarning in [false, true] {
            let path = try dir.write("e.cfg", (zeroWarning ? "global\n    zero-warning\n" : "") + body)
            let reference = runCommand("/usr/sbin/haproxy", ["-c", "-f", path])
            let ours = runCommand(Paths.swiftlb, ["check", "-c", path])
            XCTAssertEqual(reference.status, zeroWarning ? 1 : 0, reference.err)
            XCTAssertEqual(ours.status, reference.status, ours.err)
            XCTAssertEqual(warnings(reference.err).count, 3, reference.err)
            XCTAssertEqual(warnings(ours.err), warnings(reference.err))
        }
    }
}
