import Foundation
import XCTest

/// `setenv` and `zero-warning` in a running process: the address a later `bind` reads from a
/// variable set in `global` is the one listened on (haproxy side by side), and a reload of a
/// file that now has a warning is refused under `zero-warning`.
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
}
