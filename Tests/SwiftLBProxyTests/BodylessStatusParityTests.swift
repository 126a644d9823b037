import Foundation
import XCTest

/// A status that carries no body (1xx, 204, 304) set by `http-response set-status` on a server
/// response that has one: the body is read from the server and dropped, never forwarded — the
/// client would read it as the next response (response splitting: a body that is itself
/// `HTTP/1.1 200 OK…` is a response the server never sent). The same bytes through haproxy 2.6
/// and swiftlb, each in front of its own scripted server on loopback; and an HTTP/2 client,
/// whose stream must neither carry such a body as a response nor bring the process down on a
/// 1xx it cannot carry.
final class BodylessStatusParityTests: XCTestCase {
    /// What the server's body holds: a whole response of its own.
    private static let injected = "HTTP/1.1 200 OK\r\nX-Injected: yes\r\nContent-Length: 0\r\n\r\n"

    private struct Seen: Equatable {
        /// What the client read, header names in lower case (haproxy writes them so).
        var text: String
        var closed: Bool
        /// Server connections the two requests used (1: the connection was reused).
        var connections: Int
    }

    /// `requests` pipelined GETs through `program` with `rule` on the frontend, the server answering
    /// each with `answer`; read until the close or a 1 s pause.
    private func through(_ program: String, rule: String, answer: String, requests: Int, in dir: TempDirectory) throws -> Seen {
        // One request: the server answers it and closes (a body delimited by the close).
        let server = try ScriptedBackend(requests == 1 ? .raw(answer, close: true) : .rawEach(answer))
        defer { server.stop() }
        let port = freePort()
        let proxy = try startEither(program, oneServerConfig(port: port, rules: rule, serverPort: server.port), port: port, in: dir)
        defer { proxy.stop() }
        let client = try RawClient(port: port, timeout: 1)
        client.send(String(repeating: "GET / HTTP/1.1\r\nHost: a\r\n\r\n", count: requests))
        let (text, closed) = client.readAll()
        let lowered = text.components(separatedBy: "\r\n").map { line in
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("HTTP/") else { return line }
            return line[..<colon].lowercased() + line[colon...]
        }.joined(separator: "\r\n")
        return Seen(text: lowered, closed: closed, connections: server.connections)
    }

    private func compare(status: Int, answer: String, requests: Int = 2, keyword: String = "http-response",
                         file: StaticString = #filePath, line: UInt = #line) throws -> Seen {
        let dir = try TempDirectory()
        let rule = "    \(keyword) set-status \(status)"
        let ours = try through("swiftlb", rule: rule, answer: answer, requests: requests, in: dir)
        let theirs = try through("haproxy", rule: rule, answer: answer, requests: requests, in: dir)
        XCTAssertEqual(ours, theirs, "swiftlb, then haproxy, set-status \(status) on \(answer.debugDescription)", file: file, line: line)
        XCTAssertFalse(ours.text.lowercased().contains("x-injected"), "the server's body went out as a response: \(ours.text)", file: file, line: line)
        return ours
    }

    /// 204 and 304 go out alone, the server's body (by its length or in chunks) read and
    /// dropped, and both connections stay: the second request is answered on the same server
    /// connection. A 304 keeps its framing fields (they describe the representation), a 204
    /// loses them, as HAProxy's H1 output writes them.
    func testA204Or304SetOnAResponseWithABodyGoesOutAloneAndTheConnectionsStay() throws {
        let length = "HTTP/1.1 200 OK\r\nContent-Length: \(Self.injected.utf8.count)\r\nX-Server: s\r\n\r\n" + Self.injected
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Server: s\r\n\r\n"
            + String(Self.injected.utf8.count, radix: 16) + "\r\n" + Self.injected + "\r\n0\r\n\r\n"
        for status in [204, 304] {
            for answer in [length, chunked] {
                let seen = try compare(status: status, answer: answer)
                XCTAssertEqual(seen.text.components(separatedBy: "HTTP/1.1 \(status) ").count - 1, 2, seen.text)
                XCTAssertEqual(seen.connections, 1, "the server connection is reused after the dropped body")
                XCTAssertFalse(seen.closed)
            }
        }
    }

