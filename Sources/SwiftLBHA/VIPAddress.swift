#if canImport(Glibc)
import Glibc
#endif

/// Adds and removes the virtual IP on an interface through rtnetlink (RTM_NEWADDR /
/// RTM_DELADDR on a NETLINK_ROUTE socket), the way `ip addr add|del` does — without running
/// `ip`. Both are idempotent: adding an address that is there, or removing one that is not,
/// succeeds. Needs CAP_NET_ADMIN; without it the error says so.
public enum VIPAddress {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// `cidr`: "192.168.122.10/24"; `interface`: "eth0".
    public static func add(_ cidr: String, interface: String) throws(Failure) {
        try change(cidr, interface: interface, add: true)
    }

    public static func remove(_ cidr: String, interface: String) throws(Failure) {
        try change(cidr, interface: interface, add: false)
    }

    /// Parses "A.B.C.D/N" into network-order bytes and a prefix length.
    static func parse(_ cidr: String) -> ([UInt8], UInt8)? {
        let parts = cidr.split(separator: "/")
        guard parts.count == 2, let prefix = UInt8(parts[1]), prefix <= 32, let octets = IPv4.bytes(String(parts[0])) else { return nil }
        return (octets, prefix)
    }

    private static func change(_ cidr: String, interface: String, add: Bool) throws(Failure) {
        guard let (address, prefix) = parse(cidr) else { throw Failure(description: "'\(cidr)' is not an IPv4 address with a prefix, e.g. 192.168.122.10/24") }
        let index = if_nametoindex(interface)
        guard index != 0 else { throw Failure(description: "no such interface '\(interface)'") }

        let fd = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0 /* NETLINK_ROUTE */)
        guard fd >= 0 else { throw Failure(description: "cannot open a netlink socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }

        // nlmsghdr (16) + ifaddrmsg (8) + IFA_LOCAL (8) + IFA_ADDRESS (8)
        var message: [UInt8] = []
        func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { message += $0 } }
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { message += $0 } }
        let RTM_NEWADDR: UInt16 = 20, RTM_DELADDR: UInt16 = 21
        let NLM_F_REQUEST: UInt16 = 0x1, NLM_F_ACK: UInt16 = 0x4, NLM_F_CREATE: UInt16 = 0x400, NLM_F_REPLACE: UInt16 = 0x100
        u32(40)
        u16(add ? RTM_NEWADDR : RTM_DELADDR)
        u16(NLM_F_REQUEST | NLM_F_ACK | (add ? NLM_F_CREATE | NLM_F_REPLACE : 0))
        u32(1)  // sequence
        u32(0)  // port id: the kernel fills it in
        message += [UInt8(AF_INET), prefix, 0, 0 /* RT_SCOPE_UNIVERSE */]
        u32(index)
        u16(8); u16(2 /* IFA_LOCAL */); message += address
        u16(8); u16(1 /* IFA_ADDRESS */); message += address

        // sockaddr_nl towards the kernel: family, pad, pid 0, groups 0.
        var kernel = [UInt8](repeating: 0, count: 12)
        kernel[0] = UInt8(AF_NETLINK & 0xFF)
        kernel[1] = UInt8(AF_NETLINK >> 8)
        let sent = message.withUnsafeBytes { m in
            kernel.withUnsafeBytes { k in
                sendto(fd, m.baseAddress, m.count, 0, k.baseAddress!.assumingMemoryBound(to: sockaddr.self), 12)
            }
        }
        guard sent == message.count else { throw Failure(description: "netlink send failed: \(String(cString: strerror(errno)))") }

        // The acknowledgement: NLMSG_ERROR (2) carrying errno (0 = done), negated.
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var reply = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &reply, reply.count, 0)
        guard n >= 20 else { throw Failure(description: "no answer from the kernel: \(String(cString: strerror(errno)))") }
        let type = UInt16(reply[4]) | UInt16(reply[5]) << 8
        guard type == 2 else { return }
        let code = Int32(bitPattern: UInt32(reply[16]) | UInt32(reply[17]) << 8 | UInt32(reply[18]) << 16 | UInt32(reply[19]) << 24)
        switch -code {
        case 0: return
        case EEXIST where add: return
        case EADDRNOTAVAIL where !add: return
        case EPERM, EACCES:
            throw Failure(description: "not permitted to \(add ? "add" : "remove") \(cidr) on \(interface): SwiftLB needs CAP_NET_ADMIN (run as root or grant the capability)")
        default:
            throw Failure(description: "the kernel refused to \(add ? "add" : "remove") \(cidr) on \(interface): \(String(cString: strerror(-code)))")
        }
    }
}
