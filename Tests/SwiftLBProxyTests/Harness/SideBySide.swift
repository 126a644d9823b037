import Foundation
import XCTest

/// SwiftLB and Debian's haproxy started on the same configuration text (`config(port)` gives
/// each its own listening port) for tests that compare what both do on loopback — HAProxy 2.6
/// being the spec. The caller stops both with `stop()`.
final class SideBySide {
    let lb: SwiftLBInstance
    let haproxy: ChildProcess
    let lbPort: Int
    let haproxyPort: Int

    init(_ config: (Int) -> String, in dir: TempDirectory) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed (apt-get install haproxy)") }
        (lbPort, haproxyPort) = (freePort(), freePort())
        lb = try SwiftLBInstance(config: testDefaults() + config(lbPort), waitPort: lbPort, in: dir)
        do {
            haproxy = try startHAProxy(haproxyDefaults + "\n" + config(haproxyPort), port: haproxyPort, in: dir)
        } catch {
            lb.stop()
            throw error
        }
    }

    /// Each side's second listening port (`config(port, second)`), SwiftLB's then haproxy's.
    private(set) var secondPorts: [Int] = []

    /// For a configuration that listens twice (two frontends, a frontend and a listen).
    convenience init(_ config: (Int, Int) -> String, in dir: TempDirectory) throws {
        var second: [Int: Int] = [:]
        try self.init({ port in
            let other = freePort()
            second[port] = other
            return config(port, other)
        }, in: dir)
        secondPorts = [second[lbPort]!, second[haproxyPort]!]
    }

    /// SwiftLB's port, then haproxy's.
    var ports: [Int] { [lbPort, haproxyPort] }

    func stop() {
        lb.stop()
        haproxy.stop()
    }
}

/// `config` run by haproxy (`who` is "haproxy") or by swiftlb (any other), started once `port`
/// listens: for tests that run one text through each in turn.
func startEither(_ who: String, _ config: String, port: Int, in dir: TempDirectory) throws -> ChildProcess {
    guard who == "haproxy" else { return try SwiftLBInstance(config: config, waitPort: port, in: dir).child }
    let child = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("haproxy.cfg", config)], logDirectory: dir, name: "haproxy")
    XCTAssertTrue(waitForPort(port), child.stderr)
    return child
}
