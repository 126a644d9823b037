import NIOCore
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

}
