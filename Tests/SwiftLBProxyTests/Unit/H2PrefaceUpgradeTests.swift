import NIOCore
import NIOEmbedded
import NIOHPACK
import NIOHTTP2
import SwiftLBConfig
import XCTest
@testable import SwiftLBProxy

/// HAProxy's implicit H1→H2 upgrade on an EmbeddedChannel: the HTTP/1 connection that receives
/// the h2 preface as its first bytes — in one segment or split at any byte — hands the channel
/// to HTTP/2, which then answers a stream; anything else stays HTTP/1 (`PRI /x HTTP/1.1`, a
/// preface after a request, a listener that may not upgrade: 400, as HAProxy answers).
final class H2PrefaceUpgradeTests: XCTestCase {
    private let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    /// An empty SETTINGS frame, then HEADERS on stream 1 (END_STREAM|END_HEADERS): GET / with
    /// `:authority h.test`, HPACK by hand (static indexes 2, 6, 4; a literal for the authority).
    private let request: [UInt8] = [0, 0, 0, 4, 0, 0, 0, 0, 0]
        + [0, 0, 11, 1, 0x05, 0, 0, 0, 1, 0x82, 0x86, 0x84, 0x41, 6] + Array("h.test".utf8)

    private func channel(upgrade: Bool = true) throws -> EmbeddedChannel {
        let text = "defaults\n    mode http\n    timeout client 5s\nfrontend fe\n    bind 127.0.0.1:1\n    redirect location /moved code 302\n"
        let runtime = try ProxyRuntime(configuration: ConfigParser.parse(text: text, file: "unit.conf"))
        let loop = EmbeddedEventLoop()
        let state = LoopState(eventLoop: loop, holder: RuntimeHolder(runtime), logFD: 1)
        let settings = upgrade ? H2Connection.Settings(runtime.configuration.global) : nil
        let handler = HTTPClientConnection(frontend: runtime.frontends[0], loop: state, isTLS: false, limits: .init(), h2Upgrade: settings)
        let channel = EmbeddedChannel(handler: handler, loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 4242)).wait()
        return channel
    }

    private func outbound(_ channel: EmbeddedChannel) throws -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { bytes += buffer.readableBytesView }
        return bytes
    }

    /// The frames in `bytes`: type, stream and payload.
    private func frames(_ bytes: [UInt8]) -> [(type: UInt8, stream: UInt32, payload: [UInt8])] {
        var out: [(UInt8, UInt32, [UInt8])] = []
        var i = 0
        while i + 9 <= bytes.count {
            let length = Int(bytes[i]) << 16 | Int(bytes[i + 1]) << 8 | Int(bytes[i + 2])
            let stream = UInt32(bytes[i + 5] & 0x7F) << 24 | UInt32(bytes[i + 6]) << 16 | UInt32(bytes[i + 7]) << 8 | UInt32(bytes[i + 8])
            guard i + 9 + length <= bytes.count else { break }
            out.append((bytes[i + 3], stream, Array(bytes[i + 9..<i + 9 + length])))
            i += 9 + length
        }
        return out
    }

    private func isHTTP1(_ channel: EmbeddedChannel) -> Bool {
        (try? channel.pipeline.syncOperations.handler(type: HTTPClientConnection.self)) != nil
    }

    private func isHTTP2(_ channel: EmbeddedChannel) -> Bool {
        (try? channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)) != nil
    }

    func testThePrefaceIsRecognisedWholeWaitedForInPartsAndRefusedOnAnyOtherByte() {
        XCTAssertEqual(H2Preface.match(ByteBuffer(bytes: preface)), .complete)
        XCTAssertEqual(H2Preface.match(ByteBuffer(bytes: preface + [0, 0, 0])), .complete)
        for k in 1..<preface.count { XCTAssertEqual(H2Preface.match(ByteBuffer(bytes: preface[0..<k])), .partial, "first \(k) bytes") }
        XCTAssertEqual(H2Preface.match(ByteBuffer(string: "PRI /x HTTP/1.1\r\n")), .mismatch)
        XCTAssertEqual(H2Preface.match(ByteBuffer(string: "pri * HTTP/2.0\r\n\r\nSM\r\n\r\n")), .mismatch, "case matters, as in HAProxy")
        XCTAssertEqual(H2Preface.match(ByteBuffer(string: "\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")), .mismatch, "from the first byte")
        XCTAssertEqual(H2Preface.match(ByteBuffer(string: "GET / HTTP/1.1\r\n")), .mismatch)
    }

    /// Split at every byte boundary (a client whose "PRI * HTTP/2.0" comes in two segments
    /// too): nothing is answered before the preface is whole, then the connection is HTTP/2 —
    /// SETTINGS first, and a stream answered by the frontend's redirect.
    func testAPrefaceSplitAtAnyByteUpgradesAndTheStreamIsAnswered() throws {
        let all = preface + request
        for k in 1..<preface.count {
            let channel = try channel()
            try channel.writeInbound(ByteBuffer(bytes: all[0..<k]))
            XCTAssertEqual(try outbound(channel), [], "split at \(k): nothing answered yet")
            XCTAssertTrue(isHTTP1(channel), "split at \(k)")
            try channel.writeInbound(ByteBuffer(bytes: all[k...]))
            channel.embeddedEventLoop.run()
            let written = frames(try outbound(channel))
            XCTAssertEqual(written.first?.type, 4, "split at \(k): SETTINGS first, \(written.map(\.type))")
            XCTAssertFalse(isHTTP1(channel), "split at \(k): the HTTP/1 handler left")
            XCTAssertTrue(isHTTP2(channel), "split at \(k)")
            guard let headers = written.first(where: { $0.type == 1 && $0.stream == 1 }) else {
                XCTFail("split at \(k): no response HEADERS on stream 1 in \(written.map(\.type))")
                continue
            }
            var decoder = HPACKDecoder(allocator: ByteBufferAllocator())
            var block = ByteBuffer(bytes: headers.payload)
            let fields = try decoder.decodeHeaders(from: &block)
            XCTAssertEqual(fields[":status"], ["302"], "split at \(k)")
            XCTAssertEqual(fields["location"], ["/moved"], "split at \(k)")
            XCTAssertTrue(channel.isActive)
            _ = try? channel.finish()
        }
    }

    /// What the connection answers to `inbound`, and whether HTTP/2 was never installed.
    private func http1Answer(_ inbound: [String], upgrade: Bool = true) throws -> (text: String, http1: Bool) {
        let channel = try channel(upgrade: upgrade)
        var http2 = false
        for segment in inbound {
            try channel.writeInbound(ByteBuffer(string: segment))
            http2 = http2 || isHTTP2(channel)
        }
        channel.embeddedEventLoop.run()
        let text = String(decoding: try outbound(channel), as: UTF8.self)
        return (text, !http2)
    }

    func testWhatIsNotAFirstPrefaceStaysHTTP1AndIsRefusedAsHAProxyRefusesIt() throws {
        let p = String(decoding: preface, as: UTF8.self)
        // The method of the preface in an HTTP/1 request (HAProxy: "PRI is reserved for the
        // HTTP/2 preface"), in any case.
        for request in ["PRI /x HTTP/1.1\r\nHost: h\r\n\r\n", "pri * HTTP/1.1\r\nHost: h\r\n\r\n"] {
            let (text, http1) = try http1Answer([request])
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 400 "), "\(request.debugDescription): \(text)")
            XCTAssertTrue(http1)
        }
        // After a first request the preface is an HTTP/1 request line, refused (HTTP/2.0).
        let (second, stayed) = try http1Answer(["GET / HTTP/1.1\r\nHost: h\r\n\r\n", p])
        XCTAssertTrue(second.hasPrefix("HTTP/1.1 302 Found\r\n"), second)
        XCTAssertEqual(second.components(separatedBy: "HTTP/1.1 400 ").count, 2, second)
        XCTAssertTrue(stayed)
        // Pipelined behind a request in one segment: the same.
        let (pipelined, _) = try http1Answer(["GET / HTTP/1.1\r\nHost: h\r\n\r\n" + p])
        XCTAssertTrue(pipelined.hasPrefix("HTTP/1.1 302 Found\r\n") && pipelined.contains("HTTP/1.1 400 "), pipelined)
        // Not from the first byte, or not whole: HTTP/1, refused.
        for bytes in ["\r\n" + p, "PRI * HTTP/2.0\r\n\r\nXY\r\n\r\n"] {
            let (text, http1) = try http1Answer([bytes])
            XCTAssertTrue(text.hasPrefix("HTTP/1.1 400 "), "\(bytes.debugDescription): \(text)")
            XCTAssertTrue(http1)
        }
        // A listener that may not upgrade (`proto h1`, `option disable-h2-upgrade`).
        let (refused, http1) = try http1Answer([p], upgrade: false)
        XCTAssertTrue(refused.hasPrefix("HTTP/1.1 400 "), refused)
        XCTAssertTrue(http1)
    }
}
