import Foundation
import SwiftLBLog
import SwiftLBTestSupport
import XCTest

/// Every predefined format and every variable rendered against lines haproxy 2.6.12 itself
/// wrote (captured once on this machine, TZ=UTC, with the configuration in
/// docs/logging.md §"Reference capture"); `HAProxyReferenceTests` does the same live.
final class LogFormatRenderTests: XCTestCase {
    override class func setUp() {
        TestEnvironment.set("TZ", "UTC")
    }

    // MARK: option httplog, one line per way a request ends

    static let httplogLines = [
        // 200
        #"127.0.0.1:35716 [29/Nov/2026:22:59:14.681] fe be/s1 0/0/0/0/0 200 54 - - ---- 1/1/0/0/0 0/0 "GET /ok HTTP/1.1""#,
        // 502: the server's response could not be parsed
        #"127.0.0.1:35718 [29/Nov/2026:22:59:14.689] fe be/s1 0/0/0/-1/0 502 209 - - PH-- 1/1/0/0/0 0/0 "GET /bad HTTP/1.1""#,
        // 503: a backend without a server
        #"127.0.0.1:35732 [29/Nov/2026:22:59:14.696] fe nosrv/<NOSRV> 0/-1/-1/-1/0 503 217 - - SC-- 1/1/0/0/0 0/0 "GET /nosrv HTTP/1.1""#,
        // 504: timeout server
        #"127.0.0.1:35748 [29/Nov/2026:22:59:14.704] fe be/s1 0/0/0/-1/501 504 198 - - sH-- 1/1/0/0/0 0/0 "GET /slow HTTP/1.1""#,
        // a TLS frontend: the ~
        #"127.0.0.1:58780 [29/Nov/2026:22:59:15.233] fe~ be/s1 0/0/0/1/1 200 54 - - ---- 1/1/0/0/0 0/0 "GET /ok?x=1 HTTP/1.1""#,
        // a WebSocket upgrade: Ta covers the tunnel, B its bytes
        #"127.0.0.1:35782 [29/Nov/2026:22:59:15.339] fe be/s1 0/0/0/0/301 101 140 - - ---- 2/1/0/0/0 0/0 "GET /ws HTTP/1.1""#,
        // a request HAProxy refused, and one the client abandoned
        #"127.0.0.1:55924 [29/Nov/2026:22:56:39.426] fe fe/<NOSRV> -1/-1/-1/-1/0 400 0 - - PR-- 1/1/0/0/0 0/0 "<BADREQ>""#,
        #"127.0.0.1:55952 [29/Nov/2026:22:56:40.634] fe fe/<NOSRV> -1/-1/-1/-1/0 400 0 - - CR-- 1/1/0/0/0 0/0 "<BADREQ>""#,
    ]

    func testHTTPLogLinesAreHAProxys() {
        for line in Self.httplogLines {
            XCTAssertEqual(LogFormat.httplog.string(HAProxyLines.httplog(line)), line)
        }
    }

