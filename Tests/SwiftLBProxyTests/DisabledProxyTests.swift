import Foundation
import XCTest

/// `disabled` and `enabled` in proxy sections, beside HAProxy 2.6 on the same configuration:
/// a disabled frontend does not listen, a disabled backend answers 503 to what is routed to it,
/// neither is in `show stat`, and `disabled` in a `defaults` section holds
/// for the proxies after it until one says `enabled`.
final class DisabledProxyTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The (proxy, service) rows of `show stat`.
    private func statRows(_ command: [String]) -> Set<String> {
        let lines = runCommand(command[0], Array(command.dropFirst())).out.split(separator: "\n")
        return Set(lines.filter { !$0.hasPrefix("#") }.map { $0.split(separator: ",", omittingEmptySubsequences: false).prefix(2).joined(separator: "/") })
    }

    func testDisabledProxiesDoNotRunAsInHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        // Each side's second listener and stats socket (config(port) is called once per side).
        var second: [Int: Int] = [:], listenPort: [Int: Int] = [:]
        let both = try SideBySide({ port in
            let other = second[port] ?? freePort()
            second[port] = other
            let listened = listenPort[port] ?? freePort()
            listenPort[port] = listened
            return """
                global
                    stats socket \(self.dir.file("stats-\(port).sock")) level admin
                frontend fe
                    bind 127.0.0.1:\(port)
                    use_backend be_off if { path /off }
                    default_backend be_on
                frontend fe_off
                    bind 127.0.0.1:\(other)
                    disabled
                    default_backend be_on
                backend be_on
                    server s1 127.0.0.1:\(nginx.ports[0])
                backend be_off
                    disabled
                    server s1 127.0.0.1:\(nginx.ports[0]) check inter 100ms
                defaults
                    mode http
                    timeout connect 2s
                    timeout client 5s
                    timeout server 5s
                    disabled
                listen ls_off
                    bind 127.0.0.1:\(listened)
                    server s1 127.0.0.1:\(nginx.ports[0])
                listen ls_on
                    enabled
                    bind 127.0.0.1:\(freePort())
                    server s1 127.0.0.1:\(nginx.ports[0])
                """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            XCTAssertEqual(statusOfClosingGET(port, "/"), 200, "port \(port)")
            XCTAssertEqual(statusOfClosingGET(port, "/off"), 503, "port \(port): a disabled backend has no server")
            let off = try XCTUnwrap(second[port])
            XCTAssertNil(statusOfClosingGET(off, "/"), "port \(port): the disabled frontend listens on \(off)")
            let listened = try XCTUnwrap(listenPort[port])
            XCTAssertNil(statusOfClosingGET(listened, "/"), "port \(port): the disabled listen listens on \(listened)")
        }
        let ours = statRows([Paths.swiftlb, "ctl", "-s", dir.file("stats-\(both.lbPort).sock"), "show", "stat"])
        let theirs = statRows(haproxyStatCommand(dir.file("stats-\(both.haproxyPort).sock")))
        XCTAssertFalse(theirs.isEmpty)
        XCTAssertEqual(ours, theirs)
        XCTAssertFalse(ours.contains { $0.hasPrefix("be_off/") || $0.hasPrefix("fe_off/") || $0.hasPrefix("ls_off/") }, "\(ours)")
        XCTAssertTrue(ours.contains("ls_on/FRONTEND"), "\(ours)")
    }

    /// Only proxies take it: `disabled` with an argument is refused on its line.
    func testDisabledTakesNoArgument() throws {
        let file = try dir.write("lb.conf", "defaults\n    mode http\nbackend b\n    disabled now\n    server s1 127.0.0.1:1\n")
        let result = runCommand(Paths.swiftlb, ["check", "-c", file])
        XCTAssertNotEqual(result.status, 0)
        let text = result.out + result.err
        XCTAssertTrue(text.contains("lb.conf:4") && text.contains("'disabled'"), text)
    }

    /// A parked frontend is not checked beyond its own lines, as haproxy -c: it may keep the
    /// live one's address and name a backend that is gone.
    func testADisabledFrontendIsNotCheckedAgainstTheOthers() throws {
        let port = freePort()
        let file = try dir.write("lb.conf", "defaults\n    mode http\n    timeout client 1s\n    timeout server 1s\n    timeout connect 1s\n"
            + "frontend live\n    bind 127.0.0.1:\(port)\n    default_backend b\n"
            + "frontend parked\n    disabled\n    bind 127.0.0.1:\(port)\n    default_backend gone\n"
            + "backend b\n    server s1 127.0.0.1:1\n")
        let ours = runCommand(Paths.swiftlb, ["check", "-c", file])
        XCTAssertEqual(ours.status, 0, ours.out + ours.err)
        let theirs = runCommand("/usr/sbin/haproxy", ["-c", "-f", file])
        XCTAssertEqual(theirs.status, 0, theirs.out + theirs.err)
    }
}
