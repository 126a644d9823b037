import Foundation
import XCTest

/// Odd but valid HTTP/1 messages where HAProxy 2.6 repairs or rewrites rather than refuses, the
/// same bytes through haproxy and swiftlb (each in front of its own scripted server on
/// loopback): what the client receives must agree — status line, header lines (names compared
/// in lower case: haproxy writes them so), body, and whether the connection stays open.
final class HTTP1EdgeParityTests: XCTestCase {
    struct Received: Equatable {
        var statusLine = ""
        var fields: [String] = []
        var body = ""
        var closed = false
    }

    /// A client's view of one response: `request` sent, read until close or a 1 s pause.
    private func receive(_ port: Int, _ request: String) throws -> Received {
        let client = try RawClient(port: port, timeout: 1)
        client.send(request)
        let (text, closed) = client.readAll()
        guard let end = text.range(of: "\r\n\r\n") else { return Received(statusLine: text, closed: closed) }
        let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
        return Received(statusLine: lines[0],
                        fields: lines.dropFirst().map { line in
                            guard let colon = line.firstIndex(of: ":") else { return line }
                            return line[..<colon].lowercased() + line[colon...]
                        },
                        body: String(text[end.upperBound...]), closed: closed)
    }

    /// `answer` from the server, `request` from the client, through both; returns swiftlb's.
    @discardableResult
    private func compare(answer: String, close: Bool, request: String, backendLines: String = "",
                         file: StaticString = #filePath, line: UInt = #line) throws -> Received {
        let dir = try TempDirectory()
        let ours = try ScriptedBackend(.raw(answer, close: close)), theirs = try ScriptedBackend(.raw(answer, close: close))
        defer { ours.stop(); theirs.stop() }
        var received: [Received] = []
        for (program, server) in [("swiftlb", ours), ("haproxy", theirs)] {
            let port = freePort()
            let config = oneServerConfig(port: port, rules: "", backendLines: backendLines, serverPort: server.port)
            let proxy = try startEither(program, config, port: port, in: dir)
            defer { proxy.stop() }
            received.append(try receive(port, request))
        }
        XCTAssertEqual(received[0], received[1], "swiftlb, then haproxy, for \(answer.debugDescription) to \(request.debugDescription) \(backendLines)",
                       file: file, line: line)
        return received[0]
    }

