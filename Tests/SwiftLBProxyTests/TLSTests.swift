import Foundation
import XCTest

/// TLS termination against real OpenSSL clients and servers on loopback: `openssl s_client`
/// for SNI, ALPN, resumption and refused versions (with an `openssl s_server` control run),
/// curl with `--cacert` through to a backend, large bodies, and what a TLS port does with
/// plain HTTP.
final class TLSTests: XCTestCase {
    var dir: TempDirectory!
    var certs: String!

    override func setUpWithError() throws {
        dir = try TempDirectory()
        certs = dir.file("certs")
        try FileManager.default.createDirectory(atPath: certs, withIntermediateDirectories: true)
        // a.pem sorts first: the default certificate. b is RSA, a is ECDSA.
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["a.example.test", certs + "/a.pem", "ec"]).status, 0)
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["b.example.test", certs + "/b.pem", "rsa"]).status, 0)
    }
    override func tearDown() { dir = nil }

    private func proxy(backendPort: Int, extra: String = "") throws -> (SwiftLBInstance, tls: Int, plain: Int) {
        let (tls, plain) = (freePort(), freePort())
        let lb = try SwiftLBInstance(config: testDefaults(server: "30s") + """
            frontend fe
                bind 127.0.0.1:\(tls) ssl crt \(certs!) alpn http/1.1
                bind 127.0.0.1:\(plain)
                redirect scheme https code 301 if !{ ssl_fc }
                http-request set-header X-Forwarded-Proto https if { ssl_fc }
                http-response set-header Strict-Transport-Security "max-age=15768000"
                \(extra)
                default_backend app
            backend app
                server s 127.0.0.1:\(backendPort)
            """, waitPort: tls, in: dir)
        return (lb, tls, plain)
    }

    /// openssl s_client with stdin held open briefly (TLS 1.3 tickets arrive after the handshake).
    private func sClient(_ port: Int, _ args: [String]) -> String {
        runCommand("/bin/sh", ["-c", "sleep 0.3 | openssl s_client -connect 127.0.0.1:\(port) " + args.joined(separator: " ") + " 2>&1"]).out
    }

    func testSNIDefaultCertificateALPNAndResumption() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (lb, tls, _) = try proxy(backendPort: nginx.ports[0])
        defer { lb.stop() }
        XCTAssertTrue(sClient(tls, ["-servername", "www.b.example.test"]).contains("subject=CN = b.example.test"))
        XCTAssertTrue(sClient(tls, ["-servername", "a.example.test"]).contains("subject=CN = a.example.test"))
        XCTAssertTrue(sClient(tls, ["-noservername"]).contains("subject=CN = a.example.test"), "no SNI gets the default")
        XCTAssertTrue(sClient(tls, ["-servername", "unknown.test"]).contains("subject=CN = a.example.test"))
        XCTAssertTrue(sClient(tls, ["-alpn", "h2,http/1.1"]).contains("ALPN protocol: http/1.1"))
        XCTAssertTrue(sClient(tls, ["-alpn", "h2"]).contains("No ALPN negotiated"))
        for version in ["-tls1_2", "-tls1_3"] {
            let session = dir.file("session\(version).pem")
            XCTAssertTrue(sClient(tls, [version, "-sess_out", session]).contains("New, TLSv1."))
            let again = sClient(tls, [version, "-sess_in", session])
            XCTAssertTrue(again.contains("Reused, TLSv1."), "\(version): \(again.prefix(400))")
        }
    }

    /// TLS 1.1 is refused by SwiftLB. The control run shows the same client command does
    /// connect to an `openssl s_server` that allows it, so the refusal is SwiftLB's.
    func testTLS11IsRefusedWhileAControlServerAcceptsIt() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (lb, tls, _) = try proxy(backendPort: nginx.ports[0])
        defer { lb.stop() }
        let client = ["-tls1_1", "-cipher", "'DEFAULT:@SECLEVEL=0'"]
        let refused = sClient(tls, client)
        XCTAssertTrue(refused.contains("New, (NONE), Cipher is (NONE)"), refused)
        XCTAssertTrue(refused.contains("alert protocol version"), refused)

        let controlPort = freePort()
        let control = try ChildProcess("/usr/bin/openssl", ["s_server", "-accept", "127.0.0.1:\(controlPort)", "-cert", certs + "/b.pem",
                                                            "-key", certs + "/b.pem", "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0", "-quiet"],
                                       logDirectory: dir, name: "s_server")
        defer { control.stop() }
        XCTAssertTrue(waitForPort(controlPort))
        let accepted = sClient(controlPort, client)
        // (OpenSSL names a TLS 1.1 session "New, TLSv1.0, Cipher is …"; the protocol line is exact.)
        XCTAssertTrue(accepted.contains("Protocol  : TLSv1.1") && !accepted.contains("New, (NONE)"), accepted)
    }

    func testCurlThroughToTheBackendWithRedirectAndHSTS() throws {
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let (lb, tls, plain) = try proxy(backendPort: stream.port)
        defer { lb.stop() }
        let r = curl(["-D", "-", "--cacert", certs + "/b.pem", "--resolve", "b.example.test:\(tls):127.0.0.1",
                      "https://b.example.test:\(tls)/echo-headers"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("x-forwarded-proto: https\n"), r.out)
        XCTAssertTrue(r.out.contains("Strict-Transport-Security: max-age=15768000"), r.out)
        let redirect = curl(["-D", "-", "-o", "/dev/null", "-H", "Host: b.example.test", "http://127.0.0.1:\(plain)/path?q=1"])
        XCTAssertTrue(redirect.out.hasPrefix("HTTP/1.1 301"), redirect.out)
        XCTAssertTrue(redirect.out.lowercased().contains("location: https://b.example.test/path?q=1"), redirect.out)
    }

    func testHundredMiBEachWayOverTLS() throws {
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let (lb, tls, _) = try proxy(backendPort: stream.port)
        defer { lb.stop() }
        let body = dir.file("body.bin")
        runCommand("/bin/sh", ["-c", "head -c 104857600 /dev/urandom > \(body)"])
        let expected = String(runCommand("/usr/bin/sha256sum", [body]).out.prefix(64))
        let base = ["--cacert", certs + "/a.pem", "--resolve", "a.example.test:\(tls):127.0.0.1"]
        let up = curl(base + ["-T", body, "https://a.example.test:\(tls)/hash"], maxTime: 120)
        XCTAssertEqual(up.out, "\(expected) 104857600\n", up.err)
        let via = dir.file("via.bin"), direct = dir.file("direct.bin")
        curl(base + ["-o", via, "https://a.example.test:\(tls)/chunked?size=104857600&seed=5"], maxTime: 120)
        curl(["-o", direct, "http://127.0.0.1:\(stream.port)/chunked?size=104857600&seed=5"], maxTime: 120)
        XCTAssertEqual(runCommand("/usr/bin/sha256sum", [via]).out.prefix(64), runCommand("/usr/bin/sha256sum", [direct]).out.prefix(64))
    }

    func testPlainHTTPAndGarbageOnTheTLSPortAreClosedCleanly() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (lb, tls, _) = try proxy(backendPort: nginx.ports[0], extra: "timeout client 3s")
        defer { lb.stop() }
        func descriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(lb.child.pid)/fd").count) ?? -1 }
        let before = descriptors()
        for junk in ["GET / HTTP/1.1\r\nHost: a\r\n\r\n", String(repeating: "\u{16}\u{03}\u{03}\u{00}\u{05}hello", count: 10)] {
            for _ in 0..<20 {
                let client = try RawClient(port: tls, timeout: 3)
                client.send(junk)
                let (text, closed) = client.readAll()
                XCTAssertTrue(closed, "left open")
                XCTAssertFalse(text.contains("HTTP/1.1"), "answered in plain text: \(text)")
            }
        }
        // A truncated handshake: a ClientHello cut short, then silence, closed by `timeout
        // client` (HAProxy 2.6: a session still in its handshake is under the client timeout;
        // `timeout http-request` starts with the first request).
        let truncated = try RawClient(port: tls, timeout: 8)
        truncated.send([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
        XCTAssertTrue(truncated.readAll().closed)
        usleep(300_000)
        XCTAssertEqual(curl(["-k", "https://127.0.0.1:\(tls)/"]).out, "node1\n", "still serving")
        XCTAssertLessThanOrEqual(descriptors(), before + 2, "descriptors leaked")
        XCTAssertTrue(lb.accessLog.contains("fe/tls: SSL handshake failure (TLS handshake failed"), lb.accessLog)
    }

    func testCheckNamesCertificateProblems() throws {
        let text = try String(contentsOfFile: certs + "/b.pem", encoding: .utf8)
        let certOnly = "-----BEGIN CERTIFICATE-----" + text.components(separatedBy: "-----BEGIN CERTIFICATE-----")[1]
        let noKey = try dir.write("nokey.pem", certOnly)
        // An expired certificate, made with Python's cryptography package (openssl req cannot backdate).
        let expired = dir.file("expired.pem")
        let made = runCommand("/usr/bin/env", ["python3", "-c", """
            import datetime, sys
            from cryptography import x509
            from cryptography.x509.oid import NameOID
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "old.example.test")])
            now = datetime.datetime(2020, 1, 1)
            cert = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key()) \\
                .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256())
            open(sys.argv[1], "wb").write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption()) + cert.public_bytes(serialization.Encoding.PEM))
            """, expired])
        XCTAssertEqual(made.status, 0, made.err)
        func check(_ crt: String) -> (status: Int32, err: String) {
            let conf = try! dir.write("check.conf", "frontend fe\n    bind 127.0.0.1:1 ssl crt \(crt)\n")
            let r = runCommand(Paths.swiftlb, ["check", "-c", conf])
            return (r.status, r.err)
        }
        let missing = check(noKey)
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("check.conf:2] : 'bind' : crt \(noKey): no private key found"), missing.err)
        let gone = check(dir.file("nothere.pem"))
        XCTAssertTrue(gone.err.contains("cannot read certificate file"), gone.err)
        let old = check(expired)
        XCTAssertEqual(old.status, 0, "an expired certificate is a warning")
        XCTAssertTrue(old.err.contains("[WARNING]") && old.err.contains("certificate expired on Jan 31 00:00:00 2020 GMT"), old.err)
    }

    /// SIGHUP reloads the configuration, certificates included: new connections get the new
    /// one, a connection opened before keeps working, and a broken replacement is refused with
    /// the old certificate (and the whole old configuration) kept.
    func testCertificateReloadOnSIGHUP() throws {
        let slow = try ScriptedBackend(.delayed(.milliseconds(1500), body: "slow\n"))
        defer { slow.stop() }
        let pem = dir.file("site.pem")
        let gen = Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path
        XCTAssertEqual(runCommand(gen, ["old.example.test", pem]).status, 0)
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(pem)
                default_backend app
            backend app
                server s 127.0.0.1:\(slow.port)
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(sClient(port, []).contains("subject=CN = old.example.test"))
        // A TLS connection established before the reload, its answer 1.5 s away.
        let longLived = try ChildProcess("/usr/bin/curl", ["-sk", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}",
                                                           "https://127.0.0.1:\(port)/"], logDirectory: dir, name: "curl-long")
        usleep(300_000)
        XCTAssertEqual(runCommand(gen, ["new.example.test", pem]).status, 0)
        lb.child.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 3) { lb.child.stderr.contains("SIGHUP: configuration reloaded") }, lb.child.stderr)
        XCTAssertTrue(sClient(port, []).contains("subject=CN = new.example.test"))
        XCTAssertEqual(longLived.waitForExit(timeout: 10), 0)
        XCTAssertEqual(longLived.stdout, "200", "the connection opened before the reload finished")

        try "-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n".write(toFile: pem, atomically: true, encoding: .utf8)
        lb.child.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 3) { lb.child.stderr.contains("SIGHUP: reload refused") }, lb.child.stderr)
        XCTAssertTrue(sClient(port, []).contains("subject=CN = new.example.test"), "the old certificate stays")
        XCTAssertEqual(curl(["-k", "https://127.0.0.1:\(port)/"]).out, "slow\n")
    }

    /// `server … ssl verify required ca-file F sni NAME` to an nginx that terminates TLS itself.
    func testTLSTowardsServers() throws {
        let serverPem = certs + "/b.pem"
        let port = freePort(), backendPort = freePort()
        let nginx = try startTLSNginx(port: backendPort, pem: serverPem, locations: """
            location = / { return 200 "tls backend sni=$ssl_server_name\\n"; }
            location = /health { return 200 "ok\\n"; }
            """, in: dir)
        defer { nginx.stop() }
        XCTAssertTrue(waitForPort(backendPort))
        let stats = StatsClient(in: dir)
        let lb = try SwiftLBInstance(config: stats.global + testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend wrongname if { path_beg /wrong }
                default_backend app
            backend app
                option httpchk GET /health
                timeout check 1s
                server s 127.0.0.1:\(backendPort) ssl verify required ca-file \(serverPem) sni str(www.b.example.test) check inter 200ms
            backend wrongname
                server s 127.0.0.1:\(backendPort) ssl verify required ca-file \(serverPem) sni other.test
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "tls backend sni=www.b.example.test\n")
        // A certificate that does not match the name is refused: the handshake fails, which is
        // a connection failure (503, as haproxy answers), never the backend's answer.
        XCTAssertEqual(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/wrong"]).out, "503")
        // The HTTP check over TLS passes (a refused certificate or a wrong answer would read
        // L6/L7 errors), and keeps passing past fall 3 × inter 200 ms. `timeout check 1s`: a TLS
        // handshake of a debug build on a loaded machine can outlast inter, the default timeout.
        XCTAssertNotNil(waitUntil(timeout: 10) { stats.field("app", "s", "check_status") == "L7OK" },
                        "check_status \(stats.field("app", "s", "check_status") ?? "-"): \(lb.child.stderr)")
        usleep(1_000_000)
        XCTAssertEqual(stats.field("app", "s", "check_status"), "L7OK")
        XCTAssertFalse(lb.child.stderr.contains("app/s is DOWN"), "the HTTP check over TLS passes: \(lb.child.stderr)")
    }

    /// Certificate reloads under a running wrk load (new TLS connection per request, so every
    /// reload is crossed by handshakes) lose nothing.
    func testReloadUnderWrkLoadHasZeroErrors() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(certs!)
                default_backend app
            backend app
                server s 127.0.0.1:\(nginx.ports[0])
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        // --timeout: wrk's default (2 s) counts a slow answer of a loaded machine as a socket error.
        let wrk = try ChildProcess("/usr/bin/wrk", ["-t2", "-c20", "-d4s", "--timeout", "10s", "-H", "Connection: close", "https://127.0.0.1:\(port)/"],
                                   logDirectory: dir, name: "wrk")
        for _ in 0..<6 {
            usleep(500_000)
            lb.child.signal(SIGHUP)
        }
        XCTAssertEqual(wrk.waitForExit(timeout: 20), 0)
        let report = wrk.stdout
        let requests = report.split(separator: "\n").first { $0.contains("requests in") }.map(String.init) ?? ""
        XCTAssertTrue(requests.contains("requests in"), report)
        XCTAssertFalse(report.contains("Socket errors"), report)
        XCTAssertFalse(report.contains("Non-2xx"), report)
        XCTAssertNotNil(waitUntil(timeout: 3) { lb.child.stderr.components(separatedBy: "SIGHUP: configuration reloaded").count - 1 == 6 }, lb.child.stderr)
    }

    /// Ticket keys rotate in memory: a ticket still resumes after two rotations (its key is
    /// among the three kept) and no longer after the third; rotation is driven here through
    /// the control socket (it also runs hourly).
    func testTicketKeysRotate() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let port = freePort()
        let socket = dir.file("ctl.sock")
        let lb = try SwiftLBInstance(config: "global\n    stats socket \(socket)\n" + testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(certs!)
                default_backend app
            backend app
                server s 127.0.0.1:\(nginx.ports[0])
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func rotate() {
            XCTAssertTrue(runCommand(Paths.swiftlb, ["ctl", "-s", socket, "rotate", "ssl", "tickets"]).out.contains("Rotated the ticket keys of 1 TLS listeners"))
        }
        let session = dir.file("ticket.pem")
        XCTAssertTrue(sClient(port, ["-tls1_3", "-sess_out", session]).contains("New, TLSv1.3"))
        rotate()
        rotate()
        XCTAssertTrue(sClient(port, ["-tls1_3", "-sess_in", session]).contains("Reused, TLSv1.3"), "a ticket two rotations old still resumes")
        rotate()
        let expired = sClient(port, ["-tls1_3", "-sess_in", session])
        XCTAssertTrue(expired.contains("New, TLSv1.3"), "a ticket whose key was rotated out must not resume: \(expired.prefix(300))")
    }
}
