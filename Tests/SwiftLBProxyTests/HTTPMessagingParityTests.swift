import Foundation
import NIOCore
import NIOPosix
import XCTest
@testable import SwiftLBProxy

/// HTTP/1 messaging where HAProxy 2.6's behaviour is SwiftLB's spec (the reg-tests
/// http-rules/path_and_pathq.vtc, http-messaging/h1_host_normalization.vtc): the same
/// configuration runs in haproxy and in swiftlb, each in front of its own recording server on
/// loopback, the same raw requests go to both, and what the servers see (start line, the named
/// headers) and what the clients get (status) must agree.
final class HTTPMessagingParityTests: XCTestCase {
    /// The rules of path_and_pathq.vtc, and the headers that show what `path`, `pathq`,
    /// `query` and `url` saw.
    private static let pathRules = """
            http-request add-header x-path  %[path]
            http-request add-header x-pathq %[pathq]
            http-request add-header x-query %[query]
            http-request add-header x-url   %[url]
            http-request set-path /fe%[path]
            http-request replace-path (.*) /foo\\1
            http-request replace-path (.*) \\1/bar
            http-request set-pathq %[path]?app=regtest&%[query]
            http-request replace-pathq /([^?]*)\\?app=([^&]*)&?(.*) /\\2/\\1?\\3
        """

    /// An absolute-form request goes to the server as it came (the rules edit its path only),
    /// with Host naming its authority; a default port leaves both; a Host that names another
    /// origin is refused.
    func testAbsoluteFormIsForwardedAsHAProxyForwardsIt() throws {
        let requests = [
            "GET /req1?param1=val1&param2=val2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET http://127.0.0.1/req2?param1=val1&param2=val2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET http://Example.COM:80/c1 HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
            "GET https://example.com:443/c3 HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "GET http://example.com:8080/c2 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
            "GET http://example.com/c22 HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
            "GET http://example.com:/c24 HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "GET https://example.com:80/c4 HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
            // Refused by both: another host, another port, a non-default port on one side only.
            "GET http://hostname1/ HTTP/1.1\r\nHost: hostname2\r\n\r\n",
            "GET http://hostname:80/ HTTP/1.1\r\nHost: hostname:81\r\n\r\n",
            "GET http://hostname:8080/ HTTP/1.1\r\nHost: hostname\r\n\r\n",
            "GET http://hostname/ HTTP/1.1\r\nHost: hostname:81\r\n\r\n",
        ]
        let outcomes = try compare(frontend: Self.pathRules, requests: requests, headers: ["host", "x-path", "x-pathq", "x-query", "x-url"])
        // The two servers saw the reg-test's URIs, not origin-form.
        XCTAssertEqual(outcomes[1].startLine, "GET http://127.0.0.1/regtest/foo/fe/req2/bar?param1=val1&param2=val2 HTTP/1.1")
        XCTAssertEqual(outcomes[1].headers["x-url"], "http://127.0.0.1/req2?param1=val1&param2=val2")
        XCTAssertEqual(outcomes[2].headers["host"], "Example.COM", "the default port leaves Host too")
        XCTAssertEqual(outcomes.suffix(4).map(\.status), [400, 400, 400, 400])
    }

    /// A rule that sets Host on an absolute-form request moves the target's authority with it
    /// (HAProxy's `http_update_authority`), and `set-uri` to another authority moves Host (its
    /// `http_update_host`): Host and authority always agree, as haproxy sends them.
    func testHostAndAuthorityFollowTheRuleThatChangedOne() throws {
        let requests = [
            "GET http://public.example/x?q HTTP/1.1\r\nHost: public.example\r\nX-Set: host\r\n\r\n",
            "GET http://public.example/y HTTP/1.1\r\nHost: public.example\r\nX-Set: uri\r\n\r\n",
            "GET /z HTTP/1.1\r\nHost: public.example\r\nX-Set: host\r\n\r\n",
        ]
        let rules = """
            http-request set-header Host internal.svc:8080 if { req.hdr(x-set) host }
            http-request set-uri http://moved.example/y2 if { req.hdr(x-set) uri }
            """
        let outcomes = try compare(frontend: rules, requests: requests, headers: ["host"])
        XCTAssertEqual(outcomes[0].startLine, "GET http://internal.svc:8080/x?q HTTP/1.1")
        XCTAssertEqual(outcomes[0].headers["host"], "internal.svc:8080")
        XCTAssertEqual(outcomes[1].startLine, "GET http://moved.example/y2 HTTP/1.1")
        XCTAssertEqual(outcomes[1].headers["host"], "moved.example")
        XCTAssertEqual(outcomes[2].startLine, "GET /z HTTP/1.1")
        XCTAssertEqual(outcomes[2].headers["host"], "internal.svc:8080")
    }

