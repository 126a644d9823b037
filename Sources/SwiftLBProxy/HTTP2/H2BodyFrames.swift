import NIOCore
import NIOHTTP2

/// Body bytes across the HTTP/2 ↔ HTTP/1.1 edge, both ways, for both translators (the
/// frontend's `H2StreamTranslator` and the `proto h2` server side's
/// `H2ServerStreamTranslator`). Pure.
enum H2BodyFrames {
    /// Takes from `bytes` what `framer` delimits (decoded from chunks) and emits it as DATA,
    /// END_STREAM on the last frame of the body. nil when the framing is broken (the stream is
    /// reset); else whether the body is complete (what is left of `bytes` is a partial chunk
    /// line, or bytes after the body).
    static func take(_ framer: inout BodyFramer, from bytes: inout ByteBuffer, emit: (HTTP2Frame.FramePayload) -> Void) -> Bool? {
        var chunks: [ByteBuffer] = []
        let done: Bool
        do {
            done = try framer.take(from: &bytes, decode: true) { chunks.append($0) }
        } catch {
            return nil
        }
        for (i, chunk) in chunks.enumerated() {
            emit(.data(.init(data: .byteBuffer(chunk), endStream: done && i == chunks.count - 1)))
        }
        if done && chunks.isEmpty { emit(.data(.init(data: .byteBuffer(ByteBuffer()), endStream: true))) }
        return done
    }

    /// One DATA frame's bytes as an HTTP/1.1 chunk (nothing for no bytes), followed by the last
    /// chunk when it ended the stream.
    static func chunk(_ bytes: inout ByteBuffer, last: Bool, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard bytes.readableBytes > 0 else { return last ? ByteBuffer(staticString: ChunkEncoder.last) : nil }
        var framed = allocator.buffer(capacity: bytes.readableBytes + 16)
        framed.writeString(String(bytes.readableBytes, radix: 16))
        framed.writeStaticString("\r\n")
        framed.writeBuffer(&bytes)
        framed.writeStaticString("\r\n")
        if last { framed.writeStaticString(ChunkEncoder.last) }
        return framed
    }
}
