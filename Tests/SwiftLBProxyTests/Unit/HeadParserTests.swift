import NIOCore
import XCTest
@testable import SwiftLBProxy

/// The HTTP/1 head parser on bytes: what it accepts, what it refuses with which status, and
/// that a head split at any byte boundary parses the same as in one piece.
final class HeadParserTests: XCTestCase {
    private func parse(_ text: String, kind: MessageHead.Kind = .request, limits: HeadParser.Limits = .init()) -> (HeadParser.Outcome, ByteBuffer) {
        var parser = HeadParser(kind: kind, limits: limits)
        var buffer = ByteBuffer(string: text)
        return (parser.parse(&buffer), buffer)
    }

    private func head(_ text: String, kind: MessageHead.Kind = .request, file: StaticString = #filePath, line: UInt = #line) -> MessageHead? {
        guard case .head(let h) = parse(text, kind: kind).0 else {
            XCTFail("not parsed: \(text.debugDescription) → \(parse(text, kind: kind).0)", file: file, line: line)
            return nil
        }
        return h
    }

    private func failure(_ text: String, kind: MessageHead.Kind = .request, limits: HeadParser.Limits = .init()) -> HeadParser.Failure? {
        if case .failure(let f) = parse(text, kind: kind, limits: limits).0 { return f }
        return nil
    }