    /// Folded response fields reach the client unfolded; a fold after the status line is a 502.
    func testAFoldedResponseFieldIsUnfolded() throws {
        let ok = try compare(answer: "HTTP/1.1 200 OK\r\nX-Fold: one\r\n two\r\n\tthree\r\nContent-Length: 2\r\n\r\nok", close: false,
                             request: "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(ok.fields.first, "x-fold: one   two  \tthree")
        let refused = try compare(answer: "HTTP/1.1 200 OK\r\n X: y\r\nContent-Length: 2\r\n\r\nok", close: false,
                                  request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(refused.statusLine.hasPrefix("HTTP/1.1 502"), refused.statusLine)
    }

    /// A response's Content-Length list of one number, or that line repeated, reaches the
    /// client as one field; different numbers are a 502.
    func testAResponseContentLengthListIsMerged() throws {
        let ok = try compare(answer: "HTTP/1.1 200 OK\r\nContent-Length: 2,2\r\nX: y\r\nContent-Length: 2\r\n\r\nok", close: false,
                             request: "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(ok.fields, ["content-length: 2", "x: y"])
        let refused = try compare(answer: "HTTP/1.1 200 OK\r\nContent-Length: 2,3\r\n\r\nok", close: false,
                                  request: "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(refused.statusLine.hasPrefix("HTTP/1.1 502"), refused.statusLine)
    }

    /// A server's HTTP/1.0 answer: the client gets the server's version in the status line,
    /// `Connection: keep-alive` when its connection stays (HTTP/1.0 says close otherwise),
    /// nothing when it ends, and a body that ends at the close as it came, not re-chunked.
    /// HTTP/1.1 answers to an HTTP/1.0 client keep their version too (with `close`, or
    /// `keep-alive` when the client asked for it), and a chunked body goes out chunked.
    func testAnHTTP10ServerAnswersAsHAProxyRelaysIt() throws {
        let requests = ["GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
                        "GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"]
        let answers = ["HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.0 200 OK\r\n\r\nbody-until-close",
                       "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
                       "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 200 OK\r\n\r\nbody-until-close",
                       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"]
        for answer in answers {
            let closes = !answer.contains("Length") && !answer.contains("chunked")
            for request in requests {
                let got = try compare(answer: answer, close: closes, request: request)
                XCTAssertEqual(got.statusLine, String(answer.prefix(15)), "the server's version")
            }
        }
    }

    /// `h1-case-adjust` (and its file) with `option h1-case-adjust-bogus-server` on the
    /// backend and `-client` on the frontend: the server gets the request's names in the map's
    /// case, the client the response's — byte for byte what haproxy sends (names outside the
    /// map are written in lower case here, as haproxy writes every name).
    func testHeaderNamesAreRecasedAsTheMapSays() throws {
        let dir = try TempDirectory()
        let map = try dir.write("case.map", "# names the bogus peers want\n  host   Host  \nx-file X-File\n\n")
        let answer = "HTTP/1.1 200 OK\r\nx-custom: 1\r\nX-FILE: 2\r\ncontent-length: 2\r\nother: 3\r\n\r\nok"
        let request = "POST / HTTP/1.1\r\nHOST: a\r\nx-custom: 1\r\nx-file: 2\r\ncontent-length: 2\r\nother: 3\r\n\r\nhi"
        var seen: [(client: String, server: String)] = []
        for program in ["swiftlb", "haproxy"] {
            let server = try ScriptedBackend(.raw(answer, close: false))
            defer { server.stop() }
            let port = freePort()
            let config = """
                global
                    h1-case-adjust content-length Content-Length
                    h1-case-adjust x-custom X-CUSTOM
                    h1-case-adjust-file \(map)
                \(haproxyDefaults)
                frontend fe
                    bind 127.0.0.1:\(port)
                    option h1-case-adjust-bogus-client
                    default_backend be
                backend be
                    option h1-case-adjust-bogus-server
                    server s 127.0.0.1:\(server.port)

                """
            let proxy = try startEither(program, config, port: port, in: dir)
            defer { proxy.stop() }
            let client = try RawClient(port: port, timeout: 1)
            client.send(request)
            let answer = client.readAll().text
            let head = (server.requests.first ?? "").components(separatedBy: "\r\n\r\n")[0]  // the body may come later
            seen.append((answer, head))
        }
        XCTAssertEqual(seen[1].server, "POST / HTTP/1.1\r\nHost: a\r\nX-CUSTOM: 1\r\nX-File: 2\r\nContent-Length: 2\r\nother: 3", "haproxy")
        XCTAssertEqual(seen[0].server, seen[1].server)
        XCTAssertEqual(seen[0].client, seen[1].client)
        XCTAssertTrue(seen[0].client.hasPrefix("HTTP/1.1 200 OK\r\nX-CUSTOM: 1\r\nX-File: 2\r\nContent-Length: 2\r\n"), seen[0].client)
    }

    /// Blank lines (CRLF or a bare LF) before a status line are skipped, as before a request
    /// line; a 204 or an interim response goes out without `Content-Length` and
    /// `Transfer-Encoding` (a 304 keeps them).
    func testBlankLinesBeforeAStatusLineAndBodylessFraming() throws {
        let request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        let ok = try compare(answer: "\r\n\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false, request: request)
        XCTAssertEqual(ok.statusLine, "HTTP/1.1 200 OK")
        _ = try compare(answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false, request: "\n\r\n" + request)
        let noContent = try compare(answer: "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nX: y\r\n\r\n",
                                    close: false, request: request)
        XCTAssertEqual(noContent.fields, ["x: y"])
        let notModified = try compare(answer: "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", close: false, request: request)
        XCTAssertEqual(notModified.fields, ["transfer-encoding: chunked"])
        // (The final response's names in lower case: `Received` lowers only the first head's.)
        let interim = try compare(answer: "HTTP/1.1 100 Continue\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
                                  close: false, request: request)
        XCTAssertEqual(interim.body, "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok", "the 100 went without its Content-Length")
    }

    /// A body delimited by the close whose server keeps its socket open: passed through as it
    /// came (not re-chunked), `Connection: close` to an HTTP/1.1 client, nothing more until
    /// the server closes (the client's 1 s read ends with the connection still open in both).
    func testACloseDelimitedBodyWhoseServerLingersIsPassedThrough() throws {
        for answer in ["HTTP/1.1 200 OK\r\nX: y\r\n\r\nhello", "HTTP/1.0 200 OK\r\nX: y\r\n\r\nhello"] {
            let got = try compare(answer: answer, close: false, request: "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            XCTAssertEqual(got.body, "hello", answer.debugDescription)
            XCTAssertFalse(got.closed)
        }
    }

    /// `option accept-invalid-http-response`: a response header name with bytes outside the
    /// token set, and a status line with any word of version bytes, are forwarded as haproxy
    /// forwards them (a version it reads as 1.1 written `HTTP/1.1`, the others as they came,
    /// kept alive with `Connection: keep-alive` as an HTTP/1.0 answer). Without it both refuse
    /// them. What stays refused: a lower-case version (haproxy too), and a name with a blank or
    /// a control byte, which haproxy forwards and a lenient client reads as the framing field
    /// it resembles (response splitting).
    func testAcceptInvalidHTTPResponseRelaxesWhereHAProxyDoes() throws {
        let option = "    option accept-invalid-http-response"
        let request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        // The last two haproxy takes without the option too (any `XXXX/d.d`); swiftlb does not
        // (docs/conformance.md), so only the others are compared without it.
        for (answer, statusLine, refusedWithout) in [
            ("HTTP/1.1 200 OK\r\nX\"@(): v\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 200 OK", true),
            ("HTTP/1.1 200 OK\r\nX\u{E9}: v\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 200 OK", true),
            ("ICY 200 OK\r\nContent-Length: 2\r\n\r\nok", "ICY 200 OK", true),
            ("HTTP/1.10 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.10 200 OK", true),
            ("HTTP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.1 200 OK", false),
            ("ABCD/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "ABCD/1.0 200 OK", false),
        ] {
            let relaxed = try compare(answer: answer, close: false, request: request, backendLines: option)
            XCTAssertEqual(relaxed.statusLine, statusLine, answer.debugDescription)
            XCTAssertEqual(relaxed.body, "ok", answer.debugDescription)
            if refusedWithout {
                XCTAssertEqual(try compare(answer: answer, close: false, request: request).statusLine, "HTTP/1.1 502 Bad Gateway", "without the option")
            }
        }
        XCTAssertEqual(try compare(answer: "http/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false, request: request,
                                   backendLines: option).statusLine, "HTTP/1.1 502 Bad Gateway")
        // Hostile names: haproxy forwards them with the option; swiftlb answers its 502 either way.
        for answer in ["HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\nContent-Length: 2\r\n\r\nok",
                       "HTTP/1.1 200 OK\r\nContent-Length\r: 9\r\nContent-Length: 2\r\n\r\nok",
                       "HTTP/1.1 200 OK\r\nX\u{01}Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\nok"] {
            let server = try ScriptedBackend(.raw(answer, close: false))
            defer { server.stop() }
            let dir = try TempDirectory()
            var statuses: [Int] = []
            for (program, lines) in [("haproxy", option), ("swiftlb", option), ("swiftlb", "")] {
                let port = freePort()
                let proxy = try startEither(program, oneServerConfig(port: port, rules: "", backendLines: lines, serverPort: server.port),
                                            port: port, in: dir)
                defer { proxy.stop() }
                statuses.append(statusCode(try receive(port, request).statusLine))
            }
            XCTAssertEqual(statuses, [200, 502, 502], answer.debugDescription)
        }
    }
}
