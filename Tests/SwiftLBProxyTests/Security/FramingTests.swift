import Foundation
import XCTest

/// Request smuggling, class by class (HAProxy's reg-tests/http-messaging shape): the raw bytes
/// a client sends, what a correct origin server parsed from what SwiftLB forwarded, and what
/// the client got back. The invariant behind every case: the server parses exactly the
/// messages SwiftLB parsed, with the same bodies; nothing a client sends can make the server
/// see one request more, or hand one client's response to another.
final class FramingTests: XCTestCase {
    var dir: TempDirectory!
    var backend: RecordingBackend!
    var lb: SwiftLBInstance!
    var port = 0

    override func setUpWithError() throws {
        dir = try TempDirectory()
        backend = try RecordingBackend(in: dir)
        // One event loop: server connections are pooled per loop and clients are spread over
        // loops round-robin, so with more loops an attacker and the next client may never share
        // a pooled connection and the poisoning tests below could not fail. `http-reuse always`
        // for the same reason: a client's first request may then take the connection the one
        // before it left (with the default, `safe`, only its later requests may).
        (lb, port) = try startProxy(backend: "app", backends: "backend app\n    http-reuse always\n    server s1 127.0.0.1:\(backend.port)\n",
                                    global: "global\n    nbthread 1\n", in: dir)
    }

    override func tearDown() {
        lb?.stop()
        backend?.stop()
        dir = nil
    }

    /// A request the server would read as a second one if the first were forwarded unframed.
    private let smuggled = "GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n"

    private func send(_ request: String, timeout: TimeInterval = 3) throws -> (text: String, closed: Bool) {
        let client = try RawClient(port: port, timeout: timeout)
        client.send(request)
        return client.readAll()
    }

    /// One response, without waiting for the connection to end.
    private func exchange(_ request: String) throws -> String {
        let client = try RawClient(port: port, timeout: 3)
        client.send(request)
        return client.readResponse()
    }

    private func chunked(_ body: String) -> String {
        String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n"
    }

    /// Forwarded with its framing: the server saw exactly one request, with exactly this body.
    private func assertForwardedIntact(_ request: String, body: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        backend.clear()
        let text = try exchange(request)
        XCTAssertEqual(statusCode(text), 200, "\(name): \(text)", file: file, line: line)
        let seen = backend.waitForRequests(1)
        usleep(200_000)
        let all = backend.requests
        XCTAssertEqual(all.count, 1, "\(name): the server parsed \(all.map { "\($0.method) \($0.target)" })", file: file, line: line)
        XCTAssertEqual(seen.first?.body, body, "\(name): body changed on the way", file: file, line: line)
        XCTAssertFalse(all.contains { $0.target == "/smuggled" }, "\(name): smuggled", file: file, line: line)
    }

    /// Refused with 400 and a closed connection; the server saw nothing.
    private func assertRefused(_ request: String, _ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        backend.clear()
        let (text, closed) = try send(request)
        XCTAssertEqual(statusCode(text), 400, "\(name): \(text)", file: file, line: line)
        XCTAssertTrue(closed, "\(name): connection left open", file: file, line: line)
        usleep(200_000)
        XCTAssertEqual(backend.requests.count, 0, "\(name): forwarded \(backend.requests.map(\.raw))", file: file, line: line)
    }

    func testFramingHeadersNamedInConnectionStay() throws {
        for method in ["POST", "GET", "DELETE"] {
            for name in ["content-length", "Content-Length", "keep-alive, content-length", "close, content-length"] {
                try assertForwardedIntact("\(method) / HTTP/1.1\r\nHost: a\r\nConnection: \(name)\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)",
                                          body: smuggled, "\(method), Connection: \(name)")
            }
            for name in ["transfer-encoding", "Transfer-Encoding", "keep-alive, transfer-encoding"] {
                try assertForwardedIntact("\(method) / HTTP/1.1\r\nHost: a\r\nConnection: \(name)\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(smuggled))",
                                          body: smuggled, "\(method), Connection: \(name)")
            }
        }
    }

    func testConnectionCannotRemoveHost() throws {
        backend.clear()
        let text = try exchange("GET /h HTTP/1.1\r\nHost: good.example\r\nConnection: host\r\n\r\n")
        XCTAssertEqual(statusCode(text), 200, text)
        let seen = backend.waitForRequests(1)
        XCTAssertTrue(seen.first?.raw.lowercased().contains("host: good.example\r\n") ?? false, seen.first?.raw ?? "nothing")
    }

