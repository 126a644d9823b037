import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import SwiftLBConfig

/// Where a `server` line dials: an IP address and port, a unix socket file, or a name in
/// Linux's abstract namespace. NIO takes an abstract name as a path whose first byte is NUL;
/// the address length it passes is the whole `sockaddr_un`, so the name is padded with NULs
/// to 108 bytes — which is exactly what HAProxy 2.6 does for `abns@`, so both reach the same
/// sockets (and a peer binding the short form, as socat's ABSTRACT-LISTEN does, is not one).
extension Server {
    func socketAddress() throws -> SocketAddress {
        guard let unixPath else { return try SocketAddress.makeAddressResolvingHost(host, port: port) }
        return try SocketAddress(unixDomainSocketPath: unixAbstract ? "\0" + unixPath : unixPath)
    }
}

extension SocketAddress {
    /// Whether TCP-only socket options (TCP_NODELAY, SO_KEEPALIVE probes) apply.
    var isUnixDomain: Bool {
        if case .unixDomainSocket = self { return true }
        return false
    }

    /// Equality that tells abstract unix names apart: NIO's `==` compares `sun_path` as C
    /// strings, so every abstract name (leading NUL) equals every other.
    func isSameSocket(as other: SocketAddress) -> Bool {
        guard isUnixDomain, other.isUnixDomain else { return self == other }
        return withSockAddr { a, aLength in
            other.withSockAddr { b, bLength in aLength == bLength && memcmp(a, b, aLength) == 0 }
        }
    }

}

/// No `init-addr` method gave a server an address.
struct RuntimeAddressError: Error, CustomStringConvertible {
    let description: String
}
