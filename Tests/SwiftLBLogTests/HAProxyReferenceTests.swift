import Foundation
@testable import SwiftLBLog
import SwiftLBTestSupport
import XCTest

/// HAProxy 2.6 itself as the reference: a real haproxy on loopback, logging to a UDP syslog
/// receiver (format rfc3164) and a unix datagram one (no format: HAProxy's default), proxies a
/// 200, 502, 503, 504, a WebSocket upgrade, a TLS request, a refused request, a request timeout,
/// TCP sessions, and the custom formats. Each line haproxy sent is read back into a LogRecord
/// and rendered by SwiftLB: header and message must be the same bytes.
final class HAProxyReferenceTests: XCTestCase {
    override class func setUp() {
        TestEnvironment.set("TZ", "UTC")  // and haproxy gets it: both sides write UTC dates
    }

    static let flagsFormat = #"%{+Q}o ci=%ci cp=%cp f=%f ft=%ft b=%b s=%s r=%r HM=%HM HU=%HU CC=%CC ID=%ID sslv=%sslv ST=%ST B=%B %{-Q}o f2=%f %{+X}o ci=%ci cp=%cp fi=%fi fp=%fp Ts=%Ts rt=%rt pid=%pid ms=%ms %{-X}o %{+E}o r=%r %{+Q,+E}r %{-M}o CC=%CC ID=%ID %{+M,+Q}ID lit%%pct   sp"#
    static let captureFormat = "hr=%hr hrl=%hrl hs=%hs hsl=%hsl %{+Q}hr %{+Q}hrl CC=%CC CS=%CS tsc=%tsc r=%r"
    static let tcpFormat = "tcp ci=%ci B=%B U=%U ts=%ts tsc=%tsc Tt=%Tt Td=%Td Tu=%Tu Tw=%Tw Tc=%Tc Th=%Th ST=%ST rt=%rt"

