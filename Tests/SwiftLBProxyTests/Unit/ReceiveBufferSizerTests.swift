import NIOCore
import NIOEmbedded
import NIOPosix
@testable import SwiftLBProxy
import XCTest

/// The receive sizes of every proxied connection (`ReceiveBufferSizer`): small while reads
/// are small, doubling on full reads up to 64 KiB, halving after two short reads in a row.
final class ReceiveBufferSizerTests: XCTestCase {
    func testStartsAt512BytesAndDoublesOnAFullReadUpTo64KiB() {
        var sizer = ReceiveBufferSizer()
        XCTAssertEqual(sizer.nextBufferSize(), 512)
        var sizes = [sizer.size]
        while sizer.record(actualReadBytes: sizer.size) { sizes.append(sizer.size) }
        XCTAssertEqual(sizes, [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536])
        XCTAssertFalse(sizer.record(actualReadBytes: 65536), "64 KiB is the largest read")
        XCTAssertEqual(sizer.size, 65536)
    }

    func testHalvesAfterTwoShortReadsInARowNeverBelow512() {
        var sizer = ReceiveBufferSizer()
        for _ in 0..<3 { _ = sizer.record(actualReadBytes: sizer.size) }
        XCTAssertEqual(sizer.size, 4096)
        XCTAssertFalse(sizer.record(actualReadBytes: 100))
        XCTAssertEqual(sizer.size, 4096, "one short read is not a trend")
        _ = sizer.record(actualReadBytes: 3000)  // more than half: the trend breaks
        _ = sizer.record(actualReadBytes: 100)
        XCTAssertEqual(sizer.size, 4096)
        _ = sizer.record(actualReadBytes: 100)
        XCTAssertEqual(sizer.size, 2048)
        for _ in 0..<20 { _ = sizer.record(actualReadBytes: 1) }
        XCTAssertEqual(sizer.size, 512)
    }

    func testBufferHasTheSizeAsked() {
        var sizer = ReceiveBufferSizer()
        _ = sizer.record(actualReadBytes: 512)
        XCTAssertGreaterThanOrEqual(sizer.buffer(allocator: ByteBufferAllocator()).capacity, 1024)
    }

    /// With `tune.bufsize` written, reads are at least that big (HAProxy fills its buffer in
    /// one read; strict-mode measures against it), and never shrink below it.
    func testTuneBufsizeIsTheSmallestRead() {
        var sizer = ReceiveBufferSizer(atLeast: 2048)
        XCTAssertEqual(sizer.size, 2048)
        for _ in 0..<10 { _ = sizer.record(actualReadBytes: 1) }
        XCTAssertEqual(sizer.size, 2048)
        XCTAssertEqual(ReceiveBufferSizer(atLeast: 3000).size, 4096)
        XCTAssertEqual(ReceiveBufferSizer(atLeast: 1 << 20).size, 65536)
        XCTAssertEqual(ReceiveBufferSizer(atLeast: nil).size, 512)
    }

    /// Fits in an existential's inline buffer: setting it on a channel boxes nothing.
    func testFitsInlineInAnExistential() {
        XCTAssertLessThanOrEqual(MemoryLayout<ReceiveBufferSizer>.size, 3 * MemoryLayout<Int>.size)
    }

    /// Through a real socket pair: the channel reads with the sizer (a first read of 512 bytes),
    /// and a request larger than that arrives whole (NIO reads again with the larger size).
    func testALargeRequestThroughARealSocketArrivesWhole() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let firstRead = group.next().makePromise(of: Int.self)
        final class Collector: ChannelInboundHandler, @unchecked Sendable {
            typealias InboundIn = ByteBuffer
            var total = 0
            var reads = 0
            var first = 0
            let want: Int
            let done: EventLoopPromise<Int>
            init(want: Int, done: EventLoopPromise<Int>) { self.want = want; self.done = done }
            func channelRead(context: ChannelHandlerContext, data: NIOAny) {
                let count = unwrapInboundIn(data).readableBytes
                if reads == 0 { first = count }
                total += count
                reads += 1
                if total >= want { done.succeed(first) }
            }
        }
        let want = 6000
        let server = try ServerBootstrap(group: group)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.syncOptions!.setOption(.recvAllocator, value: ReceiveBufferSizer())
                    try channel.pipeline.syncOperations.addHandler(Collector(want: want, done: firstRead))
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        defer { try? server.close().wait() }
        let client = try ClientBootstrap(group: group).connect(to: server.localAddress!).wait()
        defer { try? client.close().wait() }
        var bytes = client.allocator.buffer(capacity: want)
        bytes.writeRepeatingByte(UInt8(ascii: "a"), count: want)
        try client.writeAndFlush(bytes).wait()
        // All 6000 bytes arrive; the first read asked for 512 (NIO's default asks for 2048).
        XCTAssertEqual(try firstRead.futureResult.wait(), 512)
    }
}
