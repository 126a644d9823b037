import Foundation
import NIOCore
import XCTest

/// `option logasap`: the line of an HTTP stream is sent when its response head goes to the
/// client, while the body is still on its way, with HAProxy's `+` before `Ta` and `%B`; a TCP
/// stream's when its server connection is up. The same configuration through HAProxy 2.6 is
/// the reference for the line's shape.
final class LogASAPTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The message of a line with what varies masked (date, client port, the timers' values
    /// but not their `+`, the byte count but not its `+`).
    private func masked(_ line: String) -> String {
        var s = line
        for (pattern, template) in [
            (#"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [a-z]+\[\d+\]: "#, "<$1>HEADER: "),
            (#": 127\.0\.0\.1:\d+ "#, ": 127.0.0.1:PORT "),
            (#"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\]"#, "[DATE]"),
            (#" -?\d+/-?\d+/-?\d+/-?\d+/(\+?)-?\d+ (\d{3}) (\+?)\d+ "#, " T/T/T/T/$1T $2 $3B "),
            (#" -?\d+/-?\d+/(\+?)\d+ (\+?)\d+ "#, " T/T/$1T $2B "),
            (#" \d+/\d+/\d+/\d+/(\d+) "#, " CONNS/$1 "),
        ] {
            s = s.replacingOccurrences(of: pattern, with: template, options: .regularExpression)
        }
        return s
    }

    /// Sends the three streams and returns the lines, checking that the HTTP one came while
    /// the body was still held back by the server.
    private func traffic(http: Int, tcp: Int, syslog: SyslogReceiver, who: String) throws -> [String] {
        var lines: [String] = []
        let client = try RawClient(port: http, timeout: 5)
        client.send("GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let head = client.read(until: "\r\n\r\n")
        XCTAssertTrue(head.hasPrefix("HTTP/1.1 200"), "\(who): \(head)")
        // The server sends the body 2 s after its head: the line must not wait for it.
        let early = syslog.receive(count: 1, within: 1.2)
        XCTAssertEqual(early.count, 1, "\(who) did not log when the response head went out")
        lines += early
        XCTAssertTrue(client.read(until: "the body").hasSuffix("the body"), "\(who): the body still arrives")
        XCTAssertEqual(syslog.receive(count: 1, within: 0.5), [], "\(who) logged the stream twice")

        let denied = try RawClient(port: http, timeout: 5)
        denied.send("GET /denied HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(denied.readResponse().hasPrefix("HTTP/1.1 403"))
        lines += syslog.receive(count: 1, within: 3)

        let session = try RawClient(port: tcp, timeout: 5)
        session.send("GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertTrue(session.read(until: "\r\n\r\n").hasPrefix("HTTP/1.1 200"))
        lines += syslog.receive(count: 1, within: 1.2)  // when connected, before the body
        XCTAssertTrue(session.read(until: "the body").hasSuffix("the body"))
        XCTAssertEqual(syslog.receive(count: 1, within: 0.5), [], "\(who) logged the TCP stream twice")
        return lines
    }

    func testTheLineGoesOutWithTheResponseHeadAsHAProxySendsIt() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let backend = try ScriptedBackend(.slowBody(.seconds(2), body: "the body"))
        defer { backend.stop() }
        let pair = try AccessLogTests.Pair(backend: backend.port, in: dir) {
            AccessLogTests.config(http: $0, tcp: $1, backend: $2, syslog: $3, option: "logasap")
        }
        defer { pair.stop() }
        let hlines = try traffic(http: pair.ports.hhttp, tcp: pair.ports.htcp, syslog: pair.hsyslog, who: "haproxy").map(masked)
        let slines = try traffic(http: pair.ports.shttp, tcp: pair.ports.stcp, syslog: pair.ssyslog, who: "swiftlb").map(masked)
        XCTAssertEqual(slines, hlines, "\nSwiftLB: \(slines.joined(separator: "\n"))\nHAProxy: \(hlines.joined(separator: "\n"))")
        XCTAssertEqual(slines.count, 3)
        // What each line is: the early one has the `+`, still-running flags and the head's bytes.
        XCTAssertTrue(slines.first?.contains(" fe app/s1 T/T/T/T/+T 200 +B - - ---- ") == true, "\(slines)")
        XCTAssertTrue(slines.dropFirst().first?.contains(" 403 +B - - PR-- ") == true, "\(slines)")
        XCTAssertTrue(slines.last?.contains(" tcpfe tcpapp/t1 T/T/+T +B -- ") == true, "\(slines)")
    }
}