    /// HTTP/1.2…1.9 are read as 1.1 but flagged, so the rewriters send our own version.
    func testVersionsAboveOneOneAreReadAsOneOneAndFlagged() {
        for (version, minor, asRead) in [("1.0", 0, true), ("1.1", 1, true), ("1.2", 1, false), ("1.9", 1, false)] {
            let request = head("GET / HTTP/\(version)\r\nHost: a\r\n\r\n")
            XCTAssertEqual(request?.minorVersion, minor, version)
            XCTAssertEqual(request?.versionIsAsRead, asRead, version)
            let response = head("HTTP/\(version) 200 OK\r\nContent-Length: 0\r\n\r\n", kind: .response)
            XCTAssertEqual(response?.minorVersion, minor, version)
            XCTAssertEqual(response?.versionIsAsRead, asRead, version)
        }
        XCTAssertNotNil(failure("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), "only major version 1")
    }

    func testARequestHeadIsRangesIntoTheBytesAndTheRestStays() throws {
        let text = "GET /a?b=c HTTP/1.1\r\nHost: example\r\nX-Two:  v  \r\nCookie: a=1; b=2\r\n\r\nBODY"
        let (outcome, rest) = parse(text)
        guard case .head(let h) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(h.method, .get)
        XCTAssertEqual(h.target, "/a?b=c")
        XCTAssertEqual(h.minorVersion, 1)
        XCTAssertEqual(h.fields.count, 3)
        XCTAssertEqual(h.name(1), "X-Two")
        XCTAssertEqual(h.value(1), "v")
        XCTAssertTrue(h.name(0, is: "host"))
        XCTAssertEqual(h.values(of: "cookie"), ["a=1; b=2"])
        XCTAssertEqual(rest.readableBytes, 4)
        // Untouched, it serialises to exactly what came.
        var out = ByteBuffer()
        h.write(into: &out)
        XCTAssertEqual(String(buffer: out), String(text.dropLast(4)))
    }

    func testEditsKeepTheUntouchedLinesAsTheyCame() throws {
        guard var h = head("POST /x HTTP/1.0\r\nHost: h\r\nConnection: keep-alive\r\nX-Keep: 1\r\nCookie: S=1\r\n\r\n") else { return }
        h.remove(1)
        h.set("X-Forwarded-For", "10.0.0.1")
        h.removeAll("cookie")
        h.startLineOverride = "POST /x HTTP/1.1"
        var out = ByteBuffer()
        h.write(into: &out)
        XCTAssertEqual(String(buffer: out), "POST /x HTTP/1.1\r\nHost: h\r\nX-Keep: 1\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n")
        XCTAssertEqual(h.values(of: "x-forwarded-for"), ["10.0.0.1"])
    }

    func testTokensAreMatchedCaseInsensitively() throws {
        guard let h = head("GET / HTTP/1.1\r\nConnection: Keep-Alive, UPGRADE ,close\r\n\r\n") else { return }
        XCTAssertTrue(h.value(0, hasToken: "upgrade"))
        XCTAssertTrue(h.value(0, hasToken: "close"))
        XCTAssertTrue(h.value(0, hasToken: "keep-alive"))
        XCTAssertFalse(h.value(0, hasToken: "keep"))
        XCTAssertEqual(h.tokens(0), ["keep-alive", "upgrade", "close"])
    }

    func testEveryByteBoundaryParsesTheSame() throws {
        let text = "\r\nPUT /p HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nX: y\r\n\r\nabc"
        let bytes = Array(text.utf8)
        for split in 0...bytes.count {
            var parser = HeadParser(kind: .request)
            var buffer = ByteBuffer(bytes: bytes[0..<split])
            var outcome = parser.parse(&buffer)
            buffer.writeBytes(bytes[split...])
            if case .incomplete = outcome { outcome = parser.parse(&buffer) }
            guard case .head(let h) = outcome else { return XCTFail("split at \(split): \(outcome)") }
            XCTAssertEqual(h.fields.count, 3, "split at \(split)")
            XCTAssertEqual(String(buffer: buffer), "abc", "split at \(split)")
        }
        // Byte by byte.
        var parser = HeadParser(kind: .request)
        var buffer = ByteBuffer()
        var got: MessageHead?
        for b in bytes {
            buffer.writeInteger(b)
            if case .head(let h) = parser.parse(&buffer) { got = h; break }
        }
        XCTAssertEqual(got?.target, "/p")
    }

    func testMalformedHeadsAreRefused() {
        let cases: [String: String] = [
            "bare LF in a field": "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n",
            "bare LF head": "GET / HTTP/1.1\n\n",
            "folding the request line": "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
            "space before colon": "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "tab before colon": "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n",
            "control byte": "GET / HTTP/1.1\r\nX: a\u{01}b\r\n\r\n",
            "NUL": "GET / HTTP/1.1\r\nX: a\u{00}b\r\n\r\n",
            "DEL": "GET / HTTP/1.1\r\nX: a\u{7F}b\r\n\r\n",
            "empty name": "GET / HTTP/1.1\r\n: a\r\n\r\n",
            "method not a token": "G(T / HTTP/1.1\r\n\r\n",
            "missing version": "GET /\r\n\r\n",
            "HTTP/2.0": "GET / HTTP/2.0\r\n\r\n",
            "lower-case version": "GET / http/1.1\r\n\r\n",
            "two spaces": "GET  / HTTP/1.1\r\n\r\n",
            "space in target": "GET /a b HTTP/1.1\r\n\r\n",
            "non-ASCII target": "GET /\u{e9} HTTP/1.1\r\n\r\n",
            "name with a space": "GET / HTTP/1.1\r\nX Y: z\r\n\r\n",
        ]
        for (name, text) in cases.sorted(by: { $0.key < $1.key }) {
            guard case .malformed = failure(text) else { XCTFail("\(name): \(parse(text).0)"); continue }
        }
    }

    private func serialised(_ head: MessageHead?) -> String? {
        guard let head else { return nil }
        var out = ByteBuffer()
        head.write(into: &out)
        return String(buffer: out)
    }

    /// Obsolete line folding is unfolded as HAProxy 2.6 does it in place: the CR and LF become
    /// spaces, the continuation keeps its own blanks (`one   two  \tthree` is what haproxy sent
    /// its server for this request, and for the same fields in a response); a fold right after
    /// the start line stays refused (haproxy: 400, 502).
    func testFoldedFieldsAreUnfoldedAsHAProxyDoes() {
        let request = head("GET / HTTP/1.1\r\nHost: a\r\nX-Fold: one\r\n two\r\n\tthree\r\nX-After: z\r\n\r\n")
        XCTAssertEqual(request?.fields.count, 3)
        XCTAssertEqual(request?.values(of: "x-fold"), ["one   two  \tthree"])
        XCTAssertEqual(serialised(request), "GET / HTTP/1.1\r\nHost: a\r\nX-Fold: one   two  \tthree\r\nX-After: z\r\n\r\n")
        let response = head("HTTP/1.1 200 OK\r\nX-Fold: one\r\n two\r\nContent-Length: 2\r\n\r\n", kind: .response)
        XCTAssertEqual(response?.values(of: "x-fold"), ["one   two"])
        XCTAssertEqual(response?.values(of: "content-length"), ["2"])
        // A folded Transfer-Encoding is part of the previous field's value, never a framing.
        let hidden = head("POST / HTTP/1.1\r\nHost: a\r\nX: y\r\n Transfer-Encoding: chunked\r\n\r\n")
        XCTAssertEqual(hidden?.values(of: "transfer-encoding"), [])
        XCTAssertEqual(hidden.map { try? MessageFraming.request($0).get() }, .some(.none))
        // A folded Content-Length is one value with blanks inside: refused by the framing.
        if let folded = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n 0\r\n\r\n") {
            XCTAssertThrowsError(try MessageFraming.request(folded).get())
        }
        guard case .malformed = failure("HTTP/1.1 200 OK\r\n X: y\r\nContent-Length: 2\r\n\r\n", kind: .response) else { return XCTFail("folded status line") }
        // Split anywhere, the same.
        let bytes = Array("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\nrest".utf8)
        for split in 1..<bytes.count {
            var parser = HeadParser(kind: .request)
            var buffer = ByteBuffer(bytes: bytes[..<split])
            var outcome = parser.parse(&buffer)
            if case .incomplete = outcome {
                buffer.writeBytes(bytes[split...])
                outcome = parser.parse(&buffer)
            }
            guard case .head(let h) = outcome else { XCTFail("split at \(split): \(outcome)"); continue }
            XCTAssertEqual(h.values(of: "x"), ["a   b"], "split at \(split)")
            // What followed the head stays (only what had arrived when the head parsed in one go).
            let headLength = bytes.count - 4
            let arrived = split >= headLength ? split : bytes.count
            XCTAssertEqual(String(buffer: buffer), String(decoding: bytes[headLength..<arrived], as: UTF8.self), "split at \(split)")
        }
    }

    /// Content-Length lists and repeats as HAProxy 2.6 merges them (h1_parse_cont_len_header;
    /// what haproxy sent its server for each request): identical numbers become one field
    /// holding the last as written, a repeated line is dropped and not counted toward the
    /// head's bounds; anything else is left for the framing to refuse.
    func testContentLengthListsAndRepeatsAreMergedAsHAProxyDoes() {
        let merged: [(String, String)] = [
            ("Content-Length: 5,5\r\n", "Content-Length: 5\r\n"),
            ("Content-Length: 5 ,5\r\n", "Content-Length: 5\r\n"),
            ("Content-Length: 5\t,\t5\r\n", "Content-Length: 5\r\n"),
            ("Content-Length: 5,5,5\r\n", "Content-Length: 5\r\n"),
            ("Content-Length: 5,05\r\n", "Content-Length: 05\r\n"),
            ("content-length: 0, 0\r\n", "content-length: 0\r\n"),
            ("Content-Length: 5\r\nContent-Length: 5\r\n", "Content-Length: 5\r\n"),
            ("Content-Length: 5, 5\r\nX: y\r\nContent-Length: 5\r\n", "Content-Length: 5\r\nX: y\r\n"),
            ("Content-Length: 5\r\nX: y\r\nContent-Length: 5,5\r\n", "Content-Length: 5\r\nX: y\r\n"),
        ]
        for (fields, expected) in merged {
            let request = head("POST / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n")
            XCTAssertEqual(serialised(request), "POST / HTTP/1.1\r\nHost: a\r\n\(expected)\r\n", fields.debugDescription)
            let length = Int(expected.filter(\.isNumber))!
            XCTAssertEqual(request.flatMap { try? MessageFraming.request($0).get() }, length == 0 ? nil : .length(length), fields.debugDescription)
            let response = head("HTTP/1.1 200 OK\r\n\(fields)\r\n", kind: .response)
            XCTAssertEqual(serialised(response), "HTTP/1.1 200 OK\r\n\(expected)\r\n", fields.debugDescription)
        }
        for fields in ["Content-Length: 5,6\r\n", "Content-Length: 5,\r\n", "Content-Length: ,5\r\n", "Content-Length: 5,,5\r\n",
                       "Content-Length: +5\r\n", "Content-Length: 5 5\r\n", "Content-Length: 5, \r\n", "Content-Length: 5,5\r\nContent-Length: 6\r\n",
                       "Content-Length: 5\r\nContent-Length: 5,6\r\n", "Content-Length: x\r\nContent-Length: 5\r\n"] {
            guard let request = head("POST / HTTP/1.1\r\nHost: a\r\n\(fields)\r\n") else { continue }
            XCTAssertThrowsError(try MessageFraming.request(request).get(), fields.debugDescription)
            guard let response = head("HTTP/1.1 200 OK\r\n\(fields)\r\n", kind: .response) else { continue }
            XCTAssertThrowsError(try MessageFraming.response(response, requestMethod: .get).get(), fields.debugDescription)
        }
        // The dropped repeat does not count toward `tune.http.maxhdr`'s bound.
        var limits = HeadParser.Limits()
        limits.maxFields = 2
        guard case .head(let h) = parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n", limits: limits).0 else {
            return XCTFail("a repeated Content-Length counted twice")
        }
        XCTAssertEqual(h.fields.count, 2)
    }

