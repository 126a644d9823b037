#if canImport(Glibc)
import Glibc
#endif

/// Runs one async-signal-safe operation on every thread of the process.
///
/// Linux keeps capabilities and the keep-capabilities flag per thread, while glibc's
/// setuid() changes the ids of every thread. To keep CAP_NET_ADMIN/CAP_NET_RAW in the
/// threads that add the VIP (whichever they are) across the uid change, every thread must
/// set PR_SET_KEEPCAPS before it and capset() after it — the way glibc itself runs setxid on
/// all threads: a signal to each thread (tgkill), whose handler does the system call and
/// reports through a pipe. The signal is SIGPROF, for a moment: libdispatch's threads (and
/// the NIO threads they start) block every asynchronous signal but that one, which they
/// leave open for profilers; nothing in swiftlb profiles, and the previous handler is put
/// back. A thread that does not answer fails the drop.
enum ThreadBroadcast {
    enum Operation: Int32 {
        /// prctl(PR_SET_KEEPCAPS, 1)
        case keepCapabilities = 1
        /// capset(the kept set), then prctl(PR_SET_KEEPCAPS, 0). A thread that already lost
        /// its permitted set (created during the change) is left with none.
        case applyCapabilities = 2
    }

    // Read by the handler; written only while no broadcast runs.
    nonisolated(unsafe) private static var operation: Int32 = 0
    nonisolated(unsafe) private static var replyFD: Int32 = -1
    nonisolated(unsafe) private static let header = UnsafeMutablePointer<UInt32>.allocate(capacity: 2)
    nonisolated(unsafe) private static let data = UnsafeMutablePointer<UInt32>.allocate(capacity: 6)
    nonisolated(unsafe) private static let empty = UnsafeMutablePointer<UInt32>.allocate(capacity: 6)

    /// Sets the capability set `applyCapabilities` installs: `mask` as effective and
    /// permitted, nothing inheritable.
    static func setCapabilities(_ mask: UInt64) {
        header[0] = 0x2008_0522  // _LINUX_CAPABILITY_VERSION_3
        header[1] = 0  // this thread
        for (i, half) in [UInt32(truncatingIfNeeded: mask), UInt32(truncatingIfNeeded: mask >> 32)].enumerated() {
            data[i * 3] = half; data[i * 3 + 1] = half; data[i * 3 + 2] = 0
        }
        for i in 0..<6 { empty[i] = 0 }
    }

    private static let handler: @convention(c) (Int32) -> Void = { _ in
        let saved = errno
        var result: UInt8 = 0
        switch ThreadBroadcast.operation {
        case Operation.keepCapabilities.rawValue:
            if LinuxCalls.prctl(LinuxCalls.PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0 { result = UInt8(truncatingIfNeeded: errno) }
        case Operation.applyCapabilities.rawValue:
            if LinuxCalls.capset(UnsafeMutableRawPointer(ThreadBroadcast.header), UnsafeMutableRawPointer(ThreadBroadcast.data)) != 0 {
                if errno != EPERM || LinuxCalls.capset(UnsafeMutableRawPointer(ThreadBroadcast.header), UnsafeMutableRawPointer(ThreadBroadcast.empty)) != 0 {
                    result = UInt8(truncatingIfNeeded: errno)
                }
            }
            _ = LinuxCalls.prctl(LinuxCalls.PR_SET_KEEPCAPS, 0, 0, 0, 0)
        default:
            result = 255
        }
        _ = write(ThreadBroadcast.replyFD, &result, 1)
        errno = saved
    }

    /// Runs `operation` on every thread; returns a description of each failure (empty when
    /// every thread answered 0 within two seconds).
    static func run(_ op: Operation, threads: [Int32]) -> [String] {
        guard !threads.isEmpty else { return ["no thread listed in /proc/self/task"] }
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return ["pipe: \(String(cString: strerror(errno)))"] }
        defer { close(fds[0]); close(fds[1]) }
        operation = op.rawValue
        replyFD = fds[1]
        // Touch what the handler reads so no lazy initialisation happens inside it.
        _ = (LinuxCalls.prctl, LinuxCalls.capset, header, data, empty)

        let signalNumber = SIGPROF
        var action = sigaction()
        action.__sigaction_handler.sa_handler = handler
        action.sa_flags = SA_RESTART
        sigemptyset(&action.sa_mask)
        var previous = sigaction()
        guard sigaction(signalNumber, &action, &previous) == 0 else { return ["sigaction: \(String(cString: strerror(errno)))"] }
        defer { sigaction(signalNumber, &previous, nil) }

        var failures: [String] = []
        var sent = 0
        for tid in threads {
            if LinuxCalls.tgkill(getpid(), tid, signalNumber) == 0 { sent += 1 } else if errno != ESRCH {
                failures.append("thread \(tid): tgkill: \(String(cString: strerror(errno)))")
            }
        }
        var answered = 0
        var pollFD = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
        while answered < sent {
            guard poll(&pollFD, 1, 2000) == 1 else {
                failures.append("\(sent - answered) of \(sent) threads did not answer within 2s (a thread blocking SIGPROF?)")
                break
            }
            var byte: UInt8 = 0
            guard read(fds[0], &byte, 1) == 1 else { continue }
            answered += 1
            if byte != 0 { failures.append("a thread failed: \(String(cString: strerror(Int32(byte))))") }
        }
        return failures
    }
}
