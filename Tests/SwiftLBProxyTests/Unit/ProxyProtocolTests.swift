import NIOCore
import NIOEmbedded
import NIOPosix
import XCTest
@testable import SwiftLBProxy

/// The PROXY protocol: the decoder on bytes (strict, incremental), the handler in a pipeline,
/// the encoder's bytes, and both against HAProxy 2.6 on loopback — HAProxy's `send-proxy` and
/// `send-proxy-v2` read by our handler, our headers read by HAProxy's `accept-proxy`.
final class ProxyProtocolTests: XCTestCase {
    private func decode(_ text: String) -> ProxyHeaderDecoder.Outcome { ProxyHeaderDecoder.decode(Array(text.utf8)) }

    private func header(_ bytes: [UInt8], file: StaticString = #filePath, line: UInt = #line) -> (ProxyHeader, Int)? {
        guard case .header(let h, let n) = ProxyHeaderDecoder.decode(bytes) else {
            XCTFail("not a header: \(ProxyHeaderDecoder.decode(bytes))", file: file, line: line)
            return nil
        }
        return (h, n)
    }

    private func isInvalid(_ outcome: ProxyHeaderDecoder.Outcome) -> Bool {
        if case .invalid = outcome { return true }
        return false
    }

    func testV1LinesAreReadStrictly() throws {
        let line = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"
        guard let (h, n) = header(Array((line + "GET / HTTP/1.1\r\n").utf8)) else { return }
        XCTAssertEqual(n, line.utf8.count)
        XCTAssertEqual(h.version, 1)
        XCTAssertEqual(h.source, try SocketAddress(ipAddress: "192.0.2.1", port: 56324))
        XCTAssertEqual(h.destination, try SocketAddress(ipAddress: "198.51.100.2", port: 443))
        guard let (h6, _) = header(Array("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n".utf8)) else { return }
        XCTAssertEqual(h6.source, try SocketAddress(ipAddress: "2001:db8::1", port: 1))
        guard let (unknown, _) = header(Array("PROXY UNKNOWN\r\n".utf8)) else { return }
        XCTAssertNil(unknown.source)
        XCTAssertNotNil(header(Array("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n".utf8)))

        for bad in ["PROXY TCP4 192.0.2.1  198.51.100.2 1 2\r\n", "PROXY TCP4 192.0.2.1 198.51.100.2 1 65536\r\n",
                    "PROXY TCP4 ::1 ::1 1 2\r\n", "PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n", "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",
                    "PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n", "PROXY TCP5 1 2 3 4\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
                    "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "GET / HTTP/1.1\r\n", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n"] {
            XCTAssertTrue(isInvalid(decode(bad)), bad.debugDescription)
        }
        // 107 bytes at most, CRLF included.
        let long = "PROXY UNKNOWN " + String(repeating: "x", count: 91) + "\r\n"
        XCTAssertEqual(long.utf8.count, 107)
        XCTAssertNotNil(header(Array(long.utf8)))
        XCTAssertTrue(isInvalid(decode("PROXY UNKNOWN " + String(repeating: "x", count: 92) + "\r\n")))
        XCTAssertTrue(isInvalid(decode("PROXY UNKNOWN " + String(repeating: "x", count: 200))))
        // Every prefix of a valid line is incomplete, never invalid.
        let bytes = Array(line.utf8)
        for k in 0..<bytes.count {
            XCTAssertEqual(ProxyHeaderDecoder.decode(Array(bytes[0..<k])), .incomplete, "prefix \(k)")
        }
        // A wrong first byte is refused at once.
        XCTAssertTrue(isInvalid(ProxyHeaderDecoder.decode([0x47])))
    }

