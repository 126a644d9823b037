import Foundation
import XCTest

/// WebSocket through SwiftLB against python `websockets` servers on loopback: the upgrade is
/// routed, balanced and made sticky like any request; the tunnel opens only on a 101 that
/// answers the client's key; bytes flow both ways with backpressure; every tunnel ends.
final class WebSocketTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// A `ws_server.py` on a loopback port.
    final class WSServer {
        let port: Int
        let child: ChildProcess
        init(name: String, mode: String = "echo", in dir: TempDirectory) throws {
            port = freePort()
            child = try ChildProcess("/usr/bin/env", ["python3", Paths.fixtures.appendingPathComponent("ws_server.py").path, "\(port)", name, mode],
                                     logDirectory: dir, name: "ws-\(name)-\(port)")
            guard waitForPort(port) else { throw HarnessError("ws_server.py did not start: \(child.stderr)") }
        }
        func stop() { child.stop() }
    }

    /// Runs `ws_client.py` and returns its JSON answer.
    private func client(_ arguments: [String], timeout: Int = 120) throws -> [String: Any] {
        let r = runCommand("/usr/bin/timeout", ["\(timeout)", "python3", Paths.fixtures.appendingPathComponent("ws_client.py").path] + arguments)
        guard let line = r.out.split(separator: "\n").last,
              let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw HarnessError("ws_client.py \(arguments): \(r.out) \(r.err)")
        }
        return object
    }

    private func proxy(_ servers: [Int], backend extra: String = "", frontend: String = "", defaults: String? = nil) throws -> (SwiftLBInstance, Int) {
        let port = freePort()
        let config = (defaults ?? testDefaults()) + """
            frontend fe
                bind 127.0.0.1:\(port)
            \(frontend)
                default_backend ws
            backend ws
            \(extra)
            \(serverLines(servers, cookie: "w"))

            """
        return (try SwiftLBInstance(config: config, waitPort: port, in: dir), port)
    }

    func testAThousandConcurrentTunnelsEchoTextAndOneMiBIntact() throws {
        let servers = try (1...2).map { try WSServer(name: "ws\($0)", in: dir) }
        defer { servers.forEach { $0.stop() } }
        // timeout tunnel: without it a tunnel idles out after min(client, server) = 5 s, and a
        // loaded machine can leave one of a thousand waiting that long for its turn.
        let (lb, port) = try proxy(servers.map(\.port), backend: "    balance leastconn\n    timeout tunnel 60s")
        defer { lb.stop() }
        let answer = try client(["echo", "ws://127.0.0.1:\(port)/echo", "1000"], timeout: 300)
        XCTAssertEqual(answer["ok"] as? Int, 1000, "\(answer)")
        XCTAssertEqual(answer["failed"] as? Int, 0, "\(answer)")
        lb.waitForAccessLog { $0.components(separatedBy: " 101 ").count - 1 >= 1000 }
        XCTAssertEqual(lb.accessLog.components(separatedBy: " 101 ").count - 1, 1000, "one log line per tunnel, at its end")
    }

    /// A tunnel counts on the frontend that accepted it (stats JSON `websocket`), not on the
    /// first frontend of the file (they were once counted process-wide there).
    func testTunnelsCountOnTheirOwnFrontend() throws {
        let server = try WSServer(name: "count", in: dir)
        defer { server.stop() }
        let quiet = freePort(), busy = freePort(), stats = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend quiet
                bind 127.0.0.1:\(quiet)
                default_backend ws
            frontend busy
                bind 127.0.0.1:\(busy)
                default_backend ws
            backend ws
                server s1 127.0.0.1:\(server.port)
            listen stats
                bind 127.0.0.1:\(stats)
                stats uri /

            """, waitPort: busy, in: dir)
        defer { lb.stop() }
        let answer = try client(["echo", "ws://127.0.0.1:\(busy)/echo", "4", "--big", "1000"])
        XCTAssertEqual(answer["ok"] as? Int, 4, "\(answer)")
        let json = curl(["http://127.0.0.1:\(stats)/;json"]).out
        guard let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any],
              let rows = object["stats"] as? [[String: Any]] else {
            return XCTFail("stats JSON: \(json.prefix(300))")
        }
        func websocket(_ proxy: String) -> [String: Int]? {
            rows.first { $0["pxname"] as? String == proxy && $0["svname"] as? String == "FRONTEND" }?["websocket"] as? [String: Int]
        }
        XCTAssertEqual(websocket("busy")?["total"], 4, "\(websocket("busy") ?? [:])")
        XCTAssertGreaterThan(websocket("busy")?["bytes_in"] ?? 0, 4000, "\(websocket("busy") ?? [:])")
        XCTAssertEqual(websocket("quiet")?["total"], 0, "\(websocket("quiet") ?? [:])")
    }

    func testTunnelsOverTLS() throws {
        let pem = dir.file("ws.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["ws.example.test", pem]).status, 0)
        let server = try WSServer(name: "tls1", in: dir)
        defer { server.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(pem) alpn http/1.1
                default_backend ws
            backend ws
                server s1 127.0.0.1:\(server.port)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let answer = try client(["echo", "wss://127.0.0.1:\(port)/echo", "50", "--cafile", pem])
        XCTAssertEqual(answer["ok"] as? Int, 50, "\(answer)")
    }

    func testARefusedUpgradeStaysHTTP() throws {
        let refusing = try WSServer(name: "refuse", mode: "refuse", in: dir)
        defer { refusing.stop() }
        let (lb, port) = try proxy([refusing.port])
        defer { lb.stop() }
        let answer = try client(["handshake", "ws://127.0.0.1:\(port)/"])
        XCTAssertEqual(answer["status"] as? Int, 426, "\(answer)")
        // On one connection: the 426, then a plain request is still answered (no tunnel opened).
        let raw = try RawClient(port: port)
        raw.send("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        XCTAssertEqual(statusCode(raw.readResponse()), 426)
        raw.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let second = raw.readResponse()
        XCTAssertEqual(statusCode(second), 200, second)
        XCTAssertTrue(second.hasSuffix("refuse\n"), second)
    }

    func testA101WithTheWrongAcceptNeverOpensATunnel() throws {
        let liar = try WSServer(name: "liar", mode: "bad-accept", in: dir)
        defer { liar.stop() }
        let (lb, port) = try proxy([liar.port])
        defer { lb.stop() }
        let raw = try RawClient(port: port, timeout: 3)
        raw.send("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        let (text, closed) = raw.readAll()
        XCTAssertTrue(closed, "the connection must end with a refused switch")
        XCTAssertFalse(text.lowercased().contains("upgrade: websocket"), "no tunnel may be announced: \(text)")
        XCTAssertFalse(text.contains("hello"), "the server's frame must not reach the client: \(text)")
        let answer = try client(["handshake", "ws://127.0.0.1:\(port)/"])
        XCTAssertNotEqual(answer["status"] as? Int, 101, "\(answer)")
    }

    /// What HAProxy's parser refuses in a handshake: a WebSocket request without any
    /// Sec-WebSocket-Key gets 400 (not passed on as plain HTTP), a 101 without any
    /// Sec-WebSocket-Accept gets the client a 502; the server sees `connection: upgrade` as
    /// HAProxy writes it. (A wrong accept value stays a refused switch, above.)
    func testAHandshakeWithoutItsKeyOrAcceptIsRefusedAsByHAProxy() throws {
        let recorder = try RecordingBackend(in: dir)
        defer { recorder.stop() }
        let silent = try WSServer(name: "silent", mode: "no-accept", in: dir)
        defer { silent.stop() }
        let (lb, port) = try proxy([recorder.port])
        defer { lb.stop() }
        let noKey = try RawClient(port: port, timeout: 3)
        noKey.send("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
        XCTAssertEqual(statusCode(noKey.readResponse()), 400)
        let (lb2, port2) = try proxy([silent.port])
        defer { lb2.stop() }
        let noAccept = try RawClient(port: port2, timeout: 3)
        noAccept.send(WebSocketBytes.upgrade())
        XCTAssertEqual(statusCode(noAccept.readResponse()), 502)
        let upgrade = try RawClient(port: port, timeout: 3)
        upgrade.send(WebSocketBytes.upgrade())
        _ = upgrade.readResponse()
        let seen = recorder.waitForRequests(1)
        XCTAssertTrue(seen.first?.raw.contains("\r\nConnection: upgrade\r\n") ?? false, "\(seen)")
        XCTAssertEqual(seen.count, 1, "the request without a key never reached the server")
    }

    func testUpgradeH2CIsNotForwarded() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let (lb, port) = try proxy([backend.port])
        defer { lb.stop() }
        let raw = try RawClient(port: port)
        raw.send("GET /h2c HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n")
        XCTAssertEqual(statusCode(raw.readResponse()), 200)
        let seen = backend.waitForRequests(1)
        let head = seen.first?.raw.lowercased() ?? ""
        XCTAssertFalse(head.contains("upgrade"), head)
        XCTAssertFalse(head.contains("http2-settings"), head)
    }

    /// A second `Upgrade` line cannot smuggle h2c or WebSocket past the checks of the first:
    /// a request with two is forwarded as plain HTTP, without its upgrade.
    func testTwoUpgradeLinesAreNoUpgrade() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let (lb, port) = try proxy([backend.port])
        defer { lb.stop() }
        for (n, second) in ["h2c", "websocket"].enumerated() {
            let raw = try RawClient(port: port)
            raw.send("GET /two\(n) HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: foo\r\nUpgrade: \(second)\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n")
            XCTAssertEqual(statusCode(raw.readResponse()), 200, second)
            let head = backend.waitForRequests(n + 1).last?.raw.lowercased() ?? ""
            XCTAssertTrue(head.hasPrefix("get /two\(n) "), head)
            XCTAssertFalse(head.contains("upgrade"), "\(second): \(head)")
        }
    }

    func testAnIdleTunnelIsClosedAtItsTimeout() throws {
        let server = try WSServer(name: "idle", in: dir)
        defer { server.stop() }
        let defaults = """
            defaults
                mode http
                option httplog
                timeout connect 2s
                timeout client 2s
                timeout server 2s

            """
        let (lb, port) = try proxy([server.port], defaults: defaults)
        defer { lb.stop() }
        let answer = try client(["idle", "ws://127.0.0.1:\(port)/", "10"])
        let after = try XCTUnwrap(answer["closed_after"] as? Double, "the idle tunnel was never closed: \(answer)")
        XCTAssertGreaterThan(after, 1.5)
        XCTAssertLessThan(after, 6)
        lb.waitForAccessLog { $0.contains(" 101 ") }
        XCTAssertTrue(lb.accessLog.contains(" 101 "), lb.accessLog)
    }

    func testACookieStickyUpgradeLandsOnItsServer() throws {
        let servers = try (1...3).map { try WSServer(name: "node\($0)", in: dir) }
        defer { servers.forEach { $0.stop() } }
        let (lb, port) = try proxy(servers.map(\.port), backend: "    cookie SERVERID insert indirect nocache")
        defer { lb.stop() }
        let first = try client(["whoami", "ws://127.0.0.1:\(port)/whoami"])
        let setCookie = try XCTUnwrap(first["set_cookie"] as? String, "the 101 carries the sticky cookie: \(first)")
        let cookie = String(setCookie.prefix { $0 != ";" })
        let name = try XCTUnwrap(first["name"] as? String)
        for _ in 0..<6 {
            let again = try client(["whoami", "ws://127.0.0.1:\(port)/whoami", "--cookie", cookie])
            XCTAssertEqual(again["name"] as? String, name)
        }
    }

    func testAServerKilledMidTunnelClosesTheClient() throws {
        let server = try WSServer(name: "mortal", in: dir)
        let (lb, port) = try proxy([server.port])
        defer { lb.stop() }
        let raw = try RawClient(port: port, timeout: 5)
        raw.send("GET /echo HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        let head = raw.read(until: "\r\n\r\n")
        XCTAssertEqual(statusCode(head), 101, head)
        server.child.signal(SIGKILL)
        _ = server.child.waitForExit(timeout: 5)
        let start = Date()
        let (_, closed) = raw.readAll()
        XCTAssertTrue(closed, "the client side must be closed when the server dies")
        XCTAssertLessThan(Date().timeIntervalSince(start), 4)
    }

    func testASlowReaderDoesNotGrowSwiftLBsMemory() throws {
        let server = try WSServer(name: "flood", in: dir)
        defer { server.stop() }
        let (lb, port) = try proxy([server.port])
        defer { lb.stop() }
        let before = lb.child.rssKiB
        // The server pushes 64 MiB; the client reads nothing for 4 s.
        _ = try client(["stall", "ws://127.0.0.1:\(port)/flood", "4"])
        let peak = lb.child.rssKiB
        XCTAssertLessThan(peak - before, 16 * 1024, "RSS grew from \(before) KiB to \(peak) KiB: the tunnel buffered what the client did not read")
    }
}
