import Foundation
import XCTest

/// Named defaults on the wire (HAProxy's http-rules/default_rules.vtc): the HTTP rules of the
/// defaults a frontend or backend names with `from` run before its own, on real requests
/// through `swiftlb run` to a real backend on loopback; an `allow` there ends the list.
final class NamedDefaultsWireTests: XCTestCase {
    func testRulesOfNamedDefaultsReachTheWire() throws {
        let dir = try TempDirectory()
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let port = freePort(), allowPort = freePort()
        let lb = try SwiftLBInstance(config: """
            defaults common
                mode http
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            defaults def_front from common
                http-request set-header x-frontend "%[fe_name]"
                http-request set-header x-order defaults
                http-response set-header x-frontend-res "%[fe_name]"
            defaults def_back from common
                http-request set-header x-backend "%[be_name]"
            defaults def_allow from common
                http-request allow
            frontend fe from def_front
                bind 127.0.0.1:\(port)
                http-request set-header x-order "%[req.hdr(x-order)],frontend"
                default_backend be
            frontend fe_allow from def_allow
                bind 127.0.0.1:\(allowPort)
                http-request deny
                default_backend be
            backend be from def_back
                server s 127.0.0.1:\(stream.port)
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        _ = waitForPort(allowPort)
        let result = curl(["-D", "/dev/stderr", "http://127.0.0.1:\(port)/echo-headers"])
        XCTAssertTrue(result.out.contains("x-frontend: fe\n"), result.out)
        XCTAssertTrue(result.out.contains("x-backend: be\n"), result.out)
        XCTAssertTrue(result.out.contains("x-order: defaults,frontend\n"), result.out)
        XCTAssertTrue(result.err.lowercased().contains("x-frontend-res: fe"), result.err)
        // `http-request allow` of the defaults ends the frontend's list: its deny never runs.
        let allowed = curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(allowPort)/echo-headers"])
        XCTAssertEqual(allowed.out, "200")
    }
}
