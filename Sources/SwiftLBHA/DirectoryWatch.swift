#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// An inotify descriptor read on an event loop, as keepalived watches its track files: each
/// directory added is watched for a file closed after writing, moved in or out, or deleted
/// (`IN_CLOSE_WRITE | IN_MOVE | IN_DELETE`), and `onEvent` hears each event on the loop.
/// A watch added before a chroot keeps reporting after it.
final class DirectoryWatch: @unchecked Sendable {
    struct Event: Equatable {
        var watch: Int32
        var mask: UInt32
        var name: String

        /// The file is gone (deleted or moved away): keepalived reads that as 0.
        var removed: Bool { mask & (UInt32(IN_DELETE) | UInt32(IN_MOVED_FROM)) != 0 }
        /// The file was written and closed, or moved in: read it again.
        var written: Bool { mask & (UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVED_TO)) != 0 }
        /// The kernel dropped events: every file must be read again.
        var overflow: Bool { mask & UInt32(IN_Q_OVERFLOW) != 0 }
    }

    static let mask = UInt32(IN_CLOSE_WRITE) | UInt32(IN_MOVE) | UInt32(IN_DELETE)

    private let fd: Int32
    private var channel: (any Channel)?

    init() throws {
        fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        if fd < 0 { throw IOError(errnoCode: errno, reason: "inotify_init1") }
    }

    /// Watches `directory`; the watch number its events carry.
    func add(_ directory: String) throws -> Int32 {
        let wd = inotify_add_watch(fd, directory, Self.mask)
        if wd < 0 { throw IOError(errnoCode: errno, reason: "inotify_add_watch \(directory)") }
        return wd
    }

    /// Reads the descriptor on `loop` from now on (NIO owns and closes it from here).
    func start(on loop: any EventLoop, onEvent: @escaping @Sendable (Event) -> Void) -> EventLoopFuture<Void> {
        NIOPipeBootstrap(group: loop)
            // A read shorter than one event with its name fails with EINVAL: never shrink.
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 4096))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Reader(onEvent: onEvent)) }
            }
            .takingOwnershipOfDescriptor(input: fd)
            .map { self.channel = $0 }
            .flatMapErrorThrowing { [fd] error in
                close(fd)   // still ours when NIO did not take it
                throw error
            }
    }

    /// Closes the descriptor: no event after this.
    func stop() -> EventLoopFuture<Void>? {
        channel?.close(promise: nil)
        return channel?.closeFuture
    }

    /// The events in one read: a read returns whole events (struct inotify_event, then `len`
    /// bytes of name padded with NULs).
    static func decode(_ bytes: [UInt8]) -> [Event] {
        var events: [Event] = []
        var at = 0
        let header = MemoryLayout<inotify_event>.size
        while at + header <= bytes.count {
            let (wd, mask, length) = bytes.withUnsafeBytes { raw in
                (raw.loadUnaligned(fromByteOffset: at, as: Int32.self), raw.loadUnaligned(fromByteOffset: at + 4, as: UInt32.self),
                 Int(raw.loadUnaligned(fromByteOffset: at + 12, as: UInt32.self)))
            }
            let nameEnd = min(at + header + length, bytes.count)
            let name = bytes[(at + header)..<nameEnd].prefix { $0 != 0 }
            events.append(Event(watch: wd, mask: mask, name: String(decoding: name, as: UTF8.self)))
            at = nameEnd
        }
        return events
    }

    private final class Reader: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        let onEvent: @Sendable (Event) -> Void
        init(onEvent: @escaping @Sendable (Event) -> Void) { self.onEvent = onEvent }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            for event in DirectoryWatch.decode(Array(buffer.readableBytesView)) { onEvent(event) }
        }
    }
}
