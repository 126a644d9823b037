import Foundation
import XCTest

/// `option httpslog` on a TLS bind, beside HAProxy 2.6: its TLS fields (`ssl_c_err`,
/// `ssl_c_ca_err`, `ssl_fc_is_resumed`, `ssl_fc_sni`) are read from the client connection's
/// TLS side when the line is written (they logged '-' and 0).
final class HTTPSLogTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testHTTPSLogTLSFieldsAsInHAProxy() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let pem = dir.file("a.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["a.example.test", pem, "ec"]).status, 0)
        let pair = try AccessLogTests.Pair(backend: nginx.ports[0], in: dir) { http, tcp, backend, syslog in
            AccessLogTests.httpAndTCPFrontends(http: http, tcp: tcp, backend: backend, syslog: syslog, bind: "ssl crt \(pem)",
                                               httpLines: "    log global\n    option httpslog")
        }
        defer { pair.stop() }
        var fields: [[String]] = []
        for (port, syslog) in [(pair.ports.hhttp, pair.hsyslog), (pair.ports.shttp, pair.ssyslog)] {
            let out = curl(["-sk", "-o", "/dev/null", "-w", "%{http_code}", "--resolve", "a.example.test:\(port):127.0.0.1",
                            "https://a.example.test:\(port)/"]).out
            XCTAssertEqual(out, "200", "port \(port)")
            let line = syslog.receive(count: 1, within: 5).first ?? ""
            // …"GET / HTTP/1.1" FC_ERR/SSL_FC_ERR/C_ERR/CA_ERR/RESUMED SNI/VERSION/CIPHER
            let tail = line.split(separator: " ").suffix(2).flatMap { $0.split(separator: "/", omittingEmptySubsequences: false) }.map(String.init)
            XCTAssertEqual(tail.count, 8, "port \(port): \(line)")
            fields.append(Array(tail.dropFirst(2).prefix(4)))
        }
        XCTAssertEqual(fields.last, fields.first, "SwiftLB's ssl_c_err/ssl_c_ca_err/ssl_fc_is_resumed/ssl_fc_sni, then HAProxy's")
        XCTAssertEqual(fields.first?.last, "a.example.test")
    }
}

extension AccessLogTests {
    /// An HTTP frontend `fe` (its `bind` with `bind`, then `httpLines`) and a TCP one `ft`, each
    /// with its own backend on `backend`, logging to `syslog`: what `Pair` needs.
    static func httpAndTCPFrontends(http: Int, tcp: Int, backend: Int, syslog: Int, bind: String = "", httpLines: String) -> String {
        """
        global
            log 127.0.0.1:\(syslog) local0
        defaults
            timeout connect 2s
            timeout client 5s
            timeout server 5s
        frontend fe
            mode http
            bind 127.0.0.1:\(http) \(bind)
        \(httpLines)
            default_backend be
        frontend ft
            mode tcp
            bind 127.0.0.1:\(tcp)
            default_backend bt
        backend be
            mode http
            server s1 127.0.0.1:\(backend)
        backend bt
            mode tcp
            server s1 127.0.0.1:\(backend)

        """
    }
}
