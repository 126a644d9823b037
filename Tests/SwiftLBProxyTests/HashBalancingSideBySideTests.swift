import Foundation
import XCTest

/// `balance source|uri|url_param|hdr` with `hash-type`, SwiftLB and haproxy 2.6 side by side on
/// one configuration in front of the same four nginx servers: 40 keys per backend — paths,
/// header values, query parameters, client addresses (real 127.0.0.x ones and `set-src`'s IPv4
/// and IPv6 ones), host names — each reach the same server behind both, `map-based` and
/// `consistent`, with the default function and the others, weights, an explicit server `id`,
/// with one server in maintenance and one failing its check, and on the backup servers. So a client keeps its server
/// when SwiftLB replaces HAProxy, or when one VIP holder runs each.
final class HashBalancingSideBySideTests: XCTestCase {
    private struct Case {
        let backend: String
        /// `balance …` and `hash-type …` lines.
        let settings: String
        /// The request for key i (`x-be` picks the backend), and the source to connect from.
        let request: (Int) -> (text: String, source: String?)
        /// A server in maintenance and one whose check fails (DOWN).
        var down = false
        /// The first two servers in maintenance, the last two `backup` (with `option
        /// allbackups`, which SwiftLB always applies): the backups' table.
        var backups = false
    }

    func testEachKeyReachesTheServerHAProxyPicks() throws {
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 4, in: dir, anyPath: true)
        defer { nginx.stop() }
        let closedPort = refusedPort()
        func get(_ backend: String, _ target: String, _ headers: String = "") -> String {
            "GET \(target) HTTP/1.1\r\nHost: h\r\nx-be: \(backend)\r\n\(headers)\r\n"
        }
        let uri: (String) -> (Int) -> (text: String, source: String?) = { be in { i in (get(be, "/k\(i)/sub\(i * 7)/x.png?q=\(i)"), nil) } }
        let header: (String) -> (Int) -> (text: String, source: String?) = { be in { i in (get(be, "/", "x-key: user-\(i * 31)\r\n"), nil) } }
        let setSource: (String) -> (Int) -> (text: String, source: String?) = { be in { i in
            (get(be, "/", "x-src: \(i % 2 == 0 ? "10.\(i).\(i * 3).\((i * 7) % 256)" : "2001:db8:\(String(i * 977, radix: 16))::\(i)")\r\n"), nil)
        } }
        var cases = [
            Case(backend: "uri_map", settings: "balance uri", request: uri("uri_map")),
            Case(backend: "uri_map_down", settings: "balance uri", request: uri("uri_map_down"), down: true),
            Case(backend: "uri_chash", settings: "balance uri\n    hash-type consistent", request: uri("uri_chash")),
            Case(backend: "uri_chash_down", settings: "balance uri\n    hash-type consistent", request: uri("uri_chash_down"), down: true),
            Case(backend: "uri_options", settings: "balance uri whole depth 2 len 14\n    hash-type consistent djb2", request: uri("uri_options")),
            Case(backend: "hdr_map_djb2", settings: "balance hdr(x-key)\n    hash-type map-based djb2", request: header("hdr_map_djb2")),
            Case(backend: "hdr_chash_wt6", settings: "balance hdr(x-key)\n    hash-type consistent wt6 avalanche", request: header("hdr_chash_wt6")),
            Case(backend: "hdr_chash_wt6_down", settings: "balance hdr(x-key)\n    hash-type consistent wt6 avalanche",
                 request: header("hdr_chash_wt6_down"), down: true),
            Case(backend: "param_chash_crc32", settings: "balance url_param id\n    hash-type consistent crc32",
                 request: { i in (get("param_chash_crc32", "/?a=1&id=\(i * 13)&b"), nil) }),
            Case(backend: "param_map_crc32", settings: "balance url_param id\n    hash-type map-based crc32 avalanche",
                 request: { i in (get("param_map_crc32", "/?id=\(i * 13)"), nil) }),
            Case(backend: "src_map", settings: "balance source", request: setSource("src_map")),
            Case(backend: "src_map_down", settings: "balance source", request: setSource("src_map_down"), down: true),
            Case(backend: "src_chash", settings: "balance source\n    hash-type consistent", request: setSource("src_chash")),
            Case(backend: "src_chash_down", settings: "balance source\n    hash-type consistent", request: setSource("src_chash_down"), down: true),
            Case(backend: "host_map", settings: "balance hdr(host) use_domain_only\n    hash-type map-based sdbm avalanche",
                 request: { i in ("GET / HTTP/1.1\r\nHost: w\(i).site\(i * 7).com:8080\r\nx-be: host_map\r\n\r\n", nil) }),
        ]
        for method in ["map-based", "consistent"] {
            let be = "backups_\(method.prefix(3))"
            cases.append(Case(backend: be, settings: "balance uri\n    hash-type \(method)\n    option allbackups", request: uri(be), backups: true))
        }
        // Real client addresses, 127.0.0.2 to 127.0.0.41.
        for method in ["map-based", "consistent"] {
            let be = "real_src_\(method.prefix(3))"
            cases.append(Case(backend: be, settings: "balance source\n    hash-type \(method)", request: { i in (get(be, "/"), "127.0.0.\(i + 2)") }))
        }
        func config(_ port: Int) -> String {
            var text = """
                frontend fe
                    bind 127.0.0.1:\(port)
                    http-request set-src hdr(x-src) if { hdr(x-src) -m found }
                    use_backend %[req.hdr(x-be)]

                """
            for c in cases {
                // Weights 1, 2, 3, 1; the third server numbered 7 (its points on the ring
                // depend on it), the fourth given the next free number as HAProxy does.
                let ids = ["", "", " id 7", ""]
                text += "backend \(c.backend)\n    \(c.settings)\n"
                for (i, port) in nginx.ports.enumerated() {
                    let state = c.down && i == 1 || c.backups && i < 2 ? " disabled" : c.backups ? " backup" : ""
                    text += "    server node\(i + 1) 127.0.0.1:\(port) weight \([1, 2, 3, 1][i])\(ids[i])\(state)\n"
                }
                if c.down { text += "    server dead 127.0.0.1:\(closedPort) weight 2 check inter 100ms fall 1 rise 1\n" }
            }
            return text
        }
        let both = try SideBySide(config, in: dir)
        defer { both.stop() }
        // The failing checks mark `dead` DOWN (one failure each, both proxies check at 100ms).
        Thread.sleep(forTimeInterval: 1.5)

