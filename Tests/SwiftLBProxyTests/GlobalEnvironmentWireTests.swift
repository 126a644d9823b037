import Foundation
import XCTest

/// `setenv`, `zero-warning` and `strict-limits` in a running process: the address a later
/// `bind` reads from a variable set in `global` is the one listened on (haproxy side by side),
/// a reload of a file that now has a warning is refused under `zero-warning`, and a descriptor
/// limit the system refuses stops the start as in haproxy.
final class GlobalEnvironmentWireTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The port is only in the `setenv` line; `presetenv` does not replace it, and the
    /// server's address comes from a variable too.
    func testABindReadsTheAddressASetenvLineGaveIt() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let pair = try SideBySide({ port in
            """
            global
                setenv FRONT_PORT \(port)
                presetenv FRONT_PORT 1
                setenv APP_ADDRESS 127.0.0.1:\(backend.port)
            listen l
                bind "127.0.0.1:${FRONT_PORT}"
                server s "${APP_ADDRESS}"

            """
        }, in: dir)
        defer { pair.stop() }
        for port in pair.ports {
            let client = try RawClient(port: port, timeout: 5)
            client.send("GET /env-\(port) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            XCTAssertEqual(statusCode(client.readResponse()), 200, "port \(port)")
        }
        XCTAssertEqual(Set(backend.waitForRequests(2).map(\.target)), Set(pair.ports.map { "/env-\($0)" }))
    }

    /// Under `zero-warning` a reload whose file now warns ('bind-process') is refused, and the
    /// running configuration goes on serving.
    func testAReloadWithAWarningIsRefusedUnderZeroWarning() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let port = freePort()
        let config = "global\n    zero-warning\n" + testDefaults() + "listen l\n    bind 127.0.0.1:\(port)\n    server s 127.0.0.1:\(backend.port)\n"
        let lb = try SwiftLBInstance(config: config, waitPort: port, in: dir)
        defer { lb.stop() }
        try (config + "    http-request return status 503\n    bind-process 1\n").write(toFile: lb.configPath, atomically: true, encoding: .utf8)
        lb.child.signal(SIGHUP)
        let refused = waitUntil(timeout: 10) { (lb.child.stdout + lb.child.stderr).contains("reload refused") }
        XCTAssertNotNil(refused, lb.child.stdout + lb.child.stderr)
        XCTAssertTrue((lb.child.stdout + lb.child.stderr).contains("Some warnings were found and 'zero-warning' is set. Aborting."), lb.child.stderr)
        let client = try RawClient(port: port, timeout: 5)
        client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(statusCode(client.readResponse()), 200, "the previous configuration serves")
    }

    /// A `ulimit-n` above the kernel's `fs.nr_open` cannot be set: with `strict-limits` the
    /// start stops, in SwiftLB as in haproxy 2.6; with `no strict-limits` it is a warning.
    func testStrictLimitsStopTheStartAsHAProxy() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let port = freePort()
        let nrOpen = Int(String(decoding: try Data(contentsOf: URL(fileURLWithPath: "/proc/sys/fs/nr_open")), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 1_048_576
        let proxy = testDefaults() + "listen l\n    bind 127.0.0.1:\(port)\n    server s 127.0.0.1:\(backend.port)\n"
        let strict = try dir.write("strict.conf", "global\n    ulimit-n \(nrOpen * 2)\n    strict-limits\n" + proxy)
        let swiftlb = runCommand(Paths.swiftlb, ["run", "-c", strict], timeout: 10)
        XCTAssertEqual(swiftlb.status, 1, swiftlb.err)
        XCTAssertTrue(swiftlb.err.contains("Cannot raise FD limit to \(nrOpen * 2)"), swiftlb.err)
        let haproxy = runCommand("/usr/sbin/haproxy", ["-db", "-f", strict], timeout: 10)
        XCTAssertEqual(haproxy.status, 1, "haproxy: \(haproxy.err)")
        XCTAssertTrue(haproxy.err.contains("Cannot raise FD limit to \(nrOpen * 2)"), haproxy.err)
        let lenient = try SwiftLBInstance(config: "global\n    ulimit-n \(nrOpen * 2)\n    no strict-limits\n" + proxy, waitPort: port, in: dir, name: "lenient")
        defer { lenient.stop() }
        XCTAssertTrue(lenient.child.stderr.contains("Cannot raise FD limit"), lenient.child.stderr)
    }
}