    /// The same 200 built field by field, as the data path will build it.
    func testHTTPLogFromARecordBuiltByHand() {
        var r = LogRecord()
        r.client = .ipv4(127, 0, 0, 1, port: 35716)
        r.acceptDate = HAProxyLines.date("29/Nov/2026:22:59:14.681")
        r.frontend = "fe"
        r.backend = "be"
        r.server = "s1"
        r.handshake = 0; r.idle = 0
        r.requestDoneAt = 0; r.queueDoneAt = 0; r.connectedAt = 0; r.responseHeadersAt = 0; r.closedAt = 0
        r.status = 200
        r.bytesOut = 54
        r.activeConnections = 1; r.frontendConnections = 1
        r.setRequestLine("GET /ok HTTP/1.1")
        XCTAssertEqual(LogFormat.httplog.string(r), Self.httplogLines[0])

        r.frontendIsTLS = true
        r.loggedEarly = true
        r.redispatched = true; r.retries = 2
        r.cookie = CookieState(.none, .inserted)
        r.termination = Termination(.serverTimeout, .data)
        XCTAssertEqual(LogFormat.httplog.string(r),
                       #"127.0.0.1:35716 [29/Nov/2026:22:59:14.681] fe~ be/s1 0/0/0/0/+0 200 +54 - - sDNI 1/1/0/0/+2 0/0 "GET /ok HTTP/1.1""#)
    }

    func testTCPLogIsHAProxys() {
        let line = "127.0.0.1:42598 [29/Nov/2026:22:59:15.640] fetcp betcp/s1 1/0/205 62 -- 1/1/0/0/0 0/0"
        XCTAssertEqual(LogFormat.tcplog.string(HAProxyLines.tcplog(line)), line)
    }

    func testCLFIsHAProxys() {
        let line = #"127.0.0.1 - - [29/Nov/2026:22:56:39 +0000] "GET /ok HTTP/1.1" 200 54 "" "" 55240 928 "feclf" "be" "s1" 0 0 0 4 4 ---- 1 1 0 0 0 0 0 "" "" "#
        XCTAssertEqual(LogFormat.clf.string(HAProxyLines.clf(line)), line)
    }

    // MARK: every variable

    /// A format naming every 2.6 variable, and what haproxy printed for a plain 200 with a query.
    static let everyVariableFormat = "B=%B CC=%CC CS=%CS H=%H HM=%HM HP=%HP HPO=%HPO HQ=%HQ HU=%HU HV=%HV ID=%ID ST=%ST T=%T Ta=%Ta Tc=%Tc Td=%Td Th=%Th Ti=%Ti Tl=%Tl Tq=%Tq TR=%TR Tr=%Tr Ts=%Ts Tt=%Tt Tu=%Tu Tw=%Tw U=%U ac=%ac b=%b bc=%bc bi=%bi bp=%bp bq=%bq ci=%ci cp=%cp f=%f fc=%fc fi=%fi fp=%fp ft=%ft lc=%lc hr=%hr hrl=%hrl hs=%hs hsl=%hsl ms=%ms pid=%pid rc=%rc rt=%rt s=%s sc=%sc si=%si sp=%sp sq=%sq sslc=%sslc sslv=%sslv t=%t tr=%tr trg=%trg trl=%trl ts=%ts tsc=%tsc r=%r"

    func testEveryVariableAsHAProxyPrintsIt() throws {
        let format = try LogFormat.parse(Self.everyVariableFormat)
        var r = LogRecord()
        r.bytesOut = 54; r.bytesIn = 88; r.status = 200
        r.acceptDate = HAProxyLines.date("29/Nov/2026:22:57:01.014")
        r.setHTTPTimers(TR: 0, Tw: 0, Tc: 0, Tr: 0, Ta: 0)
        r.activeConnections = 1; r.frontendConnections = 1
        r.frontend = "fe"; r.backend = "be"; r.server = "s1"
        r.backendSource = .ipv4(127, 0, 0, 1, port: 57928)
        r.client = .ipv4(127, 0, 0, 1, port: 51022)
        r.frontendAddress = .ipv4(127, 0, 0, 1, port: 25180)
        r.serverAddress = .ipv4(127, 0, 0, 1, port: 25190)
        r.setRequestLine("GET /ok?a=b HTTP/1.1")
        let expected = "B=54 CC=- CS=- H=\(hostname()) HM=GET HP=/ok HPO=/ok HQ=?a=b HU=/ok?a=b HV=HTTP/1.1 ID=- ST=200 T=29/Nov/2026:22:57:01 +0000 Ta=0 Tc=0 Td=0 Th=0 Ti=0 Tl=29/Nov/2026:22:57:01 +0000 Tq=0 TR=0 Tr=0 Ts=1795993021 Tt=0 Tu=0 Tw=0 U=88 ac=1 b=be bc=0 bi=127.0.0.1 bp=57928 bq=0 ci=127.0.0.1 cp=51022 f=fe fc=1 fi=127.0.0.1 fp=25180 ft=fe lc=0 hr= hrl= hs= hsl= ms=014 pid=\(getpid()) rc=0 rt=0 s=s1 sc=0 si=127.0.0.1 sp=25190 sq=0 sslc=- sslv=- t=29/Nov/2026:22:57:01.014 tr=29/Nov/2026:22:57:01.014 trg=29/Nov/2026:22:57:01 +0000 trl=29/Nov/2026:22:57:01 +0000 ts=-- tsc=---- r=GET /ok?a=b HTTP/1.1"
        XCTAssertEqual(format.string(r), expected)

        // The request HAProxy timed out (408) after 199 ms of idle time, never connected.
        var t = LogRecord()
        t.acceptDate = HAProxyLines.date("29/Nov/2026:22:57:01.350")
        t.idle = 199; t.closedAt = 5201; t.status = 408
        t.frontend = "fe"; t.backend = "fe"
        t.termination = Termination(.clientTimeout, .request)
        let timedOut = format.string(t)
        for part in ["HM=<BADREQ>", "HPO=<BADREQ>", "HQ=<BADREQ>", "HV=<BADREQ>", "Ta=5002", "Tc=-1", "Td=-1", "Ti=199", "Tq=-1",
                     "TR=-1", "Tr=-1", "Tt=5201", "Tu=5002", "Tw=-1", "bi=- bp=-", "s=<NOSRV>", "si=- sp=-", "ci=- cp=-",
                     "t=29/Nov/2026:22:57:01.350 tr=29/Nov/2026:22:57:01.549", "ts=cR tsc=cR--", "r=<BADREQ>"] {
            XCTAssertTrue(timedOut.contains(part), "\(part) not in \(timedOut)")
        }
    }

    func testTLSAndAbsoluteURIAndTCPVariables() throws {
        let format = try LogFormat.parse("ft=%ft sslc=%sslc sslv=%sslv Th=%Th Tq=%Tq Tt=%Tt Tu=%Tu HP=%HP HPO=%HPO HQ=%HQ HU=%HU HV=%HV")
        var r = LogRecord()
        r.frontend = "fe"; r.frontendIsTLS = true
        r.sslCipher = "TLS_AES_256_GCM_SHA384"; r.sslVersion = "TLSv1.3"
        r.setHTTPTimers(TR: 0, Tw: 0, Tc: 0, Tr: 0, Ta: 0, Th: 3)
        r.setRequestLine("GET http://localhost/r/4?q=4 HTTP/1.0")
        XCTAssertEqual(format.string(r), "ft=fe~ sslc=TLS_AES_256_GCM_SHA384 sslv=TLSv1.3 Th=3 Tq=3 Tt=3 Tu=3 HP=http://localhost/r/4 HPO=/r/4 HQ=?q=4 HU=http://localhost/r/4?q=4 HV=HTTP/1.0")

        r.setRequestLine("GET /")
        XCTAssertEqual(try LogFormat.parse("%HV %HM %HU").string(r), "HTTP/0.9 GET /")
        r.setRequestLine("GARBAGE")
        XCTAssertEqual(try LogFormat.parse("%HV %HM %HU %HP %HPO").string(r), "<BADREQ> <BADREQ> <BADREQ> <BADREQ> <BADREQ>")
        r.setRequestLine("CONNECT example.com:443 HTTP/1.1")
        XCTAssertEqual(try LogFormat.parse("[%HPO] %HU").string(r), "[] example.com:443")

        let tcp = try LogFormat.parse("tcp ci=%ci B=%B U=%U ts=%ts tsc=%tsc Tt=%Tt Td=%Td Tu=%Tu Tw=%Tw Tc=%Tc Th=%Th ST=%ST rt=%rt", mode: .tcp)
        var s = LogRecord()
        s.client = .ipv4(127, 0, 0, 1, port: 40000)
        s.bytesOut = 62; s.bytesIn = 29; s.requestCounter = 7
        s.setTCPTimers(Tw: 1, Tc: 0, Tt: 206)
        XCTAssertEqual(tcp.string(s), "tcp ci=127.0.0.1 B=62 U=29 ts=-- tsc=---- Tt=206 Td=206 Tu=206 Tw=1 Tc=0 Th=0 ST=0 rt=7")
    }

    /// The flags, against haproxy's line for the same format (`fe2` of the capture).
    func testFlagsQXEMAndO() throws {
        let format = try LogFormat.parse(#"%{+Q}o ci=%ci cp=%cp f=%f ft=%ft b=%b s=%s r=%r HM=%HM HU=%HU CC=%CC ID=%ID sslv=%sslv ST=%ST B=%B %{-Q}o f2=%f %{+X}o ci=%ci cp=%cp fi=%fi fp=%fp Ts=%Ts rt=%rt pid=%pid ms=%ms %{-X}o %{+E}o r=%r %{+Q,+E}r %{-M}o CC=%CC ID=%ID %{+M,+Q}ID lit%%pct   sp"#)
        var r = LogRecord()
        r.client = .ipv4(127, 0, 0, 1, port: 60468)
        r.frontendAddress = .ipv4(127, 0, 0, 1, port: 25183)
        r.frontend = "fe2"; r.backend = "be"; r.server = "s1"
        r.setRequestLine(#"GET /ok?q="a"] HTTP/1.1"#)
        r.requestCookie = #"SESS=abc"d; other=1"#
        r.status = 200; r.bytesOut = 54
        r.acceptDate = LogTimestamp(seconds: 1_795_993_056, microseconds: 640_000)
        let pid = String(getpid(), radix: 16, uppercase: true)
        let pidHex = String(repeating: "0", count: max(0, 4 - pid.count)) + pid
        XCTAssertEqual(format.string(r), #"ci="127.0.0.1" cp=60468 f="fe2" ft="fe2" b="be" s="s1" r="GET /ok?q=#22a#22] HTTP/1.1" HM="GET" HU="/ok?q=#22a#22]" CC="SESS=abc"d; other=1" ID="" sslv="" ST=200 B=54 f2=fe2 ci=7F000001 cp=EC34 fi=7F000001 fp=625F Ts=6B0CADE0 rt=0000 pid="# + pidHex + #" ms=280 r=GET /ok?q=#22a#22\] HTTP/1.1 "GET /ok?q=#22a#22\] HTTP/1.1" CC=SESS=abc\"d; other=1 ID= "" lit%pct sp"#)
    }

    /// Header captures (`capture request|response header`, `capture cookie`), as fe3 of the capture.
    func testCaptures() throws {
        let format = try LogFormat.parse("hr=%hr hrl=%hrl hs=%hs hsl=%hsl %{+Q}hr %{+Q}hrl CC=%CC CS=%CS tsc=%tsc r=%r")
        var r = LogRecord()
        r.requestHeaders = ["127.0.0.1:25184", "a|b{c}#d"]
        r.responseHeaders = ["5"]
        r.requestCookie = "SESS=zz"
        r.cookie = CookieState(.valid, .none)
        r.setRequestLine("GET /ok HTTP/1.1")
        XCTAssertEqual(format.string(r), #"hr={127.0.0.1:25184|a#7Cb#7Bc#7D#23d} hrl=127.0.0.1:25184 a#7Cb#7Bc#7D#23d hs={5} hsl=5 "{127.0.0.1:25184|a#7Cb#7Bc#7D#23d}" "127.0.0.1:25184" "a#7Cb#7Bc#7D#23d" CC=SESS=zz CS=- tsc=--VN r=GET /ok HTTP/1.1"#)
        r.requestHeaders = ["127.0.0.1:25184", nil]
        r.requestCookie = nil
        r.cookie = CookieState(.none, .inserted)
        XCTAssertEqual(format.string(r), #"hr={127.0.0.1:25184|} hrl=127.0.0.1:25184 - hs={5} hsl=5 "{127.0.0.1:25184|}" "127.0.0.1:25184" "" CC=- CS=- tsc=--NI r=GET /ok HTTP/1.1"#)

        // No capture configured: the fields vanish and the spaces around them stay single.
        r.requestHeaders = nil
        r.responseHeaders = nil
        XCTAssertEqual(try LogFormat.parse("a %hr %hs %{+Q}r").string(r), #"a "GET /ok HTTP/1.1""#)
    }

    func testSampleValuesAndHTTPSLog() throws {
        let format = try LogFormat.parse("%[src] %{+Q}[req.hdr(host)] %[var(txn.x)] %[ssl_fc_sni]")
        XCTAssertEqual(format.sampleExpressions, ["src", "req.hdr(host)", "var(txn.x)", "ssl_fc_sni"])
        var r = LogRecord()
        r.samples = ["10.0.0.1", "example.org", nil]
        XCTAssertEqual(format.string(r), #"10.0.0.1 "example.org" - -"#)

        XCTAssertEqual(LogFormat.httpslog.sampleExpressions, ["fc_err", "ssl_fc_err,hex", "ssl_c_err", "ssl_c_ca_err", "ssl_fc_is_resumed", "ssl_fc_sni"])
        var h = HAProxyLines.httplog(Self.httplogLines[4])
        h.samples = ["0", "0", "0", "0", "0", "1wt.eu"]
        h.sslVersion = "TLSv1.3"; h.sslCipher = "TLS_AES_256_GCM_SHA384"
        XCTAssertEqual(LogFormat.httpslog.string(h), Self.httplogLines[4] + " 0/0/0/0/0 1wt.eu/TLSv1.3/TLS_AES_256_GCM_SHA384")
    }

    func testIPv6AndUnixClients() throws {
        let format = try LogFormat.parse("%ci:%cp %{+X}ci %fi:%fp")
        var r = LogRecord()
        r.client = LogAddress(ip: "2001:db8::1", port: 443)!
        r.frontendAddress = .unix
        r.listenerID = 3
        XCTAssertEqual(format.string(r), "2001:db8::1:443 20010DB8000000000000000000000001 unix:3")
        r.client = LogAddress(ip: "::ffff:192.168.1.2", port: 1)!
        XCTAssertEqual(try LogFormat.parse("%ci").string(r), "::ffff:192.168.1.2")
    }

    // MARK: JSON

    func testJSONIsValidAndCarriesTheFields() throws {
        for line in Self.httplogLines {
            var r = HAProxyLines.httplog(line)
            r.setRequestLine(line.contains("<BADREQ>") ? "GET /\u{1}\"\\ö\u{7f} HTTP/1.1" : "GET /x HTTP/1.1")
            r.requestHeaders = ["a\"b", nil]
            let text = LogFormat.json.string(r)
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], text)
            XCTAssertEqual(object["status"] as? Int, r.status)
            XCTAssertEqual(object["frontend"] as? String, r.frontend)
            XCTAssertEqual(object["Ta"] as? Int, r.Ta)
            XCTAssertEqual(object["termination_state"] as? String, String(LogFormat.httplog.string(r).split(separator: " ")[9]))
            let headers = object["captured_request_headers"] as? [Any]
            XCTAssertEqual(headers?.count, 2)
            XCTAssertEqual(headers?.first as? String, "a\"b")
            XCTAssertTrue(headers?.last is NSNull)
            XCTAssertTrue(object["ssl_version"] is NSNull)
        }
        var tcp = HAProxyLines.tcplog("127.0.0.1:42598 [29/Nov/2026:22:59:15.640] fetcp betcp/s1 1/0/205 62 -- 1/1/0/0/0 0/0")
        tcp.sslVersion = "TLSv1.2"
        let text = LogFormat.jsonTCP.string(tcp)
        XCTAssertEqual(text, #"{"accept_date":"29/Nov/2026:22:59:15.640","client_ip":"127.0.0.1","client_port":42598,"frontend_ip":null,"frontend_port":null,"frontend":"fetcp","backend":"betcp","server":"s1","server_ip":null,"server_port":null,"Th":0,"Tw":1,"Tc":0,"Tt":205,"bytes_read":62,"bytes_uploaded":0,"termination_state":"--","actconn":1,"feconn":1,"beconn":0,"srv_conn":0,"retries":0,"srv_queue":0,"backend_queue":0,"ssl_version":"TLSv1.2","ssl_cipher":null}"#)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(text.utf8)))
    }

    private func hostname() -> String {
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, 255)
        return String(decoding: name.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
