import Foundation
import NIOCore
import XCTest

/// Every error status a HAProxy user expects, provoked for real: malformed and oversized
/// requests, slow clients, and backends that refuse, reset, talk garbage or never answer.
final class ErrorTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func proxy(servers: [Int], extra: String = "", server: String = "5s", httpRequest: String = "5s") throws -> (SwiftLBInstance, Int) {
        let port = freePort()
        let lines = serverLines(servers, name: "s")
        let config = testDefaults(server: server, httpRequest: httpRequest) + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
            \(extra)
            \(lines)
            """
        return (try SwiftLBInstance(config: config, waitPort: port, in: dir), port)
    }

    private func exchange(_ port: Int, _ request: String, timeout: TimeInterval = 5) throws -> (text: String, closed: Bool) {
        let client = try RawClient(port: port, timeout: timeout)
        client.send(request)
        return client.readAll()
    }

    func testMalformedRequestsGet400AndAClosedConnection() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try proxy(servers: nginx.ports)
        defer { lb.stop() }
        let cases = [
            "ambiguous framing": "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "two content-lengths": "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
            "missing host": "GET / HTTP/1.1\r\n\r\n",
            "repeated host": "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            "control byte in value": "GET / HTTP/1.1\r\nHost: a\r\nX-A: a\u{01}b\r\n\r\n",
            "space before colon": "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "bad request line": "GET /\r\n\r\n",
            "invalid host": "GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            "unknown transfer coding": "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            "bad chunk size": "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        ]
        for (name, request) in cases.sorted(by: { $0.key < $1.key }) {
            let (text, closed) = try exchange(port, request)
            XCTAssertEqual(statusCode(text), 400, "\(name): \(text)")
            XCTAssertTrue(closed, "\(name): connection left open")
        }
        // The proxy is still fine afterwards.
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node1\n")
    }

    func testOversizedRequestLineAndHeaders() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try proxy(servers: nginx.ports)
        defer { lb.stop() }
        // HAProxy 2.6 answers all three with its 400 (it has no 414 or 431) and closes.
        let long = try exchange(port, "GET /\(String(repeating: "a", count: 16000)) HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(statusCode(long.text), 400)
        XCTAssertTrue(long.closed)
        let big = try exchange(port, "GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(String(repeating: "b", count: 40000))\r\n\r\n")
        XCTAssertEqual(statusCode(big.text), 400)
        XCTAssertTrue(big.closed)
        let many = try exchange(port, "GET / HTTP/1.1\r\nHost: a\r\n" + (0..<150).map { "X-\($0): v\r\n" }.joined() + "\r\n")
        XCTAssertEqual(statusCode(many.text), 400)
        XCTAssertTrue(many.closed)
    }

    func testHeadersOneBytePerSecondGet408() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try proxy(servers: nginx.ports, httpRequest: "2s")
        defer { lb.stop() }
        let client = try RawClient(port: port, timeout: 8)
        let start = Date()
        for byte in "GET / HTTP/1.1\r\nHost: a\r\n".utf8.prefix(4) {
            client.send([byte])
            sleep(1)
        }
        let (text, closed) = client.readAll()
        XCTAssertEqual(statusCode(text), 408, text)
        XCTAssertTrue(closed)
        XCTAssertLessThan(Date().timeIntervalSince(start), 6)
        // A new connection that never sends a byte gets its 408 too, as from HAProxy 2.6.
        let idle = try RawClient(port: port, timeout: 8)
        let (nothing, idleClosed) = idle.readAll()
        XCTAssertEqual(statusCode(nothing), 408, nothing)
        XCTAssertTrue(idleClosed)
    }

    func testResettingBackendGets502AndTheNextRequestGoesElsewhere() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let resetter = try ScriptedBackend(.reset)
        defer { resetter.stop() }
        let (lb, port) = try proxy(servers: [resetter.port, nginx.ports[0]])
        defer { lb.stop() }
        let client = try RawClient(port: port)
        client.send("POST /form HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi")
        let first = client.readAll()
        XCTAssertEqual(statusCode(first.text), 502, first.text)
        XCTAssertEqual(resetter.connections, 1, "a POST must not be replayed")
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node1\n")
        lb.waitForAccessLog { $0.contains("app/s1 ") && $0.contains(" 502 ") }
        XCTAssertTrue(lb.accessLog.contains("app/s1 "), lb.accessLog)
        XCTAssertTrue(lb.accessLog.contains(" 502 "), lb.accessLog)
    }

    /// Response heads have HAProxy's bound, as requests (tune.bufsize 16384 less its
    /// tune.maxrewrite 1024, see HeadParserTests): a larger head is a 502, the server
    /// connection is not reused, and — as haproxy 2.6 does after its 502 — the client's
    /// connection stays for the next request.
    func testAResponseHeadLargerThanTheLimitGets502() throws {
        let huge = try ScriptedBackend(.hugeHead(bytes: 70 * 1024))
        defer { huge.stop() }
        let (lb, port) = try proxy(servers: [huge.port])
        defer { lb.stop() }
        let client = try RawClient(port: port)
        for _ in 0..<2 {
            client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            let text = client.readResponse()
            XCTAssertEqual(statusCode(text), 502, String(text.prefix(200)))
        }
        XCTAssertEqual(huge.connections, 2, "the server connection of a refused head is not reused")
        let fits = try ScriptedBackend(.hugeHead(bytes: 14 * 1024))
        defer { fits.stop() }
        let (lb2, port2) = try proxy(servers: [fits.port])
        defer { lb2.stop() }
        let second = try RawClient(port: port2)
        second.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(statusCode(second.readResponse()), 200)
    }

    /// A 502 keeps the client's connection, as haproxy 2.6's does: the next request on it is
    /// answered too.
    func testGarbageFromBackendGets502() throws {
        let junk = try ScriptedBackend(.junk)
        defer { junk.stop() }
        let (lb, port) = try proxy(servers: [junk.port])
        defer { lb.stop() }
        let client = try RawClient(port: port)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(statusCode(client.readResponse()), 502)
        client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let (text, closed) = client.readAll()
        XCTAssertEqual(statusCode(text), 502, text)
        XCTAssertTrue(text.contains("\r\nconnection: close\r\n"), text)
        XCTAssertTrue(closed)
    }

    func testSilentBackendGets504AfterTimeoutServer() throws {
        let silent = try ScriptedBackend(.silent)
        defer { silent.stop() }
        let (lb, port) = try proxy(servers: [silent.port], server: "1s")
        defer { lb.stop() }
        let start = Date()
        let client = try RawClient(port: port, timeout: 6)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let text = client.readResponse()
        XCTAssertEqual(statusCode(text), 504, text)
        XCTAssertLessThan(Date().timeIntervalSince(start), 4)
    }

    func testNoServerGets503() throws {
        let (lb, port) = try proxy(servers: [])
        defer { lb.stop() }
        let (text, _) = try exchange(port, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(statusCode(text), 503, text)
    }

    func testRefusedServerIsSkippedAndAllRefusedGets503() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let closedPort = refusedPort()  // nothing listens there: connect is refused
        let (lb, port) = try proxy(servers: [closedPort, nginx.ports[0]])
        defer { lb.stop() }
        for _ in 0..<4 {
            XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node1\n")
        }
        lb.waitForAccessLog { $0.split(separator: "\n").filter { $0.contains("\"GET / HTTP/1.1\"") }.count >= 4 }
        // Retried requests are logged as served, with their retry count (httplog's %rc).
        let retried = lb.accessLog.split(separator: "\n").filter { $0.hasSuffix("/1 0/0 \"GET / HTTP/1.1\"") }
        XCTAssertFalse(retried.isEmpty, lb.accessLog)
        XCTAssertTrue(retried.allSatisfy { $0.contains(" 200 ") && $0.contains(" ---- ") }, lb.accessLog)
        lb.stop()
        let (lb2, port2) = try proxy(servers: [closedPort])
        defer { lb2.stop() }
        let (text, _) = try exchange(port2, "GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(statusCode(text), 503, text)
    }
}
