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
    /// is comes from -L), its table
    /// `t` used by `stick on urlp(client)`, listening on `port` with a stats socket.
    private func config(peers: [(String, Int)], port: Int, socket: String) -> String {
        let peerLines = peers.map { name, p in "    peer \(name) 127.0.0.1:\(p)" }.joined(separator: "\n")
        return """
            global
                stats socket \(socket) level admin
            \(differentialHTTPDefaults)
            peers pair
            \(peerLines)
                table t type string len 24 size 1k expire 10m

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
        let first = get(swPort, client: "c1")
        XCTAssertTrue(first.hasPrefix("node"), first)
        let hapLine = entry(hapSocket, "c1")
        XCTAssertNotNil(hapLine, "haproxy never learnt c1:\n\(cli(hapSocket, "show table pair/t"))\n\(sw.stderr)\n\(haproxy.stderr)")
        XCTAssertTrue(hapLine?.contains("server_key=srv\(first.last!)") ?? false, hapLine ?? "")
        for _ in 0..<3 { XCTAssertEqual(get(hapPort, client: "c1"), first, "haproxy sends c1 where swiftlb stuck it") }

        // Learnt by HAProxy → in SwiftLB's table, and SwiftLB follows it.
        let second = get(hapPort, client: "c2")
        let swLine = entry(swSocket, "c2")
        XCTAssertNotNil(swLine, "swiftlb never learnt c2:\n\(cli(swSocket, "show table pair/t"))\n\(sw.stderr)")
        XCTAssertTrue(swLine?.contains("server_id=\(second.last!) server_key=srv\(second.last!)") ?? false, swLine ?? "")
        for _ in 0..<3 { XCTAssertEqual(get(swPort, client: "c2"), second, "swiftlb sends c2 where haproxy stuck it") }
        XCTAssertTrue(sw.stderr.contains("peers pair: session with 'hap' established"), sw.stderr)
    }

    /// A frontend's `type ip` table of counters (`track-sc0 src`) shared with HAProxy: each side
    /// counts its own clients and shows the other's counts.
    func testCountersOfAnAddressTableTravelBothWaysWithHAProxy() throws {
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
                stick-table type ip size 1k expire 1m store conn_cnt,http_req_cnt,http_req_rate(10s) peers pair
                http-request track-sc0 src
                http-request return status 200

            """
        }
        let sw = try startSwiftLB("sw", config: config(port: swPort, socket: swSocket), port: swPort)
        defer { sw.stop() }
        let hapConfig = try dir.write("hap.cfg", config(port: hapPort, socket: hapSocket))
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-L", "hap", "-f", hapConfig], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hapPort), haproxy.stderr)
        XCTAssertNotNil(waitUntil(timeout: 8) { sw.stderr.contains("session with 'hap' established") }, sw.stderr)
        func requests(_ port: Int, from source: String, _ n: Int) throws {
            for _ in 0..<n {
                let client = try RawClient(port: port, timeout: 3, source: source)
                client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                XCTAssertTrue(client.readResponse().hasPrefix("HTTP/1.1 200"))
            }
        }
        try requests(swPort, from: "127.0.0.5", 3)
        try requests(hapPort, from: "127.0.0.6", 2)
        func line(_ socket: String, _ key: String) -> String? {
            var found: String?
            _ = waitUntil(timeout: 8) {
                found = cli(socket, "show table fe").split(separator: "\n").map(String.init).first { $0.contains("key=\(key) ") && $0.contains("http_req_cnt=") }
                return found?.contains(key == "127.0.0.5" ? "conn_cnt=3 http_req_cnt=3 http_req_rate(10000)=3" : "conn_cnt=2 http_req_cnt=2 http_req_rate(10000)=2") ?? false
            }
            return found
        }
        XCTAssertTrue(line(hapSocket, "127.0.0.5")?.contains("conn_cnt=3 http_req_cnt=3 http_req_rate(10000)=3") ?? false,
                      "haproxy's view of swiftlb's client:\n\(cli(hapSocket, "show table fe"))")
        XCTAssertTrue(line(swSocket, "127.0.0.6")?.contains("conn_cnt=2 http_req_cnt=2 http_req_rate(10000)=2") ?? false,
                      "swiftlb's view of haproxy's client:\n\(cli(swSocket, "show table fe"))")
    }

    func testTwoSwiftLBsShareTheirTableAndARestartedOneLearnsIt() throws {
        let (aPort, bPort, aPeer, bPeer) = (freePort(), freePort(), freePort(), freePort())
        let (aSocket, bSocket) = (dir.file("a.sock"), dir.file("b.sock"))
        let peers = [("a", aPeer), ("b", bPeer)]
        let a = try startSwiftLB("a", config: config(peers: peers, port: aPort, socket: aSocket), port: aPort)
        defer { a.stop() }
        var b = try startSwiftLB("b", config: config(peers: peers, port: bPort, socket: bSocket), port: bPort)
        defer { b.stop() }

        let c1 = get(aPort, client: "c1")
        XCTAssertNotNil(entry(bSocket, "c1"), "b never learnt c1 from a:\n\(a.stderr)\n\(b.stderr)")
        XCTAssertEqual(get(bPort, client: "c1"), c1)
        // Stuck on b (to the other server, by round robin on a fresh key) → a knows it.
        let c2 = get(bPort, client: "c2")
        XCTAssertNotNil(entry(aSocket, "c2"), "a never learnt c2 from b")
        XCTAssertEqual(get(aPort, client: "c2"), c2)

        // b restarts: while it is away a learns c3; back, b gets the whole table from a. (Both
        // started together, so each answered the other's resync request "partial" — not up to
        // date itself — until its 5 s lesson window ended; a restart comes later in real life.)
        XCTAssertNotNil(waitUntil(timeout: 8) { a.stderr.contains("no peer taught the tables") || a.stderr.contains("tables learnt") }, a.stderr)
        b.stop()
        let c3 = get(aPort, client: "c3")
        b = try startSwiftLB("b", config: config(peers: peers, port: bPort, socket: bSocket), port: bPort)
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
