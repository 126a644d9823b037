#if canImport(Glibc)
import Glibc
#endif

/// Sends heartbeats on a plain non-blocking UDP socket bound to `unicast_src_ip`.
///
/// Not through the NIO datagram channel that receives them: NIO closes a datagram channel on
/// a send error such as ENETUNREACH (the link went down), and a master whose link comes back
/// must resume heartbeats at once to settle the split brain. Here an error is just returned
/// (and counted by the caller); the next interval tries again.
final class HeartbeatSender {
    private let fd: Int32

    init(source: String) throws(VRRPService.StartFailure) {
        fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .init(description: "cannot open a UDP socket: \(String(cString: strerror(errno)))") }
        var address = Self.socketAddress(source, port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw .init(description: "cannot send heartbeats from \(source): \(reason) (is unicast_src_ip an address of this host?)")
        }
    }

    /// nil when sent, else the reason.
    func send(_ bytes: [UInt8], to peer: String, port: Int) -> String? {
        var address = Self.socketAddress(peer, port: port)
        let sent = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        return sent == bytes.count ? nil : String(cString: strerror(errno))
    }

    private static func socketAddress(_ ip: String, port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = (IPv4.number(ip) ?? 0).bigEndian
        return a
    }

    deinit { close(fd) }
}