    /// What the log says of absolute-form requests (h1_host_normalization.vtc's `%r` and captured
    /// Host): the normalised target and Host, and for a refused one `<BADREQ>` with no capture
    /// — the same lines from haproxy and from swiftlb, answered by `http-request return`.
    func testTheLogShowsTheNormalisedRequestAsHAProxys() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let directory = try TempDirectory()
        let requests = [("http://hostname:80/c1", "hostname:80"), ("http://hostname:8080/c2", "hostname:8080"), ("https://hostname:443/c3", "hostname:443"),
                        ("http://hostname:80/c20", "hostname"), ("http://hostname/c22", "hostname:80"), ("http://hostname:80/c28", "hostname:"),
                        ("http://hostname1/", "hostname2"), ("http://hostname:8080/", "hostname")]
        var lines: [String: [String]] = [:]
        for program in ["haproxy", "swiftlb"] {
            let syslog = try SyslogReceiver()
            let port = freePort()
            let config = """
                \(haproxyDefaults)
                frontend fe
                    bind 127.0.0.1:\(port)
                    http-request capture req.hdr(host) len 512
                    log-format "uri: %r; host: %hr"
                    log 127.0.0.1:\(syslog.port) len 2048 local0 debug err
                    http-request return status 200

                """
            let stop = try start(program, config, port: port, in: directory)
            defer { stop() }
            for (target, host) in requests {
                let client = try RawClient(port: port, timeout: 3)
                client.send("GET \(target) HTTP/1.1\r\nhost: \(host)\r\nconnection: close\r\n\r\n")
                _ = client.readAll()
                let line = syslog.receive(count: 1, within: 3).first ?? "(no log line)"
                lines[program, default: []].append(line.range(of: "uri: ").map { String(line[$0.lowerBound...]) } ?? line)
            }
        }
        XCTAssertEqual(lines["swiftlb"], lines["haproxy"])
        XCTAssertEqual(lines["swiftlb"]?.first, "uri: GET http://hostname/c1 HTTP/1.1; host: {hostname}")
        XCTAssertEqual(lines["swiftlb"]?.last, "uri: <BADREQ>; host: ")
    }

    /// `TE` (http_transfer_encoding.vtc's c5): `trailers` goes on alone, any other coding or a
    /// weighted `trailers` not at all; the chunked body goes on chunked. (HAProxy matches
    /// `trailers` case-sensitively; SwiftLB, as RFC 9110 §10.1.4, does not: `TE: Trailers` differs.)
    func testTETrailersGoesOnAlone() throws {
        let requests = ["trailers, gzip", "gzip", "trailers;q=0.5", "deflate, trailers"].map {
            "POST /te HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTE: \($0)\r\n\r\n0\r\n\r\n"
        }
        let outcomes = try compare(frontend: "", requests: requests, headers: ["te", "transfer-encoding", "content-length"])
        XCTAssertEqual(outcomes.map { $0.headers["te"] }, ["trailers", nil, nil, "trailers"])
    }

    /// A chunked response from an HTTP/1.0 server (http_transfer_encoding.vtc's c3): it reaches
    /// the client chunked, and the client's connection closes after it (RFC 9112 §6.1: faulty
    /// framing), from haproxy and from swiftlb.
    func testChunkedFromAnHTTP10ServerClosesTheClientConnection() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let directory = try TempDirectory()
        for program in ["haproxy", "swiftlb"] {
            let server = try UpgradeEchoServer(answer: "HTTP/1.0 200 Ok\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
            defer { server.stop() }
            let port = freePort()
            let config = oneServerConfig(port: port, rules: "", serverPort: server.port)
            let stop = try start(program, config, port: port, in: directory)
            defer { stop() }
            let client = try RawClient(port: port, timeout: 3)
            client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            let (text, closed) = client.readAll()
            XCTAssertEqual(statusCode(text), 200, "\(program): \(text)")
            XCTAssertTrue(text.lowercased().contains("\r\ntransfer-encoding: chunked\r\n") && text.hasSuffix("\r\n\r\n3\r\nabc\r\n0\r\n\r\n"), "\(program): \(text)")
            XCTAssertTrue(closed, "\(program) left the client's connection open")
        }
    }

    /// `http-request wait-for-body` (http_wait_for_body.vtc): a body that is not complete within
    /// the time is a 408, one that is goes on, from both. The reg-test's requests carry no Host:
    /// HAProxy forwards such an HTTP/1.1 request, SwiftLB answers 400 as RFC 9112 §3.2 says a
    /// server MUST (kept on purpose; that, not wait-for-body, was the reg-test's 400).
    func testWaitForBodyAnswers408AsHAProxy() throws {
        let line = String(repeating: "abcdefghij", count: 10)
        let rules = """
                http-request wait-for-body time 100ms if { path /a }
                http-request wait-for-body time 100ms at-least 1000 if { path /b }
            """
        let requests = [
            "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n" + String(repeating: line, count: 10),
            "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n" + String(repeating: line, count: 10) + "1",
            "POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n" + String(repeating: line, count: 10) + "1",
        ]
        let outcomes = try compare(frontend: rules, requests: requests, headers: ["content-length"])
        XCTAssertEqual(outcomes.map(\.status), [408, 200, 200])
        XCTAssertNil(outcomes[0].startLine, "the late body never reached the server")

        let directory = try TempDirectory()
        let server = try RecordingServer()
        defer { server.stop() }
        let port = freePort()
        let swiftlb = try SwiftLBInstance(config: oneServerConfig(port: port, rules: rules, serverPort: server.port), waitPort: port, in: directory)
        defer { swiftlb.stop() }
        let client = try RawClient(port: port, timeout: 3)
        client.send("POST /a HTTP/1.1\r\nContent-Length: 1001\r\n\r\n" + String(repeating: line, count: 10))
        XCTAssertEqual(statusCode(client.readAll().text), 400, "an HTTP/1.1 request without Host")
    }

    /// An upgrade to a protocol other than WebSocket (protocol_upgrade.vtc's h1 server): the
    /// server sees `Upgrade` and `Connection: upgrade`, its 101 reaches the client, and the
    /// connection is a tunnel after it — through haproxy and through swiftlb alike. A 101
    /// without `Upgrade` (RFC 9110 §15.2.2: the server MUST name the protocol) is tunnelled by
    /// HAProxy; SwiftLB answers 502, as it does for a WebSocket 101 without its accept.
    func testAnUpgradeToAnotherProtocolBecomesATunnel() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let directory = try TempDirectory()
        for (answer, unnamed) in [("HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: custom_protocol\r\n\r\n", false),
                                  ("HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\n\r\n", true)] {
            for program in ["haproxy", "swiftlb"] {
                let status = unnamed && program == "swiftlb" ? 502 : 101
                let server = try UpgradeEchoServer(answer: answer)
                defer { server.stop() }
                let port = freePort()
                let config = oneServerConfig(port: port, rules: "", serverPort: server.port)
                let proxy = try start(program, config, port: port, in: directory, name: "\(program)-\(unnamed)")
                defer { proxy() }
                let client = try RawClient(port: port, timeout: 3)
                client.send("GET / HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: upgrade\r\nupgrade: custom_protocol\r\n\r\n")
                let raw = client.read(until: "\r\n\r\n")
                XCTAssertEqual(statusCode(raw), status, "\(program): \(raw)")
                let response = raw.lowercased()
                let head = server.heads.last?.lowercased() ?? ""
                XCTAssertTrue(head.contains("\r\nconnection: upgrade\r\n") && head.contains("\r\nupgrade: custom_protocol\r\n"), "\(program): \(head)")
                guard status == 101 else { continue }
                if !unnamed {
                    XCTAssertTrue(response.contains("\r\nupgrade: custom_protocol\r\n") && response.contains("\r\nconnection: upgrade\r\n"), "\(program): \(response)")
                }
                client.send("ping over the tunnel")
                XCTAssertEqual(client.read(until: "tunnel"), "ping over the tunnel", "\(program): the bytes after the switch are echoed")
            }
        }
    }

    /// Obsolete line folding and Content-Length lists, as HAProxy 2.6 repairs them: the
    /// server gets the folded field unfolded and one Content-Length with the last number as
    /// written; a fold after the request line, or numbers that differ, are a 400.
    func testFoldsAndContentLengthListsReachTheServerAsHAProxySendsThem() throws {
        let requests = [
            "GET / HTTP/1.1\r\nHost: a\r\nX-Fold: one\r\n two\r\n\tthree\r\nX-After: z\r\n\r\n",
            "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 , 05\r\nX-After: z\r\nContent-Length: 5\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0, 0\r\n\r\n",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,6\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5,\r\n\r\nhello",
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n 0\r\n\r\n0123456789",
        ]
        let outcomes = try compare(frontend: "", requests: requests, headers: ["x-fold", "x-after", "content-length"])
        XCTAssertEqual(outcomes[0].headers["x-fold"], "one   two  \tthree")
        XCTAssertEqual(outcomes[3].headers["content-length"], "05")
        XCTAssertEqual(outcomes.map(\.status), [200, 400, 200, 200, 200, 400, 400, 400])
    }

    // MARK: harness

    /// Starts `program` ("haproxy" or "swiftlb") on `config`, listening on `port`; returns its stop.
    func start(_ program: String, _ config: String, port: Int, in directory: TempDirectory, name: String? = nil) throws -> () -> Void {
        if program == "haproxy" { return try startHAProxy(config, port: port, in: directory, name: name ?? program).stop }
        return try SwiftLBInstance(config: config, waitPort: port, in: directory, name: name ?? program).stop
    }

    struct Outcome: Equatable {
        var status: Int
        /// What the server received, nil when it received nothing.
        var startLine: String?
        var headers: [String: String] = [:]
    }

    /// Runs `requests` (each on its own connection, `Connection: close` added) through haproxy
    /// and through swiftlb on one configuration; asserts that both agree and returns SwiftLB's.
    func compare(frontend rules: String, backend: String = "", requests: [String], headers: [String]) throws -> [Outcome] {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let directory = try TempDirectory()
        func config(_ port: Int, _ server: RecordingServer) -> String {
            oneServerConfig(port: port, rules: rules, backendLines: backend, serverPort: server.port)
        }
        let theirServer = try RecordingServer(), ourServer = try RecordingServer()
        defer { theirServer.stop(); ourServer.stop() }
        let theirPort = freePort()
        let stopHAProxy = try start("haproxy", config(theirPort, theirServer), port: theirPort, in: directory)
        defer { stopHAProxy() }
        let ourPort = freePort()
        let stopSwiftLB = try start("swiftlb", config(ourPort, ourServer), port: ourPort, in: directory)
        defer { stopSwiftLB() }

        func run(_ request: String, port: Int, server: RecordingServer) throws -> Outcome {
            let before = server.recorded.count
            let client = try RawClient(port: port)
            client.send(request.replacingOccurrences(of: "\r\n\r\n", with: "\r\nConnection: close\r\n\r\n"))
            let response = client.readAll().text
            let status = Int(response.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
            guard server.recorded.count > before, let head = server.recorded.last?.head else { return Outcome(status: status) }
            let lines = head.components(separatedBy: "\r\n")
            var outcome = Outcome(status: status, startLine: lines.first)
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                if headers.contains(name) { outcome.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
            }
            return outcome
        }
        var ours: [Outcome] = []
        for request in requests {
            let theirs = try run(request, port: theirPort, server: theirServer)
            let mine = try run(request, port: ourPort, server: ourServer)
            XCTAssertEqual(mine, theirs, "for \(request.debugDescription)")
            ours.append(mine)
        }
        return ours
    }
}

/// A loopback server that records each request head, answers it with `answer` (a 101, or any
/// canned response) and then echoes whatever comes: the far side of an upgraded connection.
final class UpgradeEchoServer {
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let recorded = LockedList<String>()
    private var channel: (any Channel)!
    var port: Int { channel.localAddress!.port! }
    var heads: [String] { recorded.all }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answer: String
        let recorded: LockedList<String>
        var head = ""
        var switched = false
        init(answer: String, recorded: LockedList<String>) { self.answer = answer; self.recorded = recorded }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let buffer = unwrapInboundIn(data)
            if switched { context.writeAndFlush(wrapOutboundOut(buffer), promise: nil); return }
            head += String(buffer: buffer)
            guard let end = head.range(of: "\r\n\r\n") else { return }
            recorded.append(String(head[..<end.upperBound]))
            switched = true
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
        }
    }

    init(answer: String) throws {
        let recorded = self.recorded
        channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Handler(answer: answer, recorded: recorded)) }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
    }

    func stop() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}
