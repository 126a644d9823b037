import Foundation
import XCTest

/// Servers and listeners on unix sockets against real peers: nginx listening on a unix socket
/// (`listen unix:PATH`), curl `--unix-socket` as a client, a Python server on an abstract
/// socket, and haproxy 2.6 beside SwiftLB with the same file for what the servers receive
/// (PROXY headers) and the log lines.
final class UnixSocketTests: XCTestCase {
    private var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// nginx on a unix socket, serving `/` and `/health`.
    private func startNginx(socket: String) throws -> ChildProcess {
        let root = dir.file("nginx")
        let conf = try dir.write("nginx.conf", try singleNginxConfig(root: root, server: """
                listen unix:\(socket);
                location = / { return 200 "node-unix host=$host\\n"; }
                location = /health { return 200 "healthy\\n"; }
            """))
        let nginx = try ChildProcess("/usr/sbin/nginx", ["-c", conf, "-e", root + "/error.log"], logDirectory: dir, name: "nginx")
        guard waitUntil(timeout: 10, { FileManager.default.fileExists(atPath: socket) }) != nil else {
            nginx.stop()
            throw HarnessError("nginx did not listen on \(socket): \(nginx.stderr)")
        }
        return nginx
    }

    /// HTTP and `mode tcp` through a server on nginx's unix socket, `show stat` / `show servers
    /// state` as HAProxy prints a unix server, and the checks (httpchk in one backend, a
    /// tcp-check send/expect in the other) marking it DOWN once its socket is gone.
    func testNginxOnAUnixSocketServesHTTPAndTCPAndIsCheckedDown() throws {
        let socket = dir.file("nginx.sock")
        let nginx = try startNginx(socket: socket)
        defer { nginx.stop() }
        let stats = StatsClient(in: dir)
        let (http, tcp) = (freePort(), freePort())
        // `timeout check` apart from `inter`: a check's timeout is otherwise its 200 ms `inter`,
        // which a loaded machine can exceed (a passed server then reads "UP 1/2" again).
        let lb = try SwiftLBInstance(config: stats.global + testDefaults() + """
                timeout check 2s
            frontend web
                bind 127.0.0.1:\(http)
                default_backend app
            frontend raw
                mode tcp
                bind 127.0.0.1:\(tcp)
                default_backend rawapp
            backend app
                option httpchk GET /health
                option srvtcpka
                server n1 \(socket) check inter 200 fall 2 rise 1
            backend rawapp
                mode tcp
                option tcp-check
                tcp-check send GET\\ /health\\ HTTP/1.0\\r\\n\\r\\n
                tcp-check expect string healthy
                server n1 unix@\(socket) check inter 200 fall 2 rise 1

            """, waitPort: http, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(tcp))

        for _ in 0..<3 {  // pooled: a second request on a reused connection to the socket
            XCTAssertEqual(curl(["http://127.0.0.1:\(http)/"], maxTime: 5).out, "node-unix host=127.0.0.1\n")
        }
        XCTAssertEqual(curl(["http://127.0.0.1:\(tcp)/"], maxTime: 5).out, "node-unix host=127.0.0.1\n")
        XCTAssertEqual(stats.field("app", "n1", "addr"), "unix")
        // Until its first check ends a new server reads "UP 1/2" with check_status INI (HAProxy
        // starts its health at rise); that check runs 100-200 ms after the start, and on a
        // loaded machine the requests above can all be answered before it: wait for it.
        XCTAssertNotNil(waitUntil(timeout: 10) { stats.field("app", "n1", "check_status") == "L7OK" && stats.field("rawapp", "n1", "check_status") == "L7OK" },
                        "first checks: \(stats.field("app", "n1", "check_status") ?? "?"), \(stats.field("rawapp", "n1", "check_status") ?? "?")\n\(lb.child.stderr)")
        XCTAssertEqual(stats.field("app", "n1", "status"), "UP")
        XCTAssertEqual(stats.field("app", "n1", "check_status"), "L7OK")
        XCTAssertEqual(stats.field("rawapp", "n1", "check_status"), "L7OK", "tcp-check send/expect on the socket")
        let state = runCommand(Paths.swiftlb, ["ctl", "-s", stats.path, "show", "servers", "state"]).out
        let row = state.split(separator: "\n").first { $0.contains(" app 1 n1 ") }.map { $0.split(separator: " ").map(String.init) }
        XCTAssertEqual(row?[4], "-", "srv_addr of a unix server, as HAProxy prints it: \(state)")
        XCTAssertEqual(row?[18], "0", "srv_port: \(state)")

        nginx.stop()
        try? FileManager.default.removeItem(atPath: socket)
        XCTAssertNotNil(waitUntil(timeout: 15) { stats.field("app", "n1", "status") == "DOWN" && stats.field("rawapp", "n1", "status") == "DOWN" },
                        "checks of a vanished socket: \(stats.field("app", "n1", "status") ?? "?"), \(stats.field("rawapp", "n1", "status") ?? "?")\n\(lb.child.stderr)")
        XCTAssertTrue(curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(http)/"], maxTime: 5).out == "503")
    }

    /// Records the first bytes of each connection on a unix socket (a path, or an abstract
    /// name padded to the whole sockaddr_un as HAProxy and NIO bind/dial it) and answers 200.
    private static let recorder = """
        import socket, sys, base64, threading
        path, log, abstract = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
        s = socket.socket(socket.AF_UNIX)
        s.bind(b"\\0" + path.encode() + b"\\0" * (107 - len(path)) if abstract else path)
        s.listen(16)
        s.settimeout(60)
        def serve(c):
            c.settimeout(5)
            data = b""
            while b"\\r\\n\\r\\n" not in data:
                chunk = c.recv(4096)
                if not chunk: break
                data += chunk
            with open(log, "a") as f: f.write(base64.b64encode(data).decode() + "\\n")
            c.sendall(b"HTTP/1.1 200 OK\\r\\ncontent-length: 3\\r\\nconnection: close\\r\\n\\r\\nok\\n")
            c.close()
        print("ready", flush=True)
        for _ in range(40):
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,)).start()
        """

    private func startRecorder(_ name: String, abstract: Bool) throws -> (ChildProcess, log: String) {
        let script = try dir.write("recorder.py", Self.recorder)
        let log = dir.file("\(name).log")
        FileManager.default.createFile(atPath: log, contents: nil)
        let child = try ChildProcess("/usr/bin/env", ["python3", script, abstract ? name : dir.file(name), log, abstract ? "1" : "0"],
                                     logDirectory: dir, name: "recorder-\(name)")
        guard waitUntil(timeout: 10, { child.stdout.contains("ready") }) != nil else { throw HarnessError("recorder: \(child.stderr)") }
        return (child, log)
    }

    private func records(_ log: String) -> [[UInt8]] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { Data(base64Encoded: String($0)).map { Array($0) } }
    }

