import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import XCTest
@testable import SwiftLBProxy

/// The h2 ↔ HTTP/1.1 conversion at the edge: every RFC 9113 rule `H2RequestHead` applies, and
/// the translator's two directions on an EmbeddedChannel (frames in, bytes to the engine; bytes
/// from the engine, frames out).
final class H2StreamTranslatorTests: XCTestCase {
    private func request(_ pairs: [(String, String)], endStream: Bool = true) -> H2RequestHead.Outcome {
        H2RequestHead.convert(HPACKHeaders(pairs), endStream: endStream)
    }

    private let base = [(":method", "GET"), (":scheme", "https"), (":path", "/p?q=1"), (":authority", "example.com")]

    private func head(_ outcome: H2RequestHead.Outcome) -> String? {
        if case .head(let bytes, _) = outcome { return String(buffer: bytes) }
        return nil
    }

    private func isStreamError(_ outcome: H2RequestHead.Outcome) -> Bool {
        if case .streamError = outcome { return true }
        return false
    }

    private func isBadRequest(_ outcome: H2RequestHead.Outcome) -> Bool {
        if case .badRequest = outcome { return true }
        return false
    }

    // MARK: request conversion (pure)

    func testPseudoHeadersBecomeTheRequestLineAndAuthorityBecomesHost() {
        XCTAssertEqual(head(request(base + [("accept", "*/*")])), "GET /p?q=1 HTTP/1.1\r\nhost: example.com\r\naccept: */*\r\n\r\n")
    }

    func testAuthorityWinsOverHostAndHostAloneIsKept() {
        // HAProxy 2.6 (h2_desync_attacks.vtc): Host is ignored when :authority is present.
        XCTAssertEqual(head(request(base + [("host", "other")])), "GET /p?q=1 HTTP/1.1\r\nhost: example.com\r\n\r\n")
        let noAuthority = [(":method", "GET"), (":scheme", "http"), (":path", "/"), ("host", "h.test")]
        XCTAssertEqual(head(request(noAuthority)), "GET / HTTP/1.1\r\nhost: h.test\r\n\r\n")
        XCTAssertTrue(isStreamError(request(noAuthority + [("host", "again")])), "two Host fields")
        // Neither: an empty Host line (RFC 9112 §3.2), so the HTTP/1.1 side has a valid request.
        XCTAssertEqual(head(request([(":method", "GET"), (":scheme", "http"), (":path", "/")])), "GET / HTTP/1.1\r\nhost: \r\n\r\n")
    }

    func testDefaultPortsAreDroppedByScheme() {
        func host(_ scheme: String, _ authority: String) -> String? {
            guard case .head(_, let c) = request([(":method", "GET"), (":scheme", scheme), (":path", "/"), (":authority", authority)]) else { return nil }
            return c.authority
        }
        XCTAssertEqual(host("http", "hostname:80"), "hostname")
        XCTAssertEqual(host("http", "hostname:8080"), "hostname:8080")
        XCTAssertEqual(host("https", "hostname:443"), "hostname")
        XCTAssertEqual(host("https", "hostname:80"), "hostname:80")
        XCTAssertEqual(host("https", "[::1]:443"), "[::1]")
    }

    func testMissingRepeatedUnknownOrLatePseudoHeadersAreStreamErrors() {
        XCTAssertTrue(isStreamError(request([(":method", "GET"), (":path", "/")])), "no :scheme")
        XCTAssertTrue(isStreamError(request([(":scheme", "http"), (":path", "/")])), "no :method")
        XCTAssertTrue(isStreamError(request([(":method", "GET"), (":scheme", "http")])), "no :path")
        XCTAssertTrue(isStreamError(request(base + [(":path", "/again")])), "repeated :path")
        XCTAssertTrue(isStreamError(request(base + [(":status", "200")])), "response pseudo-header")
        XCTAssertTrue(isStreamError(request([(":method", "GET"), ("accept", "*/*"), (":scheme", "http"), (":path", "/")])), "pseudo after regular")
    }

    func testPathMustBeOriginFormOrAsteriskForOptions() {
        XCTAssertTrue(isStreamError(request([(":method", "GET"), (":scheme", "http"), (":path", "hello-world")])))
        XCTAssertTrue(isStreamError(request([(":method", "GET"), (":scheme", "http"), (":path", "")])))
        XCTAssertTrue(isStreamError(request([(":method", "GET"), (":scheme", "http"), (":path", "/a b")])), "a space would split the line")
        XCTAssertTrue(isStreamError(request([(":method", "GET"), (":scheme", "http"), (":path", "*")])))
        XCTAssertNotNil(head(request([(":method", "OPTIONS"), (":scheme", "http"), (":path", "*")])))
    }

    func testInvalidSchemeOrMethodIsABadRequestTheEngineAnswers() {
        XCTAssertTrue(isBadRequest(request([(":method", "GET"), (":scheme", "http://localhost/?"), (":path", "/")])))
        XCTAssertTrue(isBadRequest(request([(":method", "GET?"), (":scheme", "http"), (":path", "/")])))
        var parser = HeadParser(kind: .request)
        var refused = ByteBuffer(string: H2RequestHead.refusedHead)
        guard case .failure = parser.parse(&refused) else { return XCTFail("the refused head must not parse") }
    }