    /// A whole request line that cannot be HTTP/1.x is refused at once, before the head ends
    /// (HTTP/0.9's `GET /path` would otherwise wait for an empty line that never comes).
    func testABadRequestLineIsRefusedBeforeTheHeadEnds() {
        for text in ["GET /d/0261\r\n", "GET / HTTP/2.0\r\nHost: a\r\n", "GET / HTTP/1.1\nHost: a", "GET / HTTP/1.1 \r\n", "GET /x\n"] {
            guard case .malformed = failure(text) else { XCTFail("\(text.debugDescription): \(parse(text).0)"); continue }
        }
        for text in ["GET /d HTTP/1.1\r\nHost: a\r\n", "GET /d HTTP/1.1\r", "GET /d HTT", "POST / HTTP/1.0\r\n"] {
            guard case .incomplete = parse(text).0 else { XCTFail("\(text.debugDescription): \(parse(text).0)"); continue }
        }
    }

    /// A start line not ended yet is refused as soon as its bytes cannot begin a valid one
    /// (noise, a TLS hello, CR-only line ends), a request's or a response's; every prefix of a
    /// valid head still waits for the rest.
    func testAStartLineThatCannotBeginAValidOneIsRefusedBeforeItEnds() {
        let requests = ["\u{16}\u{03}\u{01}\u{00}", "G\u{00}", " GET", "GET / HTTP/1.1\rHost", "GET / HTTPS", "GET / HTTP/2", "GET / HTTP/1.x", "GET / HTTP/1.1 "]
        for text in requests {
            guard case .malformed = failure(text) else { XCTFail("request \(text.debugDescription): \(parse(text).0)"); continue }
        }
        for text in ["\u{15}\u{03}\u{03}", "HTTP/2 200", "HTTP/1.1 2x", "HTTP/1.1200", "http/1.1"] {
            guard case .malformed = failure(text, kind: .response) else { XCTFail("response \(text.debugDescription): \(parse(text, kind: .response).0)"); continue }
        }
        let valid: [(String, MessageHead.Kind)] = [
            ("\r\nPOST /a%20b?c=d#e HTTP/1.0\r\nHost: a\r\n\r\n", .request),
            ("M-SEARCH * HTTP/1.1\r\n\r\n", .request),
            ("GET http://a.example:8080/x HTTP/1.9\r\nHost: a\r\n\r\n", .request),
            ("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", .response),
            ("HTTP/1.0 404\r\n\r\n", .response),
        ]
        for (text, kind) in valid {
            let bytes = Array(text.utf8)
            for cut in 0..<bytes.count {
                var parser = HeadParser(kind: kind, limits: .init(allowFragment: true))
                var buffer = ByteBuffer(bytes: bytes[0..<cut])
                guard case .incomplete = parser.parse(&buffer) else { XCTFail("\(text.debugDescription) cut at \(cut)"); continue }
            }
        }
    }

