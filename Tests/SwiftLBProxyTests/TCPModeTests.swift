import Foundation
import XCTest

/// `mode tcp` against real redis-servers on loopback, as the seed's Sentinel "connection broker"
/// is used: clients go through SwiftLB to whichever Redis is master (HAProxy's usual
/// `tcp-check send info replication` / `expect string role:master`), follow a switch of
/// master within fall × inter, and their old sessions are shut (`on-marked-down
/// shutdown-sessions`) so they reconnect to the new one.
final class TCPModeTests: XCTestCase {
    /// The `defaults` most of these proxies share (a section's keywords may follow it).
    static let tcpDefaults = "defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 30s\n    timeout server 30s"

    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    @discardableResult
    private func redis(_ port: Int, _ args: String...) -> String {
        runCommand("/usr/bin/timeout", ["5", "redis-cli", "-h", "127.0.0.1", "-p", "\(port)"] + args).out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The port of the Redis that answered, from its own INFO.
    private func answeringPort(_ port: Int) -> Int? {
        let info = redis(port, "INFO", "server")
        return info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("tcp_port:") }.flatMap { Int($0.dropFirst(9).trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    private func masterProxy(_ ports: [Int], extra: String = "") throws -> (SwiftLBInstance, Int) {
        let port = freePort()
        let config = """
            \(Self.tcpDefaults)
                option tcplog
                timeout check 1s
            listen redis_master
                bind 127.0.0.1:\(port)
                option tcp-check
                tcp-check connect
                tcp-check send info\\ replication\\r\\n
                tcp-check expect string role:master
                tcp-check send QUIT\\r\\n
                tcp-check expect string +OK
            \(extra)
            \(serverLines(ports, name: "redis", params: "check inter 100ms fall 2 rise 1 on-marked-down shutdown-sessions"))

            """
        let lb = try SwiftLBInstance(config: config, waitPort: port, in: dir)
        return (lb, port)
    }

    func testClientsReachTheMasterAndFollowASwitch() throws {
        let a = try RedisBackend(in: dir), b = try RedisBackend(in: dir)
        defer { a.stop(); b.stop() }
        redis(b.port, "REPLICAOF", "127.0.0.1", "\(a.port)")
        let (lb, port) = try masterProxy([a.port, b.port])
        defer { lb.stop() }
        XCTAssertNotNil(waitUntil(timeout: 5) { lb.child.stderr.contains("redis_master/redis2 is DOWN") }, lb.child.stderr)
        for i in 0..<10 {
            XCTAssertEqual(answeringPort(port), a.port)
            XCTAssertEqual(redis(port, "SET", "k\(i)", "v\(i)"), "OK")
        }
        // A session held open through SwiftLB to the old master.
        let held = try RawClient(port: port, timeout: 5)
        held.send("PING\r\n")
        XCTAssertEqual(held.read(until: "\r\n"), "+PONG\r\n")

        // The switch: b becomes master, a its replica.
        redis(b.port, "REPLICAOF", "NO", "ONE")
        redis(a.port, "REPLICAOF", "127.0.0.1", "\(b.port)")
        let start = Date()
        // The old master goes DOWN after fall 2 × inter 100 ms; the new one comes UP after rise 1.
        XCTAssertNotNil(waitUntil(timeout: 5) { lb.child.stderr.contains("redis_master/redis1 is DOWN") }, lb.child.stderr)
        XCTAssertNotNil(waitUntil(timeout: 5) { lb.child.stderr.contains("redis_master/redis2 is UP") }, lb.child.stderr)
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "fall 2 × inter 100 ms, plus rise, plus a loaded machine's margin")
        for i in 0..<10 {
            XCTAssertEqual(answeringPort(port), b.port, "every new connection reaches the new master")
            XCTAssertEqual(redis(port, "SET", "after\(i)", "switch"), "OK", "writes succeed on the new master")
        }
        // The old session was shut when a went DOWN.
        let (_, closed) = held.readAll()
        XCTAssertTrue(closed, "on-marked-down shutdown-sessions: the session to the old master must be closed")
        lb.waitForAccessLog { $0.contains("redis_master redis_master/redis1 ") }
        XCTAssertTrue(lb.accessLog.contains("redis_master redis_master/redis1 "), lb.accessLog)
    }

    func testAServerThatDiesMidSessionClosesItsClient() throws {
        let a = try RedisBackend(in: dir)
        let (lb, port) = try masterProxy([a.port])
        defer { lb.stop() }
        XCTAssertNotNil(waitUntil(timeout: 5) { self.redis(port, "PING") == "PONG" })
        let client = try RawClient(port: port, timeout: 5)
        client.send("PING\r\n")
        XCTAssertEqual(client.read(until: "\r\n"), "+PONG\r\n")
        a.stop()
        let start = Date()
        XCTAssertTrue(client.readAll().closed)
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
    }

    func testMaxconnQueuesTheNextSessionUntilASlotFrees() throws {
        let a = try RedisBackend(in: dir)
        defer { a.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            \(Self.tcpDefaults)
                timeout queue 10s
            listen r
                bind 127.0.0.1:\(port)
                server r1 127.0.0.1:\(a.port) maxconn 1

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let first = try RawClient(port: port, timeout: 5)
        XCTAssertEqual(first.roundTrip("PING\r\n"), "+PONG\r\n")
        // The first session gives its slot up after 1.5 s; the second waits in the queue till then.
        let release = Thread {
            usleep(1_500_000)
            first.send("QUIT\r\n")
            _ = first.readAll()
            first.shutdownBoth()
        }
        let second = try RawClient(port: port, timeout: 6)
        let start = Date()
        release.start()
        XCTAssertEqual(second.roundTrip("PING\r\n"), "+PONG\r\n")
        XCTAssertGreaterThan(Date().timeIntervalSince(start), 1.2, "the second session must have waited for the slot")
    }

    func testBalanceSourceKeepsAClientOnOneServer() throws {
        let a = try RedisBackend(in: dir), b = try RedisBackend(in: dir)
        defer { a.stop(); b.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            \(Self.tcpDefaults)
            listen r
                bind 127.0.0.1:\(port)
                balance source
            \(serverLines([a.port, b.port], name: "r"))

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let first = answeringPort(port)
        XCTAssertNotNil(first)
        for _ in 0..<8 { XCTAssertEqual(answeringPort(port), first) }
    }

    /// An HTTP frontend cannot send its requests to a TCP backend (HAProxy refuses it too); a
    /// TCP frontend using an HTTP backend becomes HTTP (TCPUpgradeTests).
    func testAnHTTPFrontendCannotUseATCPBackend() throws {
        let path = try dir.write("mixed.conf", """
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
            frontend f
                mode http
                bind 127.0.0.1:1
                default_backend b
            backend b
                mode tcp
                server s 127.0.0.1:2

            """)
        let r = runCommand(Paths.swiftlb, ["check", "-c", path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue((r.out + r.err).contains("mixed.conf:5] : 'default_backend' : http frontend 'f' (\(path):5) tries to use incompatible tcp backend 'b' (\(path):9) as its default backend (see 'mode')"), r.out + r.err)
    }

    /// A proxy whose mode is written nowhere runs in TCP, HAProxy's default: a copied
    /// haproxy.cfg's mode-less `listen` (and a mode-less backend behind a tcp frontend) in
    /// front of a real Redis answers PING with PONG through SwiftLB as through haproxy (as HTTP
    /// it would be a 400). A mode-less backend behind an http frontend is refused by both.
    func testAProxyOfNoWrittenModeIsTCPAsInHAProxy() throws {
        try requireHAProxy()
        let redisServer = try RedisBackend(in: dir)
        defer { redisServer.stop() }
        func config(_ listen: Int, _ front: Int) -> String {
            """
            defaults
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            listen redis
                bind 127.0.0.1:\(listen)
                server s 127.0.0.1:\(redisServer.port)
            frontend f
                bind 127.0.0.1:\(front)
                default_backend b
            backend b
                server s 127.0.0.1:\(redisServer.port)

            """
        }
        let (lbPorts, haPorts) = ((freePort(), freePort()), (freePort(), freePort()))
        let lb = try SwiftLBInstance(config: config(lbPorts.0, lbPorts.1), waitPort: lbPorts.0, in: dir)
        defer { lb.stop() }
        let haproxy = try startHAProxy(config(haPorts.0, haPorts.1), port: haPorts.0, in: dir)
        defer { haproxy.stop() }
        for port in [lbPorts.0, lbPorts.1, haPorts.0, haPorts.1] {
            let client = try RawClient(port: port, timeout: 3)
            client.send("PING\r\n")
            XCTAssertEqual(client.read(until: "\r\n"), "+PONG\r\n", "port \(port)")
            client.send("ECHO swiftlb\r\n")
            XCTAssertEqual(client.read(until: "swiftlb\r\n"), "$7\r\nswiftlb\r\n", "port \(port)")
            client.shutdownBoth()
        }

        let mixed = try dir.write("nomode.conf", config(1, 2).replacingOccurrences(of: "frontend f\n", with: "frontend f\n    mode http\n"))
        let ours = runCommand(Paths.swiftlb, ["check", "-c", mixed])
        let theirs = runCommand("/usr/sbin/haproxy", ["-c", "-f", mixed])
        XCTAssertNotEqual(ours.status, 0)
        XCTAssertNotEqual(theirs.status, 0)
        let reason = "http frontend 'f' (\(mixed):8) tries to use incompatible tcp backend 'b' (\(mixed):12) as its default backend (see 'mode')"
        XCTAssertTrue(theirs.err.contains(reason), theirs.err)
        XCTAssertTrue(ours.err.contains("nomode.conf:8] : 'default_backend' : " + reason), ours.err)
    }

    /// A timeout shorter than the loop's 100 ms sweep is kept to (HAProxy's reg-tests write
    /// `timeout client 1`): the session ends on the client's timeout ("cD") before a server
    /// that answers 60 ms after the request is heard (reg-test log/wrong_ip_port_logging).
    func testATimeoutShorterThanTheSweepEndsTheSessionOnTime() throws {
        let backend = try ScriptedBackend(.delayed(.milliseconds(60), body: "late"))
        defer { backend.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            \(Self.tcpDefaults)
                option tcplog
                timeout client 1
            listen l
                bind 127.0.0.1:\(port)
                server s 127.0.0.1:\(backend.port)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let client = try RawClient(port: port, timeout: 5)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let (rest, closed) = client.readAll()
        XCTAssertTrue(closed)
        XCTAssertEqual(rest.count, 0, "the session ended before the server's answer: \(rest)")
        lb.waitForAccessLog { $0.contains(" cD ") }
        XCTAssertTrue(lb.accessLog.contains(" cD "), lb.accessLog)
    }

    /// `option clitcpka` / `srvtcpka`: the kernel's keep-alive timer runs on the proxy's client
    /// and server sockets of a session (as `ss -o` shows it), and not without the options.
    func testTCPKeepAliveProbesAreOnOnlyWhenAsked() throws {
        let redisServer = try RedisBackend(in: dir)
        defer { redisServer.stop() }
        for (options, expected) in [("option clitcpka\n    option srvtcpka", true), ("", false)] {
            let (lb, client, port) = try openRedisSession(redisServer, options: options)
            defer { client.shutdownBoth(); lb.stop() }  // the session stays open until here
            // The proxy's end towards the client (source port = the listener) and towards redis.
            let sockets = runCommand("/usr/bin/ss", ["-tnoH", "state", "established",
                                                     "( sport = :\(port) or dport = :\(redisServer.port) )"]).out
            let keepAlive = sockets.split(separator: "\n").filter { $0.contains("timer:(keepalive") }
            if expected {
                XCTAssertTrue(keepAlive.contains { $0.contains("127.0.0.1:\(port) ") }, "client side: \(sockets)")
                XCTAssertTrue(keepAlive.contains { $0.contains("127.0.0.1:\(redisServer.port) ") }, "server side: \(sockets)")
            } else {
                XCTAssertTrue(keepAlive.isEmpty, sockets)
            }
        }
    }

    /// Nagle's algorithm is off on both sockets of a session (HAProxy's small writes go out at
    /// once; with Nagle a response's last segment can wait for a delayed ACK). SwiftLB does not
    /// set TCP_NODELAY per connection: accepted sockets inherit it from the listener and server
    /// sockets get it from the bootstrap. Read from the proxy's own descriptors (`pidfd_getfd`).
    func testNagleIsOffOnTheClientAndServerSockets() throws {
        let redisServer = try RedisBackend(in: dir)
        defer { redisServer.stop() }
        let (lb, client, port) = try openRedisSession(redisServer)
        defer { client.shutdownBoth(); lb.stop() }  // the session stays open until here
        let nodelay = Self.tcpNoDelay(pid: lb.child.pid, localPort: port, remotePort: redisServer.port)
        XCTAssertEqual(nodelay, "client 1 server 1")
    }

    /// SwiftLB in TCP mode in front of `redis` (a `listen` section with `options`), and one
    /// PING answered through it; the session stays open while the returned client lives.
    private func openRedisSession(_ redis: RedisBackend, options: String = "") throws -> (SwiftLBInstance, RawClient, Int) {
        let port = freePort()
        let lb = try SwiftLBInstance(config: """
            defaults
                mode tcp
                timeout connect 1s
                timeout client 30s
                timeout server 30s
            listen redis
                bind 127.0.0.1:\(port)
                \(options)
                server r1 127.0.0.1:\(redis.port)

            """, waitPort: port, in: dir, name: "swiftlb-\(port)")
        do {
            let client = try RawClient(port: port, timeout: 3)
            client.send("PING\r\n")
            XCTAssertEqual(client.read(until: "\r\n"), "+PONG\r\n")
            return (lb, client, port)
        } catch {
            lb.stop()
            throw error
        }
    }

    /// TCP_NODELAY of the proxy's established sockets whose local port is `localPort` (its end
    /// towards the client) and whose remote port is `remotePort` (its end towards the server).
    static func tcpNoDelay(pid: Int32, localPort: Int, remotePort: Int) -> String {
        let seen = socketOptions(pid: pid, localPort: localPort, remotePort: remotePort, ["IPPROTO_TCP.TCP_NODELAY"])
        return ["client", "server"].compactMap { role in seen[role].map { "\(role) \($0)" } }.joined(separator: " ") + (seen["error"] ?? "")
    }
}

extension RawClient: @unchecked Sendable {}

extension RawClient {
    /// Sends `text` and reads one CRLF-terminated line.
    func roundTrip(_ text: String) -> String {
        send(text)
        return read(until: "\r\n")
    }
}
