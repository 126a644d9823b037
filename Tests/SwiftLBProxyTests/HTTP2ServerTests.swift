import Foundation
import XCTest

/// `server … proto h2` on loopback: HTTP/1.1 clients (curl) through SwiftLB to real h2c servers
/// — HAProxy 2.6 (`bind … proto h2`) in front of an origin that records every byte, and nghttpd
/// serving files — and to a raw server that answers with what no real server sends (a malformed
/// head, bytes that are no frame, bad HPACK, a body cut short): the client gets a 502 (or a cut
/// response), SwiftLB goes on serving.
final class HTTP2ServerTests: XCTestCase {
    private func proxy(to port: Int, in dir: TempDirectory) throws -> (SwiftLBInstance, Int) {
        try startProxy(backend: "app", backends: """
            backend app
                server s1 127.0.0.1:\(port) proto h2

            """, in: dir)
    }

    func testRequestsReachAnHAProxyH2ServerAndComeBack() throws {
        try requireHAProxy()
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let h2Port = freePort()
        let haproxy = try startHAProxy("""
            \(haproxyDefaults)
            frontend h2
                bind 127.0.0.1:\(h2Port) proto h2
                http-request set-header x-h2-port %[src_port]
                default_backend origin
            backend origin
                server o 127.0.0.1:\(origin.port)

            """, port: h2Port, in: dir, name: "haproxy-h2-server")
        defer { haproxy.stop() }
        let (lb, port) = try proxy(to: h2Port, in: dir)
        defer { lb.stop() }
        let base = "http://127.0.0.1:\(port)"

        let get = curl(["-i", "-H", "X-Mixed: V", "\(base)/a?b=c"])
        XCTAssertTrue(get.out.hasPrefix("HTTP/1.1 200"), get.out + get.err)
        XCTAssertTrue(get.out.hasSuffix("GET /a?b=c\n"), get.out)
        let post = curl(["-d", "abc", "\(base)/post"])
        XCTAssertTrue(post.out.hasSuffix("POST /post\n"), post.out + post.err)
        let chunked = curl(["-H", "transfer-encoding: chunked", "-d", "xyz", "\(base)/chunk"])
        XCTAssertTrue(chunked.out.hasSuffix("POST /chunk\n"), chunked.out + chunked.err)
        let head = curl(["-I", "\(base)/head"])
        XCTAssertTrue(head.out.hasPrefix("HTTP/1.1 200"), head.out + head.err)
        // Several requests on one client connection: each its own stream, the connection kept.
        let two = curl(["-w", "|%{num_connects}", "\(base)/one", "\(base)/two"])
        XCTAssertTrue(two.out.contains("GET /one") && two.out.hasSuffix("GET /two\n|0"), two.out + two.err)

        let seen = origin.waitForRequests(6)
        XCTAssertEqual(seen.map(\.target), ["/a?b=c", "/post", "/chunk", "/head", "/one", "/two"])
        XCTAssertEqual(seen.map(\.body), ["", "abc", "xyz", "", "", ""], "the bodies crossed HTTP/2 whole")
        XCTAssertTrue(seen[0].raw.lowercased().contains("x-mixed: v"), seen[0].raw)
        XCTAssertTrue(seen[0].raw.lowercased().contains("host: 127.0.0.1:\(port)"), "Host went as :authority: \(seen[0].raw)")
        // A client connection's second request is a stream on an h2 connection already open
        // (`http-reuse safe`: a first request opens its own).
        func serverSidePort(_ r: RecordingBackend.Request) -> String? {
            r.raw.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-h2-port:") }.map(String.init)
        }
        XCTAssertNotNil(serverSidePort(seen[4]))
        XCTAssertTrue(seen[..<5].map(serverSidePort).contains(serverSidePort(seen[5])), "no new HTTP/2 connection for /two: \(seen.map(serverSidePort))")
    }

