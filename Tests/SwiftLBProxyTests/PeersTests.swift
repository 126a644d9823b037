import Foundation
import XCTest

/// `peers` sections with real peers on loopback: SwiftLB and HAProxy 2.6 sharing a table both
/// ways (an entry one learns from its traffic shows in the other's `show table`, and sends the
/// same client to the same server there), and two SwiftLB instances — the VIP pair — sharing
/// theirs, a restarted one learning the table from the other.
final class PeersTests: XCTestCase {
    var dir: TempDirectory!
    var nginx: NginxBackends!

    override func setUpWithError() throws {
        dir = try TempDirectory()
        nginx = try NginxBackends(count: 2, in: dir)
    }

    override func tearDown() {
        nginx?.stop()
        nginx = nil
        dir = nil
    }

    /// One line on a stats socket (swiftlb's or haproxy's), read with socat.
    private func cli(_ socket: String, _ line: String) -> String {
        runCommand("/bin/sh", ["-c", "echo '\(line)' | /usr/bin/timeout 5 socat - UNIX-CONNECT:\(socket)"]).out
    }

    /// The body of `/?client=NAME` through the proxy on `port` (which node answered).
    private func get(_ port: Int, client: String) -> String {
        curl(["-s", "--max-time", "3", "http://127.0.0.1:\(port)/?client=\(client)"], maxTime: 5).out
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A configuration for a member of a section of `peers` (name → peers port; which one it
    /// is comes from -L), its table `t` used by `stick on urlp(client)`, listening on `port`
    /// with a stats socket.
    private func config(peers: [(String, Int)], port: Int, socket: String, expire: String = " expire 10m") -> String {
        config(members: peers.map { name, p in "peer \(name) 127.0.0.1:\(p)" }, port: port, socket: socket, expire: expire)
    }

    /// The same with the peers section's lines as given (before its table).
    private func config(members: [String], port: Int, socket: String, expire: String = " expire 10m") -> String {
        """
        global
            stats socket \(socket) level admin
        \(differentialHTTPDefaults)
        peers pair
        \(members.map { "    " + $0 }.joined(separator: "\n"))
            table t type string len 24 size 1k\(expire)

        backend be
            balance roundrobin
            stick on urlp(client) table pair/t
            server srv1 127.0.0.1:\(nginx.ports[0])
            server srv2 127.0.0.1:\(nginx.ports[1])

        frontend fe
            bind 127.0.0.1:\(port)
            default_backend be

        """
    }

    private func startSwiftLB(_ name: String, config text: String, port: Int) throws -> ChildProcess {
        let path = try dir.write("\(name).conf", text)
        let child = try ChildProcess(Paths.swiftlb, ["run", "-c", path, "-L", name], logDirectory: dir, name: "\(name)-\(UUID().uuidString.prefix(4))")
        guard waitForPort(port) else {
            child.stop()
            throw HarnessError("swiftlb \(name) did not listen: \(child.stderr)")
        }
        return child
    }

    /// The `show table` line of `key`, waited for (bounded) on `socket`.
    private func entry(_ socket: String, _ key: String, timeout: TimeInterval = 8) -> String? {
        var line: String?
        _ = waitUntil(timeout: timeout) {
            line = cli(socket, "show table pair/t").split(separator: "\n").map(String.init).first { $0.contains(" key=\(key) ") }
            return line != nil
        }
        return line
    }

    /// `key` stuck by the proxy on `from` reaches `to`'s table (its `show table` line is
    /// returned) and `to` sends the client to the same server.
    @discardableResult
    private func assertShared(_ key: String, from: (port: Int, socket: String), to: (port: Int, socket: String),
                              line: UInt = #line) -> (answer: String, entry: String?) {
        let answer = get(from.port, client: key)
        XCTAssertTrue(answer.hasPrefix("node"), answer, line: line)
        let learnt = entry(to.socket, key)
        XCTAssertNotNil(learnt, "\(key) never reached the peer:\n\(cli(to.socket, "show table pair/t"))", line: line)
        for _ in 0..<2 { XCTAssertEqual(get(to.port, client: key), answer, "the peer sends \(key) where it was stuck", line: line) }
        return (answer, learnt)
    }

    func testSwiftLBAndHAProxyShareATableBothWays() throws {
        try requireHAProxy()
        let (swPort, hapPort, swPeer, hapPeer) = (freePort(), freePort(), freePort(), freePort())
        let (swSocket, hapSocket) = (dir.file("sw.sock"), dir.file("hap.sock"))
        let peers = [("sw", swPeer), ("hap", hapPeer)]
        let sw = try startSwiftLB("sw", config: config(peers: peers, port: swPort, socket: swSocket), port: swPort)
        defer { sw.stop() }
        let hapConfig = try dir.write("hap.cfg", config(peers: peers, port: hapPort, socket: hapSocket))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-L", "hap", "-f", hapConfig], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hapPort), haproxy.stderr)

        // Learnt by SwiftLB from its traffic → in HAProxy's table, and HAProxy sends c1 there too.
        let first = assertShared("c1", from: (swPort, swSocket), to: (hapPort, hapSocket))
        XCTAssertTrue(first.entry?.contains("server_key=srv\(first.answer.last!)") ?? false, "\(first)\n\(sw.stderr)\n\(haproxy.stderr)")
        // Learnt by HAProxy → in SwiftLB's table, and SwiftLB follows it.
        let second = assertShared("c2", from: (hapPort, hapSocket), to: (swPort, swSocket))
        XCTAssertTrue(second.entry?.contains("server_id=\(second.answer.last!) server_key=srv\(second.answer.last!)") ?? false, "\(second)")
        XCTAssertTrue(sw.stderr.contains("peers pair: session with 'hap' established"), sw.stderr)

        // HAProxy restarts: it asks SwiftLB for the whole table (timed updates, then "finished")
        // and knows both clients again, c2 included, which it had itself.
        haproxy.stop()
        let again = try ChildProcess("/usr/sbin/haproxy", ["-db", "-L", "hap", "-f", hapConfig], logDirectory: dir, name: "haproxy-again")
        defer { again.stop() }
        XCTAssertTrue(waitForPort(hapPort), again.stderr)
        for key in ["c1", "c2"] {
            XCTAssertNotNil(entry(hapSocket, key, timeout: 12), "the restarted haproxy did not learn \(key):\n\(cli(hapSocket, "show table pair/t"))")
        }
        XCTAssertEqual(get(hapPort, client: "c2"), second.answer)
    }

    /// The peers link over TLS (`bind … ssl crt`, `default-server ssl verify none`), between
    /// SwiftLB and HAProxy: the same entries go both ways, and a plaintext caller is not spoken to.
    func testThePeersLinkOverTLSWithHAProxy() throws {
        try requireHAProxy()
        let pem = dir.file("peers.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["peers.example.test", pem]).status, 0)
        let (swPort, hapPort, swPeer, hapPeer) = (freePort(), freePort(), freePort(), freePort())
        let (swSocket, hapSocket) = (dir.file("sw.sock"), dir.file("hap.sock"))
        func config(me: String, myPeerPort: Int, other: String, otherPeerPort: Int, port: Int, socket: String) -> String {
            self.config(members: ["default-server ssl verify none", "bind 127.0.0.1:\(myPeerPort) ssl crt \(pem)", "server \(me)",
                                  "server \(other) 127.0.0.1:\(otherPeerPort)"], port: port, socket: socket)
        }
        let sw = try startSwiftLB("sw", config: config(me: "sw", myPeerPort: swPeer, other: "hap", otherPeerPort: hapPeer, port: swPort, socket: swSocket),
                                  port: swPort)
        defer { sw.stop() }
        let hapConfig = try dir.write("hap.cfg", config(me: "hap", myPeerPort: hapPeer, other: "sw", otherPeerPort: swPeer, port: hapPort, socket: hapSocket))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-L", "hap", "-f", hapConfig], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hapPort), haproxy.stderr)
        XCTAssertNotNil(assertShared("t1", from: (swPort, swSocket), to: (hapPort, hapSocket)).entry, "\(sw.stderr)\n\(haproxy.stderr)")
        assertShared("t2", from: (hapPort, hapSocket), to: (swPort, swSocket))
        // A plaintext hello gets no "200": the listener waits for a TLS ClientHello.
        let plain = try RawClient(port: swPeer, timeout: 2)
        plain.send("HAProxyS 2.1\nsw\nhap 1 1\n")
        XCTAssertFalse(plain.readAll().text.hasPrefix("200"))
    }

    /// A frontend's `type ip` table of counters (`track-sc0 src`) shared with HAProxy: each side
    /// counts its own clients and shows the other's counts.
    func testCountersOfAnAddressTableTravelBothWaysWithHAProxy() throws {
        try countersTravelBothWays(frontend: """
                stick-table type ip size 1k expire 1m store conn_cnt,http_req_cnt,http_req_rate(10s) peers pair
                http-request track-sc0 src
            """, swiftlbPaths: ["/", "/", "/"], haproxyPaths: ["/", "/"],
            fromSwiftLB: "conn_cnt=3 http_req_cnt=3 http_req_rate(10000)=3", fromHAProxy: "conn_cnt=2 http_req_cnt=2 http_req_rate(10000)=2")
    }

    /// The general purpose tag and counters (and a counter's rate) travel as HAProxy's data
    /// types 1, 2, 3 and 17, both ways.
    func testGeneralPurposeCountersTravelBothWaysWithHAProxy() throws {
        try countersTravelBothWays(frontend: """
                stick-table type ip size 1k expire 1m store gpt0,gpc0,gpc0_rate(10s),gpc1 peers pair
                http-request track-sc0 src
                http-request sc-inc-gpc0(0)
                http-request sc-inc-gpc1(0) if { path_beg /one }
                http-request sc-set-gpt0(0) 9
            """, swiftlbPaths: ["/one", "/", "/"], haproxyPaths: ["/one", "/one"],
            fromSwiftLB: "gpt0=9 gpc0=3 gpc0_rate(10000)=3 gpc1=1", fromHAProxy: "gpt0=9 gpc0=2 gpc0_rate(10000)=2 gpc1=2")
    }

    /// SwiftLB and HAProxy peers, each with frontend `fe` (its table and rules given, answering
    /// 200): requests to each from its own client address (127.0.0.5 to SwiftLB, 127.0.0.6 to
    /// HAProxy) show the same counters on both sides.
    private func countersTravelBothWays(frontend rules: String, swiftlbPaths: [String], haproxyPaths: [String],
                                        fromSwiftLB: String, fromHAProxy: String, line: UInt = #line) throws {
        try requireHAProxy()
        let (swPort, hapPort, swPeer, hapPeer) = (freePort(), freePort(), freePort(), freePort())
        let (swSocket, hapSocket) = (dir.file("sw.sock"), dir.file("hap.sock"))
        func config(port: Int, socket: String) -> String {
            """
            global
                stats socket \(socket) level admin
            \(differentialHTTPDefaults)
            peers pair
                peer sw 127.0.0.1:\(swPeer)
                peer hap 127.0.0.1:\(hapPeer)

            frontend fe
                bind 127.0.0.1:\(port)
            \(rules)
                http-request return status 200

            """
        }
        let sw = try startSwiftLB("sw", config: config(port: swPort, socket: swSocket), port: swPort)
        defer { sw.stop() }
        let hapConfig = try dir.write("hap.cfg", config(port: hapPort, socket: hapSocket))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-L", "hap", "-f", hapConfig], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hapPort), haproxy.stderr, line: line)
        XCTAssertNotNil(waitUntil(timeout: 8) { sw.stderr.contains("session with 'hap' established") }, sw.stderr, line: line)
        func requests(_ port: Int, from source: String, _ paths: [String]) throws {
            for path in paths {
                let client = try RawClient(port: port, timeout: 3, source: source)
                client.send("GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                XCTAssertTrue(client.readResponse().hasPrefix("HTTP/1.1 200"), line: line)
            }
        }
        try requests(swPort, from: "127.0.0.5", swiftlbPaths)
        try requests(hapPort, from: "127.0.0.6", haproxyPaths)
        func shows(_ socket: String, _ key: String, _ expected: String) -> Bool {
            waitUntil(timeout: 8) {
                cli(socket, "show table fe").split(separator: "\n").contains { $0.contains("key=\(key) ") && $0.contains(expected) }
            } != nil
        }
        XCTAssertTrue(shows(swSocket, "127.0.0.5", fromSwiftLB), cli(swSocket, "show table fe"), line: line)
        XCTAssertTrue(shows(hapSocket, "127.0.0.5", fromSwiftLB), "haproxy's view of swiftlb's client:\n\(cli(hapSocket, "show table fe"))", line: line)
        XCTAssertTrue(shows(swSocket, "127.0.0.6", fromHAProxy), "swiftlb's view of haproxy's client:\n\(cli(swSocket, "show table fe"))", line: line)
    }

    func testTwoSwiftLBsShareTheirTableAndARestartedOneLearnsIt() throws {
        let (aPort, bPort, aPeer, bPeer) = (freePort(), freePort(), freePort(), freePort())
        let (aSocket, bSocket) = (dir.file("a.sock"), dir.file("b.sock"))
        let peers = [("a", aPeer), ("b", bPeer)]
        // A table without expiry: a lesson's "time left" (0) must not expire what it teaches.
        let a = try startSwiftLB("a", config: config(peers: peers, port: aPort, socket: aSocket, expire: ""), port: aPort)
        defer { a.stop() }
        var b = try startSwiftLB("b", config: config(peers: peers, port: bPort, socket: bSocket, expire: ""), port: bPort)
        defer { b.stop() }

        XCTAssertNotNil(assertShared("c1", from: (aPort, aSocket), to: (bPort, bSocket)).entry, "\(a.stderr)\n\(b.stderr)")
        assertShared("c2", from: (bPort, bSocket), to: (aPort, aSocket))

        // b restarts: while it is away a learns c3; back, b gets the whole table from a. (Both
        // started together, so each answered the other's resync request "partial" — not up to
        // date itself — until its 5 s lesson window ended; a restart comes later in real life.)
        XCTAssertNotNil(waitUntil(timeout: 8) { a.stderr.contains("no peer taught the tables") || a.stderr.contains("tables learnt") }, a.stderr)
        b.stop()
        let c3 = get(aPort, client: "c3")
        b = try startSwiftLB("b", config: config(peers: peers, port: bPort, socket: bSocket, expire: ""), port: bPort)
        for key in ["c1", "c2", "c3"] {
            XCTAssertNotNil(entry(bSocket, key), "the restarted b did not learn \(key):\n\(cli(bSocket, "show table pair/t"))\n\(b.stderr)")
        }
        XCTAssertEqual(get(bPort, client: "c3"), c3)
        XCTAssertNotNil(waitUntil(timeout: 8) { b.stderr.contains("tables learnt from peer 'a'") }, "b asked a for the whole table:\n\(b.stderr)")
    }

    func testAPeerThatIsNotOneOfOursIsRefused() throws {
        let (port, peerPort) = (freePort(), freePort())
        let sw = try startSwiftLB("sw", config: config(peers: [("sw", peerPort), ("other", freePort())], port: port, socket: dir.file("s.sock")),
                                  port: port)
        defer { sw.stop() }
        XCTAssertTrue(waitForPort(peerPort))
        let stranger = try RawClient(port: peerPort, timeout: 3)
        stranger.send("HAProxyS 2.1\nsw\nmallory 1 1\n")
        let refused = stranger.readAll()
        XCTAssertEqual(refused.text, "504\n", "an unknown peer name is answered 504")
        XCTAssertTrue(refused.closed, "and the connection closed")
        let wrongName = try RawClient(port: peerPort, timeout: 3)
        wrongName.send("HAProxyS 2.1\nsomeone-else\nother 1 1\n")
        XCTAssertEqual(wrongName.readAll().text, "503\n")
    }
}
