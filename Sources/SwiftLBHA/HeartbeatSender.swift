#if canImport(Glibc)
import Glibc
#endif

/// Sends heartbeats on a plain non-blocking UDP socket bound to the instance's source address
/// (`unicast_src_ip`, `mcast_src_ip` or the interface's first address). The instances with the
/// same source and mode share one.
///
/// Not through the NIO datagram channel that receives them: NIO closes a datagram channel on
/// a send error such as ENETUNREACH (the link went down), and a master whose link comes back
/// must resume heartbeats at once to settle the split brain. Here an error is just returned
/// (and counted by the caller); the next interval tries again.
///
/// For multicast advertisements (`multicastInterface`): sent out of that interface
/// (IP_MULTICAST_IF), with TTL 255 as VRRP does (RFC 5798 §5.1.1.3: a receiver can tell the
/// packet was not routed), and not looped back to our own receiving socket.
final class HeartbeatSender {
    private let fd: Int32

    /// `unicastTTL`: keepalived's `unicast_ttl`, the TTL of unicast heartbeats (nil: 255, as
    /// keepalived's default VRRP_IP_TTL; the kernel's own default would be 64).
    init(source: String, multicastInterface: String? = nil, unicastTTL: Int? = nil) throws(VRRPGroup.StartFailure) {
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
        if multicastInterface == nil {
            var ttl = Int32(unicastTTL ?? 255)
            guard setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &ttl, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw .init(description: "cannot set the TTL \(ttl) of heartbeats from \(source): \(reason)")
            }
        }
        if let interface = multicastInterface {
            var request = ip_mreqn()
            request.imr_address.s_addr = (IPv4.number(source) ?? 0).bigEndian
            request.imr_ifindex = Int32(if_nametoindex(interface))
            var ttl: Int32 = 255
            var loop: Int32 = 0
            let failed = [
                ("IP_MULTICAST_IF", setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &request, socklen_t(MemoryLayout<ip_mreqn>.size))),
                ("IP_MULTICAST_TTL", setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &ttl, socklen_t(MemoryLayout<Int32>.size))),
                ("IP_MULTICAST_LOOP", setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, &loop, socklen_t(MemoryLayout<Int32>.size))),
            ].first { $0.1 != 0 }
            if let (option, _) = failed {
                let reason = String(cString: strerror(errno))
                close(fd)
                throw .init(description: "cannot send multicast heartbeats on \(interface) from \(source): \(option): \(reason)")
            }
        }
    }

    /// nil when sent, else the reason.
    func send(_ bytes: [UInt8], to destination: String, port: Int) -> String? {
        var address = Self.socketAddress(destination, port: port)
        let sent = bytes.withUnsafeBytes { b in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, b.baseAddress, b.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
        return sent == bytes.count ? nil : String(cString: strerror(errno))
    }

    static func socketAddress(_ ip: String, port: Int) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = in_port_t(UInt16(port).bigEndian)
        a.sin_addr.s_addr = (IPv4.number(ip) ?? 0).bigEndian
        return a
    }

    deinit { close(fd) }
}
