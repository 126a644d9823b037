import CLibSSL
import NIOCore

/// OpenSSL's transport for one TLS connection, over the channel's own `ByteBuffer`s.
///
/// Why not two `BIO_s_mem`: every received byte was copied into the read BIO's flat buffer
/// before OpenSSL copied it again into its record buffer, and every sent byte was copied out
/// of the write BIO into a freshly allocated `ByteBuffer` — two extra copies and a buffer
/// per flush, plus the memory BIOs' own growth. Here OpenSSL reads ciphertext straight out
/// of the buffer the socket filled (which the channel can then reuse for its next read) and
/// appends its records straight into the buffer that goes to the socket (which is reused
/// once the socket has written it). The idea is the OpenSSL-era swift-nio-ssl's
/// `ByteBufferBIO`.
///
/// One BIO serves both directions (`SSL_set_bio(ssl, bio, bio)`). The OpenSSL side holds this
/// object unretained (`BIO_set_data`); `deinit` detaches it, so a BIO that outlives it (the SSL
/// object holds a reference) answers every call with an error instead of touching freed memory.
/// Not thread-safe: one event loop drives it, like the handler that owns it.
final class ByteBufferBIO {
    /// The callbacks, registered once per process.
    nonisolated(unsafe) private static let method: OpaquePointer = {
        let type = BIO_get_new_index() | BIO_TYPE_SOURCE_SINK
        guard let method = BIO_meth_new(type, "swiftlb ByteBuffer") else {
            preconditionFailure("OpenSSL cannot allocate a BIO_METHOD")
        }
        _ = BIO_meth_set_write(method, bioWrite)
        _ = BIO_meth_set_read(method, bioRead)
        _ = BIO_meth_set_puts(method, bioPuts)
        _ = BIO_meth_set_ctrl(method, bioCtrl)
        _ = BIO_meth_set_create(method, { _ in 1 })
        _ = BIO_meth_set_destroy(method, { _ in 1 })
        return method
    }()

    /// A buffer at most this large is kept for reuse (the outbound one here, the plaintext one
    /// in the handler); a larger one (a big response) is let go, so a connection that once
    /// moved 64 KiB does not keep that much memory while it idles. (Capacities are powers of two.)
    static let keptBufferCapacity = 16384

    /// This object's BIO; the SSL object gets its own reference (`retainedBIO`).
    private let bio: OpaquePointer
    private let allocator: ByteBufferAllocator
    /// Ciphertext from the socket that OpenSSL has not read yet.
    private var inbound: ByteBuffer?
    /// Ciphertext OpenSSL wrote; bytes before the reader index were handed to the channel.
    private var outbound: ByteBuffer?

    init(allocator: ByteBufferAllocator) {
        guard let bio = BIO_new(Self.method) else { preconditionFailure("OpenSSL cannot allocate a BIO") }
        self.bio = bio
        self.allocator = allocator
        BIO_set_data(bio, Unmanaged.passUnretained(self).toOpaque())
        BIO_set_init(bio, 1)
        BIO_set_shutdown(bio, 1)
    }

    deinit {
        BIO_set_data(bio, nil)
        BIO_free(bio)
    }

    /// A reference for `SSL_set_bio`, which takes ownership of one reference.
    func retainedBIO() -> OpaquePointer {
        _ = BIO_up_ref(bio)
        return bio
    }

    // MARK: the channel's side

