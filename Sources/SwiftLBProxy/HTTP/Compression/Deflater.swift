import CZlib
import NIOCore
import SwiftLBConfig

/// One response body's zlib stream (gzip, zlib-wrapped deflate or raw deflate), compressed as
/// it passes: each piece the server sends is compressed and flushed at once (Z_SYNC_FLUSH, as
/// HAProxy flushes each data block), so nothing is held back waiting for more and no body is
/// ever buffered whole; the end of the body finishes the stream (Z_FINISH). Level 1, window
/// 2^15, memLevel 8: HAProxy's defaults (`tune.comp.maxlevel 1`, `tune.zlib.*`): about
/// 260 KiB of zlib state per response being compressed. `identity` passes bytes through
/// (HAProxy's identity algorithm); both count what they saw, as HAProxy's comp_* counters.
final class Deflater {
    /// nil for identity.
    private let stream: UnsafeMutablePointer<z_stream>?
    private var finished = false
    /// Body bytes given / sent on (deflate), or passed as they were (identity).
    private(set) var bytesIn = 0, bytesOut = 0, bypassed = 0

    /// nil when zlib cannot allocate its state.
    init?(_ algorithm: HTTPCompression.Algorithm, level: Int32 = 1) {
        let windowBits: Int32
        switch algorithm {
        case .identity:
            stream = nil
            return
        case .gzip: windowBits = 15 + 16
        case .deflate: windowBits = 15
        case .rawDeflate: windowBits = -15
        }
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        guard swiftlb_deflate_init(stream, level, windowBits, 8) == Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            return nil
        }
        self.stream = stream
    }

    deinit {
        guard let stream else { return }
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Compresses `input` and flushes: the bytes returned decode to all the input so far.
    func compress(_ input: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard let stream else {
            bypassed += input.readableBytes
            return input
        }
        return run(stream, input, flush: Z_SYNC_FLUSH, allocator: allocator)
    }

    /// The stream's last bytes (the rest of the data and gzip's or zlib's trailer); none for
    /// identity.
    func finish(allocator: ByteBufferAllocator) -> ByteBuffer {
        guard let stream else { return ByteBuffer() }
        return run(stream, ByteBuffer(), flush: Z_FINISH, allocator: allocator)
    }

    private func run(_ stream: UnsafeMutablePointer<z_stream>, _ input: ByteBuffer, flush: Int32, allocator: ByteBufferAllocator) -> ByteBuffer {
        precondition(!finished, "Deflater: data after the end of the stream")
        if flush == Z_FINISH { finished = true }
        bytesIn += input.readableBytes
        // A sync flush adds at most a few bytes per 16 KiB block beyond the input (deflateBound).
        let bound = Int(deflateBound(stream, UInt(input.readableBytes))) + 16
        var out = allocator.buffer(capacity: bound)
        input.withUnsafeReadableBytes { raw in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: raw.bindMemory(to: UInt8.self).baseAddress)
            stream.pointee.avail_in = UInt32(raw.count)
            while true {
                if out.writableBytes < 64 { out.reserveCapacity(minimumWritableBytes: max(out.capacity, 256)) }
                var status: Int32 = Z_OK
                out.writeWithUnsafeMutableBytes(minimumWritableBytes: 64) { target in
                    stream.pointee.next_out = target.bindMemory(to: UInt8.self).baseAddress
                    stream.pointee.avail_out = UInt32(target.count)
                    status = deflate(stream, flush)
                    return target.count - Int(stream.pointee.avail_out)
                }
                precondition(status == Z_OK || status == Z_STREAM_END || status == Z_BUF_ERROR, "Deflater: zlib status \(status)")
                // Done when zlib left room in the output: everything is flushed (or the end written).
                if flush == Z_FINISH ? status == Z_STREAM_END : stream.pointee.avail_out > 0 { break }
            }
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        bytesOut += out.readableBytes
        return out
    }
}
