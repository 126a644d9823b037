import Foundation
import XCTest

/// `unique-id-format` and `unique-id-header` beside HAProxy 2.6 with the same configuration:
/// the usual format (`%{+X}o %ci:%cp_%fi:%fp_%Ts_%rt:%pid`) renders the same fields the same
/// way, the server receives the id in the header, the access log's `%ID` is that id, and
/// `%rt` numbers the requests.
final class UniqueIDTests: XCTestCase {
    var dir: TempDirectory!
    override func setUpWithError() throws {
        dir = try TempDirectory()
        try requireHAProxy()
    }
    override func tearDown() { dir = nil }

    private func config(port: Int, backend: Int) -> String {
        differentialHTTPDefaults + """
            frontend fe
                bind 127.0.0.1:\(port)
                unique-id-format %{+X}o\\ %ci:%cp_%fi:%fp_%Ts_%rt:%pid
                unique-id-header X-Unique-ID
                log stdout format raw local0
                log-format "%ID %r"
                default_backend app
            backend app
                server s1 127.0.0.1:\(backend)

            """
    }

    func testTheIdReachesTheServerAndTheLogAsInHAProxy() throws {
        let recordH = try RecordingBackend(in: dir), recordS = try RecordingBackend(in: dir)
        defer { recordH.stop(); recordS.stop() }
        let hport = freePort(), sport = freePort()
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("haproxy.cfg", config(port: hport, backend: recordH.port))],
                                       logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hport), haproxy.stderr)
        let lb = try SwiftLBInstance(config: config(port: sport, backend: recordS.port), waitPort: sport, in: dir)
        defer { lb.stop() }

        // 7F000001:<client port>_7F000001:<frontend port>_<accept time>_<request number>:<pid>
        let shape = try NSRegularExpression(pattern: "^7F000001:[0-9A-F]{4}_7F000001:([0-9A-F]{4})_[0-9A-F]{8}_([0-9A-F]{4,}):([0-9A-F]+)$")
        func fields(_ id: String) -> [String]? {
            guard let m = shape.firstMatch(in: id, range: NSRange(id.startIndex..., in: id)) else { return nil }
            return (1..<m.numberOfRanges).map { String(id[Range(m.range(at: $0), in: id)!]) }
        }
        for (name, port, backend, log) in [("haproxy", hport, recordH, { haproxy.stdout }), ("swiftlb", sport, recordS, { lb.accessLog })] {
            for path in ["/a", "/b"] {
                XCTAssertEqual(curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)\(path)"]).out, "200", name)
            }
            let seen = backend.waitForRequests(2)
            let ids = seen.compactMap { request in
                request.raw.components(separatedBy: "\r\n").first { $0.lowercased().hasPrefix("x-unique-id:") }
                    .map { String($0.dropFirst("x-unique-id:".count)).trimmingCharacters(in: .whitespaces) }
            }
            XCTAssertEqual(ids.count, 2, "\(name): the server got the header on both requests: \(seen.map(\.raw))")
            guard ids.count == 2, let first = fields(ids[0]), let second = fields(ids[1]) else {
                return XCTFail("\(name): ids in the usual shape: \(ids)")
            }
            XCTAssertEqual(first[0], String(format: "%04X", port), "\(name): %fp in hex")
            XCTAssertEqual(Int(second[1], radix: 16), Int(first[1], radix: 16)! + 1, "\(name): %rt counts the requests")
            XCTAssertEqual(first[2], second[2], "\(name): the same %pid")
            let deadline = Date().addingTimeInterval(5)
            while log().split(separator: "\n").count < 2 && Date() < deadline { usleep(50_000) }
            let lines = log().split(separator: "\n").map(String.init)
            XCTAssertEqual(lines.suffix(2), ["\(ids[0]) GET /a HTTP/1.1", "\(ids[1]) GET /b HTTP/1.1"], "\(name): %ID is the id the server got")
        }
    }
}
