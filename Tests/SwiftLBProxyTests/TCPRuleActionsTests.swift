import Foundation
import XCTest

/// `tcp-request connection|session|content set-src|set-dst|set-var` on loopback, SwiftLB and
/// HAProxy 2.6 side by side (reg-test connection/cli_src_dst's frontends): the connection
/// rules' addresses are the connection's (`fc_src`, `fc_dst`), the session rules' the
/// session's (`src`, `dst`), the content rules' one stream's; variables set by session rules
/// last for the connection, by content rules for the request — on both of a connection's
/// requests the same headers as HAProxy's.
final class TCPRuleActionsTests: XCTestCase {
    func testAddressesAndVariablesAtEachLevelAsHAProxy() throws {
        let dir = try TempDirectory()
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                tcp-request connection set-src ipv4(10.0.0.1)
                tcp-request connection set-dst ipv4(10.0.0.2)
                tcp-request session set-src ipv4(10.1.0.1)
                tcp-request session set-dst ipv4(10.1.0.2)
                tcp-request session set-var(sess.fc_src) fc_src
                tcp-request session set-var(sess.src) src
                tcp-request inspect-delay 100ms
                tcp-request content set-src ipv4(10.2.0.1) if { path /content }
                tcp-request content set-dst-port int(8443)
                tcp-request content set-var(txn.fc_src) fc_src
                tcp-request content set-var(txn.src) src
                tcp-request content set-var(txn.dst) dst
                tcp-request content set-var(txn.dst_port) dst_port
                http-after-response set-header sess %[var(sess.fc_src)]/%[var(sess.src)]
                http-after-response set-header strm %[var(txn.fc_src)]/%[var(txn.src)]/%[var(txn.dst)]:%[var(txn.dst_port)]
                default_backend be
            backend be
                http-request return status 200
            """
        }, in: dir)
        defer { both.stop() }
        func headers(_ port: Int) throws -> [[String]] {
            let client = try RawClient(port: port, timeout: 3)
            return ["/content", "/other"].map { path in
                client.send("GET \(path) HTTP/1.1\r\nHost: h\r\n\r\n")
                return client.readResponse().lowercased().components(separatedBy: "\r\n").filter { $0.hasPrefix("sess:") || $0.hasPrefix("strm:") }.sorted()
            }
        }
        let ours = try headers(both.lbPort)
        XCTAssertEqual(ours, [["sess: 10.0.0.1/10.1.0.1", "strm: 10.0.0.1/10.2.0.1/10.1.0.2:8443"],
                              ["sess: 10.0.0.1/10.1.0.1", "strm: 10.0.0.1/10.1.0.1/10.1.0.2:8443"]])
        XCTAssertEqual(ours, try headers(both.haproxyPort))
    }

    /// Behind `accept-proxy`, `fc_src`/`fc_dst` stay the socket's ends and `src` is the PROXY
    /// header's, with or without connection rules, as in HAProxy 2.6.
    func testTheProxyHeaderSetsTheSessionsAddressesNotTheConnections() throws {
        let dir = try TempDirectory()
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port) accept-proxy
                http-after-response set-header ends %[fc_src]:%[fc_src_port]/%[src]/%[fc_dst]
                http-request return status 200
            """
        }, in: dir)
        defer { both.stop() }
        let second = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port) accept-proxy
                tcp-request connection accept if { src 192.0.2.0/24 }
                http-after-response set-header ends %[fc_src]:%[fc_src_port]/%[src]/%[fc_dst]
                http-request return status 200
            """
        }, in: dir)
        defer { second.stop() }
        for port in both.ports + [second.lbPort, second.haproxyPort] {
            let client = try RawClient(port: port, timeout: 3)
            client.send("PROXY TCP4 192.0.2.7 192.0.2.8 1111 80\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
            let response = client.readResponse()
            let ends = response.lowercased().components(separatedBy: "\r\n").first { $0.hasPrefix("ends: ") } ?? ""
            XCTAssertTrue(ends.hasPrefix("ends: 127.0.0.1:") && ends.hasSuffix("/192.0.2.7/127.0.0.1"), "port \(port) (\(both.lbPort) is SwiftLB's): \(response)")
        }
    }

    /// A bad expression in a tcp-request action is an error with file, line and keyword.
    func testABadExpressionNamesItsLine() throws {
        let dir = try TempDirectory()
        let path = try dir.write("bad.conf", testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(freePort())
                tcp-request session set-var(sess.x) nosuchfetch
                default_backend be
            backend be
                http-request return status 200

            """)
        let check = runCommand(Paths.swiftlb, ["check", "-c", path])
        XCTAssertNotEqual(check.status, 0)
        XCTAssertTrue(check.err.contains("bad.conf:13") && check.err.contains("tcp-request session set-var") && check.err.contains("nosuchfetch"), check.err)
    }
}
