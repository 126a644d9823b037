import Foundation
import XCTest

/// `balance uri`, `url_param` and `hdr(NAME)` through real sockets over three nginx servers that
/// answer "nodeN" on `/`: a request part always lands on the same server, two SwiftLB
/// instances agree on it (the hash is process-independent, so a VIP takeover keeps a cache's
/// affinity), different parts spread, and a request without the part is balanced round robin.
final class RequestHashBalancingTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func node(_ port: Int, _ target: String, host: String? = nil) -> String {
        var arguments = ["-s", "--path-as-is", "http://127.0.0.1:\(port)\(target)"]
        if let host { arguments += ["-H", "Host: \(host)"] }
        return curl(arguments).out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    func testTheSameRequestPartLandsOnTheSameServerInEveryInstance() throws {
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        let (portA, portB) = (freePort(), freePort())
        func config(_ port: Int) -> String {
            testDefaults() + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    use_backend by_param if { url_param(user) -m found } || { path_beg /nouser }
                    use_backend by_host if { hdr(x-by-host) -m found }
                    default_backend by_uri
                backend by_uri
                    balance uri whole
                \(serverLines(nginx.ports))
                backend by_param
                    balance url_param user
                \(serverLines(nginx.ports))
                backend by_host
                    balance hdr(Host) use_domain_only
                \(serverLines(nginx.ports))
                """
        }
        let a = try SwiftLBInstance(config: config(portA), waitPort: portA, in: dir, name: "a")
        defer { a.stop() }
        let b = try SwiftLBInstance(config: config(portB), waitPort: portB, in: dir, name: "b")
        defer { b.stop() }

        // uri whole: the query is part of the key; nginx serves "/" for all of them.
        var byURI: [String: String] = [:]
        for round in 0..<3 {
            for k in 0..<12 {
                let target = "/?k=\(k)"
                let served = node(round == 1 ? portB : portA, target)
                XCTAssertTrue(served.hasPrefix("node"), "\(target): \(served)")
                if let first = byURI[target] { XCTAssertEqual(served, first, "\(target) moved (round \(round))") }
                byURI[target] = served
            }
        }
        XCTAssertGreaterThanOrEqual(Set(byURI.values).count, 2, "12 URIs all hashed to one server: \(byURI)")

        // url_param: a user stays on its server on both instances.
        for user in ["alice", "bob", "carol", "dave"] {
            let first = node(portA, "/?user=\(user)")
            XCTAssertEqual(node(portB, "/?user=\(user)&x=1"), first, user)
            XCTAssertEqual(node(portA, "/?x=2&user=\(user)"), first, user)
        }
        // Without the parameter: round robin, three requests on three servers.
        let unkeyed = (0..<3).map { _ in node(portA, "/nouser/../") }
        XCTAssertEqual(Set(unkeyed).count, 3, "requests without the parameter are balanced round robin: \(unkeyed)")

        // hdr(Host) use_domain_only: www.example.com and api.example.com share a server.
        for (one, other) in [("www.example.com", "api.example.com:8080"), ("a.example.org", "b.example.org")] {
            let first = node(portA, "/", host: one)
            XCTAssertTrue(first.hasPrefix("node"), first)
            for _ in 0..<2 {
                XCTAssertEqual(curl(["-s", "-H", "Host: \(other)", "-H", "X-By-Host: 1", "http://127.0.0.1:\(portB)/"]).out.trimmingCharacters(in: .whitespacesAndNewlines),
                               curl(["-s", "-H", "Host: \(one)", "-H", "X-By-Host: 1", "http://127.0.0.1:\(portA)/"]).out.trimmingCharacters(in: .whitespacesAndNewlines),
                               "\(one) and \(other) have the same domain")
            }
        }
    }
}
