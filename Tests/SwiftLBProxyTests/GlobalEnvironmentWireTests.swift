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

    /// `strict-limits` at a reload judges the reloaded file's own limit, as HAProxy's new worker
    /// does (it starts from the limits at boot): a file whose `ulimit-n` is below what its
    /// `maxconn` needs is refused, even though an earlier file raised the process's limit
    /// above that. Started under a soft limit of 1024 (prlimit), where haproxy refuses the
    /// same file at its start.
    func testStrictLimitsAtAReloadJudgeTheReloadedFilesLimit() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/bin/prlimit"), "prlimit (util-linux)")
        var hard = rlimit()
        getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &hard)
        try XCTSkipUnless(hard.rlim_max >= 12000, "needs a hard descriptor limit of 12000 or more")
        let nofile = "--nofile=1024:\(min(hard.rlim_max, 1_000_000))"
        let port = freePort()
        let proxy = testDefaults() + "frontend fe\n    bind 127.0.0.1:\(port)\n    http-request return status 200 content-type text/plain string ok\n"
        let raised = "global\n    maxconn 100\n    ulimit-n 11000\n" + proxy
        let tooLow = "global\n    strict-limits\n    maxconn 5000\n    ulimit-n 2000\n" + proxy
        let haproxy = runCommand("/usr/bin/prlimit", [nofile, "/usr/sbin/haproxy", "-db", "-f", try dir.write("low.cfg", tooLow)], timeout: 10)
        XCTAssertEqual(haproxy.status, 1, "haproxy: \(haproxy.err)")
        XCTAssertTrue(haproxy.err.contains("FD limit (2000) too low for maxconn=5000"), haproxy.err)

        let path = try dir.write("lb.conf", raised)
        let lb = try ChildProcess("/usr/bin/prlimit", [nofile, Paths.swiftlb, "run", "-c", path], logDirectory: dir, name: "swiftlb")
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(port), lb.stderr)
        try tooLow.write(toFile: path, atomically: true, encoding: .utf8)
        lb.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 10) { (lb.stdout + lb.stderr).contains("reload refused") }, lb.stdout + lb.stderr)
        XCTAssertTrue((lb.stdout + lb.stderr).contains("FD limit (2000) too low for maxconn=5000"), lb.stdout + lb.stderr)
    }
}
