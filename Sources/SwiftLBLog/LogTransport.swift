#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The socket or file descriptor one target is written through, and the messages waiting for
/// the end of the event loop iteration. Never blocks: a datagram socket is non-blocking and sent
/// to with `MSG_DONTWAIT`; a pipe is reopened non-blocking (its own open file description, so
/// the process's stdout keeps its flags); a socket on stdout gets `MSG_DONTWAIT`. What does not
/// fit is dropped and counted, as HAProxy drops (`dropped_logs`).
///
/// Datagram targets flush with one `sendmmsg(2)` for the whole batch; stream targets (stdout,
/// stderr, `fd@N`) with one `write(2)`.
final class LogTransport {
    enum Kind {
        /// A datagram socket of ours and the destination address.
        case datagram(destination: sockaddr_storage, length: socklen_t)
        /// A socket we were given (systemd's journal on stdout): `send` with MSG_DONTWAIT.
        case streamSocket
        /// A pipe reopened non-blocking, a regular file, or a terminal: `write`.
        case file
        /// Could not be opened: every message counts as failed.
        case unusable
    }

    let target: LogTarget
    private(set) var kind: Kind = .unusable
    private var fd: Int32 = -1
    private var ownsFD = false

    /// Messages (header, text, LF) back to back, and where each ends.
    private(set) var pending: [UInt8] = []
    private var ends: [Int] = []
    /// The first pending message is the rest of a line a partial write began: never dropped.
    private var firstIsContinuation = false

    init(target: LogTarget) {
        self.target = target
        pending.reserveCapacity(16 * 1024)
        open()
    }

    deinit {
        close()
        iov.deallocate()
    }

    func close() {
        if ownsFD && fd >= 0 { _ = Glibc.close(fd) }
        fd = -1
        kind = .unusable
    }

    var pendingCount: Int { ends.count }
    var pendingBytes: Int { pending.count }

    // MARK: opening

    private func open() {
        switch target.address {
        case .fd(let n):
            openDescriptor(n)
        case .unix(let path, let abstract):
            var a = sockaddr_un()
            a.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            let offset = abstract ? 1 : 0
            withUnsafeMutableBytes(of: &a.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i + offset] = b }
            }
            // An abstract name is exactly its bytes after the leading NUL; a path is NUL-terminated.
            let length = abstract ? MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)! + 1 + bytes.count : MemoryLayout<sockaddr_un>.size
            openDatagram(family: AF_UNIX, address: a, length: socklen_t(length))
        case .udp(let address):
            switch address {
            case .v4(let ip, let port):
                var a = sockaddr_in()
                a.sin_family = sa_family_t(AF_INET)
                a.sin_port = port.bigEndian
                a.sin_addr.s_addr = ip.bigEndian
                openDatagram(family: AF_INET, address: a, length: socklen_t(MemoryLayout<sockaddr_in>.size))
            case .v6(let hi, let lo, let port):
                var a = sockaddr_in6()
                a.sin6_family = sa_family_t(AF_INET6)
                a.sin6_port = port.bigEndian
                withUnsafeMutableBytes(of: &a.sin6_addr) {
                    $0.storeBytes(of: hi.bigEndian, toByteOffset: 0, as: UInt64.self)
                    $0.storeBytes(of: lo.bigEndian, toByteOffset: 8, as: UInt64.self)
                }
                openDatagram(family: AF_INET6, address: a, length: socklen_t(MemoryLayout<sockaddr_in6>.size))
            case .none, .unix:
                kind = .unusable
            }
        }
    }

    private func openDatagram<A>(family: Int32, address: A, length: socklen_t) {
        let s = socket(family, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { kind = .unusable; return }
        var storage = sockaddr_storage()
        withUnsafeMutableBytes(of: &storage) { dst in
            withUnsafeBytes(of: address) { dst.copyMemory(from: $0) }
        }
        fd = s
        ownsFD = true
        kind = .datagram(destination: storage, length: length)
    }

    private func openDescriptor(_ n: Int32) {
        var st = stat()
        guard fstat(n, &st) == 0 else { kind = .unusable; return }
        switch st.st_mode & S_IFMT {
        case S_IFSOCK:
            fd = n
            kind = .streamSocket
        case S_IFIFO:
            // A new open file description of the same pipe: O_NONBLOCK here leaves the
            // process's own descriptor (and whoever else writes to it) blocking.
            ignoreSIGPIPE()
            let reopened = Glibc.open("/proc/self/fd/\(n)", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if reopened >= 0 {
                fd = reopened
                ownsFD = true
            } else {
                fd = n
            }
            kind = .file
        default:
            fd = n
            kind = .file
        }
    }

    // MARK: queueing

    /// Appends one message; `header` is written by the caller through `append`.
    func beginMessage() -> Int { pending.count }

    func append(_ bytes: UnsafeRawBufferPointer) { pending.append(contentsOf: bytes) }

    /// Closes the message begun at `start`: truncates it to the target's `len` (HAProxy: header
    /// and text together at most `len` for a datagram, `len - 1` for a descriptor) and adds the LF.
    func endMessage(start: Int) {
        let limit: Int
        if case .datagram = kind { limit = target.length } else { limit = target.length - 1 }
        if pending.count - start > limit { pending.removeLast(pending.count - start - limit) }
        pending.append(UInt8(ascii: "\n"))
        ends.append(pending.count)
    }

    // MARK: flushing

    struct Outcome {
        var sent = 0
        var dropped = 0
        var failed = 0
    }

    /// Scratch space for one flush's iovecs and mmsghdrs, kept between flushes.
    private var iov = UnsafeMutablePointer<iovec>.allocate(capacity: 64)
    private var iovCapacity = 64
    private let vector = MultipleMessages()

    /// Sends everything queued; returns what became of it. Never blocks.
    func flush() -> Outcome {
        guard !ends.isEmpty else { return Outcome() }
        switch kind {
        case .datagram(let destination, let length):
            let outcome = sendDatagrams(destination, length)
            clear()
            return outcome
        case .streamSocket, .file:
            return writeStream()
        case .unusable:
            let outcome = Outcome(failed: ends.count)
            clear()
            return outcome
        }
    }

    private func clear() {
        pending.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        firstIsContinuation = false
    }

    private func sendDatagrams(_ destination: sockaddr_storage, _ length: socklen_t) -> Outcome {
        var outcome = Outcome()
        var destination = destination
        let count = ends.count
        if iovCapacity < count {
            iov.deallocate()
            iovCapacity = max(count, iovCapacity * 2)
            iov = .allocate(capacity: iovCapacity)
        }
        pending.withUnsafeMutableBytes { raw in
            var start = 0
            for i in 0..<count {
                iov[i] = iovec(iov_base: raw.baseAddress! + start, iov_len: ends[i] - start)
                start = ends[i]
            }
            withUnsafeMutablePointer(to: &destination) { dest in
                var next = 0
                while next < count {
                    let n = vector.send(fd, iov + next, count - next, dest, length)
                    if n > 0 {
                        outcome.sent += n
                        next += n
                        continue
                    }
                    let error = errno
                    if error == EINTR { continue }
                    if error == EAGAIN || error == EWOULDBLOCK || error == ENOBUFS {
                        outcome.dropped += count - next  // the socket is full: drop the rest
                        break
                    }
                    outcome.failed += 1  // this one cannot go (no listener): try the next
                    next += 1
                }
            }
        }
        return outcome
    }

    /// One write of the whole batch. A partial write that cuts a line keeps that line's rest
    /// for the next flush (so no half line is ever glued to another); the lines after it are
    /// dropped.
    private func writeStream() -> Outcome {
        var written = 0
        var hardError = false
        let total = pending.count
        pending.withUnsafeBytes { raw in
            while written < total {
                let n: Int
                if case .streamSocket = kind {
                    n = send(fd, raw.baseAddress! + written, total - written, Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL))
                } else {
                    n = write(fd, raw.baseAddress! + written, total - written)
                }
                if n > 0 { written += n; continue }
                if n < 0 && errno == EINTR { continue }
                hardError = !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                break
            }
        }
        let complete = ends.firstIndex(where: { $0 > written }) ?? ends.count
        var outcome = Outcome(sent: complete)
        let lost = ends.count - complete
        let lineStart = complete == 0 ? 0 : ends[complete - 1]
        // A line already begun on the descriptor (now, or by an earlier flush) must be finished.
        let begun = written > lineStart || (complete == 0 && firstIsContinuation)
        if lost > 0 && !hardError && begun {
            let rest = Array(pending[written..<ends[complete]])
            clear()
            pending.append(contentsOf: rest)
            ends.append(rest.count)
            firstIsContinuation = true
            outcome.dropped = lost - 1
            return outcome
        }
        if hardError { outcome.failed = lost } else { outcome.dropped = lost }
        clear()
        return outcome
    }

    private func ignoreSIGPIPE() {
        var current = sigaction()
        sigaction(SIGPIPE, nil, &current)
        if current.__sigaction_handler.sa_handler == nil {  // SIG_DFL: a closed pipe would kill us
            signal(SIGPIPE, SIG_IGN)
        }
    }
}

