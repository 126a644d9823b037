import Foundation
import XCTest

/// `server … init-addr`: the address a server starts with, by its methods in order, against a
/// real nginx, beside HAProxy 2.6 on the same text: a name that does not resolve falls back
/// to the IP address the list gives (traffic reaches nginx), and `init-addr none` starts a
/// server without an address (a port-less name, as reg-tests/stickiness/srvkey-addr.vtc
/// writes it) in maintenance; the backend serves on with the others. Without `init-addr` an
/// unresolvable name is refused at start, with its line.
final class InitAddrTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testInitAddrMethodsAgreeWithHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let stats = StatsClient(in: dir)
        let pair = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                balance roundrobin
                server fallback unresolvable-host.invalid:\(nginx.ports[0]) init-addr libc,127.0.0.1
                server later unresolvable-too.invalid init-addr none

            """
        }, in: dir)
        defer { pair.stop() }
        for port in pair.ports {
            for _ in 0..<3 {
                let response = curl(["-s", "http://127.0.0.1:\(port)/"])
                XCTAssertEqual(response.out, "node1\n", "port \(port): \(response.err)")
            }
        }
        // In maintenance from the start (HAProxy: MAINT (resolution)), with no address.
        let front = freePort()
        let lb = try SwiftLBInstance(config: stats.global + testDefaults() + """
            backend be
                server later unresolvable-too.invalid init-addr none
            frontend fe
                bind 127.0.0.1:\(front)
                default_backend be

            """, waitPort: front, in: dir, name: "maint")
        defer { lb.stop() }
        XCTAssertTrue(waitUntil(timeout: 5) { stats.field("be", "later", "status") != nil } != nil)
        XCTAssertEqual(stats.field("be", "later", "status"), "MAINT")
    }

    func testAnUnresolvableNameWithoutInitAddrIsRefusedWithItsLine() throws {
        let path = try dir.write("bad.conf", testDefaults() + "frontend fe\n    bind 127.0.0.1:\(freePort())\n    default_backend be\nbackend be\n    server s unresolvable-host.invalid:80\n")
        let check = runCommand(Paths.swiftlb, ["check", "-c", path])
        XCTAssertNotEqual(check.status, 0)
        XCTAssertTrue((check.out + check.err).contains("cannot resolve 'unresolvable-host.invalid'"), check.out + check.err)
        let portless = try dir.write("portless.conf", testDefaults() + "frontend fe\n    bind 127.0.0.1:\(freePort())\n    default_backend be\nbackend be\n    server s some.host init-addr libc,none\n")
        // A name without a port is HAProxy's port-less server (the client's port); with
        // `init-addr libc,none` an unresolvable one is kept, disabled, as `haproxy -c` keeps it.
        let accepted = runCommand(Paths.swiftlb, ["check", "-c", portless])
        XCTAssertEqual(accepted.status, 0, accepted.out + accepted.err)
    }
}
