import FoundationEssentials
import Glibc

/// systemd's readiness protocol (sd_notify), without libsystemd: one datagram per state to
/// the unix socket named by NOTIFY_SOCKET (an abstract one when it starts with '@'). A
/// process not started by systemd in notify mode has no NOTIFY_SOCKET and sends nothing.
enum SystemdNotify {
    static var socketPath: String? { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 } }

    /// `READY=1`, `RELOADING=1\nMONOTONIC_USEC=…`, `STOPPING=1`, `WATCHDOG=1`, `STATUS=…`.
    @discardableResult
    static func send(_ state: String) -> Bool {
        guard let path = socketPath else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }  // abstract namespace
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count)
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent == message.count
    }

    /// `RELOADING=1` with the monotonic time systemd wants beside it (Type=notify-reload).
    static func reloading() {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        send("RELOADING=1\nMONOTONIC_USEC=\(Int(ts.tv_sec) * 1_000_000 + Int(ts.tv_nsec) / 1000)")
    }

    /// Half of WATCHDOG_USEC, when systemd asks for watchdog pings.
    static var watchdogInterval: Duration? {
        guard socketPath != nil, let text = ProcessInfo.processInfo.environment["WATCHDOG_USEC"], let usec = Int(text), usec > 0 else { return nil }
        return .microseconds(usec / 2)
    }
}