    func testConnectionSpecificFieldsAndTEOtherThanTrailersAreStreamErrors() {
        for name in ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"] {
            XCTAssertTrue(isStreamError(request(base + [(name, "x")])), name)
        }
        XCTAssertTrue(isStreamError(request(base + [("te", "gzip")])))
        XCTAssertEqual(head(request(base + [("te", "trailers")])), "GET /p?q=1 HTTP/1.1\r\nhost: example.com\r\nte: trailers\r\n\r\n")
    }

    func testUppercaseNamesAndCRLFInValuesAreStreamErrors() {
        XCTAssertTrue(isStreamError(request(base + [("X-Upper", "1")])))
        XCTAssertTrue(isStreamError(request(base + [("x-smuggle", "a\r\nhost: evil")])))
        XCTAssertTrue(isStreamError(request(base + [("bad name", "1")])))
    }

    func testSplitCookiesAreJoined() {
        let out = head(request(base + [("cookie", "c1=foo"), ("accept", "*/*"), ("cookie", "c2=bar"), ("cookie", "c3=baz")]))
        XCTAssertEqual(out, "GET /p?q=1 HTTP/1.1\r\nhost: example.com\r\naccept: */*\r\ncookie: c1=foo; c2=bar; c3=baz\r\n\r\n")
    }

    func testContentLengthRulesAndChunkingOfUnknownLengths() {
        XCTAssertTrue(isStreamError(request(base + [("content-length", "0,")], endStream: false)))
        XCTAssertTrue(isStreamError(request(base + [("content-length", "")], endStream: false)))
        XCTAssertTrue(isStreamError(request(base + [("content-length", "1"), ("content-length", "2")], endStream: false)))
        XCTAssertTrue(isStreamError(request(base + [("content-length", "5")], endStream: true)), "a length and no DATA")
        XCTAssertEqual(head(request(base + [("content-length", "0")])), "GET /p?q=1 HTTP/1.1\r\nhost: example.com\r\ncontent-length: 0\r\n\r\n")
        XCTAssertEqual(head(request(base, endStream: false)), "GET /p?q=1 HTTP/1.1\r\nhost: example.com\r\ntransfer-encoding: chunked\r\n\r\n")
    }

    func testPlainAndExtendedConnectAreAnsweredNotProxied() {
        XCTAssertTrue(isBadRequest(request([(":method", "CONNECT"), (":authority", "h:443")], endStream: false)))
        XCTAssertTrue(isStreamError(request([(":method", "CONNECT"), (":path", "/")], endStream: false)))
        XCTAssertTrue(isBadRequest(request(base + [(":protocol", "websocket")], endStream: false)))
    }

    // MARK: the translator on a channel

    private func channel() throws -> (EmbeddedChannel, H2StreamTranslator) {
        let translator = H2StreamTranslator()
        let channel = EmbeddedChannel(handler: translator)
        return (channel, translator)
    }

    private func readBytes(_ channel: EmbeddedChannel) throws -> String {
        var out = ""
        while let b = try channel.readInbound(as: ByteBuffer.self) { out += String(buffer: b) }
        return out
    }

    private func frames(_ channel: EmbeddedChannel) throws -> [HTTP2Frame.FramePayload] {
        var out: [HTTP2Frame.FramePayload] = []
        while let f = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) { out.append(f) }
        return out
    }

    func testABodyWithoutLengthGoesChunkedWithItsTrailers() throws {
        let (ch, _) = try channel()
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([(":method", "POST"), (":scheme", "http"), (":path", "/u")]))))
        try ch.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "hello")))))
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([("x-sum", "1")]), endStream: true)))
        XCTAssertEqual(try readBytes(ch), "POST /u HTTP/1.1\r\nhost: \r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-sum: 1\r\n\r\n")
    }

    func testEachDataFrameOfAnOpenStreamIsCreditedAtOnce() throws {
        // HAProxy's WINDOW_UPDATE per DATA frame (h2_to_h1.vtc waits for it before the response).
        let (ch, _) = try channel()
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([(":method", "POST"), (":scheme", "http"), (":path", "/u")]))))
        try ch.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "hello")))))
        guard case .windowUpdate(let increment) = try frames(ch).first else { return XCTFail("WINDOW_UPDATE expected") }
        XCTAssertEqual(increment, 5)
        try ch.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "end")), endStream: true)))
        XCTAssertTrue(try frames(ch).isEmpty, "after END_STREAM NIOHTTP2 would refuse it: written below it (HTTP2FrontendTests.testADataFrameThatEndsTheStreamIsCreditedBeforeTheResponse)")
    }

    func testDataBeyondContentLengthResetsTheStream() throws {
        let (ch, _) = try channel()
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders(base + [("content-length", "2")]))))
        try ch.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "this is sent and ignored")))))
        XCTAssertEqual(try readBytes(ch), "GET /p?q=1 HTTP/1.1\r\nhost: example.com\r\ncontent-length: 2\r\n\r\n", "the excess never reaches the engine")
        guard case .rstStream(.protocolError) = try frames(ch).first else { return XCTFail("RST_STREAM(PROTOCOL_ERROR) expected") }
        XCTAssertFalse(ch.isActive)
    }

    func testEndStreamShortOfContentLengthResetsTheStream() throws {
        let (ch, _) = try channel()
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders(base + [("content-length", "10")]))))
        try ch.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: "short")), endStream: true)))
        guard case .rstStream(.protocolError) = try frames(ch).first else { return XCTFail("RST_STREAM(PROTOCOL_ERROR) expected") }
    }

    func testResponseHeadLosesConnectionFieldsAndChunkedBodyIsDecoded() throws {
        let (ch, _) = try channel()
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders(base), endStream: true)))
        _ = try readBytes(ch)
        try ch.writeOutbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive, x-hop\r\nx-hop: 1\r\nKeep-Alive: timeout=5\r\n\r\n5\r\nhel"))
        try ch.writeOutbound(ByteBuffer(string: "lo\r\n0\r\n\r\n"))
        let out = try frames(ch)
        guard out.count >= 3, case .headers(let h) = out[0] else { return XCTFail("\(out)") }
        XCTAssertEqual(h.headers.map { "\($0.name): \($0.value)" }, [":status: 200", "content-type: text/plain"])
        XCTAssertFalse(h.endStream)
        var body = ""
        var ended = false
        for f in out.dropFirst() {
            guard case .data(let d) = f, case .byteBuffer(let b) = d.data else { return XCTFail("\(f)") }
            body += String(buffer: b)
            ended = d.endStream
        }
        XCTAssertEqual(body, "hello")
        XCTAssertTrue(ended, "END_STREAM with the last chunk")
    }

    func testBodylessResponsesEndWithTheirHeaders() throws {
        for (method, status, extra) in [("HEAD", 200, "Content-Length: 10\r\n"), ("GET", 204, ""), ("GET", 304, "Content-Length: 10\r\n")] {
            let (ch, _) = try channel()
            try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([(":method", method), (":scheme", "http"), (":path", "/")]), endStream: true)))
            try ch.writeOutbound(ByteBuffer(string: "HTTP/1.1 \(status) X\r\n\(extra)\r\n"))
            let out = try frames(ch)
            XCTAssertEqual(out.count, 1, "\(method) \(status)")
            guard case .headers(let h) = out.first else { return XCTFail() }
            XCTAssertTrue(h.endStream, "\(method) \(status)")
        }
    }

    func testTheBodyOfAGETAnsweringARewrittenHEADIsDropped() throws {
        // `http-request set-method GET` on a HEAD (http_bodyless_response.vtc): the engine reads
        // the server's body through; the client sees the head, then END_STREAM at its end.
        let (ch, translator) = try channel()
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([(":method", "HEAD"), (":scheme", "http"), (":path", "/")]), endStream: true)))
        translator.info.headRewritten = true
        try ch.writeOutbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"))
        var out = try frames(ch)
        guard out.count == 1, case .headers(let h) = out[0] else { return XCTFail("\(out)") }
        XCTAssertFalse(h.endStream, "the stream lasts while the engine reads the body")
        try ch.writeOutbound(ByteBuffer(string: "lo\r\n0\r\n\r\n"))
        out = try frames(ch)
        guard out.count == 1, case .data(let d) = out[0] else { return XCTFail("\(out)") }
        XCTAssertEqual(d.data.readableBytes, 0)
        XCTAssertTrue(d.endStream)
    }

    func testInterimResponsesPrecedeTheFinalOne() throws {
        let (ch, _) = try channel()
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders(base), endStream: true)))
        try ch.writeOutbound(ByteBuffer(string: "HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        let out = try frames(ch)
        guard out.count == 3, case .headers(let early) = out[0], case .headers(let final) = out[1], case .data(let data) = out[2] else { return XCTFail("\(out)") }
        XCTAssertEqual(early.headers.first(name: ":status"), "103")
        XCTAssertFalse(early.endStream)
        XCTAssertEqual(final.headers.first(name: ":status"), "200")
        XCTAssertTrue(data.endStream)
    }

    func testACloseDelimitedBodyEndsWithEndStreamOnClose() throws {
        let (ch, _) = try channel()
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders(base), endStream: true)))
        try ch.writeOutbound(ByteBuffer(string: "HTTP/1.0 200 OK\r\n\r\nstream"))
        _ = try frames(ch)
        try ch.close().wait()
        guard case .data(let last) = try frames(ch).last else { return XCTFail() }
        XCTAssertTrue(last.endStream)
    }

    func testTheRefusedHeadReachesTheEngineForItsAnswer() throws {
        let (ch, translator) = try channel()
        try ch.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders([(":method", "GET?"), (":scheme", "http"), (":path", "/")]), endStream: true)))
        XCTAssertEqual(try readBytes(ch), H2RequestHead.refusedHead)
        XCTAssertTrue(translator.info.refused)
    }
}
