import XCTest
@testable import SwiftLBConfig

/// `server NAME /PATH|unix@PATH|abns@NAME` and `bind` on the same three forms, with the
/// `mode`/`user`/`group` of a listening socket file.
final class UnixSocketKeywordTests: XCTestCase {
    private let head = "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"

    func testServerAddressesOnUnixSockets() throws {
        let config = try parseOrFail(head + """
            backend b
                server a /run/app.sock check
                server u unix@rel/app.sock send-proxy-v2
                server n abns@app
                server t 127.0.0.1:80
            """)
        let s = config.backends["b"]!.servers
        XCTAssertEqual(s.map(\.unixPath), ["/run/app.sock", "rel/app.sock", "app", nil])
        XCTAssertEqual(s.map(\.unixAbstract), [false, false, true, false])
        XCTAssertEqual(s.map(\.port), [0, 0, 0, 80])
        XCTAssertEqual(s[1].parameters.sendProxy, .v2)
    }

    func testBindOnUnixSocketsWithPermissions() throws {
        let config = try parseOrFail(head + """
            frontend f
                bind unix@/run/lb.sock mode 660 user nobody group 0 accept-proxy
                bind /run/lb2.sock uid 33 gid 33
                bind abns@lb
                default_backend b
            backend b
                server s 127.0.0.1:80
            """)
        let binds = config.frontends[0].binds
        XCTAssertEqual(binds.map(\.socket), [.unix(path: "/run/lb.sock"), .unix(path: "/run/lb2.sock"), .abstract(name: "lb")])
        XCTAssertEqual(binds[0].unixAccess.mode, 0o660)
        XCTAssertEqual(binds[0].unixAccess.user, "nobody")
        XCTAssertEqual(binds[0].unixAccess.group, "0")
        XCTAssertTrue(binds[0].acceptProxy)
        XCTAssertEqual(binds[1].unixAccess.user, "33")
        XCTAssertEqual(binds[1].unixAccess.group, "33")
        XCTAssertNil(binds[2].unixAccess.mode)
    }

    func testBadUnixAddressesNameTheLineAndKeyword() {
        let long = "/" + String(repeating: "x", count: 110)
        for (line, needle) in [("    server s unix@", "empty unix socket path"), ("    server s \(long)", "longer than 103 bytes"),
                               ("    server s abns@", "empty unix socket path")] {
            let errors = parseErrors(head + "backend b\n" + line + "\n")
            XCTAssertEqual(errors.first?.line, 7, line)
            XCTAssertEqual(errors.first?.keyword, "server", line)
            XCTAssertTrue(errors.first?.message.contains(needle) == true, "\(line): \(errors)")
        }
        let mode = parseErrors(head + "frontend f\n    bind unix@/run/x.sock mode 999\n    default_backend b\nbackend b\n    server s 127.0.0.1:80\n")
        XCTAssertEqual(mode.first?.line, 7)
        XCTAssertTrue(mode.first?.message.contains("octal") == true, "\(mode)")
    }
}