    /// RFC 9110 §6.2: an intermediary sends its own HTTP version. A client's HTTP/1.2 or 1.9
    /// (accepted, as HAProxy accepts them) reaches the server as HTTP/1.1, never as a version
    /// the server might read differently; the client's answer is HTTP/1.1 too. (HAProxy 2.6
    /// does the same; an HTTP/1.0 request also goes out as HTTP/1.1 here, with a Host.)
    func testTheServerAlwaysGetsOurOwnHTTPVersion() throws {
        for version in ["1.2", "1.9", "1.0"] {
            backend.clear()
            let host = version == "1.0" ? "" : "Host: a\r\n"
            let text = try exchange("GET /v HTTP/\(version)\r\n\(host)Connection: close\r\n\r\n")
            XCTAssertEqual(statusCode(text), 200, "HTTP/\(version): \(text)")
            let seen = backend.waitForRequests(1)
            XCTAssertTrue(seen.first?.raw.hasPrefix("GET /v HTTP/1.1\r\n") ?? false, "HTTP/\(version) forwarded as: \(seen.first?.raw ?? "nothing")")
            if version != "1.0" { XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), text) }
        }
    }

    func testTransferCodingsAreCaseInsensitiveTokensAndOnlyChunkedAlone() throws {
        for spelling in ["Chunked", "CHUNKED", "chunked", " chunked "] {
            try assertForwardedIntact("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\(spelling)\r\n\r\n\(chunked(smuggled))",
                                      body: smuggled, "Transfer-Encoding: \(spelling)")
        }
        for coding in ["gzip, chunked", "chunked, chunked", "identity, chunked", "chunked, identity", "gzip", "chunked;q=1", ", chunked"] {
            try assertRefused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \(coding)\r\n\r\n\(chunked(smuggled))", "Transfer-Encoding: \(coding)")
        }
        try assertRefused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(smuggled))",
                          "two Transfer-Encoding lines")
        try assertRefused("POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(smuggled))", "chunked from HTTP/1.0")
        try assertRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(smuggled))", "CL + TE")
        try assertRefused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n\(chunked(smuggled))", "space before colon")
    }

    /// A framing line with odd blanks (around the value, tabs, a repaired fold) reaches the
    /// server in plain form, so no server reads its own way what SwiftLB framed; a plain one
    /// goes as it came.
    func testFramingLinesReachTheServerInPlainForm() throws {
        let cases: [(String, String)] = [
            ("Transfer-Encoding: \t chunked \t", "Transfer-Encoding: chunked\r\n"),
            ("Transfer-Encoding:\r\n chunked", "Transfer-Encoding: chunked\r\n"),
            ("Transfer-Encoding:chunked", "Transfer-Encoding: chunked\r\n"),
            ("Transfer-Encoding: chunked", "Transfer-Encoding: chunked\r\n"),
            ("content-length:   5", "Content-Length: 5\r\n"),
            ("content-length: 5", "content-length: 5\r\n"),
        ]
        for (line, expected) in cases {
            let body = line.lowercased().hasPrefix("transfer") ? chunked("hello") : "hello"
            try assertForwardedIntact("POST /p HTTP/1.1\r\nHost: a\r\n\(line)\r\n\r\n\(body)", body: "hello", line.debugDescription)
            let raw = backend.requests.first?.raw ?? ""
            XCTAssertTrue(raw.contains("\r\n" + expected), "\(line.debugDescription) forwarded as: \(raw.debugDescription)")
        }
    }

    /// A folded line is unfolded into the field before it, as HAProxy 2.6 does: a folded
    /// `Transfer-Encoding` is then part of X's value, the request has no body, and the chunk
    /// bytes behind it are the next request — not HTTP, refused; the server never sees the
    /// smuggled one, and what it got says where the fold was.
    func testAFoldedFramingFieldFramesNothing() throws {
        backend.clear()
        let (text, closed) = try send("POST /f HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n\(chunked(smuggled))")
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), text)
        XCTAssertEqual(text.components(separatedBy: "HTTP/1.1 400").count, 2, "the chunk bytes are refused as a request: \(text)")
        XCTAssertTrue(closed)
        usleep(200_000)
        XCTAssertEqual(backend.requests.map(\.target), ["/f"])
        XCTAssertTrue(backend.requests.first?.raw.contains("\r\nX: y   Transfer-Encoding: chunked\r\n") ?? false, backend.requests.first?.raw ?? "")
        XCTAssertEqual(backend.requests.first?.body, "")
    }

    func testContentLengthMustBeOneNumber() throws {
        let n = smuggled.utf8.count
        for value in ["+\(n)", "0x\(String(n, radix: 16))", "\(n), \(n + 1)", "\(n),", ",\(n)", "\(n),,\(n)",
                      "-1", "1 2", "9223372036854775808", "99999999999999999999999"] {
            try assertRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(value)\r\n\r\n\(smuggled)", "Content-Length: \(value)")
        }
        try assertRefused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(n), \(n)\r\nContent-Length: \(n + 1)\r\n\r\n\(smuggled)", "a list, then another number")
        // A list of one number repeated is that number (HAProxy 2.6 merges it; the server
        // gets one Content-Length).
        for fields in ["Content-Length: \(n), \(n)\r\n", "Content-Length: \(n)\r\nContent-Length: \(n),\(n)\r\n"] {
            try assertForwardedIntact("POST / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n\(smuggled)", body: smuggled, fields)
            XCTAssertEqual(backend.requests.first?.raw.components(separatedBy: "Content-Length: \(n)\r\n").count, 2, backend.requests.first?.raw ?? "")
        }
    }

    func testBodiesOnEveryMethodAreForwardedFramed() throws {
        for method in ["GET", "DELETE", "OPTIONS", "TRACE", "PURGE", "POST", "PUT", "PATCH"] {
            try assertForwardedIntact("\(method) / HTTP/1.1\r\nHost: a\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)",
                                      body: smuggled, "\(method) with Content-Length")
            try assertForwardedIntact("\(method) / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(smuggled))",
                                      body: smuggled, "\(method) chunked")
        }
        // HEAD: the response has no body, but the request's body is still framed.
        backend.clear()
        let client = try RawClient(port: port, timeout: 3)
        client.send("HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)")
        let text = client.read(until: "\r\n\r\n")
        XCTAssertEqual(statusCode(text), 200, text)
        usleep(300_000)
        XCTAssertEqual(backend.requests.map(\.target), ["/"])
        XCTAssertEqual(backend.requests.first?.body, smuggled)
    }

    func testAbsoluteFormWithUserinfoIsRefused() throws {
        try assertRefused("GET http://user@evil.example/ HTTP/1.1\r\nHost: a\r\n\r\n", "userinfo in absolute-form")
        try assertRefused("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", "empty authority")
        try assertRefused("GET http://user%40evil.example/ HTTP/1.1\r\nHost: a\r\n\r\n", "percent-encoded userinfo in absolute-form")
        // A Host naming another origin than the authority is refused (HAProxy 2.6 too), never
        // replaced: the server and SwiftLB's rules must not disagree on the host.
        try assertRefused("GET http://good.example/p?q HTTP/1.1\r\nHost: a\r\n\r\n", "Host differing from the authority")
        backend.clear()
        let text = try exchange("GET http://good.example:80/p?q HTTP/1.1\r\nHost: good.example\r\n\r\n")
        XCTAssertEqual(statusCode(text), 200, text)
        let seen = backend.waitForRequests(1)
        XCTAssertEqual(seen.first?.target, "http://good.example/p?q", "absolute-form goes on as HAProxy sends it, the default port dropped")
        XCTAssertTrue(seen.first?.raw.lowercased().contains("host: good.example\r\n") ?? false, seen.first?.raw ?? "")
    }

    /// Two well-behaved clients one after the other on separate connections share one pooled
    /// server connection: what makes the poisoning tests able to fail.
    private func assertThePoolIsShared(file: StaticString = #filePath, line: UInt = #line) throws {
        backend.clear()
        for i in 0..<2 {
            let client = try RawClient(port: port, timeout: 3)
            client.send("GET /reuse-\(i) HTTP/1.1\r\nHost: a\r\n\r\n")
            XCTAssertTrue(client.read(until: "/reuse-\(i)\n").hasSuffix("GET /reuse-\(i)\n"), file: file, line: line)
            usleep(50_000)
        }
        let seen = backend.waitForRequests(2)
        XCTAssertEqual(seen.count, 2, file: file, line: line)
        XCTAssertEqual(Set(seen.map(\.connection)).count, 1, "two keep-alive clients in a row did not share a server connection: \(seen.map(\.connection))", file: file, line: line)
    }

    /// The attack end to end: an attacker tries to leave a request in the pooled server
    /// connection; a victim on another connection must always get its own response.
    func testPoisoningThePoolNeverReachesAnotherClient() throws {
        try assertThePoolIsShared()
        let attacks = [
            "POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)",
            "POST / HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding\r\nTransfer-Encoding: chunked\r\n\r\n\(chunked(smuggled))",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n\(chunked(smuggled))",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\(chunked(smuggled))",
            "TRACE / HTTP/1.1\r\nHost: a\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)",
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: \(smuggled.utf8.count)\r\n\r\n\(smuggled)",
        ]
        for round in 0..<3 {
            for (i, attack) in attacks.enumerated() {
                let attacker = try RawClient(port: port, timeout: 3)
                attacker.send(attack)
                _ = attacker.read(until: "\n", count: 1)
                let victim = try RawClient(port: port, timeout: 3)
                victim.send("GET /victim-\(round)-\(i) HTTP/1.1\r\nHost: a\r\n\r\n")
                let answer = victim.read(until: "/victim-\(round)-\(i)\n")
                XCTAssertTrue(answer.hasSuffix("GET /victim-\(round)-\(i)\n"), "attack \(i): the victim got \(answer)")
            }
        }
        XCTAssertFalse(backend.requests.contains { $0.target == "/smuggled" }, "a smuggled request reached the server")
    }

    /// A server that answers twice to one request is desynchronised: its connection is never
    /// handed to another request.
    func testAServerConnectionIsNotReusedAfterAnUnsolicitedResponse() throws {
        try assertThePoolIsShared()
        backend.clear()
        for i in 0..<10 {
            let first = try RawClient(port: port, timeout: 3)
            first.send("GET /double HTTP/1.1\r\nHost: a\r\n\r\n")
            XCTAssertTrue(first.read(until: "/double\n").hasSuffix("GET /double\n"))
            usleep(i % 2 == 0 ? 0 : 50_000)
            let victim = try RawClient(port: port, timeout: 3)
            victim.send("GET /victim-\(i) HTTP/1.1\r\nHost: a\r\n\r\n")
            let answer = victim.read(until: "/victim-\(i)\n")
            XCTAssertTrue(answer.hasSuffix("GET /victim-\(i)\n"), "round \(i): the victim got \(answer)")
            XCTAssertFalse(answer.contains("unsolicited"), "round \(i): \(answer)")
        }
        // Each victim went on a server connection other than the one that just answered twice
        // (a clean connection is pooled and reused: the next /double may take the victim's).
        let seen = backend.requests
        let doubles = seen.filter { $0.target == "/double" }.map(\.connection)
        let victims = seen.filter { $0.target.hasPrefix("/victim-") }.map(\.connection)
        XCTAssertEqual(victims.count, 10)
        XCTAssertFalse(zip(doubles, victims).contains { $0 == $1 }, "a victim was sent on a desynchronised connection: \(seen.map { "\($0.connection) \($0.target)" })")
    }
}

/// HAProxy's reg-test http-messaging/h1_to_h1.vtc, client 4: a request that asks to close,
/// followed at once by stray bytes on the same connection. The response must reach the client,
/// then the connection closes; the stray bytes are never taken for a request.
final class CloseWithStrayBytesTests: XCTestCase {
    func testAClosingRequestFollowedByStrayBytesStillGetsItsResponse() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: "backend app\n    server s1 127.0.0.1:\(backend.port)\n", in: dir)
        defer { lb.stop() }
        for method in ["GET", "HEAD", "POST"] {
            backend.clear()
            let client = try RawClient(port: port, timeout: 3)
            client.send("\(method) /stray HTTP/1.1\r\nHost: a\r\ncontent-length: 0\r\nconnection: close\r\n\r\nxxxxxxxxxxxxxxxx GARBAGE\r\n\r\n")
            let (text, closed) = client.readAll()
            XCTAssertEqual(statusCode(text), 200, "\(method): \(text)")
            XCTAssertTrue(closed, "\(method): the connection should close after the response")
            usleep(100_000)
            XCTAssertEqual(backend.requests.map(\.target), ["/stray"], "\(method): stray bytes reached the server")
        }
    }
}
