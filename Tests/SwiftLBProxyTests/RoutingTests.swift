import Foundation
import XCTest

/// Requests through a real `swiftlb run` to real nginx servers on loopback: balancing,
/// routing rules, header rewriting, HTTP versions and pipelining.
final class RoutingTests: XCTestCase {
    var dir: TempDirectory!
    var nginx: NginxBackends!

    override func setUpWithError() throws {
        dir = try TempDirectory()
        nginx = try NginxBackends(count: 3, in: dir)
    }

    override func tearDown() {
        nginx?.stop()
        dir = nil
    }

    private func startProxy(_ body: String) throws -> (SwiftLBInstance, Int) {
        let port = freePort()
        let config = testDefaults() + body.replacingOccurrences(of: "PORT", with: "\(port)")
        return (try SwiftLBInstance(config: config, waitPort: port, in: dir), port)
    }

    private var threeServers: String {
        serverLines(nginx.ports)
    }

    func testRoundRobinSpreadsEvenlyOverThreeServers() throws {
        let (lb, port) = try startProxy("""
            frontend fe
                bind 127.0.0.1:PORT
                default_backend nodes
            backend nodes
                balance roundrobin
            \(threeServers)
            """)
        defer { lb.stop() }
        // One curl, one keep-alive connection, 30 requests.
        let urls = (0..<30).map { _ in "http://127.0.0.1:\(port)/" }
        let result = curl(urls)
        XCTAssertEqual(result.status, 0, result.err)
        let counts = Dictionary(grouping: result.out.split(separator: "\n"), by: { $0 }).mapValues(\.count)
        XCTAssertEqual(counts, ["node1": 10, "node2": 10, "node3": 10])
        // The access log has one line per request, naming backend/server and status.
        lb.waitForAccessLog { $0.split(separator: "\n").filter { $0.contains("\"GET / HTTP/1.1\"") }.count >= 30 }
        let lines = lb.accessLog.split(separator: "\n").filter { $0.contains("\"GET / HTTP/1.1\"") }
        XCTAssertEqual(lines.count, 30)
        XCTAssertTrue(lines.allSatisfy { $0.contains(" fe nodes/node") && $0.contains(" 200 ") }, lines.first.map(String.init) ?? "")
    }

    func testWeightsShapeTheSpread() throws {
        let (lb, port) = try startProxy("""
            frontend fe
                bind 127.0.0.1:PORT
                default_backend nodes
            backend nodes
                server node1 127.0.0.1:\(nginx.ports[0]) weight 3
                server node2 127.0.0.1:\(nginx.ports[1]) weight 2
                server node3 127.0.0.1:\(nginx.ports[2]) weight 1
            """)
        defer { lb.stop() }
        let result = curl((0..<60).map { _ in "http://127.0.0.1:\(port)/" })
        let counts = Dictionary(grouping: result.out.split(separator: "\n"), by: { $0 }).mapValues(\.count)
        XCTAssertEqual(counts, ["node1": 30, "node2": 20, "node3": 10])
    }

    func testForwardedForAndHostReachTheBackend() throws {
        let (lb, port) = try startProxy("""
            frontend fe
                bind 127.0.0.1:PORT
                option forwardfor
                default_backend nodes
            backend nodes
                server node1 127.0.0.1:\(nginx.ports[0])
            """)
        defer { lb.stop() }
        let result = curl(["-H", "Host: hipchat.example.test", "http://127.0.0.1:\(port)/xff"])
        XCTAssertEqual(result.out, "xff=127.0.0.1 host=hipchat.example.test node1\n")
    }

    func testACLsChooseTheBackend() throws {
        let (lb, port) = try startProxy("""
            frontend fe
                bind 127.0.0.1:PORT
                acl is_api path_beg /api/
                acl is_chat hdr(host) -i Chat.Example.Test
                acl numbered path_reg ^/item/[0-9]+$
                acl is_post method POST
                use_backend b2 if is_api || numbered
                use_backend b3 if is_chat !is_post
                use_backend b3 if { path_end .jpg }
                default_backend b1
            backend b1
                server node1 127.0.0.1:\(nginx.ports[0])
            backend b2
                server node2 127.0.0.1:\(nginx.ports[1])
            backend b3
                server node3 127.0.0.1:\(nginx.ports[2])
            """)
        defer { lb.stop() }
        func get(_ path: String, host: String = "x", method: String = "GET") -> String {
            // nginx answers "node N" on "/" only; other paths give 404 pages that name nothing,
            // so the path is rewritten to "/" by asking for the backend in a header instead.
            curl(["-X", method, "-H", "Host: \(host)", "-o", "/dev/null", "-w", "%{http_code}", "-D", "-", "http://127.0.0.1:\(port)\(path)"]).out
        }
        // Distinguish backends by the access log's backend name.
        _ = get("/api/users")
        _ = get("/item/42")
        _ = get("/item/4x2")
        _ = get("/", host: "CHAT.example.test")
        _ = get("/", host: "chat.example.test", method: "POST")
        _ = get("/photo.jpg")
        lb.waitForAccessLog { $0.split(separator: "\n").count >= 6 }
        let backends = lb.accessLog.split(separator: "\n").map { $0.split(separator: " ")[3].split(separator: "/")[0] }
        XCTAssertEqual(backends, ["b2", "b2", "b1", "b3", "b1", "b3"])
    }

