import Foundation
import XCTest

/// Hostile numbers in every field a client controls: sticky-cookie dates, Content-Length,
/// chunk sizes. Each gets a 400 or is ignored; none may trap, and the process serves on.
final class LimitsTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testHostileStickyCookieDatesAreIgnoredNeverATrap() throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                cookie SERVERID insert indirect nocache maxidle 30m maxlife 8h
            \(serverLines(nginx.ports, cookie: "n"))

            """, in: dir)
        defer { lb.stop() }
        let intMin = "-" + String(UInt64(Int64.max) + 1, radix: 36)
        let intMax = String(Int.max, radix: 36)
        let dates = ["\(intMin)|0", "0|\(intMin)", "\(intMin)|\(intMin)", "\(intMax)|\(intMax)", "\(intMax)|0",
                     "0|\(intMax)", "zzzzzzzzzzzzzzzzzzzz|1", "-1|-1", "|", "1|", "+1|+1", "1|2|3", "0|0"]
        for date in dates {
            let cookie = "SERVERID=n2|\(date)"
            let answer = curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Cookie: \(cookie)", "http://127.0.0.1:\(port)/"])
            XCTAssertEqual(answer.out, "200", "cookie \(cookie): \(answer)")
        }
        XCTAssertNil(lb.child.waitForExit(timeout: 0.1), "swiftlb died: \(lb.child.stderr)")
        // A cookie this process wrote still pins its server.
        let first = curl(["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]).out
        let setCookie = first.split(separator: "\r\n").first { $0.lowercased().hasPrefix("set-cookie:") }
        let value = setCookie.map { String($0.dropFirst("set-cookie: ".count).prefix { $0 != ";" }) } ?? ""
        XCTAssertTrue(value.hasPrefix("SERVERID=n"), first)
        let node = value.dropFirst("SERVERID=n".count).prefix(1)
        for _ in 0..<4 {
            XCTAssertEqual(curl(["-H", "Cookie: \(value)", "http://127.0.0.1:\(port)/"]).out, "node\(node)\n")
        }
    }

    func testHugeLengthsAndChunkSizesGet400AndTheProxyServesOn() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "app", backends: "backend app\n\(serverLines(nginx.ports))\n", in: dir)
        defer { lb.stop() }
        let requests = [
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775808\r\n\r\nx",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\nx",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999999\r\n\r\nx",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nx",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx",
        ]
        for request in requests {
            let client = try RawClient(port: port, timeout: 3)
            client.send(request)
            let (text, closed) = client.readAll()
            XCTAssertEqual(statusCode(text), 400, "\(request.debugDescription): \(text)")
            XCTAssertTrue(closed)
        }
        // The largest length that fits is a valid promise: forwarded, then the client's
        // silence ends it by timeout, never a trap.
        let client = try RawClient(port: port, timeout: 1)
        client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\nxyz")
        _ = client.readAll()
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node1\n")
        XCTAssertNil(lb.child.waitForExit(timeout: 0.1), "swiftlb died: \(lb.child.stderr)")
    }
}
