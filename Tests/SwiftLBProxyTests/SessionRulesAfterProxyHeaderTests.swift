import Foundation
import XCTest
@testable import SwiftLBProxy

/// `tcp-request session` rules behind `bind … accept-proxy` run once the PROXY header is read —
/// and on an `ssl` bind once the TLS handshake is done — as HAProxy's do: a session rule on
/// `src` tests the header's address (not the sending proxy's 127.0.0.1), `track-sc0 src` tracks
/// it, and a refusal closes the connection without a word, counted in `dses`. SwiftLB and
/// HAProxy 2.6 side by side on the same configuration: an HTTP frontend and a `mode tcp` one,
/// PROXY v1 and v2 headers sent through real sockets, `show table` and `show stat` compared.
final class SessionRulesAfterProxyHeaderTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws {
        dir = try TempDirectory()
        try requireHAProxy()
    }
    override func tearDown() { dir = nil }

    private func v1(_ source: String) -> [UInt8] { Array("PROXY TCP4 \(source) 127.0.0.1 1111 80\r\n".utf8) }

    /// A PROXY v2 header (PROXY command, TCP over IPv4) from `source`:1111 to 127.0.0.1:80.
    private func v2(_ source: String) -> [UInt8] {
        let address = source.split(separator: ".").compactMap { UInt8($0) }
        return ProxyHeader.v2Signature + [0x21, 0x11, 0x00, 0x0C] + address + [127, 0, 0, 1, 0x04, 0x57, 0x00, 0x50]
    }

    /// What a client that sends `header` then one request gets: the status line, or "closed"
    /// when the connection ends with nothing answered.
    private func outcome(_ port: Int, header: [UInt8], from source: String? = nil) throws -> String {
        let client = try RawClient(port: port, timeout: 3, source: source)
        client.send(header)
        client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let status = client.read(until: "\r\n")
        if !status.isEmpty { return status.components(separatedBy: "\r\n").first ?? "" }
        return client.readAll().closed ? "closed" : "silent, open"
    }

    /// The `key=… conn_cnt=…` of every entry of `table` on the stats socket `socket`, sorted.
    private func entries(_ socket: String, _ table: String) -> [String] {
        let text = runCommand("/bin/sh", ["-c", "echo 'show table \(table)' | /usr/bin/timeout 5 socat - UNIX-CONNECT:\(socket)"]).out
        return text.split(separator: "\n").compactMap { line in
            let words = line.split(separator: " ")
            guard let key = words.first(where: { $0.hasPrefix("key=") }), let count = words.first(where: { $0.hasPrefix("conn_cnt=") }) else { return nil }
            return "\(key) \(count)"
        }.sorted()
    }

    func testSessionRulesSeeTheProxyHeadersSourceAsHAProxy() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        var tcpPorts: [Int: Int] = [:]
        let both = try SideBySide({ port in
            let tcp = tcpPorts[port] ?? freePort()
            tcpPorts[port] = tcp
            return """
            global
                stats socket \(dir.file("stats-\(port).sock")) level admin
            frontend fe
                bind 127.0.0.1:\(port) accept-proxy
                stick-table type ip size 100 expire 1m store conn_cnt
                tcp-request connection reject if { src 127.0.0.13 }
                tcp-request session track-sc0 src
                tcp-request session reject if { src 10.0.0.0/8 }
                http-request return status 200
            frontend tcpfe
                mode tcp
                bind 127.0.0.1:\(tcp) accept-proxy
                stick-table type ip size 100 expire 1m store conn_cnt
                tcp-request session track-sc0 src
                tcp-request session reject if { src 10.0.0.0/8 }
                default_backend be
            backend be
                mode tcp
                server s1 127.0.0.1:\(backend.port)

            """
        }, in: dir)
        defer { both.stop() }

        var results: [[String]] = []
        for port in both.ports {
            let tcp = tcpPorts[port] ?? 0
            var seen: [String] = []
            for frontend in [port, tcp] {
                seen += [try outcome(frontend, header: v1("10.1.2.3")), try outcome(frontend, header: v1("192.0.2.7")),
                         try outcome(frontend, header: v2("10.9.9.9")), try outcome(frontend, header: v2("198.51.100.7"))]
            }
            // Refused by the connection rule on the socket's address, before any header is read.
            seen.append(try outcome(port, header: v1("192.0.2.8"), from: "127.0.0.13"))
            results.append(seen)
        }
        let rejected = "closed", served = "HTTP/1.1 200 OK"
        XCTAssertEqual(results[0], [rejected, served, rejected, served, rejected, served, rejected, served, rejected], "SwiftLB")
        XCTAssertEqual(results[0], results[1], "SwiftLB's outcomes, then HAProxy's")
        XCTAssertEqual(backend.requests.count, 4, "the TCP frontends' accepted sessions only reached the server")

        // The tables hold the PROXY header's sources, the refused ones too (tracked before the
        // reject), and never the sending side's 127.0.0.1.
        let expected = ["key=10.1.2.3 conn_cnt=1", "key=10.9.9.9 conn_cnt=1", "key=192.0.2.7 conn_cnt=1", "key=198.51.100.7 conn_cnt=1"]
        for table in ["fe", "tcpfe"] {
            let ours = entries(dir.file("stats-\(both.lbPort).sock"), table)
            XCTAssertEqual(ours, expected, "SwiftLB's table \(table)")
            XCTAssertEqual(ours, entries(dir.file("stats-\(both.haproxyPort).sock"), table), "HAProxy's table \(table)")
        }

        // conn_tot counts every connection, stot the sessions let in, dcon the connection rule's
        // refusal, dses the session rules'.
        assertFrontendStats(both, ["conn_tot", "stot", "dcon", "dses"], [("fe", ["5", "2", "1", "2"]), ("tcpfe", ["4", "2", "0", "2"])])
    }

    /// `columns` of each frontend's `show stat` line, on HAProxy's stats socket and on SwiftLB's
    /// (`stats-PORT.sock` in `dir`), both equal to the expected values (counters may lag a close).
    private func assertFrontendStats(_ both: SideBySide, _ columns: [String], _ expectations: [(String, [String])],
                                     file: StaticString = #filePath, line: UInt = #line) {
        for (proxy, expected) in expectations {
            for (name, command) in [("HAProxy", haproxyStatCommand(dir.file("stats-\(both.haproxyPort).sock"))),
                                    ("SwiftLB", [Paths.swiftlb, "ctl", "-s", dir.file("stats-\(both.lbPort).sock"), "show", "stat"])] {
                var seen: [String] = []
                _ = waitUntil(timeout: 5) {
                    seen = frontendStatColumns(command, columns, proxy: proxy)
                    return seen == expected
                }
                XCTAssertEqual(seen, expected, "\(name)'s \(columns) of \(proxy)", file: file, line: line)
            }
        }
    }

    /// On an `accept-proxy ssl` bind the session rules run after the TLS handshake too: they
    /// read the header's `src` and the handshake's `ssl_fc_sni`; a refused session has finished
    /// its handshake and is closed without an answer.
    func testOnATLSBindSessionRulesRunAfterTheHandshake() throws {
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["site.example.test", pem]).status, 0)
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port) accept-proxy ssl crt \(pem)
                tcp-request session reject if { src 10.0.0.0/8 }
                tcp-request session reject if { ssl_fc_sni -m str blocked.example.test }
                http-request return status 200
            """
        }, in: dir)
        defer { both.stop() }
        let script = try dir.write("tls_client.py", """
            import socket, ssl, sys
            port, source, sni = int(sys.argv[1]), sys.argv[2], sys.argv[3]
            raw = socket.create_connection(("127.0.0.1", port), timeout=3)
            raw.sendall(("PROXY TCP4 %s 127.0.0.1 1111 443\\r\\n" % source).encode())
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            try:
                tls = context.wrap_socket(raw, server_hostname=sni)
            except (ssl.SSLError, OSError) as e:
                print("handshake failed"); sys.exit(0)
            try:
                tls.sendall(b"GET / HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n")
                data = tls.recv(4096)
            except (ssl.SSLError, OSError):
                data = b""
            print(data.split(b"\\r\\n")[0].decode() if data else "handshake done, closed")

            """)
        func outcome(_ port: Int, _ source: String, _ sni: String) -> String {
            runCommand("/usr/bin/timeout", ["10", "python3", script, "\(port)", source, sni]).out.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        for port in both.ports {
            let seen = [outcome(port, "192.0.2.7", "site.example.test"), outcome(port, "10.1.2.3", "site.example.test"),
                        outcome(port, "192.0.2.7", "blocked.example.test")]
            XCTAssertEqual(seen, ["HTTP/1.1 200 OK", "handshake done, closed", "handshake done, closed"],
                           "port \(port) (SwiftLB's is \(both.lbPort))")
        }
    }

    /// `timeout http-request` starts with the session, not at accept: a sender that takes
    /// longer than it to send its PROXY header (within `timeout client`) gets its request
    /// answered, not an HTTP 408 in the middle of the PROXY protocol. HAProxy answers it too.
    func testTheRequestTimeoutStartsAfterTheProxyHeader() throws {
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port) accept-proxy
                timeout client 10s
                timeout http-request 1s
                http-request return status 200
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            let client = try RawClient(port: port, timeout: 5)
            usleep(1_600_000)  // more than the request timeout, before any byte
            client.send(v1("192.0.2.7"))
            client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            let status = client.read(until: "\r\n").components(separatedBy: "\r\n").first ?? ""
            XCTAssertEqual(status, "HTTP/1.1 200 OK", "port \(port) (SwiftLB's is \(both.lbPort))")
        }
    }

    /// A connection that never finishes its handshakes — garbage where a PROXY header or a TLS
    /// ClientHello belongs — is a connection (`conn_tot`) but no session (`stot`), as HAProxy
    /// counts them; HTTP and `mode tcp` frontends alike.
    func testAConnectionThatFailsItsHandshakesIsNoSession() throws {
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["site.example.test", pem]).status, 0)
        var extra: [Int: (tls: Int, tcp: Int, h2: Int)] = [:]
        let both = try SideBySide({ port in
            let more = extra[port] ?? (freePort(), freePort(), freePort())
            extra[port] = more
            return """
            global
                stats socket \(dir.file("stats-\(port).sock")) level admin
            frontend fe
                bind 127.0.0.1:\(port) accept-proxy
                bind 127.0.0.1:\(more.tls) ssl crt \(pem)
                http-request return status 200
            frontend tcpfe
                mode tcp
                bind 127.0.0.1:\(more.tcp) accept-proxy
                tcp-request content reject
            frontend h2fe
                bind 127.0.0.1:\(more.h2) accept-proxy proto h2
                http-request return status 200
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            let ends = extra[port]!
            // fe: one good PROXY session, one bad PROXY header, one bad ClientHello, one good TLS session.
            XCTAssertEqual(try outcome(port, header: v1("192.0.2.7")), "HTTP/1.1 200 OK")
            XCTAssertEqual(try outcome(port, header: Array("NOT A PROXY HEADER\r\n".utf8)), "closed")
            XCTAssertEqual(try outcome(ends.tls, header: Array("garbage\r\n\r\n".utf8)), "closed")
            let curl = runCommand("/usr/bin/env", ["curl", "-sk", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", "https://127.0.0.1:\(ends.tls)/"])
            XCTAssertEqual(curl.out, "200", "port \(ends.tls)")
            // tcpfe: one bad PROXY header, one good one (then refused by its content rule).
            XCTAssertEqual(try outcome(ends.tcp, header: Array("NOT A PROXY HEADER\r\n".utf8)), "closed")
            XCTAssertEqual(try outcome(ends.tcp, header: v1("192.0.2.8")), "closed")
            // h2fe (HTTP/2 with prior knowledge): a bad PROXY header, then a good one and a request.
            // (SwiftLB's HTTP/2 engine sends its SETTINGS at accept, before the PROXY header;
            // HAProxy sends nothing: both close.)
            let bad = try RawClient(port: ends.h2, timeout: 3)
            bad.send(Array("NOT A PROXY HEADER\r\n".utf8))
            XCTAssertTrue(bad.readAll().closed, "port \(ends.h2)")
            let h2 = runCommand("/usr/bin/env", ["curl", "-s", "-m", "5", "--haproxy-protocol", "--http2-prior-knowledge", "-o", "/dev/null",
                                                 "-w", "%{http_code}", "http://127.0.0.1:\(ends.h2)/"])
            XCTAssertEqual(h2.out, "200", "port \(ends.h2)")
        }
        assertFrontendStats(both, ["conn_tot", "stot"], [("fe", ["4", "2"]), ("tcpfe", ["2", "1"]), ("h2fe", ["2", "1"])])
    }

    /// A client that picks h2 by ALPN is ruled on its handshake as an HTTP/1.1 one is:
    /// `ssl_fc_sni` reads its SNI in `tcp-request session`, so h2 is no way around the rule.
    func testAnHTTP2ClientIsRuledOnItsHandshakeAsAnHTTP11One() throws {
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["site.example.test", pem]).status, 0)
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(pem) alpn h2,http/1.1
                tcp-request session reject unless { ssl_fc_sni -m str site.example.test }
                http-request return status 200
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            for (version, host, expected) in [("--http2", "site.example.test", "200 2"), ("--http1.1", "site.example.test", "200 1.1"),
                                              ("--http2", "other.example.test", "000 0"), ("--http1.1", "other.example.test", "000 0")] {
                let run = curl(["-sk", version, "--resolve", "\(host):\(port):127.0.0.1", "-o", "/dev/null",
                                "-w", "%{http_code} %{http_version}", "https://\(host):\(port)/"], maxTime: 10)
                XCTAssertEqual(run.out, expected, "port \(port) (SwiftLB's is \(both.lbPort)), \(version) with SNI \(host): \(run.err)")
            }
        }
    }

    /// An HTTP/2 listener (`proto h2 accept-proxy`): the session rules read the header's
    /// source; a refused connection gets no stream answered and is closed, as HAProxy's.
    func testHTTP2SessionsAreRuledOnTheProxyHeadersSource() throws {
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port) proto h2 accept-proxy
                tcp-request session reject if { src 10.0.0.0/8 }
                http-request return status 200
            """
        }, in: dir)
        defer { both.stop() }
        let get = #"[{"id":1,"headers":[[":method","GET"],[":scheme","http"],[":authority","a"],[":path","/"]]}]"#
        for port in both.ports {
            for (source, answered) in [("10.1.2.3", false), ("192.0.2.7", true)] {
                let run = runCommand("/usr/bin/timeout", ["20", "python3", Paths.fixtures.appendingPathComponent("h2_probe.py").path, "\(port)", get, "2",
                                                          "PROXY TCP4 \(source) 127.0.0.1 1111 80\r\n"])
                let object = try JSONSerialization.jsonObject(with: Data(run.out.utf8)) as? [String: Any]
                let frames = (object?["frames"] as? [[String: Int]]) ?? []
                let what = "port \(port) (SwiftLB's is \(both.lbPort)) from \(source): \(run.out)\(run.err)"
                XCTAssertEqual(frames.contains { $0["type"] == 1 }, answered, what)
                if !answered { XCTAssertEqual(object?["closed"] as? Bool, true, what) }
            }
        }
    }
}
