#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOCore

/// One end of a connection as a log line names it (`%ci:%cp`, `%fi:%fp`, `%bi:%bp`, `%si:%sp`):
/// a plain value, so a record holds four of them without allocating, and the renderer writes
/// them straight into the line (HAProxy's `lf_ip`/`lf_port`) without making a String first.
public enum LogAddress: Sendable, Equatable {
    /// Not known (never connected): rendered as `-` like HAProxy's empty field.
    case none
    /// IPv4: the address in network byte order as four bytes, and the port.
    case v4(UInt32, port: UInt16)
    /// IPv6: the 16 address bytes (network order) as two big-endian halves, and the port.
    case v6(UInt64, UInt64, port: UInt16)
    /// A unix socket: HAProxy logs the word `unix` and, as the port, the listener's id.
    case unix

    /// `a.b.c.d` and a port, for tests and configuration.
    public static func ipv4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, port: UInt16) -> LogAddress {
        .v4(UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d), port: port)
    }

    /// The address NIO reports for a channel end.
    public init(_ address: SocketAddress?) {
        switch address {
        case .v4(let a)?:
            self = .v4(UInt32(bigEndian: a.address.sin_addr.s_addr), port: UInt16(bigEndian: a.address.sin_port))
        case .v6(let a)?:
            var storage = a.address.sin6_addr
            let (hi, lo) = withUnsafeBytes(of: &storage) { raw -> (UInt64, UInt64) in
                (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            self = .v6(hi, lo, port: UInt16(bigEndian: a.address.sin6_port))
        case .unixDomainSocket?:
            self = .unix
        case nil:
            self = .none
        }
    }

    /// Parses `1.2.3.4` or an IPv6 literal (tests, and reading HAProxy's lines back).
    public init?(ip: String, port: UInt16) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            self = .v4(UInt32(bigEndian: v4.s_addr), port: port)
        } else if inet_pton(AF_INET6, ip, &v6) == 1 {
            let (hi, lo) = withUnsafeBytes(of: &v6) { raw -> (UInt64, UInt64) in
                (UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
            }
            self = .v6(hi, lo, port: port)
        } else {
            return nil
        }
    }

    public var port: UInt16? {
        switch self {
        case .v4(_, let port), .v6(_, _, let port): return port
        case .none, .unix: return nil
        }
    }
}

extension LogBuffer {
    /// The address as HAProxy's `addr_to_str` writes it (inet_ntop's text for IPv6, `unix`
    /// for a unix socket); nothing for `.none` (the caller writes the empty-field mark).
    mutating func appendIP(_ address: LogAddress) {
        switch address {
        case .v4(let a, _):
            appendDecimal(UInt64(a >> 24)); append(UInt8(ascii: "."))
            appendDecimal(UInt64(a >> 16 & 0xff)); append(UInt8(ascii: "."))
            appendDecimal(UInt64(a >> 8 & 0xff)); append(UInt8(ascii: "."))
            appendDecimal(UInt64(a & 0xff))
        case .v6(let hi, let lo, _):
            var raw = in6_addr()
            withUnsafeMutableBytes(of: &raw) {
                $0.storeBytes(of: hi.bigEndian, toByteOffset: 0, as: UInt64.self)
                $0.storeBytes(of: lo.bigEndian, toByteOffset: 8, as: UInt64.self)
            }
            withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(INET6_ADDRSTRLEN)) { text in
                guard inet_ntop(AF_INET6, &raw, text.baseAddress, socklen_t(INET6_ADDRSTRLEN)) != nil else { return }
                var i = 0
                while text[i] != 0 { append(UInt8(bitPattern: text[i])); i += 1 }
            }
        case .unix:
            append(contentsOf: "unix")
        case .none:
            break
        }
    }

    /// The address bytes in uppercase hex, most significant first (`%{+X}ci`).
    mutating func appendIPHex(_ address: LogAddress) {
        switch address {
        case .v4(let a, _): appendHex(UInt64(a), digits: 8)
        case .v6(let hi, let lo, _): appendHex(hi, digits: 16); appendHex(lo, digits: 16)
        case .none, .unix: break
        }
    }
}
