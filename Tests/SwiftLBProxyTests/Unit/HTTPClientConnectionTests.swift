import NIOCore
import NIOEmbedded
import SwiftLBConfig
import XCTest
@testable import SwiftLBProxy

/// The client-side HTTP handler on an EmbeddedChannel: what it answers by itself, byte for byte
/// (refusals, redirects, no backend), pipelining in order, and the connection's fate after each.
final class HTTPClientConnectionTests: XCTestCase {
    private func channel(_ proxies: String) throws -> EmbeddedChannel {
        let text = "defaults\n    mode http\n    timeout client 5s\n" + proxies
        let runtime = try ProxyRuntime(configuration: ConfigParser.parse(text: text, file: "unit.conf"))
        let loop = EmbeddedEventLoop()
        let state = LoopState(eventLoop: loop, holder: RuntimeHolder(runtime), logFD: 1)
        let handler = HTTPClientConnection(frontend: runtime.frontends[0], loop: state, isTLS: false, limits: .init())
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4242)).wait()
        return channel
    }

    /// Everything the handler wrote so far, as text.
    private func written(_ channel: EmbeddedChannel) throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    private let redirecting = """
        frontend fe
            bind 127.0.0.1:1
            redirect location /moved code 302

        """

    func testPipelinedRequestsAreAnsweredInOrderOnOneConnection() throws {
        let channel = try channel(redirecting)
        try channel.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.0\r\n\r\n"))
        let text = try written(channel)
        XCTAssertEqual(text.components(separatedBy: "HTTP/1.1 302 Found\r\n").count - 1, 3, text)
        XCTAssertTrue(text.hasSuffix("HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /moved\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n"), text)
        channel.embeddedEventLoop.run()
        XCTAssertFalse(channel.isActive, "HTTP/1.0 without keep-alive: closed after its answer")
    }

    func testAHeadArrivingByteByByteIsAnsweredOnce() throws {
        let channel = try channel(redirecting)
        for byte in "GET /slow HTTP/1.1\r\nHost: h\r\n\r\n".utf8 {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
        }
        XCTAssertEqual(try written(channel), "HTTP/1.1 302 Found\r\ncontent-length: 0\r\nlocation: /moved\r\ncache-control: no-cache\r\n\r\n")
        XCTAssertTrue(channel.isActive)
    }

    /// What haproxy 2.6's H1 layer wrote on loopback for each: its 400 page as `http_err_msgs`
    /// has it (names as written, `Connection: close`), and the connection closes. A head too
    /// large for the buffer, request line or header, is a 400 as well (HAProxy has no 414/431).
    func testRefusalsAreExactAndClose() throws {
        let haproxy400 = "HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n"
            + "<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"
        let cases = [
            "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\u{01}\r\n\r\n",
            "GET /\(String(repeating: "a", count: 16000)) HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nX: \(String(repeating: "b", count: 40000))\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        ]
        for request in cases {
            let channel = try channel(redirecting)
            try channel.writeInbound(ByteBuffer(string: request))
            XCTAssertEqual(try written(channel), haproxy400, request.prefix(40).debugDescription)
            channel.embeddedEventLoop.run()
            XCTAssertFalse(channel.isActive, "closed after \(request.prefix(40).debugDescription)")
        }
    }

    /// As haproxy 2.6 after its 503: pipelined requests are each answered on the connection
    /// (the answer given inside the parsing loop lets the loop go on), a body that came whole
    /// is read off, and the client's `Connection: close` ends it with a `connection: close`.
    func testErrorsKeepTheConnectionForPipelinedRequests() throws {
        let channel = try channel("frontend fe\n    bind 127.0.0.1:1\n")
        try channel.writeInbound(ByteBuffer(string: "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                                                    + "GET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"))
        let text = try written(channel)
        XCTAssertEqual(text.components(separatedBy: "HTTP/1.1 503 Service Unavailable\r\n").count - 1, 3, text)
        XCTAssertEqual(text.components(separatedBy: "connection: close\r\n").count - 1, 1, text)
        channel.embeddedEventLoop.run()
        XCTAssertFalse(channel.isActive, "closed after the request that asked")
    }

    func testNoBackendIs503() throws {
        let channel = try channel("frontend fe\n    bind 127.0.0.1:1\n")
        try channel.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\nHost: h\r\n\r\n"))
        // HAProxy's page as a stream answers it (names in lower case), and the connection stays.
        XCTAssertEqual(try written(channel), "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n\r\n"
                       + "<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n")
        XCTAssertTrue(channel.isActive)
    }
}