    func testSwiftLBRendersWhatHAProxySends() throws {
        for tool in ["/usr/sbin/haproxy", "/usr/bin/python3", "/usr/bin/curl", "/usr/bin/openssl"] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw XCTSkip("\(tool) is missing (scripts/lib/deps.sh installs it with the test dependencies)")
        }
        let dir = try ScratchDirectory()
        let udp = try DatagramReceiver()
        let unix = try DatagramReceiver(unixPath: dir.file("dev-log"))
        let cert = dir.file("site.pem")
        let made = runTool("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                                           "-keyout", dir.file("key.pem"), "-out", dir.file("crt.pem")])
        XCTAssertEqual(made.status, 0, made.err)
        try dir.write("site.pem", try String(contentsOfFile: dir.file("crt.pem"), encoding: .utf8) + String(contentsOfFile: dir.file("key.pem"), encoding: .utf8))

        let be = freeTCPPort()
        let p = (0..<10).map { _ in freeTCPPort() }
        let backend = try Child("/usr/bin/python3", [Fixtures.directory + "/log_backend.py", "\(be)"], output: dir.file("backend.out"))
        defer { backend.stop() }
        XCTAssertTrue(waitForListener(be))
        let config = """
            global
                log 127.0.0.1:\(udp.port) format rfc3164 local1
                log \(dir.file("dev-log")) local0
            defaults
                mode http
                log global
                option dontlognull
                timeout connect 1s
                timeout client 5s
                timeout server 500ms
                timeout http-request 300ms
            frontend fe
                option httplog
                bind 127.0.0.1:\(p[0])
                bind 127.0.0.1:\(p[1]) ssl crt \(cert)
                use_backend nosrv if { path_beg /nosrv }
                default_backend be
            frontend feclf
                option httplog clf
                bind 127.0.0.1:\(p[2])
                bind 127.0.0.1:\(p[9]) ssl crt \(cert)
                use_backend nosrv if { path_beg /nosrv }
                default_backend be
            frontend fetcp
                mode tcp
                option tcplog
                bind 127.0.0.1:\(p[3])
                default_backend betcp
            frontend feall
                bind 127.0.0.1:\(p[4])
                bind 127.0.0.1:\(p[5]) ssl crt \(cert)
                log-format "\(LogFormatRenderTests.everyVariableFormat)"
                default_backend be
            frontend feflags
                bind 127.0.0.1:\(p[6])
                log-format "\(Self.flagsFormat)"
                capture cookie SESS len 20
                default_backend be
            frontend fecap
                bind 127.0.0.1:\(p[7])
                log-format "\(Self.captureFormat)"
                capture request header Host len 20
                capture request header X-Weird len 20
                capture response header Content-Length len 5
                capture cookie SESS len 20
                default_backend beck
            frontend fetcpall
                mode tcp
                bind 127.0.0.1:\(p[8])
                log-format "\(Self.tcpFormat)"
                default_backend betcp
            backend be
                server s1 127.0.0.1:\(be)
            backend beck
                cookie SRV insert indirect
                server s1 127.0.0.1:\(be) cookie s1
            backend nosrv
            backend betcp
                mode tcp
                server s1 127.0.0.1:\(be)
            """
        let cfg = try dir.write("haproxy.cfg", config + "\n")
        let check = runTool("/usr/sbin/haproxy", ["-c", "-f", cfg])
        guard check.status == 0 else { throw TestError("haproxy -c refuses the configuration: \(check.out)\(check.err)") }
        let haproxy = try Child("/usr/sbin/haproxy", ["-db", "-f", cfg], output: dir.file("haproxy.out"), environment: ["TZ": "UTC"])
        defer { haproxy.stop() }
        for port in p where ![p[1], p[5], p[9]].contains(port) { XCTAssertTrue(waitForListener(port), "haproxy on \(port)") }
        udp.startCollecting()
        unix.startCollecting()

        // The traffic: 25 streams.
        let ws = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        for path in ["/ok", "/bad", "/nosrv", "/slow"] { _ = curl(["http://127.0.0.1:\(p[0])\(path)"]) }
        XCTAssertTrue(tcpExchange(port: p[0], [ws, "ping1234"]).hasSuffix("ping1234"))
        _ = tcpExchange(port: p[0], ["BLAH\r\n\r\n"])
        _ = tcpExchange(port: p[0], ["GET /ok HTTP/1.1\r\nHost: x\r\n\r\nGET /ok HTTP/1.1\r\nHost: x\r\n\r\n"], pause: 0.3)
        XCTAssertEqual(curl(["-k", "https://127.0.0.1:\(p[1])/ok?x=1"]), "200")
        // The same ways to end through `option httplog clf`.
        for path in ["/ok", "/bad", "/nosrv", "/slow"] { _ = curl(["http://127.0.0.1:\(p[2])\(path)"]) }
        XCTAssertTrue(tcpExchange(port: p[2], [ws, "ping1234"]).hasSuffix("ping1234"))
        XCTAssertEqual(curl(["-k", "https://127.0.0.1:\(p[9])/ok?x=1"]), "200")
        _ = tcpExchange(port: p[3], ["GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"])
        _ = curl(["http://127.0.0.1:\(p[4])/ok?a=b"])
        _ = tcpExchange(port: p[4], ["GET http://localhost/r/4?q=4 HTTP/1.0\r\nHost: localhost\r\n\r\n"])
        _ = curl(["-k", "https://127.0.0.1:\(p[5])/ok?x=1"])
        _ = tcpExchange(port: p[4], ["GET /ok HT"], pause: 0.7)  // 408 after timeout http-request
        _ = curl(["-A", #"Mozilla/5.0 "q""#, "-b", #"SESS=abc"d; other=1"#, #"http://127.0.0.1:\#(p[6])/ok?q="a"]"#])
        _ = curl(["http://127.0.0.1:\(p[6])/ok"])
        _ = curl(["-H", "X-Weird: a|b{c}#d", "-b", "SRV=s1; SESS=zz", "http://127.0.0.1:\(p[7])/ok"])
        _ = curl(["http://127.0.0.1:\(p[7])/ok"])
        _ = tcpExchange(port: p[8], ["GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"])

        let datagrams = udp.collected(count: 25)
        XCTAssertEqual(datagrams.count, 25, datagrams.joined())
        let local = unix.collected(count: 25)
        XCTAssertEqual(local.count, 25)

        if ProcessInfo.processInfo.environment["SWIFTLB_LOG_DUMP"] != nil { print(datagrams.joined()) }
        var seen: [String: Int] = [:]
        for datagram in datagrams {
            let (header, message) = HAProxyLines.split(datagram)
            XCTAssertTrue(datagram.hasSuffix("\n"))
            assertHeader(header, format: .rfc3164, facility: SyslogFacility(name: "local1")!, pid: haproxy.pid)
            let kind = compare(message, ports: p, haproxyPID: haproxy.pid)
            seen[kind, default: 0] += 1
        }
        XCTAssertEqual(seen, ["httplog": 9, "clf": 6, "tcplog": 1, "every variable": 4, "flags": 2, "captures": 2, "tcp variables": 1])
        for datagram in local {
            assertHeader(HAProxyLines.split(datagram).header, format: .unspecified, facility: .local0, pid: haproxy.pid)
        }
        XCTAssertEqual(Set(local.map { HAProxyLines.split($0).message }), Set(datagrams.map { HAProxyLines.split($0).message }))
    }

    /// Our header for the same pid, tag and second: the second is read from haproxy's header.
    private func assertHeader(_ header: String, format: SyslogFormat, facility: SyslogFacility, pid: Int32, file: StaticString = #filePath, line: UInt = #line) {
        guard let close = header.firstIndex(of: ">") else { return XCTFail("no <PRI> in \(header)", file: file, line: line) }
        let stamp = header[header.index(after: close)...].prefix(15)  // "Nov 29 23:14:36"
        var now = tm()
        var t = time(nil)
        gmtime_r(&t, &now)
        let second = HAProxyLines.date("\(stamp.split(separator: " ", omittingEmptySubsequences: true)[1])/\(stamp.prefix(3))/\(now.tm_year + 1900):\(stamp.suffix(8))"[...]).seconds
        var ours = LogBuffer()
        SyslogHeader.write(format, level: .info, facility: facility, identity: SyslogIdentity(tag: "haproxy", pid: pid),
                           now: LogTimestamp(seconds: second, microseconds: 0), into: &ours)
        XCTAssertEqual(ours.string, header, file: file, line: line)
    }

    /// Renders haproxy's values with SwiftLB's format for that frontend; returns the kind.
    private func compare(_ message: String, ports p: [Int], haproxyPID: Int32, file: StaticString = #filePath, line: UInt = #line) -> String {
        func check(_ format: LogFormat, _ record: LogRecord, _ kind: String, pidFix: (String) -> String = { $0 }) -> String {
            XCTAssertEqual(pidFix(format.string(record)), message, kind, file: file, line: line)
            return kind
        }
        if message.hasPrefix("B=") {
            let kv = HAProxyLines.keyValues(message)
            let ours = String(getpid())
            return check(try! LogFormat.parse(LogFormatRenderTests.everyVariableFormat), record(kv), "every variable") {
                $0.replacingOccurrences(of: " pid=\(ours) ", with: " pid=\(haproxyPID) ")
            }
        }
        if message.hasPrefix("tcp ci=") {
            return check(try! LogFormat.parse(Self.tcpFormat, mode: .tcp), record(HAProxyLines.keyValues(message)), "tcp variables")
        }
        if message.hasPrefix("ci=\"") {
            return check(try! LogFormat.parse(Self.flagsFormat), flagsRecord(message, port: p[6]), "flags") {
                let hex = { (n: Int32) in String(format: "%04X", n) }
                return $0.replacingOccurrences(of: " pid=\(hex(getpid())) ", with: " pid=\(hex(haproxyPID)) ")
            }
        }
        if message.hasPrefix("hr=") {
            return check(try! LogFormat.parse(Self.captureFormat), captureRecord(message, port: p[7]), "captures")
        }
        if message.contains(" - - [") {
            return check(.clf, HAProxyLines.clf(message), "clf")
        }
        if message.contains(" fetcp ") {
            return check(.tcplog, HAProxyLines.tcplog(message), "tcplog")
        }
        return check(.httplog, HAProxyLines.httplog(message), "httplog")
    }

    /// The record behind an every-variable line (the derived values are left to the renderer).
    private func record(_ kv: [String: Substring]) -> LogRecord {
        func int(_ k: String) -> Int { Int(kv[k]!)! }
        func text(_ k: String) -> String? { kv[k].flatMap { $0 == "-" ? nil : String($0) } }
        func address(_ ip: String, _ port: String) -> LogAddress { HAProxyLines.address(kv[ip]!, kv[port]!) }
        var r = LogRecord()
        r.bytesOut = Int64(int("B")); r.bytesIn = Int64(int("U"))
        r.requestCounter = int("rt")
        r.client = kv["cp"] == nil ? HAProxyLines.address(kv["ci"]!) : address("ci", "cp")
        (r.termination, r.cookie) = HAProxyLines.termination(kv["tsc"]!)
        if kv["Tt"] != nil && kv["Ta"] == nil {  // TCP
            r.setTCPTimers(Tw: int("Tw"), Tc: int("Tc"), Tt: int("Tt"), Th: int("Th"))
            return r
        }
        r.status = int("ST")
        r.requestCookie = text("CC"); r.responseCookie = text("CS"); r.uniqueID = text("ID")
        r.acceptDate = HAProxyLines.date(kv["t"]!)
        r.setHTTPTimers(TR: int("TR"), Tw: int("Tw"), Tc: int("Tc"), Tr: int("Tr"), Ta: int("Ta"), Th: int("Th"), Ti: int("Ti"))
        r.activeConnections = int("ac"); r.frontendConnections = int("fc"); r.backendConnections = int("bc"); r.serverConnections = int("sc")
        r.retries = int("rc"); r.serverQueue = int("sq"); r.backendQueue = int("bq"); r.logCounter = int("lc")
        r.frontend = String(kv["f"]!); r.frontendIsTLS = kv["ft"]!.hasSuffix("~")
        r.backend = String(kv["b"]!); r.server = String(kv["s"]!)
        r.backendSource = address("bi", "bp"); r.frontendAddress = address("fi", "fp"); r.serverAddress = address("si", "sp")
        r.sslCipher = text("sslc"); r.sslVersion = text("sslv")
        if kv["r"] != "<BADREQ>" { r.setRequestLine(String(kv["r"]!)) }
        return r
    }

    private func flagsRecord(_ message: String, port: Int) -> LogRecord {
        func value(_ key: String) -> Substring {
            let r = message.range(of: " \(key)=")!
            return message[r.upperBound...].prefix(while: { $0 != " " })
        }
        var r = LogRecord()
        r.client = .ipv4(127, 0, 0, 1, port: UInt16(value("cp"))!)
        r.frontendAddress = .ipv4(127, 0, 0, 1, port: UInt16(port))
        r.frontend = "feflags"; r.backend = "be"; r.server = "s1"
        r.status = Int(value("ST"))!; r.bytesOut = Int64(value("B"))!
        r.requestCounter = Int(message.components(separatedBy: " rt=")[1].prefix(4), radix: 16)!
        let ms = Int(message.components(separatedBy: " ms=")[1].prefix(while: { $0 != " " }), radix: 16)!
        r.acceptDate = LogTimestamp(seconds: Int(value("Ts"), radix: 16)!, microseconds: ms * 1000)
        if message.contains("q=#22a#22") {
            r.setRequestLine(#"GET /ok?q="a"] HTTP/1.1"#)
            r.requestCookie = #"SESS=abc"d; other=1"#
        } else {
            r.setRequestLine("GET /ok HTTP/1.1")
        }
        return r
    }

    private func captureRecord(_ message: String, port: Int) -> LogRecord {
        var r = LogRecord()
        let weird = message.contains("a#7Cb")
        r.requestHeaders = ["127.0.0.1:\(port)", weird ? "a|b{c}#d" : nil]
        r.responseHeaders = ["5"]
        r.requestCookie = weird ? "SESS=zz" : nil
        (r.termination, r.cookie) = HAProxyLines.termination(message.components(separatedBy: " tsc=")[1].prefix(4))
        r.setRequestLine("GET /ok HTTP/1.1")
        return r
    }
}