    func testOverTLSTheServerIsOfferedH2ByALPN() throws {
        try requireHAProxy()
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let pem = dir.file("server.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["h2.example.test", pem]).status, 0)
        let h2Port = freePort()
        // HAProxy picks h2 only when the client offers it (else HTTP/1.1, which would not
        // understand our connection preface).
        let haproxy = try startHAProxy("""
            \(haproxyDefaults)
            frontend h2
                bind 127.0.0.1:\(h2Port) ssl crt \(pem) alpn h2,http/1.1
                http-request set-header x-alpn %[ssl_fc_alpn]
                default_backend origin
            backend origin
                server o 127.0.0.1:\(origin.port)

            """, port: h2Port, in: dir, name: "haproxy-h2-tls")
        defer { haproxy.stop() }
        // A CA that did not sign the server's certificate: the handshake is refused.
        let otherCA = dir.file("other.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["other.example.test", otherCA]).status, 0)
        let (lb, port) = try startProxy(backend: "app", backends: """
            backend app
                server s1 127.0.0.1:\(h2Port) ssl verify none proto h2
            backend refused
                server s1 127.0.0.1:\(h2Port) ssl verify required ca-file \(otherCA) proto h2

            """, frontendExtra: "use_backend refused if { path_beg /refused }", in: dir)
        defer { lb.stop() }
        let get = curl(["http://127.0.0.1:\(port)/tls"])
        XCTAssertTrue(get.out.hasSuffix("GET /tls\n"), get.out + get.err)
        XCTAssertTrue(origin.waitForRequests(1).first?.raw.lowercased().contains("x-alpn: h2") == true, "\(origin.requests)")
        // A refused handshake is a failed connect, as towards an HTTP/1.1 server: retried, then 503.
        let refused = curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/refused"])
        XCTAssertEqual(refused.out, "503", refused.err)
    }

    func testAnNghttpdServerServesFilesAndHEAD() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/nghttpd"), "nghttpd is installed by scripts/test.sh")
        let dir = try TempDirectory()
        let root = dir.file("docroot")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let body = String(repeating: "0123456789abcdef", count: 8192)  // 128 KiB: beyond one window
        try body.write(toFile: root + "/big.txt", atomically: true, encoding: .utf8)
        let h2Port = freePort()
        let server = try ChildProcess("/usr/sbin/nghttpd", ["--no-tls", "-a", "127.0.0.1", "-d", root, "\(h2Port)"], logDirectory: dir, name: "nghttpd")
        defer { server.stop() }
        XCTAssertTrue(waitForPort(h2Port), server.stderr)
        let (lb, port) = try proxy(to: h2Port, in: dir)
        defer { lb.stop() }

        let get = curl(["http://127.0.0.1:\(port)/big.txt"])
        XCTAssertEqual(get.out.count, body.count, get.err)
        XCTAssertEqual(get.out, body)
        let head = curl(["-sI", "http://127.0.0.1:\(port)/big.txt"])
        XCTAssertTrue(head.out.hasPrefix("HTTP/1.1 200"), head.out)
        XCTAssertTrue(head.out.lowercased().contains("content-length: \(body.count)"), head.out)
        let missing = curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/none"])
        XCTAssertEqual(missing.out, "404")
    }

    /// `http-request set-method GET` on a HEAD (http_bodyless_response.vtc): the server sends a
    /// body, the client gets none, and the next request on the connection is answered whole —
    /// on an HTTP/1.1 frontend, and through `proto h2` to an HTTP/2 frontend that rewrites.
    func testARewrittenHEADGetsNoBodyAndTheNextRequestIsIntact() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let port = freePort(), h2Port = freePort(), viaH2 = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            listen direct
                bind 127.0.0.1:\(port)
                http-request set-method GET
                server o 127.0.0.1:\(origin.port)
            listen int
                bind 127.0.0.1:\(h2Port) proto h2
                http-request set-method GET
                server o 127.0.0.1:\(origin.port)
            listen fe2
                bind 127.0.0.1:\(viaH2)
                server s1 127.0.0.1:\(h2Port) proto h2

            """, waitPort: viaH2, in: dir)
        defer { lb.stop() }
        let script = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); s.settimeout(5)
            s.sendall(b"HEAD /h HTTP/1.1\\r\\nHost: a\\r\\n\\r\\nGET /g HTTP/1.1\\r\\nHost: a\\r\\nConnection: close\\r\\n\\r\\n")
            out = b""
            while True:
                d = s.recv(65536)
                if not d: break
                out += d
            sys.stdout.write(out.decode())
            """
        for p in [port, viaH2] {
            let run = runCommand("/usr/bin/timeout", ["10", "python3", "-c", script, "\(p)"])
            let responses = run.out.components(separatedBy: "HTTP/1.1 200")
            XCTAssertEqual(responses.count, 3, "two responses: \(run.out)\(run.err)")
            XCTAssertTrue(responses[1].hasSuffix("\r\n\r\n"), "no body after the HEAD's head: \(run.out)")
            XCTAssertTrue(run.out.hasSuffix("GET /g\n"), run.out)
        }
    }

    func testMalformedH2AnswersAre502AndSwiftLBGoesOn() throws {
        let dir = try TempDirectory()
        let h2Port = freePort()
        let modes = ["uppercase", "nostatus", "garbage", "hpack", "ok"]
        let server = try ChildProcess("/usr/bin/env", ["python3", Paths.fixtures.appendingPathComponent("h2_bad_server.py").path, "\(h2Port)", modes.joined(separator: ",")],
                                      logDirectory: dir, name: "h2-bad")
        defer { server.stop() }
        XCTAssertTrue(waitForPort(h2Port), server.stderr)
        let (lb, port) = try proxy(to: h2Port, in: dir)
        defer { lb.stop() }
        var codes: [String] = []
        for _ in 0..<modes.count {
            codes.append(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"], maxTime: 10).out)
        }
        // One of the five is the well-formed answer, the other four 502s.
        XCTAssertEqual(codes.filter { $0 == "502" }.count, 4, "\(codes)")
        XCTAssertEqual(codes.filter { $0 == "200" }.count, 1, "\(codes)")
        lb.waitForAccessLog { $0.components(separatedBy: " 502 ").count > 4 }
        XCTAssertTrue(lb.child.process.isRunning, "no crash")
    }

    func testABodyCutShortIsATruncatedResponse() throws {
        let dir = try TempDirectory()
        let h2Port = freePort()
        let server = try ChildProcess("/usr/bin/env", ["python3", Paths.fixtures.appendingPathComponent("h2_bad_server.py").path, "\(h2Port)", "cut"],
                                      logDirectory: dir, name: "h2-cut")
        defer { server.stop() }
        XCTAssertTrue(waitForPort(h2Port), server.stderr)
        let (lb, port) = try proxy(to: h2Port, in: dir)
        defer { lb.stop() }
        let cut = curl(["-i", "http://127.0.0.1:\(port)/"], maxTime: 10)
        XCTAssertTrue(cut.out.hasPrefix("HTTP/1.1 200"), cut.out)
        XCTAssertNotEqual(cut.status, 0, "curl sees the response end short of its length")
        XCTAssertTrue(lb.child.process.isRunning)
    }
}