    /// Empty lines before a start line, CRLF or a bare LF, are skipped for both kinds (HAProxy's
    /// H1 parser); a CR not followed by LF is not an empty line.
    func testEmptyLinesBeforeAStartLineAreSkipped() {
        XCTAssertEqual(head("\r\n\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")?.target, "/")
        XCTAssertEqual(head("\n\r\nHTTP/1.1 204 No Content\r\n\r\n", kind: .response)?.status, 204)
        XCTAssertNotNil(failure("\r\rHTTP/1.1 200 OK\r\n\r\n", kind: .response))
        // Arriving a byte at a time, the same.
        var parser = HeadParser(kind: .response)
        var buffer = ByteBuffer()
        var outcome = HeadParser.Outcome.incomplete
        for byte in Array("\r\n\nHTTP/1.1 200 OK\r\n\r\n".utf8) {
            buffer.writeInteger(byte)
            outcome = parser.parse(&buffer)
        }
        guard case .head(let h) = outcome else { return XCTFail("\(outcome)") }
        XCTAssertEqual(h.status, 200)
    }

    /// `option accept-invalid-http-response`: a name's non-token visible bytes and any word of
    /// version bytes pass, with HAProxy's 1.1 rule; blanks and control bytes in a name, a
    /// lower-case version, and everything in a request stay refused.
    func testAcceptInvalidResponseRelaxesNamesAndVersionsOnly() {
        let relaxed = HeadParser.Limits().acceptingInvalidResponses
        func relaxedHead(_ text: String, kind: MessageHead.Kind = .response) -> MessageHead? {
            if case .head(let h) = parse(text, kind: kind, limits: relaxed).0 { return h }
            return nil
        }
        for (version, minor, asRead) in [("ICY", 0, true), ("HTTP/0.9", 0, true), ("HTTP/1.10", 0, true), ("ABCD/1.0", 0, true),
                                         ("HTTP/2.0", 1, false), ("ABCD/1.1", 1, false), ("HTTP/1.1", 1, true)] {
            let h = relaxedHead("\(version) 200 OK\r\nContent-Length: 0\r\n\r\n")
            XCTAssertEqual(h?.minorVersion, minor, version)
            XCTAssertEqual(h?.versionIsAsRead, asRead, version)
            if version != "HTTP/1.1" { XCTAssertNotNil(failure("\(version) 200 OK\r\n\r\n", kind: .response), "strict: \(version)") }
        }
        XCTAssertEqual(relaxedHead("HTTP/1.1 200 OK\r\nX\"@(\u{E9}): v\r\n\r\n")?.fields.count, 1)
        for refused in ["http/1.1 200 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\n\r\n",
                        "HTTP/1.1 200 OK\r\nX\rY: v\r\n\r\n", "HTTP/1.1 200 OK\r\nX\u{01}Y: v\r\n\r\n", "HTTP/1.1 200 OK\r\nX Y: v\r\n\r\n",
                        "HTTP/1.1 200 OK\r\n: v\r\n\r\n", "HTTP/1.1 200 OK\r\nX\u{7F}: v\r\n\r\n"] {
            XCTAssertNil(relaxedHead(refused), refused.debugDescription)
        }
        XCTAssertNil(relaxedHead("GET / HTTP/1.1\r\nX\"Y: v\r\n\r\n", kind: .request), "requests are not relaxed")
        // The early scan lets a relaxed version wait for its line end, and still refuses noise.
        var parser = HeadParser(kind: .response, limits: relaxed)
        var partial = ByteBuffer(string: "ICY 200")
        guard case .incomplete = parser.parse(&partial) else { return XCTFail("a relaxed version refused early") }
        var noise = ByteBuffer(bytes: [0x15, 0x03, 0x03, 0x00])
        parser = HeadParser(kind: .response, limits: relaxed)
        guard case .failure = parser.parse(&noise) else { return XCTFail("noise accepted") }
    }

