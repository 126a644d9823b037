import Foundation
import SwiftLBTestSupport
import XCTest

/// HTTP/2 clients on loopback through SwiftLB to an HTTP/1.1 origin that records every byte it
/// receives: curl with prior knowledge (`bind … proto h2`) and over TLS with ALPN (`alpn
/// h2,http/1.1`), nghttp for several streams on one connection, a raw-socket probe
/// (Tests/fixtures/h2_probe.py) for the frames curl never sends or never shows (RST_STREAM,
/// GOAWAY), and HAProxy 2.6 on the same requests for what the server must receive.
final class HTTP2FrontendTests: XCTestCase {
    private func h2Proxy(_ origin: RecordingBackend, bindExtra: String = "proto h2", httpRequest: String = "5s", global: String = "",
                         in dir: TempDirectory) throws -> (SwiftLBInstance, Int) {
        let port = freePort()
        let defaults = testDefaults(httpRequest: httpRequest)
        let config = global + defaults + """
            frontend fe
                bind 127.0.0.1:\(port) \(bindExtra)
                default_backend app
            backend app
                server s1 127.0.0.1:\(origin.port)

            """
        return (try SwiftLBInstance(config: config, waitPort: port, in: dir), port)
    }

    private func probe(_ port: Int, _ plan: String, seconds: Double, prefix: String = "") throws -> (frames: [[String: Int]], closed: Bool) {
        let run = runCommand("/usr/bin/timeout", ["20", "python3", Paths.fixtures.appendingPathComponent("h2_probe.py").path, "\(port)", plan, "\(seconds)", prefix])
        XCTAssertEqual(run.status, 0, run.err)
        let object = try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any]
        return ((object?["frames"] as? [[String: Int]]) ?? [], object?["closed"] as? Bool ?? false)
    }

    /// The probe in the background, for a test that acts on the proxy meanwhile.
    private func startProbe(_ port: Int, _ plan: String, seconds: Double) throws -> SpawnedProcess {
        try SpawnedProcess("/usr/bin/python3", [Paths.fixtures.appendingPathComponent("h2_probe.py").path, "\(port)", plan, "\(seconds)"],
                           stdout: .pipe)
    }

    /// The recorded heads with the proxy's own port written `PORT`.
    private func heads(_ origin: RecordingBackend, count: Int, port: Int) -> [String] {
        origin.waitForRequests(count).map { $0.raw.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:PORT") }
    }

    func testPriorKnowledgeRequestsReachTheServerAsHTTP11AndAreLoggedPerStream() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let stats = StatsClient(in: dir)
        let (lb, port) = try h2Proxy(origin, global: stats.global, in: dir)
        defer { lb.stop() }
        let base = "http://127.0.0.1:\(port)"

        let get = curl(["--http2-prior-knowledge", "-w", "%{http_version}", "-H", "cookie: a=1", "\(base)/path?q=1"])
        XCTAssertTrue(get.out.hasSuffix("index=0 GET /path?q=1\n2"), get.out + get.err)
        let post = curl(["--http2-prior-knowledge", "-d", "abc", "\(base)/post"])
        XCTAssertTrue(post.out.hasSuffix("POST /post\n"), post.out + post.err)
        // No length announced: the body goes to the server chunked.
        let chunked = curl(["--http2-prior-knowledge", "-H", "transfer-encoding: chunked", "-d", "xyz", "\(base)/chunk"])
        XCTAssertTrue(chunked.out.hasSuffix("POST /chunk\n"), chunked.out + chunked.err)
        let seen = origin.waitForRequests(3)
        XCTAssertEqual(seen.count, 3)
        XCTAssertTrue(seen[0].raw.hasPrefix("GET /path?q=1 HTTP/1.1\r\nhost: 127.0.0.1:\(port)\r\n"), seen[0].raw)
        XCTAssertTrue(seen[0].raw.contains("\r\ncookie: a=1\r\n"), seen[0].raw)
        XCTAssertTrue(seen[1].raw.contains("\r\ncontent-length: 3\r\n") && seen[1].body == "abc", seen[1].raw)
        XCTAssertTrue(seen[2].raw.contains("\r\ntransfer-encoding: chunked\r\n") && seen[2].body == "xyz", seen[2].raw)

        // Three streams on one connection (nghttp multiplexes them): three log lines, one
        // connection and three requests in the frontend's counters.
        let before = Int(stats.field("fe", "FRONTEND", "conn_tot") ?? "") ?? -1
        let many = runCommand("/usr/bin/timeout", ["20", "nghttp", "-n", "\(base)/m1", "\(base)/m2", "\(base)/m3"])
        XCTAssertEqual(many.status, 0, many.out + many.err)
        lb.waitForAccessLog { $0.components(separatedBy: " HTTP/2.0\"").count - 1 >= 6 }
        let lines = lb.accessLog.split(separator: "\n").filter { $0.contains("HTTP/2.0\"") }
        XCTAssertEqual(lines.count, 6, lb.accessLog)
        XCTAssertTrue(lines.contains { $0.contains(" 200 ") && $0.hasSuffix("\"GET http://127.0.0.1:\(port)/m2 HTTP/2.0\"") }, lb.accessLog)
        XCTAssertEqual(Int(stats.field("fe", "FRONTEND", "conn_tot") ?? ""), before + 1, "one connection for three streams")
        XCTAssertEqual(stats.field("fe", "FRONTEND", "req_tot"), "6")
        XCTAssertEqual(stats.field("app", "s1", "stot"), "6")
    }

    func testALPNChoosesHTTP2OrHTTP11OnOneTLSListener() throws {
        let dir = try TempDirectory()
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["h2.example.test", pem]).status, 0)
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let (lb, port) = try h2Proxy(origin, bindExtra: "ssl crt \(pem) alpn h2,http/1.1", in: dir)
        defer { lb.stop() }
        let url = "https://127.0.0.1:\(port)/x"
        let h2 = curl(["-k", "--http2", "-w", " %{http_version}", url])
        XCTAssertTrue(h2.out.hasSuffix("GET /x\n 2"), h2.out + h2.err)
        let h1 = curl(["-k", "--http1.1", "-w", " %{http_version}", url])
        XCTAssertTrue(h1.out.hasSuffix("GET /x\n 1.1"), h1.out + h1.err)
        XCTAssertEqual(origin.waitForRequests(2).count, 2)
        // No handshake at all (plain HTTP to the TLS port): logged as on any TLS listener.
        _ = curl(["--http1.1", "http://127.0.0.1:\(port)/"], maxTime: 5)
        lb.waitForAccessLog { $0.contains("SSL handshake failure") }
        XCTAssertTrue(lb.accessLog.contains("fe/tls: SSL handshake failure"), lb.accessLog)
        lb.waitForAccessLog { $0.contains("HTTP/1.1\"") && $0.contains("HTTP/2.0\"") }
        XCTAssertTrue(lb.accessLog.contains("\"GET https://127.0.0.1:\(port)/x HTTP/2.0\""), lb.accessLog)
        XCTAssertTrue(lb.accessLog.contains("\"GET /x HTTP/1.1\""), lb.accessLog)
    }

    /// HAProxy 2.6 with the same `bind … proto h2` and the same requests: the server receives
    /// the same HTTP/1.1 bytes from both (HAProxy's header order: Host first, the fields in
    /// their order, Content-Length where it came, the joined Cookie last).
    func testTheServerReceivesWhatHAProxySends() throws {
        try requireHAProxy()
        let dir = try TempDirectory()
        let ours = try RecordingBackend(in: dir), theirs = try RecordingBackend(in: dir)
        defer { ours.stop(); theirs.stop() }
        let (lb, port) = try h2Proxy(ours, in: dir)
        defer { lb.stop() }
        let haPort = freePort()
        let haproxy = try startHAProxy("""
            \(haproxyDefaults)
            frontend fe
                bind 127.0.0.1:\(haPort) proto h2
                default_backend app
            backend app
                server s1 127.0.0.1:\(theirs.port)

            """, port: haPort, in: dir, name: "haproxy-h2")
        defer { haproxy.stop() }
        for p in [port, haPort] {
            let base = "http://127.0.0.1:\(p)"
            _ = curl(["--http2-prior-knowledge", "-H", "X-Mixed: V", "-H", "accept: text/html", "\(base)/a?b=c"])
            _ = curl(["--http2-prior-knowledge", "-d", "abc", "-H", "x-after: 1", "\(base)/post"])
            _ = curl(["--http2-prior-knowledge", "-H", "transfer-encoding: chunked", "-d", "xyz", "\(base)/chunk"])
            // Split cookies (curl sends them as it is given them) and an authority on a default port.
            _ = runCommand("/usr/bin/timeout", ["10", "nghttp", "-n", "-H", "cookie: c1=foo", "-H", "cookie: c2=bar", "-H", ":authority: hostname:80", "\(base)/cookie"])
        }
        XCTAssertEqual(heads(ours, count: 4, port: port), heads(theirs, count: 4, port: haPort))
        XCTAssertEqual(heads(ours, count: 4, port: port).count, 4)
    }

    /// HAProxy credits every DATA frame at once with a stream WINDOW_UPDATE, also the one that
    /// ended the stream (h2_to_h1.vtc waits for it before the response); NIOHTTP2 would not.
    func testADataFrameThatEndsTheStreamIsCreditedBeforeTheResponse() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let (lb, port) = try h2Proxy(origin, in: dir)
        defer { lb.stop() }
        let plan = #"[{"id":1,"headers":[[":method","POST"],[":scheme","http"],[":path","/b"]],"data":"this must be delivered"}]"#
        let (frames, _) = try probe(port, plan, seconds: 2)
        let onStream = frames.filter { $0["stream"] == 1 }
        XCTAssertEqual(onStream.first?["type"], 8, "WINDOW_UPDATE first on the stream: \(frames)")
        XCTAssertTrue(onStream.contains { $0["type"] == 1 }, "then the response: \(frames)")
        XCTAssertEqual(origin.waitForRequests(1).first?.body, "this must be delivered")
    }

    /// A client that sends its request and then its FIN still gets it served, as HAProxy does
    /// without `option abortonclose` (h2_desync_attacks.vtc's last client); the connection
    /// closes once its streams are done, not at `timeout client`.
    func testARequestSentBeforeTheClientsFINIsServedThenTheConnectionCloses() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let (lb, port) = try h2Proxy(origin, in: dir)
        defer { lb.stop() }
        let plan = #"[{"id":1,"headers":[[":method","GET"],[":scheme","http"],[":path","/fin"],[":authority","h.test"]]},{"shutdown":true}]"#
        let (frames, closed) = try probe(port, plan, seconds: 5)
        XCTAssertEqual(origin.waitForRequests(1).first?.raw.hasPrefix("GET /fin HTTP/1.1\r\nhost: h.test\r\n"), true)
        XCTAssertTrue(frames.contains { $0["stream"] == 1 && $0["type"] == 1 }, "the response's HEADERS: \(frames)")
        XCTAssertTrue(closed, "closed by the proxy once the stream ended: \(frames)")
    }

    func testMalformedStreamsAreResetAndTheirExcessNeverReachesTheServer() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let (lb, port) = try h2Proxy(origin, in: dir)
        defer { lb.stop() }
        let get = #"[":method","GET"],[":scheme","http"],[":path","/"]"#
        let plan = """
            [{"id":1,"headers":[\(get),["content-length","2"]],"data":"this is sent and ignored","open":true},
             {"id":3,"headers":[\(get),["X-Upper","1"]]},
             {"id":5,"headers":[\(get),["connection","keep-alive"]]},
             {"id":7,"headers":[\(get),["content-length","0,"]],"open":true},
             {"id":9,"headers":[[":method","GET"],[":scheme","http"],[":path","hello-world"]]},
             {"id":11,"headers":[\(get),[":authority","ok.test"]]}]
            """
        let (frames, _) = try probe(port, plan, seconds: 2)
        let resets = Dictionary(frames.filter { $0["type"] == 3 }.map { ($0["stream"]!, $0["error"]!) }, uniquingKeysWith: { a, _ in a })
        for stream in [1, 3, 5, 7, 9] { XCTAssertEqual(resets[stream], 1, "stream \(stream): RST_STREAM(PROTOCOL_ERROR) in \(frames)") }
        XCTAssertNil(resets[11], "the valid stream is answered: \(frames)")
        XCTAssertTrue(frames.contains { $0["type"] == 0 && $0["stream"] == 11 && $0["flags"]! & 1 == 1 }, "\(frames)")
        let seen = origin.waitForRequests(1)
        XCTAssertFalse(seen.contains { $0.raw.contains("this is sent") || $0.raw.lowercased().contains("x-upper") || $0.raw.contains("keep-alive") }, "\(seen)")
        XCTAssertTrue(seen.contains { $0.raw.hasPrefix("GET / HTTP/1.1\r\nhost: ok.test\r\n") }, "\(seen)")
    }

    /// An answer SwiftLB makes itself on a stream (a 400 for a `:scheme` that is no scheme, as
    /// HAProxy's h2_desync_attacks expects) ends that exchange the way a `Connection: close`
    /// answer ends an HTTP/1.1 one: the stream, not the process. (The HTTP/1.1 fast close once
    /// asked the stream channel for an option NIOHTTP2 traps on.)
    func testAnAnswerOfTheProxyOnAStreamEndsTheStreamNotTheProcess() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let (lb, port) = try h2Proxy(origin, in: dir)
        defer { lb.stop() }
        let plan = #"[{"id":1,"headers":[[":method","GET"],[":scheme","http://localhost/?"],[":path","/"]]}]"#
        let (frames, _) = try probe(port, plan, seconds: 1)
        XCTAssertTrue(frames.contains { $0["type"] == 1 && $0["stream"] == 1 }, "a response HEADERS on stream 1: \(frames)")
        // The process is still there to serve the next connection.
        let next = curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/after"])
        XCTAssertEqual(next.out, "200", next.err)
        XCTAssertFalse(lb.child.stderr.contains("Fatal error"), lb.child.stderr)
    }

    /// A connection that opens no stream is closed at `timeout http-request` (HAProxy's h2 mux;
    /// `timeout client` is 30 s here).
    func testIdleConnectionsGetGOAWAYAtTimeoutHTTPRequestAndOnStop() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let (lb, port) = try h2Proxy(origin, httpRequest: "1s", global: "global\n    tune.h2.max-concurrent-streams 7\n\n", in: dir)
        defer { lb.stop() }
        let started = Date()
        let idle = try probe(port, "[]", seconds: 6)
        // SETTINGS_MAX_CONCURRENT_STREAMS (3) and SETTINGS_INITIAL_WINDOW_SIZE (4), from tune.h2.*.
        let settings = idle.frames.first { $0["type"] == 4 && $0["flags"] == 0 }
        XCTAssertEqual(settings?["setting3"], 7, "\(idle.frames)")
        XCTAssertEqual(settings?["setting4"], 65535, "\(idle.frames)")
        XCTAssertTrue(idle.frames.contains { $0["type"] == 7 && $0["error"] == 0 }, "GOAWAY(NO_ERROR) expected: \(idle.frames)")
        XCTAssertTrue(idle.closed, "closed after the GOAWAY")
        XCTAssertLessThan(Date().timeIntervalSince(started), 5.5, "closed by timeout http-request, not by the probe's own deadline")

        // Graceful stop: an open connection hears GOAWAY before the process exits.
        let (stopping, stopPort) = try h2Proxy(origin, in: dir)
        defer { stopping.stop() }
        let process = try startProbe(stopPort, "[]", seconds: 5)
        defer { process.stop() }
        usleep(500_000)
        stopping.child.signal(SIGTERM)
        let text = String(decoding: process.readToEnd(process.output, timeout: 20), as: UTF8.self)
        process.wait(timeout: 5)
        let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
        let frames = (object?["frames"] as? [[String: Int]]) ?? []
        XCTAssertTrue(frames.contains { $0["type"] == 7 }, "GOAWAY on stop: \(text)")
        XCTAssertNotNil(stopping.child.waitForExit(timeout: 10))
    }

    /// HAProxy 2.6's h2 idle timeout, side by side with three distinct figures: `timeout
    /// http-request` (1 s) before the first stream, `timeout http-keep-alive` (3 s) from the end
    /// of the last one — not `timeout client` (8 s) — then GOAWAY(NO_ERROR) naming the last
    /// stream, and the close.
    func testIdleTimeoutIsHTTPRequestThenHTTPKeepAliveAsHAProxy() throws {
        let dir = try TempDirectory()
        let both = try SideBySide({ port in """
            defaults
                mode http
                timeout connect 2s
                timeout client 8s
                timeout server 5s
                timeout http-request 1s
                timeout http-keep-alive 3s
            frontend fe
                bind 127.0.0.1:\(port) proto h2
                http-request return status 200 content-type text/plain string ok

            """ }, in: dir)
        defer { both.stop() }
        let get = #"[{"id":1,"headers":[[":method","GET"],[":scheme","http"],[":authority","a"],[":path","/"]]}]"#
        for (name, port) in zip(["swiftlb", "haproxy"], both.ports) {
            for (plan, last, window) in [("[]", 0, 0.8...3.0), (get, 1, 2.8...5.5)] {
                let started = Date()
                let run = try probe(port, plan, seconds: 12)
                let elapsed = Date().timeIntervalSince(started)
                XCTAssertTrue(window.contains(elapsed), "\(name) \(plan): closed after \(elapsed) s, expected \(window)")
                XCTAssertTrue(run.closed, "\(name) \(plan)")
                XCTAssertTrue(run.frames.contains { $0["type"] == 7 && $0["error"] == 0 && $0["last"] == last }, "\(name) \(plan): \(run.frames)")
            }
        }
    }

    /// A reload between two streams of one connection: the second runs on the new
    /// configuration (its http-request rule), as the next request of an HTTP/1.1 connection.
    func testAStreamOpenedAfterAReloadRunsOnTheNewConfiguration() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let (lb, port) = try h2Proxy(origin, in: dir)
        defer { lb.stop() }
        let get = #"[":method","GET"],[":scheme","http"],[":authority","r.test"]"#
        let plan = "[{\"id\":1,\"headers\":[\(get),[\":path\",\"/before\"]]},{\"sleep\":3},{\"id\":3,\"headers\":[\(get),[\":path\",\"/after\"]]}]"
        let process = try startProbe(port, plan, seconds: 5)
        defer { process.stop() }
        XCTAssertEqual(origin.waitForRequests(1).map(\.target), ["/before"])
        let text = try String(contentsOfFile: lb.configPath, encoding: .utf8)
            .replacingOccurrences(of: "    default_backend app", with: "    http-request set-header x-reloaded yes\n    default_backend app")
        try text.write(toFile: lb.configPath, atomically: true, encoding: .utf8)
        lb.child.signal(SIGHUP)
        process.wait(timeout: 20)
        let seen = origin.waitForRequests(2)
        XCTAssertEqual(seen.map(\.target), ["/before", "/after"])
        XCTAssertFalse(seen.first?.raw.contains("x-reloaded") ?? true)
        XCTAssertTrue(seen.last?.raw.contains("x-reloaded: yes") ?? false, "\(seen)")
    }

    /// `accept-proxy` on an h2 listener: every stream of the connection has the PROXY header's
    /// client, in the log and for the server's X-Forwarded-For.
    func testStreamsCarryTheProxyHeadersClient() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let (lb, port) = try h2Proxy(origin, bindExtra: "proto h2 accept-proxy\n    option forwardfor", in: dir)
        defer { lb.stop() }
        let get = #"[":method","GET"],[":scheme","http"],[":authority","p.test"],[":path","/p"]"#
        let (frames, _) = try probe(port, "[{\"id\":1,\"headers\":[\(get)]},{\"id\":3,\"headers\":[\(get)]}]", seconds: 1,
                                    prefix: "PROXY TCP4 203.0.113.7 127.0.0.1 40000 \(port)\r\n")
        XCTAssertEqual(frames.filter { $0["type"] == 0 && $0["flags"]! & 1 == 1 }.count, 2, "\(frames)")
        let seen = origin.waitForRequests(2)
        XCTAssertEqual(seen.filter { $0.raw.lowercased().contains("x-forwarded-for: 203.0.113.7\r\n") }.count, 2, "\(seen)")
        lb.waitForAccessLog { $0.components(separatedBy: "203.0.113.7:40000").count == 3 }
        XCTAssertEqual(lb.accessLog.components(separatedBy: "203.0.113.7:40000 [").count, 3, lb.accessLog)
    }
}
