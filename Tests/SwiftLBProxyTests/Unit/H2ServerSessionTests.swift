import NIOCore
import NIOEmbedded
import NIOHTTP2
import XCTest
@testable import SwiftLBProxy

/// `server … proto h2`, the shared connection on an EmbeddedChannel fed the server's frames as
/// bytes: how many streams its SETTINGS let it take, and which stream ends say the server refused
/// the stream unprocessed (sent again) rather than failed it (a 502).
final class H2ServerSessionTests: XCTestCase {
    private func session() throws -> (EmbeddedChannel, H2ServerSession) {
        let channel = EmbeddedChannel()
        try H2ServerSession.configure(channel, tls: false)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 80)).wait()
        return (channel, try H2ServerSession.of(channel))
    }

    /// One frame from the server: 9-byte header, then `payload`.
    private func receive(_ channel: EmbeddedChannel, type: UInt8, flags: UInt8 = 0, _ payload: [UInt8]) throws {
        let length = UInt32(payload.count)
        var bytes = channel.allocator.buffer(capacity: 9 + payload.count)
        bytes.writeBytes([UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags, 0, 0, 0, 0])
        bytes.writeBytes(payload)
        try channel.writeInbound(bytes)
    }

    private func settings(_ pairs: [(UInt16, UInt32)]) -> [UInt8] {
        pairs.flatMap { id, value in
            [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
        }
    }

    func testTheServersSettingsBoundTheStreamsItTakes() throws {
        let (channel, session) = try session()
        defer { _ = try? channel.finish() }
        XCTAssertTrue(session.hasFreeStream, "before the server's SETTINGS: the dialling exchange's stream")
        try receive(channel, type: 4, settings([(3, 0)]))  // MAX_CONCURRENT_STREAMS 0
        XCTAssertFalse(session.hasFreeStream)
        try receive(channel, type: 4, settings([(4, 65535)]))  // a later SETTINGS without it keeps it
        XCTAssertFalse(session.hasFreeStream)
        try receive(channel, type: 4, settings([(3, 2)]))
        XCTAssertTrue(session.hasFreeStream)
        XCTAssertTrue(session.isUsable)
    }

    func testARefusedStreamOrOneAboveAGOAWAYWasNotProcessed() throws {
        let (channel, session) = try session()
        defer { _ = try? channel.finish() }
        try receive(channel, type: 4, [])
        func closed(_ stream: Int, _ code: HTTP2ErrorCode) -> NIOHTTP2Errors.StreamClosed {
            NIOHTTP2Errors.streamClosed(streamID: HTTP2StreamID(stream), errorCode: code)
        }
        XCTAssertTrue(session.refused(closed(1, .refusedStream)))
        XCTAssertFalse(session.refused(closed(1, .cancel)), "a CANCEL with no GOAWAY: the server may have acted")
        XCTAssertFalse(session.refused(closed(1, .internalError)))
        XCTAssertFalse(session.refused(nil))
        XCTAssertFalse(session.refused(ChannelError.ioOnClosedChannel))
        XCTAssertTrue(session.hasFreeStream)
        // GOAWAY, last stream 1, NO_ERROR: NIOHTTP2 ends the streams above it with CANCEL.
        try receive(channel, type: 7, [0, 0, 0, 1, 0, 0, 0, 0])
        XCTAssertFalse(session.isUsable)
        XCTAssertFalse(session.hasFreeStream)
        XCTAssertTrue(session.refused(closed(3, .cancel)))
        XCTAssertFalse(session.refused(closed(1, .cancel)), "stream 1 was processed")
    }
}