    /// HAProxy's HTX keeps a field name's length in one byte: 255 passes, 256 is refused.
    func testAFieldNameOverTwoHundredFiftyFiveBytesIsRefused() {
        XCTAssertNotNil(head("GET / HTTP/1.1\r\n" + String(repeating: "n", count: 255) + ": v\r\n\r\n"))
        guard case .malformed = failure("GET / HTTP/1.1\r\n" + String(repeating: "n", count: 256) + ": v\r\n\r\n") else { return XCTFail("256 accepted") }
        guard case .malformed = failure("HTTP/1.1 200 OK\r\n" + String(repeating: "n", count: 256) + ": v\r\n\r\n", kind: .response) else { return XCTFail("256 accepted") }
    }

    /// A request head of `total` bytes, its length in the request target.
    private func longTarget(_ total: Int) -> String {
        let rest = " HTTP/1.1\r\nHost: x\r\n\r\n"
        return "GET /" + String(repeating: "a", count: total - 5 - rest.utf8.count) + rest
    }

    /// A head of `total` bytes after `start`, its length in one header's value (or, `spaces`,
    /// in the blanks before a one-byte value, which HAProxy does not store).
    private func longField(_ total: Int, start: String = "GET / HTTP/1.1\r\nHost: x\r\n", spaces: Bool = false) -> String {
        let fixed = start.utf8.count + "X: \r\n\r\n".utf8.count
        return start + "X: " + (spaces ? String(repeating: " ", count: total - fixed - 1) + "v" : String(repeating: "b", count: total - fixed)) + "\r\n\r\n"
    }