    func testHeaderRulesAndHopByHopRemoval() throws {
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let (lb, port) = try startProxy("""
            frontend fe
                bind 127.0.0.1:PORT
                http-request set-header X-Client "ip=%[src] path=%[path]"
                http-request del-header User-Agent
                http-request add-header X-Tag api if { path_beg /echo }
                default_backend app
            backend app
                http-request set-header X-Backend app
                server s 127.0.0.1:\(stream.port)
            """)
        defer { lb.stop() }
        let result = curl(["-H", "Connection: keep-alive, X-Secret", "-H", "X-Secret: 1", "-H", "Keep-Alive: timeout=5",
                           "-H", "TE: trailers", "-H", "Proxy-Connection: keep-alive", "http://127.0.0.1:\(port)/echo-headers?q=1"])
        let headers = result.out
        XCTAssertTrue(headers.contains("x-client: ip=127.0.0.1 path=/echo-headers\n"), headers)
        XCTAssertTrue(headers.contains("x-tag: api\n"), headers)
        XCTAssertTrue(headers.contains("x-backend: app\n"), headers)
        XCTAssertTrue(headers.contains("te: trailers\n"), "TE: trailers goes on, as HAProxy sends it:\n\(headers)")
        for gone in ["user-agent", "x-secret", "keep-alive", "proxy-connection", "connection: "] {
            XCTAssertFalse(headers.contains(gone), "\(gone) reached the backend:\n\(headers)")
        }
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let (lb, port) = try startProxy("""
            frontend fe
                bind 127.0.0.1:PORT
                default_backend nodes
            backend nodes
            \(threeServers)
            """)
        defer { lb.stop() }
        let client = try RawClient(port: port)
        client.send("GET /path1 HTTP/1.1\r\nHost: a\r\n\r\nGET /path2 HTTP/1.1\r\nHost: a\r\n\r\nGET /path3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let (text, closed) = client.readAll()
        let bodies = text.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix { $0 != "\n" } }
        XCTAssertEqual(bodies, ["one", "two", "three"], text)
        XCTAssertTrue(closed, "Connection: close must close after the last response")
    }

    /// As HAProxy 2.6 relays it (HTTP1EdgeParityTests compares the bytes): the server's
    /// version in the status line and its chunks as they came, then the connection closes.
    func testHTTP10ClientGetsTheServersAnswerAsHAProxyRelaysIt() throws {
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let (lb, port) = try startProxy("""
            frontend fe
                bind 127.0.0.1:PORT
                default_backend app
            backend app
                server s 127.0.0.1:\(stream.port)
            """)
        defer { lb.stop() }
        // No Host, HTTP/1.0, chunked from the server.
        let client = try RawClient(port: port)
        client.send("GET /chunked?size=100000&seed=3 HTTP/1.0\r\n\r\n")
        let (text, closed) = client.readAll()
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 200"), String(text.prefix(200)))
        XCTAssertTrue(text.lowercased().contains("\r\ntransfer-encoding: chunked\r\n"), String(text.prefix(200)))
        XCTAssertTrue(text.lowercased().contains("\r\nconnection: close\r\n"), String(text.prefix(200)))
        XCTAssertTrue(closed)
        let direct = curl(["--raw", "http://127.0.0.1:\(stream.port)/chunked?size=100000&seed=3"]).out
        XCTAssertEqual(text.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n").utf8.count, direct.utf8.count)
        // HTTP/1.0 with keep-alive stays open for a second request.
        let ka = try RawClient(port: port)
        ka.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = ka.read(until: "stream_server\n")
        XCTAssertTrue(first.lowercased().contains("connection: keep-alive"), first)
        ka.send("GET / HTTP/1.0\r\n\r\n")
        XCTAssertTrue(ka.read(until: "stream_server\n").hasPrefix("HTTP/1.1 200"))
    }
}
