#if canImport(Glibc)
import Glibc
#endif

/// Announces the VIP with gratuitous ARP (an ARP request for the VIP from the VIP, to the
/// Ethernet broadcast address) on an AF_PACKET socket, so switches and neighbours learn the
/// new owner's MAC at once instead of waiting for their caches to expire. Needs CAP_NET_RAW.
public enum GratuitousARP {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    static let ethernetTypeARP: UInt16 = 0x0806

    /// Sends `count` announcements of `address` (IPv4, 4 bytes) on `interface`.
    public static func announce(_ address: [UInt8], interface: String, count: Int = 1) throws(Failure) {
        precondition(address.count == 4)
        let index = if_nametoindex(interface)
        guard index != 0 else { throw Failure(description: "no such interface '\(interface)'") }
        guard let mac = hardwareAddress(of: interface) else { throw Failure(description: "'\(interface)' has no Ethernet address") }
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(ethernetTypeARP.bigEndian))
        guard fd >= 0 else {
            let reason = errno == EPERM ? "SwiftLB needs CAP_NET_RAW to send gratuitous ARP" : String(cString: strerror(errno))
            throw Failure(description: "cannot open a packet socket: \(reason)")
        }
        defer { close(fd) }
        let frame = self.frame(mac: mac, address: address)
        var destination = linkAddress(index: Int32(index), mac: [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF])
        for _ in 0..<count {
            let sent = frame.withUnsafeBytes { f in
                destination.withUnsafeMutableBytes { d in
                    sendto(fd, f.baseAddress, f.count, 0, d.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(d.count))
                }
            }
            guard sent == frame.count else { throw Failure(description: "sending gratuitous ARP on \(interface) failed: \(String(cString: strerror(errno)))") }
        }
    }

    /// Opens (and closes) the packet socket once, so a missing CAP_NET_RAW is reported at start
    /// rather than at the first takeover.
    public static func checkPermission() throws(Failure) {
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(ethernetTypeARP.bigEndian))
        guard fd >= 0 else {
            let reason = errno == EPERM ? "SwiftLB needs CAP_NET_RAW to send gratuitous ARP (run as root or grant the capability)" : String(cString: strerror(errno))
            throw Failure(description: "cannot open a packet socket: \(reason)")
        }
        close(fd)
    }

    /// Ethernet broadcast + ARP request, sender and target protocol address both the VIP.
    static func frame(mac: [UInt8], address: [UInt8]) -> [UInt8] {
        var f: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF] + mac + [0x08, 0x06]
        f += [0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01]   // Ethernet, IPv4, lengths, request
        f += mac + address                                 // sender
        f += [0, 0, 0, 0, 0, 0] + address                 // target
        return f
    }

    /// struct sockaddr_ll: family, protocol (network order), ifindex, hatype, pkttype, halen, addr[8].
    static func linkAddress(index: Int32, mac: [UInt8]) -> [UInt8] {
        var a = [UInt8](repeating: 0, count: 20)
        a[0] = UInt8(AF_PACKET & 0xFF); a[1] = UInt8(AF_PACKET >> 8)
        a[2] = UInt8(ethernetTypeARP >> 8); a[3] = UInt8(ethernetTypeARP & 0xFF)
        withUnsafeBytes(of: index) { for (i, b) in $0.enumerated() { a[4 + i] = b } }
        a[11] = 6
        for (i, b) in mac.prefix(8).enumerated() { a[12 + i] = b }
        return a
    }

    /// The interface's MAC, from getifaddrs.
    static func hardwareAddress(of interface: String) -> [UInt8]? {
        InterfaceAddresses.first(of: interface, family: AF_PACKET) { addr in
            let raw = UnsafeRawPointer(addr)
            guard raw.load(fromByteOffset: 11, as: UInt8.self) == 6 else { return nil }
            return (0..<6).map { raw.load(fromByteOffset: 12 + $0, as: UInt8.self) }
        }
    }
}