        for c in cases {
            var served: [[String]] = []
            for port in both.ports {
                // Each request is balanced on its own: one keep-alive connection per backend
                // (few sockets left in TIME_WAIT), one per key when the key is the source.
                var shared: RawClient?
                served.append(try (0..<40).map { i in
                    let (text, source) = c.request(i)
                    let client = try source == nil ? shared ?? RawClient(port: port, timeout: 3) : RawClient(port: port, timeout: 3, source: source)
                    if source == nil { shared = client }
                    client.send(text)
                    let response = client.readResponse()
                    return response.hasPrefix("HTTP/1.1 200") ? response.components(separatedBy: "\r\n\r\n").last!.trimmingCharacters(in: .whitespacesAndNewlines) : response
                })
            }
            let mismatches = (0..<40).filter { served[0][$0] != served[1][$0] }.map { "key \($0): swiftlb \(served[0][$0]), haproxy \(served[1][$0])" }
            XCTAssertEqual(mismatches, [], "\(c.backend): \(mismatches.count) of 40 keys on another server than HAProxy's")
            let servers = Set(served[1])
            XCTAssertTrue(servers.allSatisfy { $0.hasPrefix("node") }, "\(c.backend): \(servers)")
            XCTAssertGreaterThanOrEqual(servers.count, c.backups ? 2 : 3, "\(c.backend): 40 keys should spread: \(served[1])")
            if c.down { XCTAssertFalse(servers.contains("node2"), "\(c.backend): node2 is in maintenance") }
            if c.backups { XCTAssertEqual(servers, ["node3", "node4"], "\(c.backend): only the backups are up") }
        }
    }
    /// An HTTP/2 request with `:authority` has an absolute URI in HAProxy (`scheme://authority`
    /// then the path): `balance uri` hashes all of it, `path-only` the path — the same servers
    /// behind both for 40 paths, with and without a port in the authority.
    /// A primary of weight 0 takes no traffic, so its backup serves; and a map-based backend
    /// (HAProxy's static algorithm) takes `set weight` 0% or 100% only, with haproxy's words.
    func testWeightZeroPrimariesAndStaticWeightsAsHAProxy() throws {
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 2, in: dir, anyPath: true)
        defer { nginx.stop() }
        let both = try SideBySide({ port in
            """
            global
                stats socket \(dir.file("stats-\(port).sock")) level admin
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend b
            backend b
                balance uri
                server s1 127.0.0.1:\(nginx.ports[0]) weight 0
                server s2 127.0.0.1:\(nginx.ports[1]) backup
            """
        }, in: dir)
        defer { both.stop() }
        func ctl(_ port: Int, _ command: String) -> String {
            let socket = dir.file("stats-\(port).sock")
            return port == both.lbPort ? runCommand(Paths.swiftlb, ["ctl", "-s", socket] + command.split(separator: " ").map(String.init)).out
                                       : runCommand("/bin/sh", ["-c", "echo '\(command)' | socat -t 2 - UNIX-CONNECT:\(socket)"]).out
        }
        for port in both.ports {
            let answer = try rawExchange(port, "GET /a HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
            XCTAssertTrue(answer.hasPrefix("HTTP/1.1 200") && answer.contains("node2"), "port \(port): the backup serves: \(answer)")
        }
        XCTAssertEqual(ctl(both.lbPort, "set weight b/s1 5").trimmingCharacters(in: .whitespacesAndNewlines),
                       ctl(both.haproxyPort, "set weight b/s1 5").trimmingCharacters(in: .whitespacesAndNewlines))
        XCTAssertTrue(ctl(both.lbPort, "set weight b/s1 5").contains("only accepts weights '0%' and '100%'"))
    }

    func testHTTP2RequestsHashTheURIHAProxyMakesOfThem() throws {
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 4, in: dir, anyPath: true)
        defer { nginx.stop() }
        let both = try SideBySide({ port in
            var text = "frontend fe\n    bind 127.0.0.1:\(port)\n    use_backend %[req.hdr(x-be)]\n"
            for (name, settings) in [("whole", "balance uri"), ("path", "balance uri path-only\n    hash-type consistent")] {
                text += "backend \(name)\n    \(settings)\n" + serverLines(nginx.ports) + "\n"
            }
            return text
        }, in: dir)
        defer { both.stop() }
        for backend in ["whole", "path"] {
            for authority in ["h", "h:8080"] {
                let host = authority.split(separator: ":").first!, hostPort = authority.contains(":") ? authority.split(separator: ":").last! : "80"
                let urls = (0..<40).map { "http://\(authority)/k\($0)/p.png?q=\($0)" }
                // One curl per request: curl 7.88 fails its second request on a prior-knowledge
                // connection reached through --connect-to ("Error in the HTTP2 framing layer",
                // against haproxy too).
                let served = both.ports.map { port in
                    urls.map { url in
                        curl(["--http2-prior-knowledge", "--connect-to", "\(host):\(hostPort):127.0.0.1:\(port)", "-H", "x-be: \(backend)", url]).out
                            .trimmingCharacters(in: .whitespacesAndNewlines)
                    }
                }
                XCTAssertTrue(served.joined().allSatisfy { $0.hasPrefix("node") }, "\(backend) \(authority): \(served)")
                XCTAssertEqual(served[0], served[1], "\(backend) \(authority): swiftlb then haproxy")
                XCTAssertGreaterThanOrEqual(Set(served[1]).count, 3, "\(served[1])")
            }
        }
    }

    /// `balance random`: HAProxy draws points of its consistent-hash ring, so weights 1 and 3
    /// share 400 requests about 27:73 (the ring's arcs for ids 1 and 2) — SwiftLB as well, not
    /// the 50:50 of a draw among servers.
    func testRandomDrawsByWeightAsHAProxy() throws {
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let both = try SideBySide({ port in
            "frontend fe\n    bind 127.0.0.1:\(port)\n    default_backend app\nbackend app\n    balance random\n"
                + "    server node1 127.0.0.1:\(nginx.ports[0]) weight 1\n    server node2 127.0.0.1:\(nginx.ports[1]) weight 3\n"
        }, in: dir)
        defer { both.stop() }
        let urls = dir.file("urls.txt")
        var heavier: [Int] = []
        for port in both.ports {
            try String(repeating: "url = \"http://127.0.0.1:\(port)/\"\n", count: 400).write(toFile: urls, atomically: true, encoding: .utf8)
            let lines = curl(["-K", urls], maxTime: 120).out.split(separator: "\n")
            XCTAssertEqual(lines.count, 400)
            heavier.append(lines.filter { $0 == "node2" }.count)
        }
        // 400 × 0.728 = 291; three standard deviations (9 each) either way.
        for count in heavier { XCTAssertTrue((255...330).contains(count), "node2 (weight 3) took \(count) of 400, swiftlb then haproxy: \(heavier)") }
    }

    /// `hash-balance-factor 125` (consistent hashing with bounded loads): while a slow request
    /// of key K is in flight on K's server, that server has used its share and the next request
    /// of K goes on to the next point's server — the same one behind both.
    func testBoundedLoadsPassAKeyOnAsHAProxy() throws {
        let dir = try TempDirectory()
        let servers = try (0..<3).map { _ in try StreamBackend(in: dir) }
        defer { servers.forEach { $0.stop() } }
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                balance hdr(x-key)
                hash-type consistent
                hash-balance-factor 125
            \(servers.enumerated().map { "    server s\($0 + 1) 127.0.0.1:\($1.port)" }.joined(separator: "\n"))
            """
        }, in: dir)
        defer { both.stop() }
        func whoami(_ port: Int, _ key: String, sleep: Int? = nil) throws -> RawClient {
            let client = try RawClient(port: port, timeout: 5)
            client.send("GET \(sleep.map { "/sleep?ms=\($0)" } ?? "/whoami") HTTP/1.1\r\nHost: h\r\nx-key: \(key)\r\nConnection: close\r\n\r\n")
            return client
        }
        func answer(_ client: RawClient) -> String { client.readAll().text.components(separatedBy: "\r\n\r\n").last ?? "" }
        var moved = 0
        for key in ["alpha", "beta", "gamma", "delta"] {
            var seen: [[String]] = []
            for port in both.ports {
                let alone = answer(try whoami(port, key))
                let slow = try whoami(port, key, sleep: 1200)
                Thread.sleep(forTimeInterval: 0.4)  // the slow request reaches its server
                let beside = answer(try whoami(port, key))
                XCTAssertEqual(answer(slow), alone, "\(key): the slow request went to the key's server")
                seen.append([alone, beside])
            }
            XCTAssertEqual(seen[0], seen[1], "\(key): [alone, beside a request in flight], swiftlb then haproxy")
            if seen[1][0] != seen[1][1] { moved += 1 }
        }
        XCTAssertEqual(moved, 4, "the key's server is over its share each time: the key moves")
    }
}