    /// The same status set by `http-after-response`, which runs once the response was framed
    /// for the client: its body is dropped as well, and the connections stay.
    func testA204Or304SetAfterTheResponseWasFramedGoesOutAlone() throws {
        let length = "HTTP/1.1 200 OK\r\nContent-Length: \(Self.injected.utf8.count)\r\nX-Server: s\r\n\r\n" + Self.injected
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Server: s\r\n\r\n"
            + String(Self.injected.utf8.count, radix: 16) + "\r\n" + Self.injected + "\r\n0\r\nX-T: 1\r\n\r\n"
        for status in [204, 304] {
            for answer in [length, chunked] {
                let seen = try compare(status: status, answer: answer, keyword: "http-after-response")
                XCTAssertEqual(seen.text.components(separatedBy: "HTTP/1.1 \(status) ").count - 1, 2, seen.text)
                XCTAssertFalse(seen.closed)
            }
        }
    }

    /// A body that ends at the server's close: the head goes out with `Connection: close`, the
    /// body nowhere, and the client connection ends.
    func testA204SetOnABodyUntilTheCloseEndsTheClientConnection() throws {
        let answer = "HTTP/1.1 200 OK\r\nX-Server: s\r\nConnection: close\r\n\r\n" + Self.injected
        for status in [204, 304] {
            let seen = try compare(status: status, answer: answer, requests: 1)
            XCTAssertTrue(seen.closed)
        }
    }

