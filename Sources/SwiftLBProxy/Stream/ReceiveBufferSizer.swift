import NIOCore

/// How many bytes each read of a client or server connection asks the kernel for.
///
/// NIO keeps a channel's receive buffer for the channel's whole life, at the largest size a
/// read ever asked for, and its default allocator starts every connection at 2 KiB. HAProxy
/// takes its 16 KiB buffers from a shared pool only while bytes are in flight, so an idle
/// keep-alive connection costs it almost nothing. With a thousand clients and their server
/// connections, 2 KiB per socket is ~4 MB of resident memory for requests of a few hundred
/// bytes. This sizer starts at 512 bytes, doubles after a read that filled the buffer (NIO
/// reads again at once in the same loop tick, so a larger request costs one more read, once
/// per connection) up to 64 KiB, and halves after two reads in a row that half the size would
/// have held, as NIO's adaptive allocator does.
///
/// Two bytes of state: it fits in the channel option's existential box inline, so setting it
/// on a new connection allocates nothing (NIO's `AdaptiveRecvByteBufferAllocator` is five
/// words and would be boxed on the heap for every connection).
struct ReceiveBufferSizer: RecvByteBufferAllocator {
    /// 512 bytes: a request line and a few headers; what most keep-alive requests and small
    /// answers need.
    static let minimumShift: UInt8 = 9
    /// 64 KiB, NIO's default largest read.
    static let maximumShift: UInt8 = 16

    private(set) var shift = ReceiveBufferSizer.minimumShift
    private var shortReadSeen = false
    /// The smallest read: 512 bytes, or `tune.bufsize` when the configuration writes it.
    private var floorShift = ReceiveBufferSizer.minimumShift

    init() {}

    /// Reads of at least `bytes` (rounded up to a power of two, at most 64 KiB): with
    /// `tune.bufsize` written, a message is measured against HAProxy's buffer (`strict-mode`'s
    /// rewrite room), which HAProxy fills in one read — so does SwiftLB then.
    init(atLeast bytes: Int?) {
        guard let bytes, bytes > size else { return }
        var s = Self.minimumShift
        while s < Self.maximumShift, 1 << Int(s) < bytes { s += 1 }
        (shift, floorShift) = (s, s)
    }

    var size: Int { 1 << Int(shift) }

    func nextBufferSize() -> Int? { size }

    func buffer(allocator: ByteBufferAllocator) -> ByteBuffer {
        allocator.buffer(capacity: size)
    }

    /// Returns whether the next buffer is larger than the last (NIO then may allocate anew).
    mutating func record(actualReadBytes: Int) -> Bool {
        if actualReadBytes >= size {
            shortReadSeen = false
            guard shift < Self.maximumShift else { return false }
            shift += 1
            return true
        }
        if shift > floorShift, actualReadBytes <= size >> 1 {
            if shortReadSeen {
                shift -= 1
                shortReadSeen = false
            } else {
                shortReadSeen = true
            }
        } else {
            shortReadSeen = false
        }
        return false
    }
}