    /// One lb.conf through haproxy and SwiftLB: a TCP and a unix listener, a `send-proxy`
    /// server on a unix socket file and a `send-proxy-v2` one in the abstract namespace, a
    /// `src` ACL (which a unix client never matches: it has no address), and a log line of
    /// the address fields. What each server received and the log lines must agree.
    func testSameConfigThroughHAProxyAndSwiftLBOverUnixSockets() throws {
        try requireHAProxy()
        let tag = String(UUID().uuidString.prefix(6))
        var received: [String: [[UInt8]]] = [:]
        var logs: [String: [String]] = [:]
        var statuses: [String: [String]] = [:]
        for who in ["haproxy", "swiftlb"] {
            let (v1, v1log) = try startRecorder("\(who)-v1.sock", abstract: false)
            let (v2, v2log) = try startRecorder("\(who)-\(tag)-v2", abstract: true)
            defer { v1.stop(); v2.stop() }
            let port = freePort()
            let front = dir.file("\(who)-fe.sock")
            let config = differentialHTTPDefaults + """
                frontend fe
                    bind 127.0.0.1:\(port)
                    bind unix@\(front) mode 600
                    log stdout format raw local0
                    option dontlognull
                    log-format "ci=%ci cp=%cp fi=%fi fp=%fp si=%si sp=%sp s=%s st=%ST"
                    http-request deny if { path /deny } { src 0.0.0.0/0 }
                    use_backend v2 if { path_beg /v2 }
                    default_backend v1
                backend v1
                    server s1 \(dir.file("\(who)-v1.sock")) send-proxy
                backend v2
                    server s2 abns@\(who)-\(tag)-v2 send-proxy-v2

                """
            let child = try startEither(who, config, port: port, in: dir)
            defer { child.stop() }
            // The TCP listener may accept before the unix one is bound (they open in order).
            _ = waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: front) }
            let mode = (try? FileManager.default.attributesOfItem(atPath: front)[.posixPermissions] as? Int) ?? -1
            XCTAssertEqual(mode, 0o600, "\(who): bind … mode 600")
            var codes: [String] = []
            for (unix, path) in [(true, "/a"), (true, "/v2/b"), (false, "/v2/c"), (true, "/deny"), (false, "/deny")] {
                let target = unix ? ["--unix-socket", front, "http://x\(path)"] : ["http://127.0.0.1:\(port)\(path)"]
                codes.append(curl(["-o", "/dev/null", "-w", "%{http_code}"] + target, maxTime: 5).out)
            }
            statuses[who] = codes
            XCTAssertFalse(codes.contains("000"), "\(who): \(codes)\n\(child.stderr)")
            _ = waitUntil(timeout: 5) { child.stdout.split(separator: "\n").filter { $0.hasPrefix("ci=") }.count >= 5 }
            _ = waitUntil(timeout: 5) { self.records(v1log).count + self.records(v2log).count >= 4 }
            received[who] = records(v1log) + records(v2log)
            logs[who] = child.stdout.split(separator: "\n").filter { $0.hasPrefix("ci=") }.map {
                // The TCP client's port and the listener's port differ between the two runs.
                String($0).replacingOccurrences(of: #"cp=\d{4,5}"#, with: "cp=N", options: .regularExpression)
                    .replacingOccurrences(of: "fp=\(port)", with: "fp=P")
            }
        }
        XCTAssertEqual(statuses["swiftlb"], statuses["haproxy"])
        XCTAssertEqual(statuses["haproxy"], ["200", "200", "200", "200", "403"])
        XCTAssertEqual(logs["swiftlb"], logs["haproxy"])
        XCTAssertEqual(logs["haproxy"]?.first, "ci=unix cp=2 fi=unix fp=2 si=unix sp=0 s=s1 st=200")
        // The PROXY headers: a unix client has no addresses, so v1 says UNKNOWN and v2 is
        // LOCAL; the TCP client's v2 header carries ports that vary, compared without them.
        func headers(_ all: [[UInt8]]?) -> [[UInt8]] {
            (all ?? []).map { bytes in
                // A v2 header's length is in its bytes 14-15 (a port byte may be any value,
                // 'G' included); a v1 header ends at its first CRLF.
                let end: Int
                if bytes.count >= 16, bytes[12] >> 4 == 2 {
                    end = min(bytes.count, 16 + (Int(bytes[14]) << 8 | Int(bytes[15])))
                } else {
                    end = (bytes.firstIndex(of: UInt8(ascii: "\n")).map { $0 + 1 }) ?? bytes.count
                }
                var header = Array(bytes[..<end])
                if header.count == 28 { header.replaceSubrange(24..<28, with: [0, 0, 0, 0]) }  // v2 INET: both ports
                return header
            }.sorted { $0.lexicographicallyPrecedes($1) }
        }
        XCTAssertEqual(headers(received["swiftlb"]), headers(received["haproxy"]))
        XCTAssertTrue(headers(received["haproxy"]).contains(Array("PROXY UNKNOWN\r\n".utf8)), "\(received)")
        XCTAssertEqual(received["haproxy"]?.count, 4)
    }

    /// A stale socket file is replaced at start (anything else at the path is refused with the
    /// bind's line); a reload that keeps the bind keeps the listener (same socket file).
    func testUnixListenerReplacesAStaleSocketAndSurvivesAReload() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let front = dir.file("fe.sock")
        // A socket file left by an earlier process: bound, then its owner gone.
        let stale = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in front.utf8.enumerated() { raw[i] = b } }
        XCTAssertEqual(withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(stale, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }, 0)
        close(stale)
        XCTAssertTrue(FileManager.default.fileExists(atPath: front))

        let port = freePort()
        let config = testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                bind \(front)
                default_backend app
            backend app
            \(serverLines(nginx.ports))

            """
        let lb = try SwiftLBInstance(config: config, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertNotNil(waitUntil(timeout: 5) { curl(["--unix-socket", front, "http://x/"], maxTime: 2).status == 0 }, lb.child.stderr)
        XCTAssertEqual(curl(["--unix-socket", front, "http://x/"], maxTime: 5).out, "node1\n")
        let inode = (try? FileManager.default.attributesOfItem(atPath: front)[.systemFileNumber] as? Int) ?? -1

        // A reload that keeps the bind (and changes something else): same listener, same file.
        try (config + "backend other\n    server o 127.0.0.1:\(nginx.ports[0])\n").write(toFile: lb.configPath, atomically: true, encoding: .utf8)
        lb.child.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 5) { lb.child.stderr.contains("reload") }, lb.child.stderr)
        XCTAssertEqual(curl(["--unix-socket", front, "http://x/"], maxTime: 5).out, "node1\n")
        XCTAssertEqual((try? FileManager.default.attributesOfItem(atPath: front)[.systemFileNumber] as? Int) ?? -2, inode)

        // Something that is not a socket at the path: refused, naming the bind line, untouched.
        let file = try dir.write("plain", "keep me")
        _ = try dir.write("bad.conf", config.replacingOccurrences(of: front, with: file).replacingOccurrences(of: ":\(port)\n", with: ":\(freePort())\n"))
        let started = try ChildProcess(Paths.swiftlb, ["run", "-c", dir.file("bad.conf")], logDirectory: dir, name: "bad")
        XCTAssertNotNil(started.waitForExit(timeout: 10), "a bind on a regular file must stop the start")
        XCTAssertTrue(started.stderr.contains("bind") && started.stderr.contains("is not a socket"), started.stderr)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), "keep me")
    }

    /// The deployment the brief names: a TLS frontend hands plain HTTP to a second frontend
    /// over a unix socket, with `send-proxy-v2` so the second one (`accept-proxy`) still sees
    /// the client; and TLS terminated on a unix bind itself (curl `--unix-socket https://`).
    func testTLSOffloadToAUnixFrontendWithProxyV2() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["unix.example.test", pem]).status, 0)
        let (tlsPort, plain, tlsUnix) = (freePort(), dir.file("plain.sock"), dir.file("tls.sock"))
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend offload
                bind 127.0.0.1:\(tlsPort) ssl crt \(pem)
                bind unix@\(tlsUnix) ssl crt \(pem)
                default_backend to_plain
            backend to_plain
                server plain unix@\(plain) send-proxy-v2
            frontend plain
                bind unix@\(plain) accept-proxy
                log stdout format raw local0
                log-format "plain ci=%ci fi=%fi fp=%fp"
                option forwardfor
                default_backend app
            backend app
            \(serverLines(nginx.ports))

            """, waitPort: tlsPort, in: dir)
        defer { lb.stop() }
        // Listeners open in order: the TCP one may accept before the unix ones are bound.
        _ = waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: plain) && FileManager.default.fileExists(atPath: tlsUnix) }
        XCTAssertEqual(curl(["-k", "https://127.0.0.1:\(tlsPort)/xff"], maxTime: 5).out, "xff=127.0.0.1 host=127.0.0.1 node1\n")
        // Through the unix TLS bind the first hop has no client address: PROXY v2 LOCAL, so
        // the plain frontend keeps its own (a unix socket) and forwards no X-Forwarded-For.
        XCTAssertEqual(curl(["-k", "--unix-socket", tlsUnix, "https://x/xff"], maxTime: 5).out, "xff= host=x node1\n")
        lb.waitForAccessLog { $0.components(separatedBy: "plain ci=").count > 2 }
        let lines = lb.accessLog.split(separator: "\n").filter { $0.hasPrefix("plain ") }.map(String.init)
        XCTAssertEqual(lines, ["plain ci=127.0.0.1 fi=127.0.0.1 fp=\(tlsPort)", "plain ci=unix fi=unix fp=1"], lb.accessLog)
    }
}
