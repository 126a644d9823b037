import Foundation
import XCTest

/// Names computed per request, beside HAProxy 2.6 on the same configuration text and the same
/// real servers: `use_backend` with a log-format name (a Host map, a path field), whose unknown
/// result falls to `default_backend`; and `server … ssl sni req.hdr(host)`, whose name each new
/// server connection carries and which keeps two Hosts off each other's pooled connections.
final class DynamicRoutingTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The status line and the body of a closing request's answer.
    private func answer(_ port: Int, host: String, path: String) throws -> String {
        let client = try RawClient(port: port, timeout: 5)
        client.send("GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n")
        let text = client.readAll().text
        let status = text.split(separator: "\r\n", maxSplits: 1).first.map(String.init) ?? ""
        let body = text.range(of: "\r\n\r\n").map { String(text[$0.upperBound...]) } ?? ""
        return status + " | " + body
    }

    /// map_dom routes two Host names (any case, any subdomain) to two backends; an unknown one
    /// gets the map's default; a map entry or a path field naming no backend ends the rules
    /// and the request goes to `default_backend` (the later map rule is not tried); a name that
    /// is a `mode tcp` backend closes the connection unanswered (HAProxy logs a 500).
    func testLogFormatBackendNamesRouteAsHAProxy() throws {
        let nginx = try NginxBackends(count: 3, in: dir)
        defer { nginx.stop() }
        let map = try dir.write("hosts.map", """
            # host        backend
            a.example.test  be_a
            b.example.test  be_b
            ghost.example.test be_ghost
            tcp.example.test be_tcp

            """)
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend be_%[path,field(2,/)] if { path_beg /a/ /b/ /c/ }
                use_backend %[req.hdr(host),lower,map_dom(\(map),be_c)] if { hdr_end(host) -i .test }
                use_backend %[req.hdr(host),lower,map_dom(\(map))] if { hdr_end(host) -i .org }
                default_backend be_default
            backend be_a
                http-request set-path /
                server s1 127.0.0.1:\(nginx.ports[0])
            backend be_b
                http-request set-path /
                server s2 127.0.0.1:\(nginx.ports[1])
            backend be_c
                http-request return status 200 content-type text/plain string "map default"
            backend be_default
                http-request set-path /
                server s3 127.0.0.1:\(nginx.ports[2])
            backend be_tcp
                mode tcp
                server s1 127.0.0.1:\(nginx.ports[0])
            """
        }, in: dir)
        defer { both.stop() }
        let cases: [(host: String, path: String, expected: String)] = [
            ("a.example.test", "/", "node1"),
            ("WWW.B.Example.Test", "/", "node2"),       // lower, then a subdomain of a map key
            ("nowhere.test", "/", "map default"),       // the map's default value
            ("ghost.example.test", "/", "node3"),       // names no backend: default_backend
            ("x.org", "/", "node3"),                    // no map value, no default: empty name
            ("b.example.test", "/a/", "node1"),         // the first rule wins over the map
            ("a.example.test", "/c/x", "map default"),  // be_c from the path
            ("a.example.test", "/b/x", "node2"),
            // A `mode tcp` backend for an HTTP request: HAProxy aborts, answering nothing.
            ("tcp.example.test", "/", " | "),
        ]
        for (host, path, expected) in cases {
            let ours = try answer(both.lbPort, host: host, path: path)
            let theirs = try answer(both.haproxyPort, host: host, path: path)
            XCTAssertTrue(ours.contains(expected), "\(host)\(path): \(ours)")
            // Status and body as HAProxy's (nginx answers both the same).
            XCTAssertEqual(ours, theirs, "\(host)\(path)")
        }
    }

    /// `mode tcp` SNI routing without terminating TLS: the backend named from the ClientHello's
    /// server name (`be_%[req.ssl_sni,field(1,.)]`), an unknown one to `default_backend`.
    func testTCPModeNameFromTheClientHelloAsHAProxy() throws {
        let gen = Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path
        let pem = dir.file("example.pem")
        XCTAssertEqual(runCommand(gen, ["example.test", pem, "ec"]).status, 0)
        let ports = [freePort(), freePort(), freePort()]
        let nginx = try ports.enumerated().map { i, port in
            try startTLSNginx(port: port, pem: pem, locations: "location / { return 200 \"tls server \(i + 1)\\n\"; }", in: dir, name: "tls\(i)")
        }
        defer { for n in nginx { n.stop() } }
        for port in ports { XCTAssertTrue(waitForPort(port)) }
        let both = try SideBySide({ port in
            """
            frontend fe
                mode tcp
                bind 127.0.0.1:\(port)
                tcp-request inspect-delay 5s
                tcp-request content accept if { req.ssl_hello_type 1 }
                use_backend be_%[req.ssl_sni,lower,field(1,.)]
                default_backend be_other
            backend be_a
                mode tcp
                server s 127.0.0.1:\(ports[0])
            backend be_b
                mode tcp
                server s 127.0.0.1:\(ports[1])
            backend be_other
                mode tcp
                server s 127.0.0.1:\(ports[2])
            """
        }, in: dir)
        defer { both.stop() }
        for (host, expected) in [("a.example.test", "tls server 1"), ("B.example.test", "tls server 2"), ("c.example.test", "tls server 3")] {
            for port in both.ports {
                let got = curl(["-sk", "--max-time", "5", "--resolve", "\(host):\(port):127.0.0.1", "https://\(host):\(port)/"]).out
                XCTAssertEqual(got, expected + "\n", "\(host) via \(port == both.lbPort ? "swiftlb" : "haproxy")")
            }
        }
    }

    /// `sni req.hdr(host)` with `verify required`: each new server connection sends its
    /// request's Host as SNI (and checks the certificate against it); a pooled connection is
    /// reused only for the same Host — as HAProxy does, on one event loop each.
    func testServerSNIFromHostKeysThePoolAsHAProxy() throws {
        try sniScenario(http2: false)
    }

    /// The same over `proto h2`: a Host's requests share one HTTP/2 connection, which carries
    /// no stream of the other Host's.
    func testServerSNIFromHostKeysTheH2SessionsAsHAProxy() throws {
        try sniScenario(http2: true)
    }

    /// `sni ssl_fc_sni`: the name the client sent to SwiftLB's TLS bind goes on to the server
    /// (re-encryption keeping the client's name), as haproxy sends it.
    func testServerSNIFromTheClientsSNIAsHAProxy() throws {
        let gen = Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path
        let pem = dir.file("example.pem")
        XCTAssertEqual(runCommand(gen, ["example.test", pem, "ec"]).status, 0)
        let backendPort = freePort()
        let nginx = try startTLSNginx(port: backendPort, pem: pem, locations: "location / { return 200 \"sni=$ssl_server_name\\n\"; }", in: dir)
        defer { nginx.stop() }
        XCTAssertTrue(waitForPort(backendPort))
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(pem)
                default_backend app
            backend app
                server s 127.0.0.1:\(backendPort) ssl verify required ca-file \(pem) sni ssl_fc_sni
            """
        }, in: dir)
        defer { both.stop() }
        for host in ["a.example.test", "b.example.test"] {
            for port in both.ports {
                let got = curl(["-sk", "--max-time", "5", "--resolve", "\(host):\(port):127.0.0.1", "https://\(host):\(port)/"]).out
                XCTAssertEqual(got, "sni=\(host)\n", "via \(port == both.lbPort ? "swiftlb" : "haproxy")")
            }
        }
    }

    private func sniScenario(http2: Bool) throws {
        let gen = Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path
        let pem = dir.file("example.pem")
        XCTAssertEqual(runCommand(gen, ["example.test", pem, "ec"]).status, 0)
        let backendPort = freePort()
        let nginx = try startTLSNginx(port: backendPort, pem: pem, locations: """
            location / { return 200 "sni=$ssl_server_name conn=$connection reused=$ssl_session_reused\\n"; }
            """, http2: http2, in: dir)
        defer { nginx.stop() }
        XCTAssertTrue(waitForPort(backendPort))
        let body = { (port: Int) in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                http-reuse always
                server s 127.0.0.1:\(backendPort) ssl verify required ca-file \(pem) sni req.hdr(host)\(http2 ? " alpn h2 proto h2" : "")

            """
        }
        let lbPort = freePort(), haproxyPort = freePort()
        let lb = try SwiftLBInstance(config: "global\n    nbthread 1\n" + testDefaults() + body(lbPort), waitPort: lbPort, in: dir)
        defer { lb.stop() }
        let haproxy = try startHAProxy("global\n    nbthread 1\n" + haproxyDefaults + "\n" + body(haproxyPort), port: haproxyPort, in: dir)
        defer { haproxy.stop() }

        for port in [lbPort, haproxyPort] {
            let who = port == lbPort ? "swiftlb" : "haproxy"
            let client = try RawClient(port: port, timeout: 5)
            let hosts = ["a.example.test", "b.example.test", "a.example.test", "b.example.test"]
            var seen: [(sni: String, conn: String, reused: String)] = []
            for host in hosts {
                client.send("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
                let response = client.readResponse()
                let line = response.components(separatedBy: "\r\n\r\n").last ?? ""
                let words = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
                guard words.count == 3 else { XCTFail("\(who): \(response)"); break }
                seen.append((String(words[0].dropFirst(4)), String(words[1].dropFirst(5)), String(words[2].dropFirst(7))))
            }
            client.shutdownBoth()
            guard seen.count == 4 else { continue }
            XCTAssertEqual(seen.map(\.sni), hosts, who)
            XCTAssertNotEqual(seen[0].conn, seen[1].conn, "\(who): two Hosts share no server connection: \(seen)")
            XCTAssertNotEqual(seen[0].conn, seen[3].conn, "\(who): \(seen)")
            XCTAssertEqual(seen[0].conn, seen[2].conn, "\(who): the same Host reuses its pooled connection: \(seen)")
            // b's connection did not resume the TLS session a's got (it was made under a's name).
            XCTAssertEqual(seen[1].reused, ".", "\(who): \(seen)")
            // Both dial b's second request anew: one request at a time needs one connection to
            // the server, and the pool keeps no more than that (HAProxy's est_need_conns;
            // SwiftLB's PoolDemand), whatever their names.
            // (An h2 session is shared by streams, not pooled: b's stays.)
            if http2 {
                if port == lbPort { XCTAssertEqual(seen[1].conn, seen[3].conn, "\(who): \(seen)") }
            } else {
                XCTAssertNotEqual(seen[1].conn, seen[3].conn, "\(who): \(seen)")
            }
            // A Host the certificate does not cover fails the verification: 503 from both.
            let refused = try RawClient(port: port, timeout: 10)
            refused.send("GET / HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n")
            XCTAssertTrue(refused.readAll().text.hasPrefix("HTTP/1.1 503"), who)
        }
    }
}
