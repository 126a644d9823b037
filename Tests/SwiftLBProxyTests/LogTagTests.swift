import Foundation
import XCTest

/// `log-tag` (global and per proxy) and `log-send-hostname`: the syslog header's tag and
/// hostname fields, compared with what haproxy sends for the same configuration.
final class LogTagTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The header of each line up to the message, with the date and pid masked; sorted.
    private func headers(_ lines: [String]) -> [String] {
        lines.map { line in
            let masked = line.replacingOccurrences(of: #"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d "#, with: "<$1>DATE ", options: .regularExpression)
                .replacingOccurrences(of: #"\[\d+\]: "#, with: "[PID]: ", options: .regularExpression)
            return String(masked[..<(masked.range(of: "[PID]: ")?.upperBound ?? masked.endIndex)])
        }.sorted()
    }

    func testTheSyslogHeaderCarriesTheTagAndHostnameAsHAProxySendsThem() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        // The differential log tests' configuration, with the tags and the hostname added.
        let pair = try AccessLogTests.Pair(backend: backend.port, in: dir) { http, tcp, backend, syslog in
            AccessLogTests.config(http: http, tcp: tcp, backend: backend, syslog: syslog)
                .replacingOccurrences(of: "local0\n", with: "local0\n    log-tag edge-lb\n    log-send-hostname lb1.example.test\n")
                .replacingOccurrences(of: "frontend fe\n", with: "frontend fe\n    log-tag web-front\n")
        }
        defer { pair.stop() }
        for (http, tcp) in [(pair.ports.hhttp, pair.ports.htcp), (pair.ports.shttp, pair.ports.stcp)] {
            for port in [http, tcp] {
                let client = try RawClient(port: port, timeout: 3)
                client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                _ = client.readResponse()
            }
        }
        let haproxy = headers(pair.hsyslog.receive(count: 2, within: 5))
        let swiftlb = headers(pair.ssyslog.receive(count: 2, within: 5))
        XCTAssertEqual(swiftlb, ["<134>DATE lb1.example.test edge-lb[PID]: ", "<134>DATE lb1.example.test web-front[PID]: "])
        XCTAssertEqual(swiftlb, haproxy, "SwiftLB, then haproxy")
    }
}
