import Foundation
import NIOCore
import XCTest

/// What rules do with a message's buffer, SwiftLB and HAProxy 2.6 side by side: `strict-mode`
/// with `tune.bufsize`/`tune.maxrewrite` (a rewrite that does not fit is a 500, or skipped with
/// `strict-mode off`), and `http-response wait-for-body` (the response waits for its body, a
/// 504 when the time passes first). http-rules/strict_rw_mode.vtc and
/// http-messaging/http_wait_for_body.vtc are the reg-tests behind them.
final class RuleBufferingTests: XCTestCase {
    private static let value = String(repeating: "1234567890", count: 6)

    func testStrictModeAsHAProxy() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let both = try SideBySide({ port in
            """
            global
                tune.bufsize 2048
                tune.maxrewrite 128
            frontend fe
                bind 127.0.0.1:\(port)
                option http-buffer-request
                http-request set-header x-hdr1 \(Self.value)
                http-request set-header x-hdr2 \(Self.value) if { path /two }
                http-request strict-mode off if { path /soft }
                http-request set-header x-hdr3 \(Self.value) if { path /soft }
                default_backend app
            backend app
                server s1 127.0.0.1:\(backend.port)
            """
        }, in: dir)
        defer { both.stop() }
        let body = String(repeating: "b", count: 2000)
        func run(_ port: Int) throws -> [String] {
            try ["/one", "/two", "/soft", "/small"].map { path in
                backend.clear()
                let client = try RawClient(port: port, timeout: 3)
                let payload = path == "/small" ? "" : body
                client.send("GET \(path) HTTP/1.1\r\nHost: h\r\nContent-Length: \(payload.utf8.count)\r\nConnection: close\r\n\r\n\(payload)")
                let status = String(client.readAll().text.prefix(12))
                let seen = status.hasSuffix("200") ? backend.waitForRequests(1).first.map { r in
                    r.raw.lowercased().components(separatedBy: "\r\n").filter { $0.hasPrefix("x-hdr") }.map { String($0.prefix(6)) }.sorted().joined(separator: ",")
                } ?? "nothing" : "-"
                return "\(path) \(status) \(seen)"
            }
        }
        let ours = try run(both.lbPort)
        XCTAssertEqual(ours, ["/one HTTP/1.1 200 x-hdr1", "/two HTTP/1.1 500 -", "/soft HTTP/1.1 200 x-hdr1", "/small HTTP/1.1 200 x-hdr1"])
        XCTAssertEqual(ours, try run(both.haproxyPort))
    }

    func testResponseWaitForBodyAsHAProxy() throws {
        let dir = try TempDirectory()
        let quick = try ScriptedBackend(.slowBody(.milliseconds(30), body: String(repeating: "q", count: 1001)))
        let late = try ScriptedBackend(.slowBody(.seconds(2), body: "late"))
        defer { quick.stop(); late.stop() }
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend late if { path /late }
                default_backend quick
            backend quick
                http-response wait-for-body time 1s if { status eq 200 }
                server s1 127.0.0.1:\(quick.port)
            backend late
                http-response wait-for-body time 100ms
                server s1 127.0.0.1:\(late.port)
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            let client = try RawClient(port: port, timeout: 4)
            client.send("GET /quick HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            let answer = client.readAll().text
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200") && answer.hasSuffix(String(repeating: "q", count: 1001)), "port \(port): \(answer.prefix(200))")
            let started = Date()
            let slow = try RawClient(port: port, timeout: 4)
            slow.send("GET /late HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            let refused = slow.readAll().text
            XCTAssertTrue(refused.hasPrefix("HTTP/1.1 504"), "port \(port): \(refused.prefix(200))")
            XCTAssertLessThan(Date().timeIntervalSince(started), 1.5, "port \(port): the 504 came after the body would have")
        }
    }
}

/// `http-request tarpit`: the deny answer (500 unless told otherwise) comes after `timeout
/// tarpit`, not before, and the connection is kept (a second request on it is answered) — as
/// from HAProxy 2.6 on the same configuration.
final class TarpitTests: XCTestCase {
    func testTarpitAnswersAfterItsTimeoutAsHAProxy() throws {
        let dir = try TempDirectory()
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                timeout tarpit 400ms
                http-request tarpit if { path /slow }
                http-request tarpit status 429 content-type text/plain string "go away" if { path /busy }
                http-request return status 200
            """
        }, in: dir)
        defer { both.stop() }
        var answers: [[String]] = []
        for port in both.ports {
            var mine: [String] = []
            for path in ["/slow", "/busy"] {
                let started = Date()
                let client = try RawClient(port: port, timeout: 4)
                client.send("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
                let answer = client.readResponse()
                let waited = Date().timeIntervalSince(started)
                XCTAssertTrue(waited >= 0.35 && waited < 3, "port \(port) \(path): answered after \(waited) s")
                client.send("GET /next HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
                XCTAssertTrue(client.readAll().text.hasPrefix("HTTP/1.1 200"), "port \(port) \(path): the connection did not go on")
                mine.append(answer)
            }
            answers.append(mine)
        }
        XCTAssertTrue(answers[0][0].hasPrefix("HTTP/1.1 500"), answers[0][0])
        XCTAssertTrue(answers[0][1].hasPrefix("HTTP/1.1 429") && answers[0][1].hasSuffix("go away"), answers[0][1])
        XCTAssertEqual(answers[0].map(\.debugDescription), answers[1].map(\.debugDescription))
    }
}
