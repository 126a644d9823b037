import Foundation
import XCTest

/// `tune.bufsize` / `tune.maxrewrite` bound request and response heads on the wire, and a
/// `log ${ADDR}:${PORT}` target (unquoted, as HAProxy's checks/agent-check.vtc writes it)
/// sends to the address the environment names — through a real `swiftlb run` on loopback.
final class HeadLimitAndLogEnvTests: XCTestCase {
    func testBufsizeBoundsTheHeadsAndLogAddressesReadTheEnvironment() throws {
        let dir = try TempDirectory()
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let syslog = try SyslogReceiver()
        // The child's environment, not the test process's (see TestEnvironment).
        let environment = ["S19_SYSLOG_ADDR": "127.0.0.1", "S19_SYSLOG_PORT": "\(syslog.port)"]
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            global
                tune.bufsize 2048
                tune.maxrewrite 128
            defaults
                mode http
                option httplog
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            frontend fe
                bind 127.0.0.1:\(port)
                log ${S19_SYSLOG_ADDR}:${S19_SYSLOG_PORT} local0
                default_backend be
            backend be
                server s 127.0.0.1:\(stream.port)
            """, waitPort: port, in: dir, environment: environment)
        defer { lb.stop() }
        func status(_ headerBytes: Int) -> String {
            curl(["-o", "/dev/null", "-w", "%{http_code}", "-H", "X-Pad: \(String(repeating: "a", count: headerBytes))",
                  "http://127.0.0.1:\(port)/echo-headers"]).out
        }
        // The head bound is about 2048 - 128 bytes: a 1700-byte header fits, 1950 does not
        // and is HAProxy's 400 (it has no 431).
        XCTAssertEqual(status(1700), "200")
        XCTAssertEqual(status(1950), "400")
        let lines = syslog.receive(count: 2, within: 5)
        XCTAssertEqual(lines.count, 2, "the access log went to the address of the environment")
        XCTAssertTrue(lines.first?.contains("fe be/s") ?? false, lines.joined(separator: "\n"))
    }
}

/// `log … sample RANGES:SIZE` on the wire (HAProxy's log/load_balancing.vtc): two targets with
/// `sample 1:2` and `sample 2:2` share a frontend's access log between them, one line each in
/// turn, whichever event loop served the request.
final class LogSampleWireTests: XCTestCase {
    func testTwoSampledTargetsShareTheLines() throws {
        let dir = try TempDirectory()
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let (odd, even) = (try SyslogReceiver(), try SyslogReceiver())
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                log 127.0.0.1:\(odd.port) sample 1:2 local0
                log 127.0.0.1:\(even.port) sample 2:2 local0
                default_backend be
            backend be
                server s 127.0.0.1:\(stream.port)
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        // One request per connection, one after the other: the log order is the request order.
        for n in 1...6 {
            XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/echo-headers?n=\(n)"]).out, "200")
            Thread.sleep(forTimeInterval: 0.05)
        }
        let (a, b) = (odd.receive(count: 3, within: 5), even.receive(count: 3, within: 5))
        func requests(_ lines: [String]) -> [String] {
            lines.compactMap { line in line.range(of: "n=[0-9]", options: .regularExpression).map { String(line[$0]) } }
        }
        XCTAssertEqual(requests(a), ["n=1", "n=3", "n=5"], a.joined(separator: "\n"))
        XCTAssertEqual(requests(b), ["n=2", "n=4", "n=6"], b.joined(separator: "\n"))
        XCTAssertTrue(odd.receive(count: 1, within: 0.3).isEmpty && even.receive(count: 1, within: 0.3).isEmpty, "no line went to both")
    }
}
