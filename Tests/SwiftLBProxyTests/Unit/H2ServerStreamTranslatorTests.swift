import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import XCTest
@testable import SwiftLBProxy

/// `server … proto h2`, the client side of the edge conversion on an EmbeddedChannel: the
/// HTTP/1.1 request bytes the engine writes become HEADERS/DATA/END_STREAM, the server's frames
/// become the HTTP/1.1 response bytes the engine parses, and a malformed response resets the
/// stream and closes it (the engine's 502).
final class H2ServerStreamTranslatorTests: XCTestCase {
    private func channel(tls: Bool = false) -> EmbeddedChannel {
        EmbeddedChannel(handler: H2ServerStreamTranslator(tls: tls))
    }

    private func frames(_ channel: EmbeddedChannel) throws -> [HTTP2Frame.FramePayload] {
        var out: [HTTP2Frame.FramePayload] = []
        while let f = try channel.readOutbound(as: HTTP2Frame.FramePayload.self) { out.append(f) }
        return out
    }

    private func readBytes(_ channel: EmbeddedChannel) throws -> String {
        var out = ""
        while let b = try channel.readInbound(as: ByteBuffer.self) { out += String(buffer: b) }
        return out
    }

    private func fields(_ payload: HTTP2Frame.FramePayload?) -> [String]? {
        guard case .headers(let h) = payload else { return nil }
        return h.headers.map { "\($0.name): \($0.value)" }
    }

    private func data(_ frames: ArraySlice<HTTP2Frame.FramePayload>) -> (body: String, ended: Bool) {
        var body = "", ended = false
        for f in frames {
            guard case .data(let d) = f, case .byteBuffer(let b) = d.data else { continue }
            body += String(buffer: b)
            ended = d.endStream
        }
        return (body, ended)
    }

    private func respond(_ channel: EmbeddedChannel, _ pairs: [(String, String)], endStream: Bool = false) throws {
        try channel.writeInbound(HTTP2Frame.FramePayload.headers(.init(headers: HPACKHeaders(pairs), endStream: endStream)))
    }

    private func respondData(_ channel: EmbeddedChannel, _ text: String, endStream: Bool = false) throws {
        try channel.writeInbound(HTTP2Frame.FramePayload.data(.init(data: .byteBuffer(ByteBuffer(string: text)), endStream: endStream)))
    }

    // MARK: request: engine bytes → frames

    func testARequestHeadBecomesPseudoHeadersWithoutConnectionFields() throws {
        let ch = channel()
        try ch.writeOutbound(ByteBuffer(string: "GET /p?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: keep-alive, x-hop\r\nx-hop: 1\r\nTE: trailers, gzip\r\nAccept: */*\r\n\r\n"))
        let out = try frames(ch)
        XCTAssertEqual(out.count, 1)
        XCTAssertEqual(fields(out.first), [":method: GET", ":scheme: http", ":authority: example.com", ":path: /p?q=1", "te: trailers", "accept: */*"])
        guard case .headers(let h) = out.first else { return XCTFail() }
        XCTAssertTrue(h.endStream, "no body: the HEADERS end the stream")
    }

