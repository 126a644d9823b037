import Foundation
import SwiftLBTestSupport
import XCTest

/// HAProxy's implicit H1→H2 upgrade, beside HAProxy 2.6 on the same configuration: an HTTP/1
/// `bind` (no `proto`) whose connection opens with the h2 preface serves it as HTTP/2 — curl
/// with prior knowledge and h2load get the same statuses from both, and the server receives the
/// same requests. A preface after a request, the `PRI` method, `proto h1` and `option
/// disable-h2-upgrade` get HAProxy's 400. Over TLS without ALPN h2 and behind `accept-proxy`
/// the upgrade happens as with HAProxy; nothing is written before the PROXY header.
final class H2PriorKnowledgeUpgradeTests: XCTestCase {
    private let preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    /// An empty SETTINGS frame, then HEADERS on stream 1 (END_STREAM|END_HEADERS): GET / with
    /// `:authority h.test`, HPACK by hand (static indexes 2, 6, 4; a literal for the authority).
    private let getFrames: [UInt8] = [0, 0, 0, 4, 0, 0, 0, 0, 0]
        + [0, 0, 11, 1, 0x05, 0, 0, 0, 1, 0x82, 0x86, 0x84, 0x41, 6] + Array("h.test".utf8)

    private func pair(_ origin: RecordingBackend, bind: String = "", frontend: String = "", in dir: TempDirectory) throws -> SideBySide {
        try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port) \(bind)
            \(frontend)
                default_backend app
            backend app
                server s1 127.0.0.1:\(origin.port)

