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
}
