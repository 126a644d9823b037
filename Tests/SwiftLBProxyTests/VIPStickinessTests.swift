import Foundation
import XCTest

/// Stickiness across a takeover (issue #15): both instances balance over the same three
/// HipChat stand-ins, and a client keeps its server when the VIP moves from lb1 (killed) to
/// lb2 — by its SERVERID cookie (HTTP and HTTPS; one lb1 issued and one naming node2), and by
/// `balance source` (no table: both instances read the same cookie and hash the same address
/// over the same server list); and by a stick table the two share over a `peers` section.
final class VIPStickinessTests: VIPLabTestCase {
    private func proxyConfig(pem: String) -> String {
        let be = lab.address("be")
        let servers = (1...3).map { "    server node\($0) \(be):\(8000 + $0)" }
        return """
            frontend web
                bind \(VIPLab.vip):8080
                default_backend nodes
            frontend webs
                bind \(VIPLab.vip):8443 ssl crt \(pem)
                default_backend nodes
            frontend src
                bind \(VIPLab.vip):8081
                default_backend nodes_by_source
            frontend srcs
                bind \(VIPLab.vip):8444 ssl crt \(pem)
                default_backend nodes_by_source
            backend nodes
                balance roundrobin
                cookie SERVERID insert indirect nocache
            \(servers.enumerated().map { "\($0.element) cookie n\($0.offset + 1)" }.joined(separator: "\n"))
            backend nodes_by_source
                balance source
            \(servers.joined(separator: "\n"))
            """
    }