    func testTLSAndAbsoluteFormSetTheScheme() throws {
        let ch = channel(tls: true)
        try ch.writeOutbound(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
        XCTAssertEqual(fields(try frames(ch).first)?.prefix(4), [":method: GET", ":scheme: https", ":authority: a", ":path: /"])
        let absolute = channel()
        try absolute.writeOutbound(ByteBuffer(string: "GET http://b.test:81/x?y HTTP/1.1\r\nhost: b.test:81\r\n\r\n"))
        XCTAssertEqual(fields(try frames(absolute).first), [":method: GET", ":scheme: http", ":authority: b.test:81", ":path: /x?y"])
        // Absolute-form reaches an h2 server as it came from an HTTP/1 client: a query right
        // after the authority is the query of `/`.
        let queryOnly = channel()
        try queryOnly.writeOutbound(ByteBuffer(string: "GET https://b.test?y=1 HTTP/1.1\r\nhost: b.test\r\n\r\n"))
        XCTAssertEqual(fields(try frames(queryOnly).first), [":method: GET", ":scheme: https", ":authority: b.test", ":path: /?y=1"])
        // An origin-form target holding "://" further on stays a path (a path ACL saw it so).
        for path in ["/public?x=http://a/admin", "/web/2020/http://example.com/page"] {
            let origin = channel()
            try origin.writeOutbound(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nhost: a\r\n\r\n"))
            XCTAssertEqual(fields(try frames(origin).first), [":method: GET", ":scheme: http", ":authority: a", ":path: \(path)"])
        }
    }

    func testALengthBodyIsDataAndAChunkedOneIsDecoded() throws {
        let ch = channel()
        try ch.writeOutbound(ByteBuffer(string: "POST /u HTTP/1.1\r\nhost: a\r\ncontent-length: 5\r\n\r\nhe"))
        try ch.writeOutbound(ByteBuffer(string: "llo"))
        var out = try frames(ch)
        XCTAssertEqual(fields(out.first), [":method: POST", ":scheme: http", ":authority: a", ":path: /u", "content-length: 5"])
        XCTAssertEqual(data(out.dropFirst()).body, "hello")
        XCTAssertTrue(data(out.dropFirst()).ended)

        let chunked = channel()
        try chunked.writeOutbound(ByteBuffer(string: "POST /c HTTP/1.1\r\nhost: a\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n2\r"))
        try chunked.writeOutbound(ByteBuffer(string: "\nde\r\n0\r\n\r\n"))
        out = try frames(chunked)
        XCTAssertEqual(fields(out.first)?.contains { $0.hasPrefix("transfer-encoding") }, false)
        XCTAssertEqual(data(out.dropFirst()).body, "abcde")
        XCTAssertTrue(data(out.dropFirst()).ended, "the last chunk is END_STREAM")
    }

    // MARK: response: frames → engine bytes

    func testAResponseWithALengthPassesItsBodyAsItCame() throws {
        let ch = channel()
        try ch.writeOutbound(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
        try respond(ch, [(":status", "200"), ("content-type", "text/plain"), ("content-length", "5")])
        try respondData(ch, "hel")
        try respondData(ch, "lo", endStream: true)
        XCTAssertEqual(try readBytes(ch), "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\n\r\nhello")
    }

    func testABodyWithoutLengthIsChunkedWithItsTrailers() throws {
        let ch = channel()
        try ch.writeOutbound(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
        try respond(ch, [(":status", "200")])
        try respondData(ch, "abc")
        try respond(ch, [("x-sum", "1")], endStream: true)
        XCTAssertEqual(try readBytes(ch), "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nx-sum: 1\r\n\r\n")
    }

    func testHeadersThatEndTheStreamAnnounceAnEmptyBodyAndInterimHeadsComeFirst() throws {
        let ch = channel()
        try ch.writeOutbound(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
        try respond(ch, [(":status", "103"), ("link", "</s.css>")])
        try respond(ch, [(":status", "404")], endStream: true)
        XCTAssertEqual(try readBytes(ch), "HTTP/1.1 103 Informational\r\nlink: </s.css>\r\n\r\nHTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
    }

    func testAResponseToHEADKeepsItsLengthAndCarriesNoBody() throws {
        let ch = channel()
        try ch.writeOutbound(ByteBuffer(string: "HEAD / HTTP/1.1\r\nhost: a\r\n\r\n"))
        try respond(ch, [(":status", "200"), ("content-length", "12")], endStream: true)
        XCTAssertEqual(try readBytes(ch), "HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n")
    }

    func testABodylessHeadWaitsForTheEndOfTheStream() throws {
        // The exchange ends when the server's stream does: the client's next request must not
        // overtake what the server still does for this one (http_bodyless_response.vtc).
        let ch = channel()
        try ch.writeOutbound(ByteBuffer(string: "HEAD / HTTP/1.1\r\nhost: a\r\n\r\n"))
        try respond(ch, [(":status", "200"), ("content-length", "12")])
        XCTAssertEqual(try readBytes(ch), "")
        try respondData(ch, "", endStream: true)
        XCTAssertEqual(try readBytes(ch), "HTTP/1.1 200 OK\r\ncontent-length: 12\r\n\r\n")
    }

    // MARK: malformed responses: RST_STREAM, the stream closes, the engine answers 502

    func testMalformedResponsesResetTheStream() throws {
        let bad: [[(String, String)]] = [
            [("content-type", "x")],                                  // no :status
            [(":status", "200"), ("Content-Type", "x")],              // uppercase name
            [(":status", "200"), ("connection", "close")],            // connection-specific
            [(":status", "200"), (":path", "/")],                     // request pseudo-header
            [(":status", "2000")],                                    // not three digits
            [(":status", "101")],                                     // no 101 in HTTP/2
            [(":status", "200"), ("content-length", "1,2")],          // not one number
        ]
        for pairs in bad {
            let ch = channel()
            try ch.writeOutbound(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
            _ = try frames(ch)
            try respond(ch, pairs)
            XCTAssertEqual(try readBytes(ch), "", "\(pairs): nothing reaches the engine")
            guard case .rstStream(.protocolError) = try frames(ch).first else { return XCTFail("\(pairs): RST_STREAM(PROTOCOL_ERROR) expected") }
            XCTAssertFalse(ch.isActive, "\(pairs)")
        }
    }

    func testDataThatDoesNotAddUpToTheLengthResetsTheStream() throws {
        let ch = channel()
        try ch.writeOutbound(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
        try respond(ch, [(":status", "200"), ("content-length", "2")])
        try respondData(ch, "too long")
        XCTAssertEqual(try readBytes(ch), "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n", "the excess never reaches the engine")
        XCTAssertEqual(try frames(ch).contains { if case .rstStream(.protocolError) = $0 { true } else { false } }, true)
        XCTAssertFalse(ch.isActive)

        let short = channel()
        try short.writeOutbound(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
        try respond(short, [(":status", "200"), ("content-length", "10")])
        try respondData(short, "short", endStream: true)
        XCTAssertFalse(short.isActive, "END_STREAM short of the length")
    }

    func testDataBeforeHeadersResetsTheStream() throws {
        let ch = channel()
        try ch.writeOutbound(ByteBuffer(string: "GET / HTTP/1.1\r\nhost: a\r\n\r\n"))
        try respondData(ch, "x")
        XCTAssertFalse(ch.isActive)
    }
}
