import Foundation
import XCTest
@testable import SwiftLBProxy

/// What SwiftLB answers itself — deny, return, redirect, auth, the monitor URI, error files,
/// after-response rules on them — compared byte for byte with what HAProxy 2.6 (Debian's
/// haproxy, run on loopback with the same configuration text) sends for the same request.
/// The configuration is parsed by SwiftLB's parser and run through the rule engine exactly as
/// the stream will (`RuleBench`); HAProxy gets the same file.
final class HAProxyRuleReplyTests: XCTestCase {
    /// Never reached: every request of these tests is answered by a rule.
    private static let backend = "    default_backend be\nbackend be\n    server s1 127.0.0.1:1"
    private var haproxy: ChildProcess?
    private var directory: TempDirectory!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed (apt-get install haproxy)") }
        directory = try TempDirectory()
    }

    override func tearDown() {
        haproxy?.stop()
        haproxy = nil
    }

    /// Starts haproxy on `text` (with `PORT` replaced) and returns the port and the text.
    private func startHAProxy(_ text: String) throws -> (Int, String) {
        let port = freePort()
        let config = text.replacingOccurrences(of: "PORT", with: String(port))
        haproxy = try SwiftLBProxyTests.startHAProxy(config, port: port, in: directory)
        return (port, config)
    }

    /// HAProxy's answer: read to the close for a closing request, else one framed response.
    private func haproxyAnswer(_ port: Int, _ request: String, closes: Bool) throws -> String {
        let client = try RawClient(port: port, timeout: 3)
        client.send(request)
        return closes ? client.readAll().text : client.readResponse()
    }

    private func compare(_ bench: RuleBench, _ port: Int, _ request: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let ours = try bench.answer(request)
        // Read HAProxy's to the close when the connection ends after it (a closing request, or
        // our answer says it closes: if HAProxy kept it open the bytes differ anyway).
        let closes = request.contains("Connection: close") || request.contains("HTTP/1.0\r\n") && !request.contains("keep-alive")
            || (ours ?? "").contains("\r\nconnection: close\r\n")
        let theirs = try haproxyAnswer(port, request, closes: closes)
        XCTAssertEqual(ours, theirs, "for \(request.debugDescription)", file: file, line: line)
    }

    func testRuleAnswersAreHAProxysBytes() throws {
        let statuses = HAProxyMessages.pageStatuses.filter { $0 != 200 }
        let denies = statuses.map { "    http-request deny deny_status \($0) if { path /deny\($0) }" }.joined(separator: "\n")
        let lfFile = try directory.write("lf-file.txt", "path is %[url]\n")
        let file = try directory.write("file.txt", String(repeating: "0123456789abcdef", count: 64))
        let config = """
            \(haproxyDefaults)
            frontend fe
                bind 127.0.0.1:PORT
                acl mfail hdr(x-fail) -m found
                http-request return hdr "x-custom-hdr" "%[url]" if { path /def-2 }
                http-request return content-type "text/plain" if { path /def-4 }
                http-request return content-type "text/plain" file /dev/null hdr "x-custom-hdr" "%[url]"  if { path /empty-file }
                http-request return content-type "text/plain" file \(file) hdr "x-custom-hdr" "%[url]"  if { path /file }
                http-request return content-type "text/plain" lf-file \(lfFile) hdr "x-custom-hdr" "%[url]"  if { path /lf-file }
                monitor-uri /mon
                monitor fail if mfail
                http-request deny if { path /deny }
            \(denies)
                http-request deny deny_status 400 content-type text/plain string nope hdr x-a b if { path /denybody }
                http-request return status 200 content-type text/plain string "hello" hdr x-h v if { path /ret }
                http-request return if { path /ret0 }
                http-request return status 404 if { path /ret404 }
                http-request redirect location /x if { path /loc }
                http-request redirect scheme https if { path_beg /sch }
                http-request redirect location /y code 301 if { path /loc301 }
                http-request redirect location /z code 303 if { path /loc303 }
                http-request redirect location /z code 307 if { path /loc307 }
                http-request redirect location /z code 308 if { path /loc308 }
                http-request auth realm "My Realm" if { path /auth }
                http-request auth if { path /auth2 }
                http-request set-var(txn.p) path
                http-request return status 200 content-type text/plain lf-string "p=%[var(txn.p)] h=%[req.hdr(host),lower]" if { path /lf }
                http-request set-header x-seen yes
                http-request return status 202 content-type text/plain lf-string "seen=%[req.hdr(x-seen)]" if { path /seen }
                http-after-response add-header x-after 1
                http-after-response set-header x-src %[src]
            \(Self.backend)
            """
        let (port, text) = try startHAProxy(config)
        let bench = try RuleBench(text)
        for path in ["/def-2", "/def-4", "/empty-file", "/file", "/lf-file", "/deny", "/denybody", "/ret", "/ret0", "/ret404", "/loc", "/sch", "/sch/a?b=c", "/loc301", "/loc303", "/loc307", "/loc308",
                     "/auth", "/auth2", "/mon", "/lf", "/seen"] + statuses.map({ "/deny\($0)" }) {
            try compare(bench, port, "GET \(path) HTTP/1.1\r\nHost: H.example\r\nConnection: close\r\n\r\n")
        }
        // Keep-alive, HTTP/1.0 with and without keep-alive, HEAD, no Host, the monitor failing.
        try compare(bench, port, "GET /ret HTTP/1.1\r\nHost: h\r\n\r\n")
        try compare(bench, port, "GET /deny HTTP/1.1\r\nHost: h\r\n\r\n")
        try compare(bench, port, "GET /loc HTTP/1.1\r\nHost: h\r\n\r\n")
        try compare(bench, port, "GET /mon HTTP/1.1\r\nHost: h\r\n\r\n")
        try compare(bench, port, "GET /ret HTTP/1.0\r\n\r\n")
        try compare(bench, port, "GET /ret HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        try compare(bench, port, "HEAD /ret HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        try compare(bench, port, "HEAD /deny HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        try compare(bench, port, "GET /sch HTTP/1.1\r\nConnection: close\r\n\r\n")
        try compare(bench, port, "GET /mon HTTP/1.1\r\nHost: h\r\nx-fail: 1\r\nConnection: close\r\n\r\n")
        try compare(bench, port, "GET /mon HTTP/1.0\r\n\r\n")
        // The monitor URI is the path with its query: this one is not it.
        XCTAssertNil(try bench.answer("GET /mon?x=1 HTTP/1.1\r\nHost: h\r\n\r\n"))
    }

    func testErrorFilesAreHAProxysBytes() throws {
        let page403 = try directory.write("403.http", "HTTP/1.0 403 Go Away\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\nX-Custom:  spaced value \r\n\r\n<html>custom 403</html>\n")
        let page503 = try directory.write("503.http", "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\ndown")
        let page200 = try directory.write("200.http", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nmon ok\n")
        let page429 = try directory.write("429.http", "HTTP/1.1 429 Slow\r\nContent-Type: text/plain\r\n\r\nslow")
        let config = """
            \(haproxyDefaults)
            http-errors myerrs
                errorfile 429 \(page429)
            frontend fe
                bind 127.0.0.1:PORT
                monitor-uri /mon
                errorfile 403 \(page403)
                errorfile 503 \(page503)
                errorfile 200 \(page200)
                errorfile 502 /dev/null
                errorfiles myerrs
                http-request deny if { path /deny }
                http-request deny deny_status 429 if { path /deny429 }
                http-request deny deny_status 503 if { path /deny503 }
                http-request deny deny_status 502 if { path /deny502 }
                http-request return status 403 errorfile \(page403) if { path /reterr }
                http-request return status 429 errorfiles myerrs if { path /reterrs }
                http-request auth if { path /auth }
                http-after-response add-header x-after 1
            \(Self.backend)
            """
        let (port, text) = try startHAProxy(config)
        let bench = try RuleBench(text)
        for path in ["/deny", "/deny429", "/deny503", "/deny502", "/mon", "/reterr", "/reterrs", "/auth"] {
            try compare(bench, port, "GET \(path) HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        }
        try compare(bench, port, "GET /deny503 HTTP/1.1\r\nHost: h\r\n\r\n")
        // An empty error file: nothing at all, and the connection closes.
        XCTAssertEqual(try bench.answer("GET /deny502 HTTP/1.1\r\nHost: h\r\n\r\n"), "")
        // A page without a length ends the connection (HAProxy: close-delimited).
        try compare(bench, port, "GET /deny429 HTTP/1.1\r\nHost: h\r\n\r\n")
    }
}
