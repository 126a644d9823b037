import Foundation

/// Runs one configuration text in HAProxy 2.6 (`haproxy: true`) or in SwiftLB, for tests that
/// compare the two on the same file; waits until `port` listens. The caller stops the process.
func startOnSameFile(_ config: String, haproxy: Bool, port: Int, in dir: TempDirectory) throws -> ChildProcess {
    guard haproxy else { return try SwiftLBInstance(config: config, waitPort: port, in: dir).child }
    let child = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("haproxy.cfg", config)], logDirectory: dir, name: "haproxy")
    guard waitForPort(port) else {
        child.stop()
        throw HarnessError("haproxy did not start: \(child.stderr)")
    }
    return child
}
