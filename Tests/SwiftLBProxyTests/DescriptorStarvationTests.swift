import Foundation
import XCTest

/// accept(2) failing with EMFILE (more clients waiting than `ulimit-n` leaves descriptors for):
/// NIO keeps the listener registered and accepts again at once, so the loop spun at a full
/// core for as long as the backlog was full. The listener now pauses as HAProxy's does (until a
/// connection closes, or 100 ms), with HAProxy's warning, and serves again once descriptors
/// come back.
final class DescriptorStarvationTests: XCTestCase {
    func testAListenerOutOfDescriptorsPausesInsteadOfSpinning() throws {
        let prlimit = try XCTUnwrap(["/usr/bin/prlimit", "/bin/prlimit"].first { FileManager.default.isExecutableFile(atPath: $0) }, "util-linux's prlimit")
        let dir = try TempDirectory()
        let server = try RecordingBackend(in: dir)
        let port = freePort()
        let config = try dir.write("lb.conf", """
            defaults
                mode http
                timeout client 30s
                timeout connect 2s
                timeout server 5s
            frontend f
                bind 127.0.0.1:\(port)
                default_backend b
            backend b
                server s1 127.0.0.1:\(server.port)
            """)
        let lb = try ChildProcess(prlimit, ["--nofile=64:64", Paths.swiftlb, "run", "-c", config], logDirectory: dir, name: "swiftlb")
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(port), lb.stderr)

        // More clients than descriptors, each with a request: the backlog holds the rest.
        var clients: [RawClient] = []
        for _ in 0..<100 {
            let client = try RawClient(port: port, timeout: 5)
            client.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            clients.append(client)
        }
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.stderr.contains("Proxy f reached process FD limit. Please check 'ulimit-n' and restart.") }, lb.stderr)
        let before = cpuTicks(lb.pid)
        usleep(2_000_000)
        let spent = cpuTicks(lb.pid) - before
        XCTAssertLessThan(spent, 60, "CPU ticks (1/100 s) in 2 s with the backlog full: a spinning loop takes ~200")

        clients.removeAll()  // closes them
        XCTAssertNotNil(waitUntil(timeout: 30) { curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"], maxTime: 5).out == "200" },
                        "it serves again once the clients are gone: \(lb.stderr.suffix(600))")
        XCTAssertNil(lb.waitForExit(timeout: 0.1), "and lives")
    }

    /// utime + stime of `pid`, in clock ticks.
    private func cpuTicks(_ pid: Int32) -> Int {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}
