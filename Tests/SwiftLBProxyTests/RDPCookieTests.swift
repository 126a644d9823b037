import Foundation
import XCTest

/// The RDP cookie fetches (`req.rdp_cookie([NAME])`, `rdp_cookie_cnt`) and the predefined ACL
/// `RDP_COOKIE` in `tcp-request content` rules, beside HAProxy 2.6: a raw client sends the
/// start of an RDP connection request (TPKT and X.224 headers, then `Cookie: mstshash=USER`).
/// A session routed to `be_nginx` gets nginx's answer to those bytes (a 400); one refused or
/// routed to `none` (no server) is closed without a byte.
final class RDPCookieTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// TPKT (version 3, length) and X.224 connection request headers: the 11 bytes before
    /// the cookie line.
    private static func request(_ cookieLine: String) -> [UInt8] {
        let tail: [UInt8] = [0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]  // RDP negotiation request
        let length = 11 + cookieLine.utf8.count + tail.count
        let x224: [UInt8] = [UInt8(length - 5), 0xE0, 0, 0, 0, 0, 0]
        return [0x03, 0x00, UInt8(length >> 8), UInt8(length & 0xFF)] + x224 + Array(cookieLine.utf8) + tail
    }

    func testRDPCookieRoutesAsInHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let both = try SideBySide({ port in
            """
            frontend rdp
                mode tcp
                bind 127.0.0.1:\(port)
                tcp-request inspect-delay 3s
                tcp-request content reject if !RDP_COOKIE
                tcp-request content accept
                use_backend be_nginx if { req.rdp_cookie(mstshash) -m str alice }
                use_backend be_nginx if { rdp_cookie(MSTSHASH) bob } { rdp_cookie_cnt(mstshash) eq 1 }
                use_backend be_nginx if { rdp_cookie dave } { rdp_cookie_cnt(mstshash) eq 0 }
                default_backend none
            backend be_nginx
                mode tcp
                server s1 127.0.0.1:\(nginx.ports[0])
            backend none
                mode tcp
            """
        }, in: dir)
        defer { both.stop() }
        func answered(_ port: Int, _ parts: [[UInt8]]) throws -> Bool {
            let client = try RawClient(port: port, timeout: 2)
            for (i, part) in parts.enumerated() {
                if i > 0 { usleep(300_000) }
                client.send(part)
            }
            return !client.readAll().text.isEmpty
        }
        for port in both.ports {
            let alice = Self.request("Cookie: mstshash=alice\r\n")
            XCTAssertTrue(try answered(port, [alice]), "port \(port): alice")
            XCTAssertTrue(try answered(port, [Self.request("cookie:  mstshash=bob\r\n")]), "port \(port): names and Cookie: without case")
            XCTAssertFalse(try answered(port, [Self.request("Cookie: mstshash=carol\r\n")]), "port \(port): carol goes to none")
            XCTAssertTrue(try answered(port, [Self.request("Cookie: msts=dave\r\n")]), "port \(port): any name")
            XCTAssertFalse(try answered(port, [Self.request("Cookie: mstshash=alice\n")]), "port \(port): a line not ended by CR LF is no cookie")
            XCTAssertFalse(try answered(port, [Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8)]), "port \(port): not RDP: refused")
            // A request in two reads: the rules wait for the end of the cookie line.
            XCTAssertTrue(try answered(port, [Array(alice[..<20]), Array(alice[20...])]), "port \(port): alice in two parts")
        }
    }

    /// A `listen` section in mode tcp that waits for an RDP cookie, with `policy` (`balance …`,
    /// `persist …`) and `servers`, run by SwiftLB and HAProxy.
    private func rdpListen(_ policy: String, _ servers: [ScriptedBackend], serverOptions: [Int: String] = [:]) throws -> SideBySide {
        try SideBySide({ port in
            """
            listen rdp
                mode tcp
                bind 127.0.0.1:\(port)
                tcp-request inspect-delay 3s
                tcp-request content accept if RDP_COOKIE
            \(policy)
            \(servers.enumerated().map { "    server s\($0.offset + 1) 127.0.0.1:\($0.element.port)\(serverOptions[$0.offset + 1].map { " " + $0 } ?? "")\n" }.joined())
            """
        }, in: dir)
    }

    /// What the server a session with `cookieLine` went to says (its name).
    private func server(_ port: Int, _ cookieLine: String) throws -> String {
        let client = try RawClient(port: port, timeout: 3)
        // The scripted servers answer once a head's blank line came.
        client.send(Self.request(cookieLine) + Array("\r\n\r\n".utf8))
        return client.readAll().text
    }

    /// `balance rdp-cookie`: the user's `mstshash` hashed as HAProxy hashes it picks the same
    /// server of four behind both, and again for the same user.
    func testBalanceRDPCookiePicksHAProxysServer() throws {
        let servers = try (1...4).map { try ScriptedBackend(.raw("s\($0)", close: true)) }
        defer { servers.forEach { $0.stop() } }
        let both = try rdpListen("    balance rdp-cookie", servers)
        defer { both.stop() }
        let users = ["alice", "bob", "carol", "dave", "erin", "frank", "alice", "bob"]
        let picked = try both.ports.map { port in try users.map { try server(port, "Cookie: mstshash=\($0)\r\n") } }
        XCTAssertEqual(picked[0], picked[1], "swiftlb, then haproxy")
        XCTAssertGreaterThan(Set(picked[1]).count, 1, "the users spread: \(picked[1])")
        XCTAssertEqual(picked[0][0], picked[0][6], "alice again")
    }

    /// `persist rdp-cookie`: a session whose `msts` cookie names a server (its IPv4 address and
    /// port as network-order integers, what a session broker writes) goes to that server, past
    /// round robin, as in HAProxy; a name of no server is balanced.
    func testPersistRDPCookieFollowsTheNamedServer() throws {
        let servers = try (1...3).map { try ScriptedBackend(.raw("s\($0)", close: true)) }
        defer { servers.forEach { $0.stop() } }
        let both = try rdpListen("    persist rdp-cookie\n    balance roundrobin", servers)
        defer { both.stop() }
        // 127.0.0.1 and the port, their network-order bytes read as little-endian integers.
        let address = UInt32(0x7F00_0001).byteSwapped
        for port in both.ports {
            let third = "Cookie: msts=\(address).\(UInt16(servers[2].port).byteSwapped).0000\r\n"
            XCTAssertEqual(try (0..<4).map { _ in try server(port, third) }, ["s3", "s3", "s3", "s3"], "port \(port)")
            let nowhere = "Cookie: msts=\(address).\(UInt16(1).byteSwapped).0000\r\n"
            XCTAssertTrue(["s1", "s2", "s3"].contains(try server(port, nowhere)), "port \(port): balanced")
        }
    }

    /// A cookie naming a server in maintenance (`disabled`) is not followed: without `option
    /// redispatch` the session is balanced, as HAProxy skips a stopped server there.
    func testPersistRDPCookieBalancesAwayFromAServerInMaintenance() throws {
        let servers = try (1...3).map { try ScriptedBackend(.raw("s\($0)", close: true)) }
        defer { servers.forEach { $0.stop() } }
        let both = try rdpListen("    persist rdp-cookie\n    balance first", servers, serverOptions: [3: "disabled"])
        defer { both.stop() }
        let address = UInt32(0x7F00_0001).byteSwapped
        for port in both.ports {
            let third = "Cookie: msts=\(address).\(UInt16(servers[2].port).byteSwapped).0000\r\n"
            XCTAssertEqual(try server(port, third), "s1", "port \(port): balanced (first), not refused")
        }
    }
}