    /// One request from the client namespace: the answering node's name (or the failure) and
    /// the whole response.
    private func get(port: Int, tls: Bool, cookie: String? = nil) -> (node: String, response: String) {
        let url = tls ? "https://hipchat.example.test:\(port)/" : "http://\(VIPLab.vip):\(port)/"
        var command = "ip netns exec \(lab.ns("client")) curl -sS -i --max-time 2"
        if tls { command += " --cacert \(lab.dir.file("hipc.pem")) --resolve hipchat.example.test:\(port):\(VIPLab.vip)" }
        if let cookie { command += " -b \(cookie)" }
        let r = VIPLab.shell("\(command) \(url)")
        guard r.status == 0, let range = r.out.range(of: #"HipChat node\d"#, options: .regularExpression) else { return ("FAIL \(r.err)", r.out) }
        return (String(r.out[range].dropFirst("HipChat ".count)), r.out)
    }

    private func node(port: Int, tls: Bool, cookie: String? = nil) -> String { get(port: port, tls: tls, cookie: cookie).node }

    /// Five requests each way: the nodes they reached.
    private func route(_ cookie: String?) -> [String: Set<String>] {
        var seen: [String: Set<String>] = [:]
        for (name, port, tls, c) in [("cookie http", 8080, false, cookie), ("cookie https", 8443, true, cookie),
                                      ("source http", 8081, false, nil), ("source https", 8444, true, nil)] {
            for _ in 0..<5 { seen[name, default: []].insert(node(port: port, tls: tls, cookie: c)) }
        }
        return seen
    }

    /// A stick table (`stick on hdr(x-user)`) shared by the two instances over a `peers`
    /// section on the lab network.
    private func peersConfig(_ node: String) -> String {
        let be = lab.address("be")
        return """
            global
                localpeer \(node)
            peers pair
                peer lb1 \(lab.address("lb1")):10000
                peer lb2 \(lab.address("lb2")):10000
                table users type string len 16 size 1k expire 10m
            frontend web
                bind \(VIPLab.vip):8080
                default_backend nodes
            backend nodes
                balance roundrobin
                stick on hdr(x-user) table pair/users
            \((1...3).map { "    server node\($0) \(be):\(8000 + $0)" }.joined(separator: "\n"))
            """
    }

    /// The node a request with `x-user: user` reaches through the VIP.
    private func node(user: String?) -> String {
        let header = user.map { "-H 'x-user: \($0)' " } ?? ""
        let r = VIPLab.shell("ip netns exec \(lab.ns("client")) curl -sS --max-time 2 \(header)http://\(VIPLab.vip):8080/")
        guard r.status == 0, let range = r.out.range(of: #"HipChat node\d"#, options: .regularExpression) else { return "FAIL \(r.err)" }
        return String(r.out[range].dropFirst("HipChat ".count))
    }

    func testAStickTableSharedByPeersSurvivesATakeover() throws {
        try lab.startSharedNodes()
        try lab.startSwiftLB("lb2", config: lab.config("lb2", proxy: peersConfig("lb2")))
        try lab.startSwiftLB("lb1", config: lab.config("lb1", proxy: peersConfig("lb1")))
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "\(lab.holders())")
        XCTAssertTrue(linkUp("lb2"), lab.vrrpStatus("lb2"))
        XCTAssertNotNil(waitUntil(timeout: 5) { self.node(user: nil).hasPrefix("node") }, "the client reaches the VIP")

        // lb1 pins six users, with a request without a user between two: its round robin
        // steps by two from user to user, so lb2's own, stepping by one over six fresh users,
        // cannot reproduce the pins by chance.
        let users = (1...6).map { "u\($0)" }
        var pinned: [String: String] = [:]
        for user in users {
            pinned[user] = node(user: user)
            _ = node(user: nil)
        }
        XCTAssertTrue(pinned.values.allSatisfy { $0.hasPrefix("node") }, "\(pinned)")
        XCTAssertEqual(Set(pinned.values).count, 3, "round robin spreads them: \(pinned)")
        let lb2Socket = lab.dir.file("lb2.sock")
        let shared = waitUntil(timeout: 8) {
            let table = runCommand("/bin/sh", ["-c", "echo 'show table pair/users' | /usr/bin/timeout 5 socat - UNIX-CONNECT:\(lb2Socket)"]).out
            return users.allSatisfy { user in table.contains("key=\(user) ") && table.contains("server_key=\(pinned[user]!)") }
        }
        XCTAssertNotNil(shared, "lb2 learnt lb1's entries over the peers link")

        lab.kill("lb1")
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.vrrpStatus("lb2").contains("state: MASTER") }, lab.vrrpStatus("lb2"))
        XCTAssertNotNil(waitUntil(timeout: 5) { self.node(user: nil).hasPrefix("node") }, "lb2 answers on the VIP")
        var after: [String: String] = [:]
        for user in users { after[user] = node(user: user) }
        XCTAssertEqual(after, pinned, "every user keeps its node through lb2")
        print("stick table over peers across the takeover: \(pinned.sorted { $0.key < $1.key })")
    }

    /// Without a cookie, round robin: the stickiness below is the cookie's doing.
    private func spread() -> Set<String> { Set((0..<6).map { _ in node(port: 8080, tls: false) }) }

    func testCookieAndSourceStickinessSurviveATakeover() throws {
        let pem = lab.dir.file("hipc.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["hipchat.example.test", pem]).status, 0)
        try lab.startSharedNodes()
        try lab.startSwiftLB("lb2", config: lab.config("lb2", proxy: proxyConfig(pem: pem)))
        try lab.startSwiftLB("lb1", config: lab.config("lb1", proxy: proxyConfig(pem: pem)))
        XCTAssertTrue(lab.waitForHolders(["lb1"]), "\(lab.holders())")
        XCTAssertTrue(linkUp("lb2"), lab.vrrpStatus("lb2"))
        XCTAssertNotNil(waitUntil(timeout: 5) { self.node(port: 8080, tls: false).hasPrefix("node") }, "the client reaches the VIP")

        // A cookie lb1 issues (for another node than node2), to be presented to lb2 later.
        var issued = ""
        for _ in 0..<6 where issued.isEmpty {
            let headers = get(port: 8080, tls: false).response
            if let r = headers.range(of: #"SERVERID=n[13]"#, options: .regularExpression) { issued = String(headers[r]) }
        }
        XCTAssertFalse(issued.isEmpty, "lb1 balances round robin and sets the cookie")

        let before = route("SERVERID=n2")
        XCTAssertEqual(before["cookie http"], ["node2"], "\(before)")
        XCTAssertEqual(before["cookie https"], ["node2"], "\(before)")
        let bySource = try XCTUnwrap(before["source http"]?.first)
        XCTAssertTrue(bySource.hasPrefix("node") && before["source http"]!.count == 1, "\(before)")
        XCTAssertEqual(before["source https"], [bySource], "\(before)")
        let issuedNode = node(port: 8443, tls: true, cookie: issued)
        XCTAssertNotEqual(issuedNode, "node2")
        XCTAssertGreaterThan(spread().count, 1, "round robin without a cookie")

        lab.kill("lb1")
        XCTAssertNotNil(waitUntil(timeout: 5) { self.lab.vrrpStatus("lb2").contains("state: MASTER") }, lab.vrrpStatus("lb2"))
        XCTAssertNotNil(waitUntil(timeout: 5) { self.node(port: 8080, tls: false).hasPrefix("node") }, "lb2 answers on the VIP")

        // lb1 is dead: every answer now comes from lb2.
        let after = route("SERVERID=n2")
        XCTAssertEqual(after["cookie http"], ["node2"], "the node2 cookie still lands on node2 through lb2: \(after)")
        XCTAssertEqual(after["cookie https"], ["node2"], "\(after)")
        XCTAssertEqual(after["source http"], [bySource], "balance source picks the same node on lb2: \(after)")
        XCTAssertEqual(after["source https"], [bySource], "\(after)")
        XCTAssertEqual(node(port: 8443, tls: true, cookie: issued), issuedNode, "the cookie lb1 issued (\(issued)) is honoured by lb2")
        XCTAssertGreaterThan(spread().count, 1, "lb2 balances round robin without a cookie")
        XCTAssertTrue(lab.vrrpStatus("lb2").contains("state: MASTER"))
        print("stickiness across the takeover: cookie → node2, issued \(issued) → \(issuedNode), source → \(bySource)")
    }
}
