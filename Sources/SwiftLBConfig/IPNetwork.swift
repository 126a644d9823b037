import Glibc

/// An address or network as ACLs write them (`10.0.0.0/8`, `192.0.2.1`, `::1`,
/// `2001:db8::/32`), matched on the bytes of the address.
public struct IPNetwork: Hashable, Sendable {
    public let address: [UInt8]
    public let prefix: Int

    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let bytes = IPNetwork.bytes(String(first)) else { return nil }
        address = bytes
        if parts.count == 2 {
            if let p = Int(parts[1]), (0...(bytes.count * 8)).contains(p) {
                prefix = p
            } else if bytes.count == 4, let mask = IPNetwork.bytes(String(parts[1])), mask.count == 4 {
                // `10.0.0.0/255.0.0.0`
                prefix = mask.reduce(0) { $0 + $1.nonzeroBitCount }
            } else {
                return nil
            }
        } else {
            prefix = bytes.count * 8
        }
    }

    /// An address's bytes (4 or 16); an IPv4-mapped IPv6 address is its IPv4 address.
    public static func bytes(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        let b = withUnsafeBytes(of: &v6) { Array($0) }
        if b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xFF && b[11] == 0xFF { return Array(b[12...]) }
        return b
    }

    public func contains(_ candidate: [UInt8]) -> Bool {
        guard candidate.count == address.count else { return false }
        var bits = prefix
        for i in 0..<address.count where bits > 0 {
            let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
            if candidate[i] & mask != address[i] & mask { return false }
            bits -= 8
        }
        return true
    }
}

/// Many networks (an ACL's `src -f blocklist`, thousands of lines) matched in a few hash
/// lookups: for each prefix length present, the set of network addresses masked to it; an
/// address is looked up once per distinct length (at most 33 for IPv4, 129 for IPv6), never
/// once per network.
public struct IPNetworkSet: Sendable {
    private var byLength: [Int: Set<[UInt8]>] = [:]
    /// The prefix lengths present, longest first, per address size (4 or 16 bytes).
    private var lengths: [Int: [Int]] = [:]
    public private(set) var count = 0

    public init(_ networks: [IPNetwork]) {
        for network in networks {
            let key = network.address.count * 1000 + network.prefix
            byLength[key, default: []].insert(Self.masked(network.address, network.prefix))
            count += 1
        }
        for key in byLength.keys { lengths[key / 1000, default: []].append(key % 1000) }
        for size in lengths.keys { lengths[size]!.sort(by: >) }
    }

    public func contains(_ address: [UInt8]) -> Bool {
        guard let candidates = lengths[address.count] else { return false }
        for prefix in candidates where byLength[address.count * 1000 + prefix]?.contains(Self.masked(address, prefix)) == true {
            return true
        }
        return false
    }

    static func masked(_ address: [UInt8], _ prefix: Int) -> [UInt8] {
        var out = address
        var bits = prefix
        for i in out.indices {
            if bits >= 8 { bits -= 8; continue }
            out[i] &= bits <= 0 ? 0 : ~(0xFF >> UInt8(bits))
            bits = 0
        }
        return out
    }
}
