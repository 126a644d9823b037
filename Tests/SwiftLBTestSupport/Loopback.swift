import Glibc

/// 127.0.0.1:`port` as a `sockaddr_in` (0: any port), for the tests that bind or connect raw
/// sockets on loopback.
public func loopback(_ port: Int) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = UInt16(port).bigEndian
    return address
}