    private func v2(command: UInt8 = 0x21, family: UInt8, body: [UInt8]) -> [UInt8] {
        ProxyHeader.v2Signature + [command, family, UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
    }

    func testV2BlocksAreReadStrictly() throws {
        let inet: [UInt8] = [192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB]
        guard let (h, n) = header(v2(family: 0x11, body: inet) + Array("GET".utf8)) else { return }
        XCTAssertEqual(n, 28)
        XCTAssertEqual(h.command, .proxy)
        XCTAssertEqual(h.source, try SocketAddress(ipAddress: "192.0.2.1", port: 0xDC04))
        XCTAssertEqual(h.destination, try SocketAddress(ipAddress: "198.51.100.2", port: 443))
        var inet6 = [UInt8](repeating: 0, count: 36)
        inet6[0] = 0x20; inet6[1] = 0x01; inet6[2] = 0x0D; inet6[3] = 0xB8; inet6[15] = 1; inet6[31] = 1
        inet6[33] = 80; inet6[35] = 8
        guard let (h6, _) = header(v2(family: 0x21, body: inet6)) else { return }
        XCTAssertEqual(h6.source, try SocketAddress(ipAddress: "2001:db8::1", port: 80))
        XCTAssertEqual(h6.destination, try SocketAddress(ipAddress: "::1", port: 8))
        var unix = [UInt8](repeating: 0, count: 216)
        for (k, c) in "/run/a.sock".utf8.enumerated() { unix[k] = c }
        for (k, c) in "/run/b.sock".utf8.enumerated() { unix[108 + k] = c }
        guard let (hu, _) = header(v2(family: 0x31, body: unix)) else { return }
        XCTAssertEqual(hu.unixPaths?.source, "/run/a.sock")
        XCTAssertNil(hu.source)
        guard let (local, _) = header(v2(command: 0x20, family: 0x00, body: [])) else { return }
        XCTAssertEqual(local.command, .local)
        XCTAssertNil(local.source)

        // TLVs are kept; an AUTHORITY is readable.
        let tlvs: [UInt8] = [0x02, 0x00, 0x03] + Array("a.b".utf8) + [0x04, 0x00, 0x00]
        guard let (ht, _) = header(v2(family: 0x11, body: inet + tlvs)) else { return }
        XCTAssertEqual(ht.authority, "a.b")
        XCTAssertEqual(ht.tlvs.map(\.type), [0x02, 0x04])
        // CRC32C: computed over the header with the checksum zeroed.
        var withCRC = v2(family: 0x11, body: inet + [0x03, 0x00, 0x04, 0, 0, 0, 0])
        let crc = CRC32C.checksum(withCRC)
        withCRC.replaceSubrange(withCRC.count - 4..<withCRC.count, with: [UInt8(crc >> 24), UInt8(crc >> 16 & 0xFF), UInt8(crc >> 8 & 0xFF), UInt8(crc & 0xFF)])
        XCTAssertNotNil(header(withCRC))
        withCRC[withCRC.count - 1] ^= 1
        XCTAssertTrue(isInvalid(ProxyHeaderDecoder.decode(withCRC)))
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)

        XCTAssertTrue(isInvalid(ProxyHeaderDecoder.decode(v2(family: 0x11, body: inet + [0x02, 0x00, 0x09, 0x41]))), "TLV past the end")
        XCTAssertTrue(isInvalid(ProxyHeaderDecoder.decode(v2(family: 0x11, body: inet + [0x02, 0x00]))), "truncated TLV")
        XCTAssertTrue(isInvalid(ProxyHeaderDecoder.decode(v2(family: 0x11, body: Array(inet[0..<8])))), "short addresses")
        XCTAssertTrue(isInvalid(ProxyHeaderDecoder.decode(v2(command: 0x22, family: 0x11, body: inet))), "command 2")
        XCTAssertTrue(isInvalid(ProxyHeaderDecoder.decode(v2(command: 0x11, family: 0x11, body: inet))), "version 1 in a v2 block")
        XCTAssertTrue(isInvalid(ProxyHeaderDecoder.decode(v2(family: 0x41, body: inet))), "family 4")
        let full = v2(family: 0x11, body: inet)
        for k in 0..<full.count {
            XCTAssertEqual(ProxyHeaderDecoder.decode(Array(full[0..<k])), .incomplete, "prefix \(k)")
        }
    }