    private func fields(_ count: Int) -> String {
        "GET / HTTP/1.1\r\nHost: x\r\n" + (1..<count).map { "X-\($0): v\r\n" }.joined() + "\r\n"
    }

    /// The boundaries haproxy 2.6 showed on loopback with its defaults (tune.bufsize 16384,
    /// tune.maxrewrite 1024, tune.http.maxhdr 101): the last head it took and the first it
    /// refused, for a long target, a long header, blanks, many headers, and a response.
    func testDefaultLimitsAreHAProxysBoundaries() {
        XCTAssertEqual(longTarget(15278).utf8.count, 15278)
        XCTAssertNotNil(head(longTarget(15277)))
        XCTAssertEqual(failure(longTarget(15278)), .tooLarge)
        XCTAssertNotNil(head(longField(15273)))
        XCTAssertEqual(failure(longField(15274)), .tooLarge)
        // Blanks around a value are not stored: only the bytes as they came bound them.
        XCTAssertNotNil(head(longField(16320, spaces: true)))
        XCTAssertEqual(failure(longField(16321, spaces: true)), .tooLarge)
        XCTAssertNotNil(head(fields(100)))
        XCTAssertEqual(failure(fields(101)), .tooLarge)
        let status = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"
        XCTAssertNotNil(head(longField(15273, start: status), kind: .response))
        XCTAssertEqual(failure(longField(15274, start: status), kind: .response), .tooLarge)
        // `Connection: close`/`keep-alive` are flags to HAProxy, neither stored nor counted;
        // other tokens are ("close, foo" stores "foo", "close,foo , bar" stores "foo,bar").
        let noClose = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        XCTAssertNotNil(head(longField(15292, start: noClose)))
        XCTAssertEqual(failure(longField(15293, start: noClose)), .tooLarge)
        XCTAssertNotNil(head("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n" + (2..<101).map { "X-\($0): v\r\n" }.joined() + "\r\n"))
        for (value, last) in [("close, foo", 15276), ("foo, close", 15276), ("foo,  bar", 15269), ("close,foo , bar", 15277)] {
            let start = "GET / HTTP/1.1\r\nHost: x\r\nConnection: \(value)\r\n"
            XCTAssertNotNil(head(longField(last, start: start)), value)
            XCTAssertEqual(failure(longField(last + 1, start: start)), .tooLarge, value)
        }
        // Still arriving and already past the buffer: refused before its end.
        XCTAssertEqual(failure("GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 16400)), .tooLarge)
        // A long request line arriving is waited for: HAProxy has no bound of its own for it.
        guard case .incomplete = parse("GET /" + String(repeating: "a", count: 9000)).0 else { return XCTFail("a long target arriving") }
    }

    /// `tune.http.maxhdr 200` allows more lines than a head holds (128): the 129th is refused,
    /// not a crash (a precondition of MessageHead stopped the process before).
    func testMoreFieldsThanAHeadHoldsAreRefused() {
        let limits = HeadParser.Limits.haproxy(bufferSize: 65536, rewriteReserve: 1024, maxHeaders: 200)
        guard case .head = parse(fields(128), limits: limits).0 else { return XCTFail("128 header lines") }
        XCTAssertEqual(failure(fields(129), limits: limits), .tooLarge)
        XCTAssertEqual(failure(fields(129), limits: HeadParser.Limits(maxHead: 65536, maxStored: nil, maxFields: 1000)), .tooLarge)
    }

    /// tune.bufsize 8192, tune.maxrewrite 512, tune.http.maxhdr 10, as haproxy took them.
    func testLimitsFollowTheBufferAndMaxhdr() {
        let limits = HeadParser.Limits.haproxy(bufferSize: 8192, rewriteReserve: 512, maxHeaders: 10)
        guard case .head = parse(longTarget(7597), limits: limits).0 else { return XCTFail("7597 bytes") }
        XCTAssertEqual(failure(longTarget(7598), limits: limits), .tooLarge)
        guard case .head = parse(longField(8128, spaces: true), limits: limits).0 else { return XCTFail("8128 bytes, mostly blanks") }
        XCTAssertEqual(failure(longField(8129, spaces: true), limits: limits), .tooLarge)
        guard case .head = parse(fields(9), limits: limits).0 else { return XCTFail("9 header lines") }
        XCTAssertEqual(failure(fields(10), limits: limits), .tooLarge)
    }

    func testResponseHeads() {
        guard let h = head("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", kind: .response) else { return }
        XCTAssertEqual(h.status, 404)
        XCTAssertEqual(h.string(h.part3), "Not Found")
        XCTAssertEqual(head("HTTP/1.0 200\r\n\r\n", kind: .response)?.status, 200)
        XCTAssertEqual(head("HTTP/1.1 204 \r\n\r\n", kind: .response)?.minorVersion, 1)
        guard case .malformed = failure("HTTP/1.1 2000 OK\r\n\r\n", kind: .response) else { return XCTFail("4-digit status") }
        guard case .malformed = failure("HTTP/1.1 20 OK\r\n\r\n", kind: .response) else { return XCTFail("2-digit status") }
        guard case .malformed = failure("THIS IS NOT HTTP\r\n\r\n", kind: .response) else { return XCTFail("junk") }
    }
}
