import NIOCore
import NIOEmbedded
import XCTest
@testable import SwiftLBTLS

/// The ByteBuffer BIO under the TLS handler, with real OpenSSL on both ends: ciphertext split at
/// every byte, several records and part of one in one read, writes of every size leaving in full
/// records and one socket write, the outbound buffer reused, and closes in the middle of it all.
final class ByteBufferBIOTests: TLSTestCase {
    /// The record headers in `ciphertext`: content type and length of each.
    func records(_ ciphertext: ByteBuffer) -> [(type: UInt8, length: Int)] {
        var buffer = ciphertext
        var out: [(UInt8, Int)] = []
        while buffer.readableBytes >= 5 {
            let type = buffer.readInteger(as: UInt8.self)!
            buffer.moveReaderIndex(forwardBy: 2)
            let length = Int(buffer.readInteger(as: UInt16.self)!)
            XCTAssertNotNil(buffer.readSlice(length: length), "a whole record")
            out.append((type, length))
        }
        XCTAssertEqual(buffer.readableBytes, 0, "nothing after the last record")
        return out
    }

    /// `count` bytes whose value depends on their position, so a byte out of order shows.
    func pattern(_ count: Int, from start: Int = 0) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeBytes((start..<(start + count)).lazy.map { UInt8(ascii: "a") + UInt8($0 % 26) })
        return buffer
    }

    func testTheHandshakeArrivesOneByteAtATimeBothWays() throws {
        let server = try TLSServerContext(certificates: [TLSCertificate(path: makeCert("a.example.test"))], settings: TLSSettings())
        let pair = try makePair(server: server, client: try TLSClientContext(), sni: nil)
        var moved = true
        var bytes = 0
        while moved {
            moved = false
            for (from, to) in [(pair.client, pair.server), (pair.server, pair.client)] {
                var all = try Pair.ciphertext(of: from)
                while let byte = all.readSlice(length: 1) {
                    try to.writeInbound(byte)
                    moved = true
                    bytes += 1
                }
            }
        }
        XCTAssertGreaterThan(bytes, 500)
        XCTAssertEqual(pair.serverRecorder.events.count, 1)
        XCTAssertEqual(pair.clientRecorder.events.count, 1)
        try pair.client.writeAndFlush(ByteBuffer(string: "after a trickled handshake")).wait()
        try pair.pump()
        XCTAssertEqual(pair.serverRecorder.received, "after a trickled handshake")
    }

    func testARecordSplitAtEveryByteIsDeliveredOnceWholeAndInOrder() throws {
        let pair = try connectedPair()
        func message(_ k: Int) -> String { "message \(k) ".padding(toLength: 300, withPad: ".", startingAt: 0) }
        try pair.client.writeAndFlush(ByteBuffer(string: message(0))).wait()
        let first = try Pair.ciphertext(of: pair.client)
        let length = first.readableBytes
        XCTAssertEqual(length, 300 + 5 + 17, "one TLS 1.3 AES-GCM record")
        try pair.server.writeInbound(first)
        var expected = message(0)
        for k in 1..<length {
            try pair.client.writeAndFlush(ByteBuffer(string: message(k))).wait()
            var ciphertext = try Pair.ciphertext(of: pair.client)
            XCTAssertEqual(ciphertext.readableBytes, length)
            let reads = pair.serverRecorder.reads
            try pair.server.writeInbound(ciphertext.readSlice(length: k)!)
            XCTAssertEqual(pair.serverRecorder.reads, reads, "nothing before the record is whole (split at \(k))")
            try pair.server.writeInbound(ciphertext)
            XCTAssertEqual(pair.serverRecorder.reads, reads + 1, "one read for one record (split at \(k))")
            expected += message(k)
        }
        XCTAssertEqual(pair.serverRecorder.received.count, expected.count)
        XCTAssertTrue(pair.serverRecorder.received == expected, "every byte once, in order")
        XCTAssertTrue(pair.serverRecorder.errors.isEmpty)
    }

    func testSeveralRecordsAndPartOfOneInOneReadAreOnePlaintextRead() throws {
        let pair = try connectedPair()
        for word in ["one ", "two ", "three ", "four"] {
            try pair.client.writeAndFlush(ByteBuffer(string: word)).wait()  // a record per flush
        }
        var ciphertext = try Pair.ciphertext(of: pair.client)
        XCTAssertEqual(records(ciphertext).count, 4)
        try pair.server.writeInbound(ciphertext.readSlice(length: ciphertext.readableBytes - 10)!)
        XCTAssertEqual(pair.serverRecorder.received, "one two three ")
        XCTAssertEqual(pair.serverRecorder.reads, 1, "three records decrypted into one buffer")
        try pair.server.writeInbound(ciphertext)
        XCTAssertEqual(pair.serverRecorder.received, "one two three four")
    }

    func testWritesOfEverySizeLeaveInFullRecordsAndOneSocketWrite() throws {
        let pair = try connectedPair()
        let cases: [[Int]] = [
            [300], [200, 100], [1, 16383, 16384, 16385, 3], [100, 70000, 50], [16384], [16384, 16384, 1],
            [1 << 20], (0..<40).map { ($0 * 7919) % 5000 + 1 }, [2, 0, 3],
        ]
        var expected = ""
        for sizes in cases {
            var offset = 0
            for size in sizes {
                pair.server.write(pattern(size, from: offset), promise: nil)
                offset += size
            }
            pair.server.flush()
            var writes: [ByteBuffer] = []
            while let write = try pair.server.readOutbound(as: ByteBuffer.self) { writes.append(write) }
            XCTAssertEqual(writes.count, 1, "one socket write for one flush (\(sizes))")
            let ciphertext = writes.reduce(into: ByteBuffer()) { all, part in all.writeImmutableBuffer(part) }
            let found = records(ciphertext)
            let total = sizes.reduce(0, +)
            XCTAssertEqual(found.count, (total + 16383) / 16384, "full records only, but the last (\(sizes))")
            XCTAssertTrue(found.allSatisfy { $0.type == 23 }, "application data")
            XCTAssertTrue(found.dropLast().allSatisfy { $0.length == 16384 + 17 }, "full records (\(sizes))")
            try pair.client.writeInbound(ciphertext)
            expected += String(buffer: pattern(total))
        }
        XCTAssertEqual(pair.clientRecorder.received.count, expected.count)
        XCTAssertTrue(pair.clientRecorder.received == expected, "every byte in order")
        XCTAssertTrue(pair.clientRecorder.errors.isEmpty)
    }

    func testTheOutboundBufferIsReusedOnceTheSocketHasWrittenIt() throws {
        let pair = try connectedPair()
        // Each round takes a buffer as large as the one just sent: were that one freed, this
        // one would take its memory and the next flush could not get the same address again.
        var squatters: [ByteBuffer] = []
        var lastCapacity = 0
        func storage() throws -> UnsafeRawPointer? {
            squatters.append(pair.server.allocator.buffer(capacity: lastCapacity))
            pair.server.writeAndFlush(ByteBuffer(string: String(repeating: "r", count: 400)), promise: nil)
            let ciphertext = try XCTUnwrap(pair.server.readOutbound(as: ByteBuffer.self))
            try pair.client.writeInbound(ciphertext)
            lastCapacity = ciphertext.storageCapacity
            return ciphertext.withVeryUnsafeBytes { $0.baseAddress }
        }
        let first = try storage()
        for _ in 0..<3 { XCTAssertEqual(try storage(), first, "the same storage, not a new buffer per flush") }
        XCTAssertEqual(pair.clientRecorder.received.count, 1600)
    }

    func testThePlaintextBufferIsReusedOnceTheReaderLetGoAndNeverWhileItHoldsIt() throws {
        let pair = try connectedPair()
        func send(_ text: String) throws {
            try pair.client.writeAndFlush(ByteBuffer(string: text)).wait()
            try pair.server.writeInbound(try Pair.ciphertext(of: pair.client))
        }
        // As above: a squatter takes the memory of any buffer that was freed meanwhile.
        var squatters: [ByteBuffer] = []
        for word in ["one", "two", "three"] {
            squatters.append(pair.server.allocator.buffer(capacity: 1024))
            try send(word)
        }
        XCTAssertEqual(pair.serverRecorder.received, "onetwothree")
        XCTAssertEqual(Set(pair.serverRecorder.storages).count, 1, "one buffer, reused")

        // A reader that keeps what it got: each read gets another buffer, the kept ones stay intact.
        pair.serverRecorder.keep = true
        for word in ["four", "five", "six"] { try send(word) }
        XCTAssertEqual(pair.serverRecorder.kept.map { String(buffer: $0) }, ["four", "five", "six"])
        XCTAssertEqual(Set(pair.serverRecorder.storages.suffix(3)).count, 3)
    }

    func testAPeerVanishingMidRecordDeliversNothingAndFailsPendingWrites() throws {
        let pair = try connectedPair()
        try pair.client.writeAndFlush(ByteBuffer(string: "cut short")).wait()
        var ciphertext = try Pair.ciphertext(of: pair.client)
        try pair.server.writeInbound(ciphertext.readSlice(length: 10)!)
        let pending = pair.server.eventLoop.makePromise(of: Void.self)
        pair.server.write(ByteBuffer(string: "never sent"), promise: pending)
        pair.server.pipeline.fireChannelInactive()  // the socket died
        XCTAssertThrowsError(try pending.futureResult.wait())
        try pair.server.writeInbound(ciphertext)
        XCTAssertEqual(pair.serverRecorder.received, "")
        XCTAssertNil(try pair.server.readOutbound(as: ByteBuffer.self))
    }

    func testCloseNotifyInTheMiddleOfAReadEndsItAfterWhatCameBefore() throws {
        let pair = try connectedPair()
        try pair.client.writeAndFlush(ByteBuffer(string: "last words")).wait()
        try pair.client.close().wait()  // close_notify
        var all = try Pair.ciphertext(of: pair.client)
        XCTAssertEqual(records(all).map(\.type), [23, 23], "data, then the close_notify alert (encrypted)")
        all.writeBytes([23, 3, 3, 0, 20] + [UInt8](repeating: 0, count: 20))  // junk after it: never read
        try pair.server.writeInbound(all)
        XCTAssertEqual(pair.serverRecorder.received, "last words")
        XCTAssertTrue(pair.serverRecorder.errors.isEmpty, "\(pair.serverRecorder.errors)")
        XCTAssertFalse(pair.server.isActive, "closed after answering")
        XCTAssertEqual(try records(Pair.ciphertext(of: pair.server)).count, 1, "our close_notify")
    }

    func testClosingFromInsideAReadStopsDecryptingAtOnce() throws {
        let pair = try connectedPair()
        pair.serverRecorder.onRead = { $0.close(promise: nil) }
        try pair.client.writeAndFlush(pattern(100_000)).wait()
        try pair.server.writeInbound(try Pair.ciphertext(of: pair.client))
        XCTAssertEqual(pair.serverRecorder.reads, 1, "the read that closed was the last")
        XCTAssertEqual(pair.serverRecorder.received.count, 65536, "one full plaintext buffer")
        XCTAssertFalse(pair.server.isActive)
    }

    /// Passes a half-close to nobody (EmbeddedChannel would close both ways), as a socket's
    /// `shutdown(SHUT_WR)` would.
    final class HalfCloser: ChannelOutboundHandler, @unchecked Sendable {
        typealias OutboundIn = ByteBuffer
        var halfClosed = false
        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            if mode == .output { halfClosed = true; promise?.succeed() } else { context.close(mode: mode, promise: promise) }
        }
    }

    func testHalfClosureKeepsTheOtherDirectionOpenBothWays() throws {
        let context = try TLSServerContext(certificates: [TLSCertificate(path: makeCert("a.example.test"))], settings: TLSSettings())
        let sr = Recorder(), cr = Recorder(), serverHalf = HalfCloser(), clientHalf = HalfCloser()
        let server = EmbeddedChannel(), client = EmbeddedChannel()
        try server.pipeline.syncOperations.addHandlers([serverHalf, TLSHandler(server: context), sr])
        try client.pipeline.syncOperations.addHandlers([clientHalf, TLSHandler(client: try TLSClientContext(), serverName: nil), cr])
        try server.setOption(ChannelOptions.allowRemoteHalfClosure, value: true).wait()
        try server.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try client.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2)).wait()
        let pair = Pair(server: server, client: client, serverRecorder: sr, clientRecorder: cr)
        try pair.pump()

        // The client is done sending: close_notify, then its FIN.
        try client.writeAndFlush(ByteBuffer(string: "request")).wait()
        client.close(mode: .output, promise: nil)
        XCTAssertTrue(clientHalf.halfClosed)
        try pair.pump()
        XCTAssertEqual(sr.received, "request")
        XCTAssertTrue(sr.inputClosed, "the server hears the client's close_notify as input closed")
        XCTAssertTrue(server.isActive)

        // The server still answers, and the half-closed client still reads.
        try server.writeAndFlush(ByteBuffer(string: "late answer")).wait()
        try pair.pump()
        XCTAssertEqual(cr.received, "late answer")
        XCTAssertThrowsError(try client.writeAndFlush(ByteBuffer(string: "too late")).wait(), "no writes after close_notify")

        // The server closes its side too: the client, done both ways, closes.
        server.close(mode: .output, promise: nil)
        try pair.pump()
        XCTAssertFalse(client.isActive)
        XCTAssertTrue(sr.errors.isEmpty && cr.errors.isEmpty, "\(sr.errors) \(cr.errors)")
    }
}
