import SwiftLBConfig

/// `ipmask(MASK4[,MASK6])` and the address `hdr_ip()` reads, as HAProxy's: an IPv4 address
/// keeps the bits of MASK4 (`24` or `255.255.255.0`), an IPv6 one those of MASK6 (`64` or
/// `ffff:ffff:ffff:ffff::`; without MASK6 an IPv6 address yields nothing); an IPv4-mapped IPv6
/// address (`::ffff:192.0.2.1`) is taken as its IPv4 address. Addresses are text, as every
/// sample value holding one.
struct IPMask: Sendable {
    private let v4: [UInt8]
    private let v6: [UInt8]?

    init(_ args: [String]) throws(SampleExpression.Failure) {
        guard (1...2).contains(args.count), let v4 = Self.mask(args[0], bytes: 4) else {
            throw SampleExpression.Failure(message: "'ipmask' expects MASK4[,MASK6]: bits (24) or a mask (255.255.255.0), and for IPv6 bits (64) or a mask (ffff:ffff::)")
        }
        self.v4 = v4
        if args.count == 2 {
            guard let v6 = Self.mask(args[1], bytes: 16) else {
                throw SampleExpression.Failure(message: "'ipmask': '\(args[1])' is no IPv6 mask (bits, or a mask such as ffff:ffff::)")
            }
            self.v6 = v6
        } else {
            v6 = nil
        }
    }

    /// `text` masked, nil when it is no address (or an IPv6 one without MASK6).
    func apply(_ text: String) -> String? {
        guard let address = Self.address(text) else { return nil }
        guard let mask = address.count == 4 ? v4 : v6 else { return nil }
        return StickRules.describe(zip(address, mask).map { $0 & $1 }, type: .ipv6)
    }

    /// The bytes of an address as HAProxy's address fetches read it: 4 for IPv4 (an IPv4-mapped
    /// IPv6 address included), 16 for IPv6.
    static func address(_ text: String) -> [UInt8]? {
        guard let bytes = IPNetwork.bytes(text) else { return nil }
        if bytes.count == 16, bytes.prefix(10).allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { return Array(bytes.suffix(4)) }
        return bytes
    }

    /// `hdr_ip()`: the address a header value holds, as text (nil: none).
    static func normalized(_ text: String) -> String? {
        address(text).map { StickRules.describe($0, type: .ipv6) }
    }

    /// A mask of `bytes` bytes: a prefix length or an address-shaped mask.
    private static func mask(_ text: String, bytes: Int) -> [UInt8]? {
        if let bits = Int(text) {
            guard (0...(bytes * 8)).contains(bits) else { return nil }
            return (0..<bytes).map { i in
                let left = bits - i * 8
                return left >= 8 ? 0xFF : left <= 0 ? 0 : UInt8(0xFF << (8 - left) & 0xFF)
            }
        }
        guard let mask = IPNetwork.bytes(text), mask.count == bytes else { return nil }
        return mask
    }
}