    func testTheEncoderWritesWhatHAProxyWrites() throws {
        let c4 = try SocketAddress(ipAddress: "192.0.2.1", port: 56324)
        let d4 = try SocketAddress(ipAddress: "198.51.100.2", port: 443)
        let c6 = try SocketAddress(ipAddress: "2001:db8::1", port: 1234)
        XCTAssertEqual(String(buffer: ProxyHeaderEncoder.v1(source: c4, destination: d4)), "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n")
        XCTAssertEqual(String(buffer: ProxyHeaderEncoder.v1(source: c6, destination: d4)), "PROXY TCP6 2001:db8::1 ::ffff:198.51.100.2 1234 443\r\n")
        XCTAssertEqual(String(buffer: ProxyHeaderEncoder.v1(source: nil, destination: d4)), "PROXY UNKNOWN\r\n")
        let v2 = ProxyHeaderEncoder.v2(source: c4, destination: d4)
        XCTAssertEqual(Array(v2.readableBytesView), ProxyHeader.v2Signature + [0x21, 0x11, 0, 12, 192, 0, 2, 1, 198, 51, 100, 2, 0xDC, 0x04, 0x01, 0xBB])
        XCTAssertEqual(Array(ProxyHeaderEncoder.v2(source: nil, destination: nil).readableBytesView), ProxyHeader.v2Signature + [0x20, 0x00, 0, 0])
        // What the encoder writes, the decoder reads back.
        for (s, d) in [(c4, d4), (c6, d4), (c6, c6)] {
            for bytes in [ProxyHeaderEncoder.v1(source: s, destination: d), ProxyHeaderEncoder.v2(source: s, destination: d, tlvs: [.init(type: 0x02, value: Array("x".utf8))])] {
                guard case .header(let h, let n) = ProxyHeaderDecoder.decode(bytes) else { return XCTFail("\(String(buffer: bytes))") }
                XCTAssertEqual(n, bytes.readableBytes)
                XCTAssertEqual(h.source?.port, s.port)
                XCTAssertEqual(h.destination?.port, d.port)
            }
        }
        // `proxy-v2-options crc32c`: the checksum TLV first, valid for the decoder; one byte changed, refused.
        let summed = ProxyHeaderEncoder.v2(source: c4, destination: d4, tlvs: [.init(type: 0x05, value: Array("id".utf8))], checksum: true)
        guard case .header(let h, _) = ProxyHeaderDecoder.decode(summed) else { return XCTFail("the checksummed header is refused") }
        XCTAssertEqual(h.tlvs.map(\.type), [0x03, 0x05])
        var broken = Array(summed.readableBytesView)
        broken[broken.count - 1] ^= 1
        guard case .invalid = ProxyHeaderDecoder.decode(broken) else { return XCTFail("a wrong checksum is accepted") }
        XCTAssertEqual(SocketAddressText.ipv6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), "2001:db8::1:0:0:1")
        XCTAssertEqual(SocketAddressText.ipv6([UInt8](repeating: 0, count: 16)), "::")
    }

    /// Records what passes the handler: events and bytes.
    private final class Recorder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        var events: [ProxyProtocolReceived] = []
        var bytes = ""
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if let e = event as? ProxyProtocolReceived { events.append(e) }
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            bytes += String(buffer: unwrapInboundIn(data))
        }
    }

    func testTheHandlerAnnouncesTheAddressesPassesTheRestAndLeaves() throws {
        let channel = EmbeddedChannel()
        let recorder = Recorder()
        try channel.pipeline.syncOperations.addHandlers([ProxyProtocolHandler(timeout: nil), recorder])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        for piece in ["PROXY TCP4 192.0.2.1 1", "98.51.100.2 5 443\r", "\nGET / HTTP/1.1\r\n", "Host: h\r\n\r\n"] {
            try channel.writeInbound(ByteBuffer(string: piece))
        }
        XCTAssertEqual(recorder.events.count, 1)
        XCTAssertEqual(recorder.events.first?.source, try SocketAddress(ipAddress: "192.0.2.1", port: 5))
        XCTAssertEqual(recorder.events.first?.destination, try SocketAddress(ipAddress: "198.51.100.2", port: 443))
        XCTAssertEqual(recorder.bytes, "GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        XCTAssertThrowsError(try channel.pipeline.syncOperations.handler(type: ProxyProtocolHandler.self), "the handler has left")
        _ = try channel.finish()

        // Garbage closes the connection; nothing reaches the handlers after it.
        let bad = EmbeddedChannel()
        let badRecorder = Recorder()
        var failure: String?
        try bad.pipeline.syncOperations.addHandlers([ProxyProtocolHandler(timeout: nil, onFailure: { failure = $0 }), badRecorder])
        try bad.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try bad.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        XCTAssertFalse(bad.isActive)
        XCTAssertEqual(badRecorder.bytes, "")
        XCTAssertEqual(failure, "not a PROXY protocol header")

        // LOCAL keeps the socket's addresses; silence past the timeout closes.
        let local = EmbeddedChannel()
        let localRecorder = Recorder()
        try local.pipeline.syncOperations.addHandlers([ProxyProtocolHandler(timeout: .seconds(2)), localRecorder])
        try local.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        try local.writeInbound(ProxyHeaderEncoder.v2(source: nil, destination: nil))
        XCTAssertEqual(localRecorder.events.first?.header.command, .local)
        XCTAssertEqual(localRecorder.events.first?.source, local.remoteAddress)
        let silent = EmbeddedChannel()
        try silent.pipeline.syncOperations.addHandler(ProxyProtocolHandler(timeout: .seconds(2)))
        try silent.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        silent.embeddedEventLoop.advanceTime(by: .seconds(1))
        XCTAssertTrue(silent.isActive)
        silent.embeddedEventLoop.advanceTime(by: .seconds(2))
        XCTAssertFalse(silent.isActive)
    }

    /// What the handlers after it write before the header is accepted (an HTTP/2 server
    /// preface) is held: sent first once the header came, dropped with a failed promise when
    /// the header is bad or a handler closes the connection on seeing it (a session rule).
    func testWritesWaitForTheHeaderAndDieWithoutIt() throws {
        func channel(closingOnHeader: Bool = false) throws -> EmbeddedChannel {
            let channel = EmbeddedChannel()
            try channel.pipeline.syncOperations.addHandlers([ProxyProtocolHandler(timeout: nil), WriterOnActive(closingOnHeader: closingOnHeader)])
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
            return channel
        }
        let good = try channel()
        XCTAssertNil(try good.readOutbound(as: ByteBuffer.self), "written before the header")
        try good.writeInbound(ByteBuffer(string: "PROXY TCP4 192.0.2.1 198.51.100.2 5 443\r\nPING"))
        XCTAssertEqual(try good.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }, "preface")
        XCTAssertEqual(try good.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }, "PONG", "held writes go first")
        _ = try good.finish()

        let bad = try channel()
        let held = try bad.pipeline.syncOperations.handler(type: WriterOnActive.self)
        try bad.writeInbound(ByteBuffer(string: "GET / HTTP/1.1\r\n\r\n"))
        XCTAssertFalse(bad.isActive)
        XCTAssertNil(try bad.readOutbound(as: ByteBuffer.self))
        XCTAssertThrowsError(try held.written?.wait(), "the held write failed")

        let refused = try channel(closingOnHeader: true)
        try refused.writeInbound(ByteBuffer(string: "PROXY TCP4 192.0.2.1 198.51.100.2 5 443\r\n"))
        XCTAssertFalse(refused.isActive)
        XCTAssertNil(try refused.readOutbound(as: ByteBuffer.self))
    }

    /// Writes "preface" when the channel goes active (as NIOHTTP2's handler does), "PONG" on
    /// each read, and closes on the PROXY header's event if told to.
    private final class WriterOnActive: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let closingOnHeader: Bool
        var written: EventLoopFuture<Void>?
        init(closingOnHeader: Bool) { self.closingOnHeader = closingOnHeader }
        func channelActive(context: ChannelHandlerContext) {
            let promise = context.eventLoop.makePromise(of: Void.self)
            written = promise.futureResult
            context.writeAndFlush(NIOAny(ByteBuffer(string: "preface")), promise: promise)
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(NIOAny(ByteBuffer(string: "PONG")), promise: nil)
        }
        func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
            if closingOnHeader, event is ProxyProtocolReceived { context.close(promise: nil) }
        }
    }

    // MARK: against HAProxy

    /// HAProxy's `send-proxy` and `send-proxy-v2` towards a server that is our handler on
    /// loopback: the header it writes is read, and the client's own address comes out.
    func testHAProxysHeadersAreReadByTheHandler() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let server = try RecordingServer(acceptProxy: true)
        defer { server.stop() }
        let seen = server.recorded
        let directory = try TempDirectory()
        for (keyword, version) in [("send-proxy", 1), ("send-proxy-v2", 2)] {
            let port = freePort()
            let config = """
                \(haproxyDefaults)
                frontend fe
                    bind 127.0.0.1:\(port)
                    default_backend be
                backend be
                    server s 127.0.0.1:\(server.port) \(keyword)
                """
            let haproxy = try startHAProxy(config, port: port, in: directory, name: "haproxy-\(version)")
            defer { haproxy.stop() }
            let client = try RawClient(port: port)
            client.send("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            let response = client.readAll().text
            XCTAssertTrue(response.hasPrefix("HTTP/1.1 200"), response)
            let header = seen.last?.proxy
            XCTAssertEqual(header?.header.version, version)
            XCTAssertEqual(header?.source?.ipAddress, "127.0.0.1")
            XCTAssertEqual(header?.destination?.port, port, "the destination is the address the client connected to")
            XCTAssertTrue(response.contains("saw=127.0.0.1"), response)
        }
    }

    /// Our headers, v1 and v2, in front of a request to HAProxy's `accept-proxy`: HAProxy
    /// answers with the source it read.
    func testOurHeadersAreReadByHAProxy() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let directory = try TempDirectory()
        let port = freePort()
        let haproxy = try startHAProxy("""
            \(haproxyDefaults)
            frontend fe
                bind 127.0.0.1:\(port) accept-proxy
                http-request return status 200 content-type text/plain lf-string "%[src] %[src_port] %[dst] %[dst_port]"
            """, port: port, in: directory)
        defer { haproxy.stop() }
        let cases: [(SocketAddress, SocketAddress, String)] = [
            (try SocketAddress(ipAddress: "192.0.2.1", port: 56324), try SocketAddress(ipAddress: "198.51.100.2", port: 443), "192.0.2.1 56324 198.51.100.2 443"),
            (try SocketAddress(ipAddress: "2001:db8::1", port: 1234), try SocketAddress(ipAddress: "2001:db8::2", port: 80), "2001:db8::1 1234 2001:db8::2 80"),
        ]
        for (source, destination, expected) in cases {
            for header in [ProxyHeaderEncoder.v1(source: source, destination: destination), ProxyHeaderEncoder.v2(source: source, destination: destination)] {
                let client = try RawClient(port: port)
                client.send(Array(header.readableBytesView) + Array("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n".utf8))
                let response = client.readAll().text
                XCTAssertTrue(response.hasSuffix("\r\n\r\n" + expected), response)
            }
        }
    }
}
