#if canImport(Glibc)
import Glibc
#endif

/// IPv4 helpers for the heartbeat: dotted quads to the numbers the elector compares, and the
/// address heartbeats leave from when `unicast_src_ip` is not written.
enum IPv4 {
    static func number(_ text: String) -> UInt32? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false).map { UInt8($0) }
        guard parts.count == 4, !parts.contains(nil) else { return nil }
        return parts.reduce(0) { $0 << 8 | UInt32($1!) }
    }

    static func text(_ n: UInt32) -> String {
        "\(n >> 24).\(n >> 16 & 0xFF).\(n >> 8 & 0xFF).\(n & 0xFF)"
    }

    static func bytes(_ text: String) -> [UInt8]? {
        number(text).map { n in [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] }
    }

    /// The first IPv4 address of `interface` that is not one of `excluding` (the VIPs: a
    /// restarted master may still carry one).
    static func firstAddress(of interface: String, excluding: Set<String>) -> String? {
        InterfaceAddresses.first(of: interface, family: AF_INET) { addr in
            let text = IPv4.text(UInt32(bigEndian: UnsafeRawPointer(addr).load(as: sockaddr_in.self).sin_addr.s_addr))
            return excluding.contains(text) ? nil : text
        }
    }
}

/// Walks getifaddrs (netlink underneath, so it follows the calling thread's network namespace,
/// unlike /sys).
enum InterfaceAddresses {
    /// Whether each interface of this namespace is administratively up and has a carrier
    /// (IFF_UP and IFF_RUNNING), in one walk: an instance reads its own interface and every
    /// `track_interface` from one call per advert interval. An interface that does not exist
    /// is absent (the caller counts it as down).
    static func linkStates() -> [String: Bool] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let head = list else { return [:] }
        defer { freeifaddrs(list) }
        var states: [String: Bool] = [:]
        var node: UnsafeMutablePointer<ifaddrs>? = head
        let wanted = UInt32(IFF_UP) | UInt32(IFF_RUNNING)
        while let entry = node {
            node = entry.pointee.ifa_next
            guard let name = entry.pointee.ifa_name else { continue }
            states[String(cString: name)] = entry.pointee.ifa_flags & wanted == wanted
        }
        return states
    }

    /// The first non-nil `pick` over the addresses of `family` on `interface`.
    static func first<T>(of interface: String, family: Int32, _ pick: (UnsafeMutablePointer<sockaddr>) -> T?) -> T? {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let head = list else { return nil }
        defer { freeifaddrs(list) }
        var node: UnsafeMutablePointer<ifaddrs>? = head
        while let entry = node {
            node = entry.pointee.ifa_next
            guard let name = entry.pointee.ifa_name, String(cString: name) == interface,
                  let addr = entry.pointee.ifa_addr, Int32(addr.pointee.sa_family) == family else { continue }
            if let found = pick(addr) { return found }
        }
        return nil
    }
}
