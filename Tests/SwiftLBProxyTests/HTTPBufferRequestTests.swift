import Foundation
import XCTest

/// `option http-buffer-request`: a request goes to a server only once its body is in — no
/// server connection is even opened before. A client that stalls gets HAProxy's 408 (logged
/// `cR`, on the frontend: HAProxy answers it before choosing a backend); one that leaves is
/// logged `CR` with no queue time (`Tw` -1).
final class HTTPBufferRequestTests: XCTestCase {
    /// SwiftLB in front of a backend that answers "done": `frontend` lines go into `fe`.
    private func start(client: String, frontend: String, in dir: TempDirectory) throws -> (SwiftLBInstance, ScriptedBackend, Int) {
        let backend = try ScriptedBackend(.delayed(.milliseconds(1), body: "done"))
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            defaults
                mode http
                option httplog
                timeout connect 2s
                timeout client \(client)
                timeout server 5s
            frontend fe
                bind 127.0.0.1:\(port)
            \(frontend)
                default_backend app
            backend app
                server s1 127.0.0.1:\(backend.port)

            """, waitPort: port, in: dir)
        return (lb, backend, port)
    }

    func testTheServerSeesTheRequestOnlyOnceItsBodyIsIn() throws {
        let dir = try TempDirectory()
        let (lb, backend, port) = try start(client: "600ms", frontend: "    option http-buffer-request", in: dir)
        defer { lb.stop(); backend.stop() }

        // The body in two parts, 300 ms apart (less than timeout client): nothing reaches the
        // server before the second.
        let client = try RawClient(port: port, timeout: 5)
        client.send("POST /whole HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345")
        usleep(300_000)
        XCTAssertEqual(backend.connections, 0, "a server connection was opened before the body was in")
        client.send("67890")
        XCTAssertTrue(client.readResponse().hasSuffix("done"))
        XCTAssertEqual(backend.connections, 1)

        // A client that stops sending its body: 408 after timeout client, the frontend logged.
        let staller = try RawClient(port: port, timeout: 5)
        staller.send("POST /stalled HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n123")
        XCTAssertTrue(staller.readAll().text.hasPrefix("HTTP/1.1 408 "))

        // A client that leaves before its body is in.
        let leaver = try RawClient(port: port, timeout: 5)
        leaver.send("POST /left HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n")
        usleep(200_000)
        leaver.shutdownBoth()

        lb.waitForAccessLog { $0.contains("/stalled") && $0.contains("/left") }
        let lines = lb.accessLog.split(separator: "\n")
        let stalled = lines.first { $0.contains("/stalled") } ?? ""
        XCTAssertTrue(stalled.contains(" fe fe/<NOSRV> ") && stalled.contains(" 408 ") && stalled.contains(" cR-- "), "\(stalled)")
        let left = lines.first { $0.contains("/left") } ?? ""
        XCTAssertTrue(left.range(of: #" fe app/<NOSRV> \d+/-1/-1/-1/\d+ -1 .* CR-- "#, options: .regularExpression) != nil, "\(left)")
        XCTAssertEqual(backend.connections, 1, "only the complete request reached the server")
    }

    /// `http-request wait-for-body time T at-least N`: the request goes on once N body bytes
    /// are in (the rest follows); a body that does not come within T is a 408.
    func testWaitForBodyGoesOnAtItsThresholdOrAnswers408() throws {
        let dir = try TempDirectory()
        let (lb, backend, port) = try start(client: "5s", frontend: """
                http-request wait-for-body time 400ms at-least 4 if { path /b }
                http-request wait-for-body time 400ms if { path /a }
            """, in: dir)
        defer { lb.stop(); backend.stop() }
        let threshold = try RawClient(port: port, timeout: 5)
        threshold.send("POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12")
        usleep(150_000)
        XCTAssertEqual(backend.connections, 0, "dispatched before 4 body bytes were in")
        threshold.send("34")
        usleep(150_000)
        XCTAssertEqual(backend.connections, 1, "not dispatched once 4 body bytes were in")
        let late = try RawClient(port: port, timeout: 5)
        let started = Date()
        late.send("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n12345")
        XCTAssertTrue(late.readAll().text.hasPrefix("HTTP/1.1 408 "))
        XCTAssertLessThan(Date().timeIntervalSince(started), 3, "the 408 comes after 'time', not 'timeout client'")
        XCTAssertEqual(backend.connections, 1)
    }
}