    /// Ciphertext from the socket, for OpenSSL's next read. The buffer is read in place.
    func receive(_ buffer: ByteBuffer) {
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = buffer
        } else {
            var more = buffer  // OpenSSL left bytes unread (only while closing): keep them in order
            inbound!.writeBuffer(&more)
        }
    }

    /// Ciphertext received and not yet read by OpenSSL.
    var inboundBytes: Int { inbound?.readableBytes ?? 0 }

    /// Forgets ciphertext OpenSSL will never read (the peer closed, or a failure).
    func dropInbound() {
        inbound = nil
    }

    /// Forgets both buffers (the connection is gone).
    func reset() {
        inbound = nil
        outbound = nil
    }

    /// Makes room for `bytes` more ciphertext in one allocation, before a write that will
    /// produce about that much.
    func reserveOutbound(_ bytes: Int) {
        if outbound == nil {
            outbound = allocator.buffer(capacity: max(bytes, 1024))
            return
        }
        clearIfSent()
        if outbound!.writableBytes < bytes { outbound!.reserveCapacity(minimumWritableBytes: bytes) }
    }

    /// The ciphertext written since the last call, for the socket; nil if none.
    func takeOutbound() -> ByteBuffer? {
        guard var buffer = outbound, buffer.readableBytes > 0 else { return nil }
        let ciphertext = buffer.readSlice(length: buffer.readableBytes)!
        // Keep the storage for the next flush: once the channel has written and dropped its
        // reference, `clear()` reuses it without an allocation.
        outbound = buffer.capacity <= Self.keptBufferCapacity ? buffer : nil
        return ciphertext
    }

    /// Ciphertext written and not taken yet.
    var outboundBytes: Int { outbound?.readableBytes ?? 0 }

    private func clearIfSent() {
        if outbound!.readableBytes == 0 && outbound!.readerIndex > 0 { outbound!.clear() }
    }

    // MARK: OpenSSL's side

    /// OpenSSL wants up to `into.count` bytes of ciphertext.
    fileprivate func read(into: UnsafeMutableRawBufferPointer) -> Int32 {
        let count = min(into.count, inboundBytes)
        guard count > 0 else {
            swiftlb_BIO_set_retry_read(bio)
            return -1
        }
        inbound!.withUnsafeReadableBytes { bytes in
            into.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: count)
        }
        inbound!.moveReaderIndex(forwardBy: count)
        if inbound!.readableBytes == 0 { inbound = nil }  // the channel may reuse the storage now
        return Int32(count)
    }

    /// OpenSSL wrote a record (or part of one).
    fileprivate func write(_ bytes: UnsafeRawBufferPointer) -> Int32 {
        if outbound == nil {
            outbound = allocator.buffer(capacity: max(bytes.count, 1024))
        } else {
            clearIfSent()
        }
        outbound!.writeBytes(bytes)
        return Int32(bytes.count)
    }

    fileprivate func control(_ command: Int32, _ argument: Int) -> Int {
        switch command {
        case BIO_CTRL_FLUSH: return 1  // OpenSSL flushes after each flight; the handler sends it
        case BIO_CTRL_PENDING: return inboundBytes
        case BIO_CTRL_WPENDING: return outboundBytes
        case BIO_CTRL_GET_CLOSE: return Int(BIO_get_shutdown(bio))
        case BIO_CTRL_SET_CLOSE: BIO_set_shutdown(bio, Int32(argument)); return 1
        default: return 0
        }
    }

    fileprivate static func from(_ bio: OpaquePointer?) -> ByteBufferBIO? {
        guard let bio, let data = BIO_get_data(bio) else { return nil }
        return Unmanaged<ByteBufferBIO>.fromOpaque(data).takeUnretainedValue()
    }
}

// The C entry points: find the Swift object, clear the retry flags (OpenSSL's contract for
// every BIO call), pass the call on.

private func bioWrite(_ bio: OpaquePointer?, _ data: UnsafePointer<CChar>?, _ length: Int32) -> Int32 {
    guard let me = ByteBufferBIO.from(bio) else { return -1 }
    swiftlb_BIO_clear_retry_flags(bio)
    guard let data, length > 0 else { return 0 }
    return me.write(UnsafeRawBufferPointer(start: data, count: Int(length)))
}

private func bioRead(_ bio: OpaquePointer?, _ data: UnsafeMutablePointer<CChar>?, _ length: Int32) -> Int32 {
    guard let me = ByteBufferBIO.from(bio) else { return -1 }
    swiftlb_BIO_clear_retry_flags(bio)
    guard let data, length > 0 else { return 0 }
    return me.read(into: UnsafeMutableRawBufferPointer(start: data, count: Int(length)))
}

private func bioPuts(_ bio: OpaquePointer?, _ string: UnsafePointer<CChar>?) -> Int32 {
    guard let string else { return -1 }
    return bioWrite(bio, string, Int32(strlen(string)))
}

private func bioCtrl(_ bio: OpaquePointer?, _ command: Int32, _ argument: Int, _ pointer: UnsafeMutableRawPointer?) -> Int {
    guard let me = ByteBufferBIO.from(bio) else { return 0 }
    return me.control(command, argument)
}
