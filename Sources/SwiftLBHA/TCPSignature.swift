#if canImport(Glibc)
import Glibc
#endif
import NIOCore

/// TCP-MD5 segment signatures (RFC 2385, Linux `TCP_MD5SIG`) on the peer link, keyed from the
/// shared heartbeat key. They are what keeps a third host from closing the link: with a key
/// set, the kernel drops every segment of the connection — RST and FIN included — that does
/// not carry a valid signature, so a forged reset never reaches SwiftLB, even from an
/// attacker who sees the sequence numbers on the LAN. (TCP-AO would be the modern choice;
/// kernels before 6.7 and most distribution kernels do not have it yet. BGP has relied on
/// TCP-MD5 against spoofed resets for decades.)
enum TCPSignature {
    /// `TCP_MD5SIG` from <linux/tcp.h>.
    static let option: Int32 = 14

    /// The segment key: an HMAC of a fixed label under the shared key (32 of the 80 bytes the
    /// kernel allows), so the heartbeat key itself never goes into the kernel.
    static func key(from shared: [UInt8]) -> [UInt8] {
        MAC.hmac(key: shared, Array("SwiftLB peer link TCP-MD5 v1".utf8))
    }

    /// `struct tcp_md5sig`: address, flags, prefix length, key length, ifindex, key[80].
    struct Setting: @unchecked Sendable {
        var address = sockaddr_storage()
        var flags: UInt8 = 0
        var prefixLength: UInt8 = 0
        var keyLength: UInt16 = 0
        var interfaceIndex: Int32 = 0
        var key: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0)

        init(peer: UInt32, key bytes: [UInt8]) {
            precondition(MemoryLayout<Setting>.size == 216 && bytes.count <= 80, "struct tcp_md5sig is 216 bytes, its key at most 80")
            withUnsafeMutableBytes(of: &address) { raw in
                var sin = sockaddr_in()
                sin.sin_family = sa_family_t(AF_INET)
                sin.sin_addr.s_addr = peer.bigEndian
                withUnsafeBytes(of: &sin) { raw.copyMemory(from: $0) }
            }
            keyLength = UInt16(bytes.count)
            withUnsafeMutableBytes(of: &key) { destination in bytes.withUnsafeBytes { destination.copyMemory(from: $0) } }
        }
    }

    /// Sets the key for segments to and from `peer` on the channel's socket (a listener passes
    /// it on to the connections it accepts). Call before connect or listen. Fails on a kernel
    /// without CONFIG_TCP_MD5SIG.
    static func apply(to channel: any Channel, peer: UInt32, key: [UInt8]) -> EventLoopFuture<Void> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        return provider.unsafeSetSocketOption(level: .init(rawValue: Int32(IPPROTO_TCP)), name: .init(rawValue: option),
                                              value: Setting(peer: peer, key: key))
    }
}
