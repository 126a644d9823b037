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