            """
        }, in: dir)
    }

    /// The pair on a TLS bind (`ssl crt` a certificate for h2.example.test, then `bind`).
    private func tlsPair(_ origin: RecordingBackend, bind: String, in dir: TempDirectory) throws -> SideBySide {
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["h2.example.test", pem]).status, 0)
        return try pair(origin, bind: "ssl crt \(pem) \(bind)", in: dir)
    }

    /// The recorded heads with the proxy's own port written `PORT`.
    private func heads(_ origin: RecordingBackend, count: Int, port: Int) -> [String] {
        origin.waitForRequests(count).map { $0.raw.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:PORT") }
    }

    /// The type of the first HTTP/2 frame in `bytes` (4: SETTINGS), nil when there is none.
    private func firstFrameType(_ bytes: [UInt8]) -> UInt8? { bytes.count >= 9 ? bytes[3] : nil }

    func testPriorKnowledgeOnAPlainHTTP1BindIsServedAsHTTP2AsByHAProxy() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let pair = try pair(origin, in: dir)
        defer { pair.stop() }
        var seen: [[String]] = []
        for port in pair.ports {
            origin.clear()
            let base = "http://127.0.0.1:\(port)"
            let get = curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "-H", "X-Mixed: V", "\(base)/a?b=c"])
            XCTAssertEqual(get.out, "200 2", "port \(port): \(get.err)")
            let post = curl(["--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "-d", "abc", "\(base)/post"])
            XCTAssertEqual(post.out, "200 2", "port \(port): \(post.err)")
            seen.append(heads(origin, count: 2, port: port))
            // h2load: 200 requests on 4 connections, each upgraded on its preface.
            origin.clear()
            let load = runCommand("/usr/bin/timeout", ["60", "h2load", "-n", "200", "-c", "4", "\(base)/load"])
            XCTAssertTrue(load.out.contains("200 succeeded, 0 failed, 0 errored"), "port \(port): \(load.out)\(load.err)")
            XCTAssertTrue(load.out.contains("status codes: 200 2xx, 0 3xx, 0 4xx, 0 5xx"), "port \(port): \(load.out)")
            let loaded = origin.waitForRequests(200)
            XCTAssertEqual(loaded.count, 200, "port \(port)")
            XCTAssertTrue(loaded.allSatisfy { $0.method == "GET" && $0.target == "/load" }, "port \(port)")
        }
        XCTAssertEqual(seen[0].count, 2)
        XCTAssertEqual(seen[0], seen[1], "the server receives what HAProxy sends")
        XCTAssertTrue(seen[0].first?.hasPrefix("GET /a?b=c HTTP/1.1\r\nhost: 127.0.0.1:PORT\r\n") == true, "\(seen[0])")
        pair.lb.waitForAccessLog { $0.contains("\"POST http://127.0.0.1:\(pair.lbPort)/post HTTP/2.0\"") }
        XCTAssertTrue(pair.lb.accessLog.contains("\"GET http://127.0.0.1:\(pair.lbPort)/a?b=c HTTP/2.0\""), pair.lb.accessLog)
    }

    /// Only a connection's first bytes may be the preface: after a request it is an HTTP/1
    /// request line (`PRI * HTTP/2.0`), refused with 400, as is the `PRI` method anywhere; a
    /// preface whose "PRI * HTTP/2.0" comes in a segment of its own still upgrades.
    func testAPrefaceAfterARequestAndThePRIMethodAreRefusedAsByHAProxy() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let pair = try pair(origin, in: dir)
        defer { pair.stop() }
        var answers: [[String]] = []
        for port in pair.ports {
            var answer: [String] = []
            let keepAlive = try RawClient(port: port, timeout: 5)
            keepAlive.send("GET /first HTTP/1.1\r\nHost: h\r\n\r\n")
            answer.append(String(keepAlive.readResponse().prefix(12)))
            keepAlive.send(preface)
            let (second, closed) = keepAlive.readAll()
            answer.append(String(second.prefix(12)) + (closed ? " closed" : " open"))
            let pri = try RawClient(port: port, timeout: 5)
            pri.send("PRI /x HTTP/1.1\r\nHost: h\r\n\r\n")
            let (refused, priClosed) = pri.readAll()
            answer.append(String(refused.prefix(12)) + (priClosed ? " closed" : " open"))
            let split = try RawClient(port: port, timeout: 1)
            split.send("PRI * HTTP/2.0")
            usleep(200_000)
            split.send(Array("\r\n\r\nSM\r\n\r\n".utf8) + getFrames)
            let (frames, _) = split.readAllBytes()
            answer.append("first frame \(firstFrameType(frames).map(String.init) ?? "none")")
            answers.append(answer)
        }
        XCTAssertEqual(answers[0], ["HTTP/1.1 200", "HTTP/1.1 400 closed", "HTTP/1.1 400 closed", "first frame 4"])
        XCTAssertEqual(answers[0], answers[1], "SwiftLB, then HAProxy")
        // The server saw each proxy's first request and the split client's GET, nothing else.
        let seen = origin.waitForRequests(4)
        XCTAssertEqual(seen.map(\.target).sorted(), ["/", "/", "/first", "/first"], "\(seen.map(\.raw))")
    }

    /// A client that sends its request and then its FIN on an upgraded connection is served,
    /// then the connection closes (Tests/fixtures/h2_probe.py), as by HAProxy.
    func testARequestBeforeTheClientsFINIsServedThenTheUpgradedConnectionCloses() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let pair = try pair(origin, in: dir)
        defer { pair.stop() }
        let plan = #"[{"id":1,"headers":[[":method","GET"],[":scheme","http"],[":path","/fin"],[":authority","h.test"]]},{"shutdown":true}]"#
        for port in pair.ports {
            let run = runCommand("/usr/bin/timeout", ["20", "python3", Paths.fixtures.appendingPathComponent("h2_probe.py").path, "\(port)", plan, "5"])
            XCTAssertEqual(run.status, 0, run.err)
            let object = try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any]
            let frames = (object?["frames"] as? [[String: Int]]) ?? []
            XCTAssertTrue(frames.contains { $0["stream"] == 1 && $0["type"] == 1 }, "port \(port): the response's HEADERS in \(frames)")
            XCTAssertEqual(object?["closed"] as? Bool, true, "port \(port): closed once the stream ended")
        }
        XCTAssertEqual(origin.waitForRequests(2).map(\.target), ["/fin", "/fin"])
    }

    /// `bind … proto h1` and `option disable-h2-upgrade`: the preface is an HTTP/1 request, 400.
    func testProtoH1AndDisableH2UpgradeRefuseThePrefaceAsHAProxyDoes() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        for (bind, frontend) in [("proto h1", ""), ("", "    option disable-h2-upgrade")] {
            let pair = try pair(origin, bind: bind, frontend: frontend, in: dir)
            defer { pair.stop() }
            var answers: [String] = []
            for port in pair.ports {
                let client = try RawClient(port: port, timeout: 5)
                client.send(preface)
                let (text, closed) = client.readAll()
                answers.append(String(text.prefix(12)) + (closed ? " closed" : " open"))
            }
            XCTAssertEqual(answers, ["HTTP/1.1 400 closed", "HTTP/1.1 400 closed"], "\(bind)\(frontend): SwiftLB, then HAProxy")
        }
        XCTAssertEqual(origin.requests.count, 0)
    }

    /// `bind … ssl crt` without `alpn h2`: a client that sends the preface over TLS without
    /// choosing h2 is served HTTP/2, as by HAProxy.
    func testOverTLSWithoutALPNh2ThePrefaceUpgradesAsWithHAProxy() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let pair = try tlsPair(origin, bind: "", in: dir)
        defer { pair.stop() }
        var seen: [[String]] = []
        for port in pair.ports {
            origin.clear()
            let get = curl(["-k", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "https://127.0.0.1:\(port)/tls"])
            XCTAssertEqual(get.out, "200 2", "port \(port): \(get.err)")
            seen.append(heads(origin, count: 1, port: port))
            // HTTP/1.1 on the same listener stays HTTP/1.1.
            let h1 = curl(["-k", "--http1.1", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "https://127.0.0.1:\(port)/h1"])
            XCTAssertEqual(h1.out, "200 1.1", "port \(port): \(h1.err)")
        }
        XCTAssertEqual(seen[0].count, 1)
        XCTAssertEqual(seen[0], seen[1])
    }

    /// `bind … alpn h2,http/1.1 proto h1`: the bind's protocol comes before what ALPN chose, as
    /// in HAProxy's mux choice — a client that chose h2 gets nothing served (its preface is an
    /// HTTP/1 400), an HTTP/1.1 client is served.
    func testProtoH1ComesBeforeALPNh2AsInHAProxy() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let pair = try tlsPair(origin, bind: "alpn h2,http/1.1 proto h1", in: dir)
        defer { pair.stop() }
        var answers: [[String]] = []
        for port in pair.ports {
            let h2 = curl(["-k", "--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "https://127.0.0.1:\(port)/h2"], maxTime: 5)
            let h1 = curl(["-k", "--http1.1", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "https://127.0.0.1:\(port)/h1"], maxTime: 5)
            answers.append([h2.out, h1.out])
        }
        XCTAssertEqual(answers[1], ["000 0", "200 1.1"], "haproxy")
        XCTAssertEqual(answers[0], answers[1], "SwiftLB, then HAProxy")
        XCTAssertEqual(origin.waitForRequests(2).map(\.target), ["/h1", "/h1"])
    }

    /// `accept-proxy`: nothing is written before the PROXY header; after it, the preface
    /// upgrades, and the streams carry the header's source (`option forwardfor`) as HAProxy's.
    func testBehindAcceptProxyThePrefaceUpgradesAfterTheHeaderOnly() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let pair = try pair(origin, bind: "accept-proxy", frontend: "    option forwardfor", in: dir)
        defer { pair.stop() }
        var seen: [[String]] = []
        for port in pair.ports {
            origin.clear()
            let client = try RawClient(port: port, timeout: 0.5)
            XCTAssertEqual(client.readAllBytes().bytes, [], "port \(port): nothing before the PROXY header")
            client.setReceiveTimeout(1)
            client.send(Array("PROXY TCP4 192.0.2.7 127.0.0.1 5555 80\r\n\(preface)".utf8) + getFrames)
            XCTAssertEqual(firstFrameType(client.readAllBytes().bytes), 4, "port \(port): SETTINGS")
            // (HAProxy writes the header it adds in lower case, SwiftLB as documented.)
            seen.append(heads(origin, count: 1, port: port).map { $0.lowercased() })
        }
        XCTAssertEqual(seen[0].count, 1)
        XCTAssertTrue(seen[0].first?.contains("\r\nx-forwarded-for: 192.0.2.7\r\n") == true, "\(seen[0])")
        XCTAssertEqual(seen[0], seen[1])
    }

    /// The upgraded connection is the one the HTTP/1 side counted: one connection for its
    /// streams, none open once it closed. (So is one that chose h2 by ALPN, which was once not
    /// counted at all: its handlers came after the channel went active.)
    func testAnUpgradedConnectionAndAnALPNOneAreEachCountedOnce() throws {
        let dir = try TempDirectory()
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["h2.example.test", pem]).status, 0)
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let stats = StatsClient(in: dir)
        let (port, tlsPort) = (freePort(), freePort())
        let lb = try SwiftLBInstance(config: stats.global + testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                bind 127.0.0.1:\(tlsPort) ssl crt \(pem) alpn h2,http/1.1
                tcp-request connection reject if { src 127.0.0.2 }
                default_backend app
            backend app
                server s1 127.0.0.1:\(origin.port)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func counters() -> [String?] { ["conn_tot", "req_tot", "scur", "dcon"].map { stats.field("fe", "FRONTEND", $0) } }
        let many = runCommand("/usr/bin/timeout", ["20", "nghttp", "-n", "http://127.0.0.1:\(port)/m1", "http://127.0.0.1:\(port)/m2"])
        XCTAssertEqual(many.status, 0, many.out + many.err)
        XCTAssertNotNil(waitUntil(timeout: 5) { counters() == ["1", "2", "0", "0"] }, "\(counters())")
        let alpn = curl(["-k", "--http2", "-o", "/dev/null", "-w", "%{http_version}", "https://127.0.0.1:\(tlsPort)/alpn"])
        XCTAssertEqual(alpn.out, "2", alpn.err)
        XCTAssertNotNil(waitUntil(timeout: 5) { counters() == ["2", "3", "0", "0"] }, "\(counters())")
        // The ALPN connection's `tcp-request connection` rules run once (a refused connection
        // is counted once, denied once).
        let refused = curl(["-k", "--http2", "--interface", "127.0.0.2", "-o", "/dev/null", "https://127.0.0.1:\(tlsPort)/refused"], maxTime: 5)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertNotNil(waitUntil(timeout: 5) { counters() == ["3", "3", "0", "1"] }, "\(counters())")
    }
}
