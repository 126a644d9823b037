import Foundation
import XCTest

/// `option http-ignore-probes`: a connection that closes or lets `timeout http-request` run
/// out without sending a byte (a browser's pre-connection) is closed without a 400/408 and
/// without a log line; one that sent part of a request still gets its 400 — as haproxy does.
final class HTTPIgnoreProbesTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testAnEmptyConnectionIsClosedSilently() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let pair = try SideBySide({ port in
            "listen l\n    bind 127.0.0.1:\(port)\n    option http-ignore-probes\n    timeout http-request 300ms\n    server s 127.0.0.1:\(backend.port)\n"
        }, in: dir)
        defer { pair.stop() }
        var seen: [[String]] = []
        for port in pair.ports {
            var answers: [String] = []
            // Closed at once, silent past `timeout http-request`, part of a request then closed.
            for (bytes, close) in [("", true), ("", false), ("GET / HT", true)] {
                let client = try RawClient(port: port, timeout: 3)
                if !bytes.isEmpty { client.send(bytes) }
                if close { client.shutdownWrite() }
                let (text, closed) = client.readAll()
                answers.append(closed ? (text.isEmpty ? "closed" : "\(statusCode(text))") : "open")
            }
            seen.append(answers)
        }
        XCTAssertEqual(seen[0], ["closed", "closed", "400"], "SwiftLB")
        XCTAssertEqual(seen[0], seen[1], "SwiftLB, then haproxy")
        pair.lb.waitForAccessLog { $0.contains("<BADREQ>") }
        XCTAssertEqual(pair.lb.accessLog.components(separatedBy: "\n").filter { $0.contains("<BADREQ>") }.count, 1,
                       "only the partial request is logged: \(pair.lb.accessLog)")
    }
}
