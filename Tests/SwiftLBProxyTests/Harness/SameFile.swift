import Foundation

/// Runs one configuration text in HAProxy 2.6 (`haproxy: true`) or in SwiftLB, for tests that
/// compare the two on the same file; waits until `host:port` accepts connections. The caller
/// stops the process.
func startOnSameFile(_ config: String, haproxy: Bool, port: Int, host: String = "127.0.0.1", in dir: TempDirectory) throws -> ChildProcess {
    let name = haproxy ? "haproxy" : "swiftlb"
    let path = try dir.write("\(name)-\(port).cfg", config)
    let child = haproxy ? try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", path], logDirectory: dir, name: name)
        : try ChildProcess(Paths.swiftlb, ["run", "-c", path], logDirectory: dir, name: name)
    guard waitUntil(timeout: 15, { accepts(host, port) }) != nil else {
        child.stop()
        throw HarnessError("\(name) did not listen on \(host):\(port): \(child.stderr)")
    }
    return child
}

/// Whether a TCP connection to `host:port` (IPv4) is accepted now.
func accepts(_ host: String, _ port: Int) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr(host)
    return withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
}
