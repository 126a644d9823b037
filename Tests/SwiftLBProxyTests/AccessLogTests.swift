import Foundation
import XCTest

/// The access log as a syslog server sees it: the same configuration text through HAProxy 2.6
/// and SwiftLB must send the same httplog and tcplog lines (timestamps, ports and timers
/// aside); `log-format`, `dontlog-normal`, `log-separate-errors` and `no log` do what they do
/// in HAProxy; a broken `log-format` is refused with its file, line and keyword.
final class AccessLogTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// An HTTP frontend (`/denied` denied) and a TCP one in front of `backend`, logging to
    /// `syslog`; `option` adds an option line to both (the differential log tests share it).
    /// `defaultsLines` end the `defaults` section.
    static func config(http: Int, tcp: Int, backend: Int, syslog: Int, option: String? = nil, defaultsLines: String = "") -> String {
        let extra = option.map { "    option \($0)\n" } ?? ""
        return syslogHTTPDefaults(syslog: syslog) + defaultsLines + """
        frontend fe
            bind 127.0.0.1:\(http)
        \(extra)    http-request deny if { path /denied }
            default_backend app
        backend app
            server s1 127.0.0.1:\(backend)
        frontend tcpfe
            mode tcp
            option tcplog
        \(extra)    bind 127.0.0.1:\(tcp)
            default_backend tcpapp
        backend tcpapp
            mode tcp
            server t1 127.0.0.1:\(backend)

        """
    }

    /// HAProxy and SwiftLB on the same `config` text, each logging to its own syslog receiver,
    /// started and with HAProxy's start lines drained. Ports: (haproxy http, tcp, swiftlb http, tcp).
    struct Pair {
        let haproxy: ChildProcess
        let swiftlb: SwiftLBInstance
        let hsyslog: SyslogReceiver, ssyslog: SyslogReceiver
        let ports: (hhttp: Int, htcp: Int, shttp: Int, stcp: Int)

        init(backend: Int, in dir: TempDirectory, config: (Int, Int, Int, Int) -> String) throws {
            hsyslog = try SyslogReceiver()
            ssyslog = try SyslogReceiver()
            ports = (freePort(), freePort(), freePort(), freePort())
            let hcfg = try dir.write("haproxy.cfg", config(ports.hhttp, ports.htcp, backend, hsyslog.port))
            haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", hcfg], logDirectory: dir, name: "haproxy")
            XCTAssertTrue(waitForPort(ports.hhttp) && waitForPort(ports.htcp), haproxy.stderr)
            swiftlb = try SwiftLBInstance(config: config(ports.shttp, ports.stcp, backend, ssyslog.port), waitPort: ports.shttp, in: dir)
            XCTAssertTrue(waitForPort(ports.stcp))
            // HAProxy logs its own start ("Proxy fe started.") on the same target: drain it first.
            _ = hsyslog.receive(count: 100, within: 0.5)
            _ = ssyslog.receive(count: 100, within: 0.2)
        }

        func stop() {
            swiftlb.stop()
            haproxy.stop()
        }
    }

    /// `global` logging to a UDP syslog receiver and httplog `defaults`, as HAProxy and SwiftLB
    /// both read them (the differential log tests share it).
    static func syslogHTTPDefaults(syslog: Int) -> String {
        """
        global
            log 127.0.0.1:\(syslog) local0
        defaults
            mode http
            log global
            option httplog
            timeout connect 2s
            timeout client 5s
            timeout server 5s

        """
    }

    /// One line with what varies from run to run masked: the syslog header's date, tag and pid,
    /// the client port, the accept date and the timers.
    private func masked(_ line: String) -> String {
        var s = line
        for (pattern, template) in [
            (#"^<(\d+)>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d [a-z]+\[\d+\]: "#, "<$1>DATE TAG[PID]: "),
            (#": 127\.0\.0\.1:\d+ "#, ": 127.0.0.1:PORT "),
            (#"\[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d\.\d{3}\]"#, "[DATE]"),
            (#" (-?\d+)/(-?\d+)/(-?\d+)/(-?\d+)/(-?\d+) (\d{3}) "#, " TIMERS $6 "),  // httplog TR/Tw/Tc/Tr/Ta
            (#" (-?\d+)/(-?\d+)/(-?\d+) (\d+) "#, " TIMERS $4 "),  // tcplog Tw/Tc/Tt
            // %ac/%fc/%bc/%sc: how many connections were open when the line was written depends
            // on whether the client's next connection came first (in HAProxy too); %rc stays.
            (#" \d+/\d+/\d+/\d+/(\d+) "#, " CONNS/$1 "),
            // %B: SwiftLB counts the bytes the client received; HAProxy the size of its
            // internal (HTX) form of the response, a few bytes less per header line. The
            // bytes are checked against what the client read instead (below).
            (#" (\d{3}) \d+ - - "#, " $1 BYTES - - "),
        ] {
            s = s.replacingOccurrences(of: pattern, with: template, options: .regularExpression)
        }
        return s
    }

    func testSyslogLinesAgreeWithHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let pair = try Pair(backend: nginx.ports[0], in: dir) { Self.config(http: $0, tcp: $1, backend: $2, syslog: $3) }
        defer { pair.stop() }
        let (hsyslog, ssyslog, lb) = (pair.hsyslog, pair.ssyslog, pair.swiftlb)
        let (hhttp, htcp, shttp, stcp) = pair.ports

        var received: [String: Int] = [:]
        func traffic(http: Int, tcp: Int) throws {
            for path in ["/", "/missing", "/denied"] {
                let client = try RawClient(port: http, timeout: 3)
                client.send("GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                received[path] = client.readResponse().utf8.count
            }
            // A TCP session: one HTTP exchange through the tcp frontend, then the client closes.
            let client = try RawClient(port: tcp, timeout: 3)
            client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            _ = client.readResponse()
        }
        try traffic(http: hhttp, tcp: htcp)
        try traffic(http: shttp, tcp: stcp)
        let hlines = hsyslog.receive(count: 4, within: 5).map(masked)
        let raw = ssyslog.receive(count: 4, within: 5)
        let slines = raw.map(masked)
        for (path, bytes) in received {
            XCTAssertTrue(raw.contains { $0.contains(" \(bytes) - - ") && $0.hasSuffix(" \"GET \(path) HTTP/1.1\"") }, "\(path): \(bytes) bytes in \(raw)")
        }
        XCTAssertEqual(slines.count, 4, "SwiftLB sent \(slines)")
        XCTAssertEqual(hlines.count, 4, "HAProxy sent \(hlines)")
        // Same lines, whatever order the two sessions' ends came in.
        XCTAssertEqual(slines.sorted(), hlines.sorted(), "\nSwiftLB: \(slines.joined(separator: "\n"))\nHAProxy: \(hlines.joined(separator: "\n"))")
        // Not only equal: what each line is for.
        XCTAssertTrue(slines.contains { $0.hasPrefix("<134>") && $0.contains(" fe app/s1 TIMERS 200 ") && $0.hasSuffix("\"GET / HTTP/1.1\"") }, "\(slines)")
        XCTAssertTrue(slines.contains { $0.contains(" fe app/s1 TIMERS 404 ") }, "\(slines)")
        XCTAssertTrue(slines.contains { $0.contains(" fe fe/<NOSRV> TIMERS 403 ") && $0.contains(" PR-- ") }, "\(slines)")
        XCTAssertTrue(slines.contains { $0.contains(" tcpfe tcpapp/t1 TIMERS ") && $0.contains(" -- ") }, "\(slines)")
        XCTAssertEqual(lb.accessLog, "", "with a syslog target, nothing is written on stdout")
    }

    /// `log ::1:PORT` (an IPv6 address without brackets, the port after the last colon, as
    /// HAProxy reads it), also behind `udp@`/`udp6@`/`ipv6@`: both send their line there.
    func testAnIPv6LogTargetWithoutBracketsAsHAProxy() throws {
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let syslog = try SyslogReceiver(ipv6: true)
        for target in ["::1:\(syslog.port)", "udp@::1:\(syslog.port)", "udp6@::1:\(syslog.port)", "ipv6@::1:\(syslog.port)"] {
            let pair = try SideBySide({ port in
                """
                global
                    log \(target) local0
                defaults
                    mode http
                    log global
                    option httplog
                    timeout connect 1s
                    timeout client 5s
                    timeout server 5s
                listen l
                    bind 127.0.0.1:\(port)
                    server s 127.0.0.1:\(backend.port)

                """
            }, in: dir)
            defer { pair.stop() }
            for (name, port) in [("swiftlb", pair.lbPort), ("haproxy", pair.haproxyPort)] {
                let client = try RawClient(port: port, timeout: 3)
                client.send("GET /\(name) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                XCTAssertEqual(statusCode(client.readResponse()), 200, "\(target): \(name)")
                let lines = syslog.receive(count: 1, within: 5)
                XCTAssertTrue(lines.first?.contains("\"GET /\(name) HTTP/1.1\"") == true, "\(target): \(name) sent \(lines)")
            }
        }
    }

    /// Connections that end without a whole request, as HAProxy 2.6's H1 layer answers and
    /// logs them: on a fresh connection, a FIN or close gets 400 `CR--` and `timeout
    /// http-request` 408 `cR--`, both `-1/-1/-1/-1/Ta … 0` bytes and `<BADREQ>`; with part of a
    /// request in, the same; a keep-alive connection idle after a request ends silently; `option
    /// dontlognull` keeps the ones that sent nothing out of the log (the 400/408 still goes).
    func testConnectionsEndingWithoutARequestAreAnsweredAndLoggedAsByHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        for dontLogNull in [false, true] {
            let pair = try Pair(backend: nginx.ports[0], in: dir) { http, tcp, backend, syslog in
                "global\n    stats socket \(self.dir.file("stats-\(http).sock")) level admin\n" + Self.syslogHTTPDefaults(syslog: syslog) + """
                    timeout http-request 1s
                \(dontLogNull ? "    option dontlognull\n" : "")frontend fe
                    bind 127.0.0.1:\(http)
                    default_backend app
                backend app
                    server s1 127.0.0.1:\(backend)
                listen unused
                    mode tcp
                    no log
                    bind 127.0.0.1:\(tcp)
                    server s1 127.0.0.1:\(backend)

                """
            }
            defer { pair.stop() }
            func traffic(_ port: Int) throws -> [String] {
                var answers: [String] = []
                do { _ = try RawClient(port: port) }  // connects, closes
                do {
                    let c = try RawClient(port: port)
                    c.send("GET /partial HT")
                    Thread.sleep(forTimeInterval: 0.1)
                }
                let emptyFIN = try RawClient(port: port, timeout: 3)
                emptyFIN.shutdownWrite()
                answers.append(emptyFIN.readAll().text)
                let kept = try RawClient(port: port, timeout: 3)
                kept.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                answers.append(kept.read(until: "\r\n\r\n"))
                let idle = try RawClient(port: port, timeout: 3), partial = try RawClient(port: port, timeout: 3)
                partial.send("GET /slow HT")
                answers.append(idle.readAll().text)   // both time out together
                answers.append(partial.readAll().text)
                answers.append(kept.readAll().text)   // closed silently at the keep-alive timeout
                return answers.map { String($0.prefix(12)) }
            }
            let hAnswers = try traffic(pair.ports.hhttp), sAnswers = try traffic(pair.ports.shttp)
            XCTAssertEqual(sAnswers, ["HTTP/1.1 400", "HTTP/1.1 200", "HTTP/1.1 408", "HTTP/1.1 408", ""])
            XCTAssertEqual(sAnswers, hAnswers)
            let expected = dontLogNull ? 3 : 6
            let hlines = pair.hsyslog.receive(count: expected, within: 4).map(masked).sorted()
            let raw = pair.ssyslog.receive(count: expected, within: 4)
            XCTAssertEqual(raw.map(masked).sorted(), hlines, "dontlognull \(dontLogNull)")
            XCTAssertEqual(raw.filter { $0.contains("<BADREQ>") }.count, expected - 1, "\(raw)")
            for line in raw where line.contains("<BADREQ>") {
                XCTAssertTrue(line.contains(" -1/-1/-1/-1/") && (line.contains(" 400 0 - - CR-- ") || line.contains(" 408 0 - - cR-- ")), line)
            }
            // Counted as HAProxy counts them, logged or not: requests, request errors, 4xx.
            let columns = ["req_tot", "ereq", "hrsp_4xx", "hrsp_2xx"]
            let reference = frontendStatColumns(haproxyStatCommand(dir.file("stats-\(pair.ports.hhttp).sock")), columns)
            XCTAssertEqual(reference, ["6", "5", "5", "1"])
            XCTAssertEqual(frontendStatColumns([Paths.swiftlb, "ctl", "-s", dir.file("stats-\(pair.ports.shttp).sock"), "show", "stat"], columns), reference)
        }
    }

    func testLogFormatLevelsAndNoLogOnAUnixSocket() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let socketPath = dir.file("log.sock")
        let syslog = try SyslogReceiver(unixPath: socketPath)
        let (port, quiet, closed) = (freePort(), freePort(), refusedPort())
        let config = """
            defaults
                mode http
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            frontend fe
                bind 127.0.0.1:\(port)
                log \(socketPath) local1
                log-format "%ci %HM %HU %ST %b/%s %tsc"
                option dontlog-normal
                option log-separate-errors
                use_backend dead if { path_beg /dead }
                default_backend app
            frontend quiet
                bind 127.0.0.1:\(quiet)
                log \(socketPath) local1
                option httplog
                no log
                default_backend app
            backend app
                server s1 127.0.0.1:\(nginx.ports[0])
            backend dead
                server d1 127.0.0.1:\(closed)

            """
        let lb = try SwiftLBInstance(config: config, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(quiet))
        for (p, path) in [(port, "/"), (port, "/dead/x"), (port, "/missing"), (quiet, "/dead")] {
            let client = try RawClient(port: p, timeout: 5)
            client.send("GET \(path) HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            _ = client.readResponse()
        }
        let lines = syslog.receive(count: 2, within: 3)
        // Only the failed stream (503, as HAProxy: the server refuses the connection), at `err` of local1
        // (17 * 8 + 3); the 200 and the 404 are normal; the quiet frontend logs nothing.
        XCTAssertEqual(lines.count, 1, "\(lines)")
        let line = lines.first ?? ""
        XCTAssertTrue(line.hasPrefix("<139>"), line)
        XCTAssertTrue(line.hasSuffix(": 127.0.0.1 GET /dead/x 503 dead/d1 SC--"), line)
    }

    /// A proxy has one log format, as in HAProxy: `option tcplog` in a TCP frontend replaces the
    /// HTTP-only `log-format` of its `defaults` (which HAProxy would refuse there: "%Tq is
    /// reserved for HTTP mode"), while the HTTP frontend keeps it; in `defaults`, a later one
    /// replaces an earlier one with HAProxy's warning.
    func testOptionTcplogReplacesTheLogFormatOfItsDefaultsAsInHAProxy() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        // The defaults' `option httplog`, then (still in defaults) an HTTP-only log-format; the
        // TCP frontend says `option tcplog`.
        let pair = try Pair(backend: nginx.ports[0], in: dir) {
            Self.config(http: $0, tcp: $1, backend: $2, syslog: $3, defaultsLines: "    log-format \"custom %ft %b/%s %ST %Tq %{+Q}r\"\n")
        }
        defer { pair.stop() }
        for (http, tcp) in [(pair.ports.hhttp, pair.ports.htcp), (pair.ports.shttp, pair.ports.stcp)] {
            for port in [http, tcp] {
                let client = try RawClient(port: port, timeout: 3)
                client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                XCTAssertTrue(client.readResponse().hasPrefix("HTTP/1.1 200"))
            }
        }
        let hlines = pair.hsyslog.receive(count: 2, within: 5).map(masked).map { $0.replacingOccurrences(of: #" 200 \d+ "#, with: " 200 TQ ", options: .regularExpression) }
        let slines = pair.ssyslog.receive(count: 2, within: 5).map(masked).map { $0.replacingOccurrences(of: #" 200 \d+ "#, with: " 200 TQ ", options: .regularExpression) }
        XCTAssertEqual(hlines.count, 2, "HAProxy sent \(hlines)")
        XCTAssertEqual(slines.sorted(), hlines.sorted(), "\nSwiftLB: \(slines.joined(separator: "\n"))\nHAProxy: \(hlines.joined(separator: "\n"))")
        XCTAssertTrue(slines.contains { $0.hasSuffix(": custom fe app/s1 200 TQ \"GET / HTTP/1.1\"") }, "\(slines)")
        XCTAssertTrue(slines.contains { $0.contains(" tcpfe tcpapp/t1 TIMERS ") && $0.contains(" -- ") }, "\(slines)")
        // haproxy -c and swiftlb check warn alike about the replaced line in `defaults`.
        let path = try dir.write("warn.cfg", "defaults\n    mode http\n    option httplog\n    log-format \"%ci\"\n    option tcplog\n")
        let check = runCommand(Paths.swiftlb, ["check", "-c", path])
        XCTAssertTrue(check.err.contains("[\(path):4] : 'log-format' : 'log-format' overrides previous 'option httplog' in 'defaults' section."), check.err)
        XCTAssertTrue(check.err.contains("[\(path):5] : 'option' : 'option tcplog' overrides previous 'log-format' in 'defaults' section."), check.err)
        let reference = runCommand("/usr/sbin/haproxy", ["-c", "-f", path])
        XCTAssertTrue(reference.err.contains("[\(path):4]: 'log-format' overrides previous 'option httplog' in 'defaults' section."), reference.err)
        XCTAssertTrue(reference.err.contains("[\(path):5]: 'option tcplog' overrides previous 'log-format' in 'defaults' section."), reference.err)
    }

    func testABrokenLogFormatIsRefusedWithItsLine() throws {
        let path = try dir.write("lb.conf", """
            frontend fe
                bind 127.0.0.1:\(freePort())
                log-format "%ci %{+Q"
                default_backend app
                mode http
            backend app
                server s1 127.0.0.1:1
                mode http

            """)
        let check = runCommand(Paths.swiftlb, ["check", "-c", path])
        XCTAssertEqual(check.status, 1, check.out)
        XCTAssertTrue(check.err.contains("parsing [\(path):3] : 'log-format' : "), check.err)
    }
}

/// A syslog server for one test: a datagram socket on loopback UDP or on a unix path, read
/// with a deadline.
final class SyslogReceiver {
    private let fd: Int32
    /// The UDP port (0 for a unix socket).
    private(set) var port = 0
    private let path: String?

    /// On 127.0.0.1 (or ::1), a port the kernel picks.
    init(ipv6: Bool = false) throws {
        fd = socket(ipv6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        path = nil
        var address = sockaddr_storage()
        var length = socklen_t(ipv6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        if ipv6 {
            withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
                $0.pointee.sin6_family = sa_family_t(AF_INET6)
                $0.pointee.sin6_addr = in6addr_loopback
            } }
        } else {
            withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
                $0.pointee.sin_family = sa_family_t(AF_INET)
                $0.pointee.sin_addr.s_addr = inet_addr("127.0.0.1")
            } }
        }
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p -> Bool in
                bind(fd, p, length) == 0 && getsockname(fd, p, &length) == 0
            }
        }
        guard fd >= 0, bound else { throw HarnessError("syslog receiver: \(String(cString: strerror(errno)))") }
        // sin_port and sin6_port are at the same offset.
        port = Int(UInt16(bigEndian: withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port } }))
    }

    init(unixPath: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        path = unixPath
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (i, byte) in unixPath.utf8.prefix(raw.count - 1).enumerated() { raw[i] = byte }
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
        }
        guard fd >= 0, bound else { throw HarnessError("syslog receiver on \(unixPath): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// Up to `count` messages, waiting at most `seconds` in all.
    func receive(count: Int, within seconds: Double) -> [String] {
        var messages: [String] = []
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while messages.count < count {
            let left = deadline.timeIntervalSinceNow
            guard left > 0 else { break }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, Int32(left * 1000) + 1) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { continue }
            var text = String(decoding: buffer[0..<n], as: UTF8.self)
            if text.hasSuffix("\n") { text.removeLast() }
            messages.append(text)
        }
        return messages
    }
}