/// `sendmmsg(2)`, which Glibc's Swift module does not export (it is a GNU extension): looked up
/// once by name, with `struct mmsghdr` laid out by hand (a `msghdr` then an `unsigned int`,
/// padded to the `msghdr` alignment). Falls back to one `sendmsg` per call without it.
final class MultipleMessages {
    typealias Function = @convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32) -> Int32

    static let function: Function? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sendmmsg") else { return nil }
        return unsafeBitCast(symbol, to: Function.self)
    }()

    static let stride: Int = {
        let size = MemoryLayout<msghdr>.size + MemoryLayout<UInt32>.size
        let align = MemoryLayout<msghdr>.alignment
        return (size + align - 1) / align * align
    }()

    /// The kernel's UIO_MAXIOV: the most one call sends.
    static let batch = 1024

    private let headers = UnsafeMutableRawPointer.allocate(byteCount: MultipleMessages.stride * MultipleMessages.batch,
                                                           alignment: MemoryLayout<msghdr>.alignment)

    deinit { headers.deallocate() }

    /// Sends up to `count` datagrams; returns how many went, or -1 with errno when the first
    /// one did not.
    func send(_ fd: Int32, _ iov: UnsafeMutablePointer<iovec>, _ count: Int, _ destination: UnsafeMutablePointer<sockaddr_storage>, _ length: socklen_t) -> Int {
        let n = min(count, Self.batch)
        let flags = Int32(MSG_DONTWAIT) | Int32(MSG_NOSIGNAL)
        guard let sendmmsg = Self.function else {
            var header = msghdr(msg_name: destination, msg_namelen: length, msg_iov: iov, msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
            return sendmsg(fd, &header, flags) < 0 ? -1 : 1
        }
        for i in 0..<n {
            let header = msghdr(msg_name: destination, msg_namelen: length, msg_iov: iov + i, msg_iovlen: 1, msg_control: nil, msg_controllen: 0, msg_flags: 0)
            headers.storeBytes(of: header, toByteOffset: i * Self.stride, as: msghdr.self)
            headers.storeBytes(of: UInt32(0), toByteOffset: i * Self.stride + MemoryLayout<msghdr>.size, as: UInt32.self)
        }
        return Int(sendmmsg(fd, headers, UInt32(n), flags))
    }
}
