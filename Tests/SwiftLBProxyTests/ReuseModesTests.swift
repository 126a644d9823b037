import Foundation
import XCTest

/// `http-reuse never|safe|aggressive|always` and `dispatch` on the wire, as HAProxy's
/// reg-tests check them: a receiving listen of the same SwiftLB answers every request with
/// `http_first_req` (1: the request is the first on its server connection), so each answer
/// says whether the sender opened a new server connection or reused one. One event loop
/// (`nbthread 1`): idle connections stay with the loop that opened them, so two client
/// connections can only share one on the same loop.
final class ReuseModesTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The `first` header of each answer, for requests sent one after the other on one client
    /// connection.
    private func firsts(port: Int, requests: Int) throws -> [String] {
        let client = try RawClient(port: port, timeout: 5)
        defer { client.shutdownBoth() }
        return (0..<requests).map { _ in
            client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = client.readResponse()
            return response.split(separator: "\r\n").first { $0.lowercased().hasPrefix("first: ") }.map { String($0.dropFirst(7)) } ?? "none: \(response)"
        }
    }

    func testEachModeReusesWhatHAProxySaysItDoes() throws {
        let receiver = freePort()
        let modes = ["never", "safe", "aggressive", "always"]
        let ports = Dictionary(uniqueKeysWithValues: modes.map { ($0, freePort()) })
        let dispatchPort = freePort()
        var config = """
            global
                nbthread 1
            defaults
                mode http
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            listen receiver
                bind 127.0.0.1:\(receiver)
                http-request return status 200
                http-after-response set-header first %[http_first_req]
            listen viadispatch
                bind 127.0.0.1:\(dispatchPort)
                dispatch 127.0.0.1:\(receiver)

            """
        for mode in modes {
            config += "listen \(mode)\n    bind 127.0.0.1:\(ports[mode]!)\n    http-reuse \(mode)\n    server r 127.0.0.1:\(receiver)\n"
        }
        let lb = try SwiftLBInstance(config: config, waitPort: receiver, in: dir)
        defer { lb.stop() }
        for port in ports.values { XCTAssertTrue(waitForPort(port)) }

        // Each client connection closes before the next opens (a short pause lets SwiftLB see it).
        func sessions(_ port: Int) throws -> [[String]] {
            try (0..<3).map { _ in
                let answers = try firsts(port: port, requests: 2)
                Thread.sleep(forTimeInterval: 0.2)
                return answers
            }
        }
        // never: each client connection has its own server connection, kept for its requests.
        XCTAssertEqual(try sessions(ports["never"]!), [["1", "0"], ["1", "0"], ["1", "0"]])
        // dispatch: the same (HAProxy makes dispatch connections private).
        XCTAssertEqual(try sessions(dispatchPort), [["1", "0"], ["1", "0"], ["1", "0"]])
        // safe: a first request always opens a connection; the second takes a pooled one.
        XCTAssertEqual(try sessions(ports["safe"]!), [["1", "0"], ["1", "0"], ["1", "0"]])
        // always: a first request takes any pooled connection.
        XCTAssertEqual(try sessions(ports["always"]!), [["1", "0"], ["0", "0"], ["0", "0"]])
        // aggressive: a first request takes only a connection that has carried two requests
        // or more: after one session of one request, it opens its own.
        let aggressive = ports["aggressive"]!
        XCTAssertEqual(try firsts(port: aggressive, requests: 1), ["1"])
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(try firsts(port: aggressive, requests: 2), ["1", "0"])
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(try firsts(port: aggressive, requests: 1), ["0"])
    }

    func testTheModesAndPoolMaxConnAreCheckedWithTheirLine() throws {
        let path = try dir.write("lb.conf", """
            defaults
                mode http
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            backend b
                http-reuse sometimes
                server s 127.0.0.1:1 pool-max-conn -2
            backend c
                server s 127.0.0.1:1
                dispatch 127.0.0.1:2

            """)
        let check = runCommand(Paths.swiftlb, ["check", "-c", path])
        XCTAssertEqual(check.status, 1, check.out)
        XCTAssertTrue(check.err.contains("parsing [\(path):7] : 'http-reuse' : unknown mode 'sometimes'"), check.err)
        XCTAssertTrue(check.err.contains("parsing [\(path):8] : 'server' : "), check.err)
        XCTAssertTrue(check.err.contains("parsing [\(path):11] : 'dispatch' : "), check.err)
    }

    /// The pool keeps what HAProxy's `srv_add_to_idle_list` keeps: what the loop's streams
    /// needed at once lately (`est_need_conns`), no more than an explicit `pool-max-conn`, and
    /// nothing while descriptors reach half of `maxconn`. N clients each send one request, which
    /// the receiving haproxy holds 500 ms, so N server connections are in use at once;
    /// then they all go to the pool: 300 stay (a fixed cap of 256 closed 44, and a thousand
    /// keep-alive clients re-dialled one request in fourteen), or `pool-max-conn`. One client
    /// after the other needs one connection: the pool keeps one, not hundreds nobody takes.
    /// Counted on the sockets themselves (`ss`), the receiving end of each pooled connection.
    func testThePoolKeepsWhatHAProxyKeeps() throws {
        let (wide, wideReceiver, narrow, narrowReceiver) = (freePort(), freePort(), freePort(), freePort())
        let (small, smallReceiver, serial, serialReceiver) = (freePort(), freePort(), freePort(), freePort())
        // The receivers: one haproxy; its `mode tcp` frontend holds each new connection 500 ms
        // (`inspect-delay`, WAIT_END), then passes it to an HTTP frontend that answers 200 and
        // keeps it open.
        let receivers = [wideReceiver, narrowReceiver, smallReceiver, serialReceiver]
        let haproxy = try startHoldingServer(ports: receivers, holdMilliseconds: 500, in: dir)
        defer { haproxy.stop() }
        let head = { (maxconn: Int) in """
            global
                nbthread 1
                maxconn \(maxconn)
            defaults
                mode http
                timeout connect 2s
                timeout client 20s
                timeout server 20s
            """ }
        let lb = try SwiftLBInstance(config: """
            \(head(4096))
            listen wide
                bind 127.0.0.1:\(wide)
                server r 127.0.0.1:\(wideReceiver)
            listen narrow
                bind 127.0.0.1:\(narrow)
                server r 127.0.0.1:\(narrowReceiver) pool-max-conn 10

            """, waitPort: wide, in: dir)
        defer { lb.stop() }
        /// An instance of its own: one listen in front of `receiver`.
        func single(maxconn: Int, port: Int, receiver: Int) throws -> SwiftLBInstance {
            try SwiftLBInstance(config: "\(head(maxconn))\nlisten l\n    bind 127.0.0.1:\(port)\n    server r 127.0.0.1:\(receiver)\n",
                                waitPort: port, in: dir)
        }
        // `maxconn 300`: half is 150 descriptors; 100 clients leave room for fewer than 100
        // pooled.
        let tight = try single(maxconn: 300, port: small, receiver: smallReceiver)
        defer { tight.stop() }
        for port in [wide, narrow, small] { XCTAssertTrue(waitForPort(port)) }
        func pooledConnections(to receiver: Int) -> Int {
            Thread.sleep(forTimeInterval: 0.3)
            let sockets = runCommand("/usr/bin/ss", ["-tnH", "state", "established", "( dport = :\(receiver) )"]).out
            return sockets.split(separator: "\n").count
        }
        func pooledAfterConcurrent(through port: Int, to receiver: Int, clients count: Int) throws -> Int {
            let clients = try (0..<count).map { _ in try RawClient(port: port, timeout: 10) }
            defer { for client in clients { client.shutdownBoth() } }
            Thread.sleep(forTimeInterval: 0.3)  // all accepted before the first request
            for client in clients { client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n") }
            for client in clients { XCTAssertTrue(client.readResponse().hasPrefix("HTTP/1.1 200")) }
            return pooledConnections(to: receiver)
        }
        XCTAssertEqual(try pooledAfterConcurrent(through: wide, to: wideReceiver, clients: 300), 300)
        XCTAssertEqual(try pooledAfterConcurrent(through: narrow, to: narrowReceiver, clients: 300), 10)
        let kept = try pooledAfterConcurrent(through: small, to: smallReceiver, clients: 100)
        XCTAssertTrue((1..<100).contains(kept), "kept \(kept)")
        // One client after the other, each closing, on an instance that never needed more.
        let quiet = try single(maxconn: 4096, port: serial, receiver: serialReceiver)
        defer { quiet.stop() }
        for _ in 0..<20 {
            let client = try RawClient(port: serial, timeout: 10)
            client.send("GET / HTTP/1.0\r\nHost: a\r\n\r\n")
            XCTAssertTrue(client.readResponse().contains(" 200 "))
            client.shutdownBoth()
        }
        XCTAssertEqual(pooledConnections(to: serialReceiver), 1)
    }

    /// A pooled connection the server closed no longer counts as kept: the next connection
    /// made to that server is pooled and reused (HAProxy's reg-test h1_to_h1 sends a client's
    /// requests over one server connection after the server dropped an idle one).
    func testAConnectionTheServerClosedInThePoolLeavesRoomForTheNext() throws {
        let server = try ScriptedBackend(.keepAliveButTheFirstCloses)
        defer { server.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: "global\n    nbthread 1\n" + testDefaults() + """
            listen l
                bind 127.0.0.1:\(port)
                server s 127.0.0.1:\(server.port)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func get(_ client: RawClient) -> String {
            client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            return client.readResponse().components(separatedBy: "\r\n\r\n").last ?? ""
        }
        let first = try RawClient(port: port, timeout: 5)
        XCTAssertEqual(get(first), "1")
        first.shutdownBoth()
        Thread.sleep(forTimeInterval: 0.3)  // the server closed connection 1 in the pool
        let second = try RawClient(port: port, timeout: 5)
        defer { second.shutdownBoth() }
        XCTAssertEqual(get(second), "2", "a first request opens its own connection")
        XCTAssertEqual(get(second), "2", "its next request reuses it: it was pooled")
        XCTAssertEqual(server.connections, 2)
    }
}
