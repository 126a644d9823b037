import Foundation
import SwiftLBTestSupport
import XCTest

/// Heap allocations per proxied keep-alive request, counted in the running `swiftlb` process by
/// an LD_PRELOAD malloc counter (Tests/fixtures/alloc/malloc_counter.c, built here with cc),
/// over a few thousand requests through the benchmark's shape of config (round robin, cookie
/// insert, X-Forwarded-For). A regression guard, like swift-nio's alloc-counter tests: the
/// limit sits just above what the code reaches today. It counts the RELEASE build (what runs
/// in production; a debug build allocates ten times more in unspecialised generics), which
/// scripts/test.sh builds beside the debug one.
final class AllocationTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The release build's allocations per keep-alive GET, just above today's counts: 5.0
    /// without an access log, 8.0 with `option httplog` (its line's strings).
    static let limitWithoutLog = 5.5
    static let limitWithLog = 8.5

    private var releaseBinary: String {
        Paths.repository.appendingPathComponent(".build/release/swiftlb").path
    }

    private func buildCounter() throws -> String {
        let library = dir.file("malloc_counter.so")
        let source = Paths.fixtures.appendingPathComponent("alloc/malloc_counter.c").path
        let cc = runCommand("/usr/bin/env", ["cc", "-O2", "-shared", "-fPIC", "-o", library, source, "-ldl", "-lpthread"])
        guard cc.status == 0 else { throw HarnessError("cannot build the malloc counter: \(cc.err)") }
        return library
    }

    private func readCount(_ path: String) -> Int {
        usleep(150_000)  // the counter writes every 50 ms
        return Int((try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? -1
    }

    func testAllocationsPerKeepAliveRequest() throws {
        let perRequest = try measure(log: false)
        XCTAssertLessThanOrEqual(perRequest, Self.limitWithoutLog, "allocations per request went up: \(perRequest)")
    }

    func testAllocationsPerKeepAliveRequestWithTheAccessLog() throws {
        let perRequest = try measure(log: true)
        XCTAssertLessThanOrEqual(perRequest, Self.limitWithLog, "allocations per request went up: \(perRequest)")
    }

    private func measure(log: Bool) throws -> Double {
        guard FileManager.default.isExecutableFile(atPath: releaseBinary) else {
            throw HarnessError("no release build at \(releaseBinary): scripts/test.sh builds it (scripts/build.sh)")
        }
        let library = try buildCounter()
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        let port = freePort()
        let countFile = dir.file("allocations")
        let config = try dir.write("alloc.conf", """
            defaults
                mode http
                \(log ? "option httplog" : "")
                timeout connect 2s
                timeout client 30s
                timeout server 30s
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                balance roundrobin
                cookie SERVERID insert indirect nocache
                option forwardfor
            \(serverLines(nginx.ports, cookie: "s"))

            """)
        let process = try SpawnedProcess(releaseBinary, ["run", "-c", config], environment: ["LD_PRELOAD": library, "ALLOC_COUNT_FILE": countFile])
        defer {
            // The release build must stop on SIGTERM (bounded: a lost signal fails, never hangs).
            process.terminate()
            if process.wait(timeout: 15) == nil {
                process.signal(SIGKILL)
                XCTFail("the release build did not stop on SIGTERM")
                process.wait(timeout: 5)
            }
        }
        XCTAssertTrue(waitForPort(port))
        // One keep-alive connection; warm the pool and the per-connection buffers first.
        let client = try RawClient(port: port, timeout: 5)
        let request = "GET / HTTP/1.1\r\nHost: a\r\n\r\n"
        for _ in 0..<200 { client.send(request); _ = client.readResponse() }
        let before = readCount(countFile)
        let n = 3000
        for _ in 0..<n {
            client.send(request)
            XCTAssertTrue(client.readResponse().hasPrefix("HTTP/1.1 200"))
        }
        let after = readCount(countFile)
        XCTAssertGreaterThan(before, 0, "the counter did not report")
        let perRequest = Double(after - before) / Double(n)
        print("allocations per keep-alive request (release build, access log \(log ? "on" : "off")): \(perRequest)")
        return perRequest
    }
}