    /// A 1xx made the final status of an empty response: HAProxy sends it without framing
    /// fields and closes (the client would otherwise wait for a response that never comes).
    func testA1xxSetAsTheFinalStatusIsSentAndTheConnectionCloses() throws {
        let seen = try compare(status: 103, answer: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Server: s\r\n\r\n", requests: 1)
        XCTAssertTrue(seen.text.hasPrefix("HTTP/1.1 103 "), seen.text)
        XCTAssertTrue(seen.closed)
    }

    // MARK: an HTTP/2 client

    private func probe(_ port: Int, paths: [String]) throws -> [[String: Int]] {
        var plan: [[String: Any]] = []
        for (index, path) in paths.enumerated() {
            if index > 0 { plan.append(["sleep": 0.3]) }
            plan.append(["id": 2 * index + 1, "headers": [[":method", "GET"], [":scheme", "http"], [":authority", "a"], [":path", path]]])
        }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: plan), as: UTF8.self)
        let run = runCommand("/usr/bin/timeout", ["20", "python3", Paths.fixtures.appendingPathComponent("h2_probe.py").path, "\(port)", json, "1"])
        XCTAssertEqual(run.status, 0, run.err)
        let object = try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any]
        return (object?["frames"] as? [[String: Int]]) ?? []
    }

    private func frames(_ all: [[String: Int]], stream: Int, type: Int) -> [[String: Int]] {
        all.filter { $0["stream"] == stream && $0["type"] == type }
    }

    /// swiftlb with an h2c listener: `/bad` goes to a server answering `bad`, the rest to one
    /// answering `good`.
    private func h2Proxy(rules: String, bad: String, badBackendLines: String = "", global: String = "",
                         in dir: TempDirectory) throws -> (SwiftLBInstance, Int, [ScriptedBackend]) {
        let badServer = try ScriptedBackend(.rawEach(bad))
        let goodServer = try ScriptedBackend(.rawEach("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        let port = freePort()
        let config = global + haproxyDefaults + """

            frontend fe
                bind 127.0.0.1:\(port) proto h2
                http-request set-var(txn.path) path
            \(rules)
                use_backend bad if { path /bad }
                default_backend good
            backend bad
            \(badBackendLines)
                server s 127.0.0.1:\(badServer.port)
            backend good
                server s 127.0.0.1:\(goodServer.port)

            """
        return (try SwiftLBInstance(config: config, waitPort: port, in: dir), port, [badServer, goodServer])
    }

    /// Over HTTP/2 a 1xx made final must not let the body through as the final response (the
    /// stream's translator would read it as one: a second HEADERS); a 204 ends its stream with
    /// its HEADERS.
    func testAnHTTP2ClientGetsNoBodyAsAResponseAfterASetStatus() throws {
        let dir = try TempDirectory()
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: \(Self.injected.utf8.count)\r\n\r\n" + Self.injected
        let rules = """
                http-response set-status 103 if { var(txn.path) -m str /bad }
                http-response set-status 204 if { var(txn.path) -m str /204 }
            """
        let (lb, port, servers) = try h2Proxy(rules: rules, bad: answer, in: dir)
        defer { lb.stop(); servers.forEach { $0.stop() } }
        let all = try probe(port, paths: ["/bad", "/204", "/after"])
        XCTAssertEqual(frames(all, stream: 1, type: 1).count, 1, "the 103 alone, no second HEADERS from the body: \(all)")
        XCTAssertTrue(frames(all, stream: 1, type: 0).isEmpty, "no DATA: \(all)")
        XCTAssertEqual(frames(all, stream: 3, type: 1).map { $0["flags"]! & 1 }, [1], "the 204's HEADERS end the stream: \(all)")
        XCTAssertTrue(frames(all, stream: 3, type: 0).isEmpty, "no DATA after the 204: \(all)")
        XCTAssertEqual(frames(all, stream: 5, type: 1).count, 1, "the next stream is served: \(all)")
        XCTAssertFalse(lb.child.stderr.contains("Fatal error"), lb.child.stderr)
    }

    /// A 1xx the stream's translator cannot carry (a field name with a byte over 127, let
    /// through by `option accept-invalid-http-response`; HPACK has no such name) followed in
    /// the same read by the final head: the stream is reset, the process lives (the final head
    /// once ran on an exchange already ended: "cannot go from done to data"), the next stream
    /// is served.
    func testA1xxAnHTTP2StreamCannotCarryResetsTheStreamNotTheProcess() throws {
        let dir = try TempDirectory()
        let bad = "HTTP/1.1 103 Early Hints\r\nX-\u{e9}t\u{e9}: 1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let (lb, port, servers) = try h2Proxy(rules: "", bad: bad, badBackendLines: "    option accept-invalid-http-response", in: dir)
        defer { lb.stop(); servers.forEach { $0.stop() } }
        let all = try probe(port, paths: ["/bad", "/after"])
        XCTAssertFalse(frames(all, stream: 1, type: 3).isEmpty, "stream 1 is reset: \(all)")
        XCTAssertTrue(frames(all, stream: 1, type: 0).isEmpty, "no DATA on the reset stream: \(all)")
        XCTAssertEqual(frames(all, stream: 3, type: 0).last.map { $0["flags"]! & 1 }, 1, "the next stream is served whole: \(all)")
        let next = curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/after"])
        XCTAssertEqual(next.out, "200", next.err)
        XCTAssertFalse(lb.child.stderr.contains("Fatal error"), lb.child.stderr)
    }

    /// With `tune.bufsize 131072` the engine takes a 1xx head of 70 000 bytes; the stream's
    /// translator bounds it as the engine does (it once refused any head over 65 536 bytes,
    /// reset the stream and, in a debug build, stopped the process): the final response
    /// reaches the client. (The 1xx itself does not: NIOHTTP2 sends no CONTINUATION and fails a
    /// HEADERS frame over 16 384 bytes; see docs/conformance.md.)
    func testALarge1xxWithinTuneBufsizeLeavesTheHTTP2StreamWhole() throws {
        let dir = try TempDirectory()
        let bad = "HTTP/1.1 103 Early Hints\r\nX-Big: \(String(repeating: "b", count: 70000))\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let (lb, port, servers) = try h2Proxy(rules: "", bad: bad, global: "global\n    tune.bufsize 131072\n", in: dir)
        defer { lb.stop(); servers.forEach { $0.stop() } }
        let all = try probe(port, paths: ["/bad"])
        XCTAssertTrue(frames(all, stream: 1, type: 3).isEmpty, "no reset: \(all)")
        XCTAssertFalse(frames(all, stream: 1, type: 1).isEmpty, "the 200's HEADERS: \(all)")
        XCTAssertEqual(frames(all, stream: 1, type: 0).last.map { $0["flags"]! & 1 }, 1, "the body ends the stream: \(all)")
        XCTAssertFalse(lb.child.stderr.contains("Fatal error"), lb.child.stderr)
    }
}
