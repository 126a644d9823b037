import Foundation
import XCTest

/// Client certificates in both directions and the TLS keywords around them, against real
/// peers on loopback: curl with and without a client certificate on a `bind … verify`, the
/// `ssl_c_*`/`ssl_fc_*` fetches it fills, haproxy 2.6 as a TLS server that requires a client
/// certificate from a SwiftLB `server … ssl crt`, `crt-list` with SNI filters and `strict-sni`
/// read by `openssl s_client`, and broken CA files refused with their line. The PKI (a CA, a
/// server, a client, and a client of another CA) is made per test with the openssl command.
final class TLSClientCertificateTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws {
        dir = try TempDirectory()
        let script = """
            set -e
            cd '\(dir.path)'
            ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
            openssl req -x509 $ec -days 2 -subj "/CN=Test CA" -keyout ca.key -out ca.pem 2>/dev/null
            openssl req -x509 $ec -days 2 -subj "/CN=Other CA" -keyout other.key -out other.pem 2>/dev/null
            mk() {
                openssl req $ec -subj "/O=SwiftLB Test/CN=$2" -keyout $1.key -out $1.csr 2>/dev/null
                printf "subjectAltName=DNS:$2\\n" > $1.ext
                openssl x509 -req -in $1.csr -CA $3.pem -CAkey $3.key -set_serial $4 -days 2 -extfile $1.ext -out $1.crt 2>/dev/null
                cat $1.key $1.crt > $1.pem
            }
            mk server server.test ca 1
            mk client client1 ca 2
            mk stranger stranger other 3
            mk a a.example.test ca 4
            mk b b.example.test ca 5
            """
        let made = runCommand("/bin/bash", ["-c", script])
        XCTAssertEqual(made.status, 0, made.err)
    }
    override func tearDown() { dir = nil }

    private func curl(_ port: Int, _ args: [String]) -> (status: Int32, out: String, err: String) {
        runCommand("/usr/bin/curl", ["-sS", "-k", "-D", "-", "-o", "/dev/null", "--max-time", "5"] + args + ["https://127.0.0.1:\(port)/"])
    }

    private func header(_ name: String, in response: String) -> String? {
        response.split(separator: "\r\n").first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
            .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) }
    }

    /// `verify optional`: a certificate of our CA is verified and read by the fetches; none is
    /// fine; one of another CA fails the handshake unless `crt-ignore-err all` lets it through
    /// with its error kept in `ssl_c_verify`/`ssl_c_err`. `verify required` refuses a client
    /// without a certificate with a TLS alert, and keeps serving.
    func testBindVerifiesClientCertificatesAndTheFetchesReadThem() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (optional, ignoring, required) = (freePort(), freePort(), freePort())
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(optional) ssl crt \(dir.file("server.pem")) ca-file \(dir.file("ca.pem")) verify optional
                bind 127.0.0.1:\(ignoring) ssl crt \(dir.file("server.pem")) ca-file \(dir.file("ca.pem")) verify optional crt-ignore-err all
                bind 127.0.0.1:\(required) ssl crt \(dir.file("server.pem")) ca-file \(dir.file("ca.pem")) verify required ssl-max-ver TLSv1.2
                http-response set-header X-Verify %[ssl_c_verify]
                http-response set-header X-Err %[ssl_c_err]
                http-response set-header X-Used %[ssl_c_used]
                http-response set-header X-DN "%[ssl_c_s_dn]"
                http-response set-header X-Issuer "%[ssl_c_i_dn]"
                http-response set-header X-Serial %[ssl_c_serial,hex]
                http-response set-header X-Proto %[ssl_fc_protocol]
                http-response set-header X-Front "%[ssl_f_s_dn]"
                http-response set-header X-Has-Crt %[ssl_fc_has_crt]
                acl good_cert ssl_c_verify 0
                acl with_cert ssl_c_used
                http-response set-header X-Good yes if good_cert with_cert
                default_backend app
            backend app
                server s 127.0.0.1:\(nginx.ports[0])
            """, waitPort: required, in: dir)
        defer { lb.stop() }
        let client = ["--cert", dir.file("client.pem"), "--key", dir.file("client.pem")]

        let withCert = curl(optional, client)
        XCTAssertEqual(withCert.status, 0, withCert.err)
        XCTAssertEqual(header("X-Verify", in: withCert.out), "0")
        XCTAssertEqual(header("X-Used", in: withCert.out), "1")
        XCTAssertEqual(header("X-Has-Crt", in: withCert.out), "1")
        XCTAssertEqual(header("X-DN", in: withCert.out), "/O=SwiftLB Test/CN=client1")
        XCTAssertEqual(header("X-Issuer", in: withCert.out), "/CN=Test CA")
        XCTAssertEqual(header("X-Serial", in: withCert.out), "02")
        XCTAssertEqual(header("X-Front", in: withCert.out), "/O=SwiftLB Test/CN=server.test")
        XCTAssertEqual(header("X-Good", in: withCert.out), "yes")

        let without = curl(optional, [])
        XCTAssertEqual(without.status, 0, without.err)
        XCTAssertEqual(header("X-Used", in: without.out), "0")
        XCTAssertNil(header("X-Good", in: without.out))
        XCTAssertEqual(header("X-DN", in: without.out), "", "no certificate: the fetch has no value")

        let stranger = ["--cert", dir.file("stranger.pem"), "--key", dir.file("stranger.pem")]
        XCTAssertNotEqual(curl(optional, stranger).status, 0, "a certificate of another CA fails the handshake")
        let ignored = curl(ignoring, stranger)
        XCTAssertEqual(ignored.status, 0, ignored.err)
        XCTAssertEqual(header("X-Verify", in: ignored.out), "21", "X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, let through")
        XCTAssertEqual(header("X-Err", in: ignored.out), "20", "the first error met: X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY")
        XCTAssertEqual(header("X-Used", in: ignored.out), "1")
        XCTAssertNil(header("X-Good", in: ignored.out))

        let refused = curl(required, [])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.err.contains("alert handshake failure") || refused.err.contains("alert"), refused.err)
        let accepted = curl(required, client)
        XCTAssertEqual(accepted.status, 0, accepted.err)
        XCTAssertEqual(header("X-Proto", in: accepted.out), "TLSv1.2", "ssl-max-ver TLSv1.2")
        XCTAssertEqual(header("X-DN", in: accepted.out), "/O=SwiftLB Test/CN=client1")
    }

    /// haproxy 2.6 requires a client certificate (`bind … ssl verify required ca-file`) and
    /// answers with what it saw: SwiftLB's `server … ssl crt client.pem verify required
    /// ca-file ca.pem sni str(server.test)` gets through, with the versions it was told to
    /// use; without `crt` haproxy refuses the handshake and SwiftLB answers 503; a `ca-file`
    /// that does not hold the server's CA fails verification (503 too).
    func testServerPresentsItsClientCertificateToHAProxy() throws {
        let haproxyPort = freePort()
        let haproxy = try startHAProxy("""
            global
                log stdout format raw local0
            \(haproxyDefaults)
            frontend tls
                bind 127.0.0.1:\(haproxyPort) ssl crt \(dir.file("server.pem")) ca-file \(dir.file("ca.pem")) verify required
                http-request return status 200 content-type text/plain hdr X-DN "%[ssl_c_s_dn]" hdr X-SNI "%[ssl_fc_sni]" hdr X-Proto "%[ssl_fc_protocol]" hdr X-Reused "%[ssl_fc_is_resumed]"
            """, port: haproxyPort, in: dir)
        defer { haproxy.stop() }
        let port = freePort()
        let server = "server s 127.0.0.1:\(haproxyPort) ssl"
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend nocert if { path /nocert }
                use_backend wrongca if { path /wrongca }
                use_backend tls12 if { path /tls12 }
                default_backend app
            backend app
                default-server ssl crt \(dir.file("client.pem")) ca-file \(dir.file("ca.pem")) verify required
                \(server) sni str(server.test)
            backend tls12
                \(server) crt \(dir.file("client.pem")) verify none force-tlsv12 no-ssl-reuse
            backend nocert
                \(server) verify none force-tlsv12
            backend wrongca
                \(server) crt \(dir.file("client.pem")) verify required ca-file \(dir.file("other.pem")) sni str(server.test)
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func get(_ path: String) -> (status: Int32, out: String, err: String) {
            runCommand("/usr/bin/curl", ["-sS", "-D", "-", "-o", "/dev/null", "--max-time", "5", "http://127.0.0.1:\(port)\(path)"])
        }
        let ok = get("/")
        XCTAssertTrue(ok.out.hasPrefix("HTTP/1.1 200"), ok.out + ok.err)
        XCTAssertEqual(header("X-DN", in: ok.out), "/O=SwiftLB Test/CN=client1")
        XCTAssertEqual(header("X-SNI", in: ok.out), "server.test")
        XCTAssertEqual(header("X-Proto", in: ok.out), "TLSv1.3")
        let old = get("/tls12")
        XCTAssertTrue(old.out.hasPrefix("HTTP/1.1 200"), old.out + old.err)
        XCTAssertEqual(header("X-Proto", in: old.out), "TLSv1.2")
        let again = get("/tls12")
        XCTAssertEqual(header("X-Reused", in: again.out), "0", "no-ssl-reuse: a full handshake every time")
        let nocert = get("/nocert").out
        XCTAssertTrue(nocert.hasPrefix("HTTP/1.1 503"), "haproxy refuses a client without a certificate: \(nocert)")
        let wrongCA = get("/wrongca").out
        XCTAssertTrue(wrongCA.hasPrefix("HTTP/1.1 503"), "the server's certificate is not of other.pem's CA: \(wrongCA)")
        XCTAssertTrue(get("/").out.hasPrefix("HTTP/1.1 200"), "still serving")
    }

    /// `crt-list` entries with SNI filters (exact, wildcard, `!`exclusion) and their own
    /// options, under `strict-sni`: names no entry has, and clients sending none, are refused
    /// with the unrecognized_name alert.
    func testCrtListFiltersAndStrictSNI() throws {
        let list = try dir.write("certs.list", """
            # comment line

            \(dir.file("a.pem")) [alpn http/1.1 ssl-min-ver TLSv1.3] a.example.test
            b.pem *.b.example.test !bad.b.example.test   # relative to crt-base
            """)
        let port = freePort()
        let lb = try SwiftLBInstance(config: "global\n    crt-base \(dir.path)\n" + testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port) ssl strict-sni crt-list \(list)
                http-request return status 200 content-type text/plain hdr X-SNI %[ssl_fc_sni]
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func sClient(_ args: String) -> String {
            runCommand("/bin/sh", ["-c", "sleep 0.3 | openssl s_client -connect 127.0.0.1:\(port) -alpn h2,http/1.1 \(args) 2>&1"]).out
        }
        let a = sClient("-servername a.example.test")
        XCTAssertTrue(a.contains("CN = a.example.test"), a)
        XCTAssertTrue(a.contains("ALPN protocol: http/1.1"), "the entry's own alpn")
        XCTAssertTrue(a.contains("TLSv1.3"), a)
        XCTAssertTrue(sClient("-servername a.example.test -tls1_2").contains("alert protocol version"), "the entry's ssl-min-ver TLSv1.3")
        let b = sClient("-servername x.b.example.test")
        XCTAssertTrue(b.contains("CN = b.example.test"), b)
        XCTAssertTrue(b.contains("No ALPN negotiated"), b)
        XCTAssertTrue(sClient("-servername bad.b.example.test").contains("unrecognized name"), "excluded by !bad.b.example.test")
        XCTAssertTrue(sClient("-servername c.example.test").contains("unrecognized name"))
        XCTAssertTrue(sClient("-noservername").contains("unrecognized name"))
        let curl = runCommand("/usr/bin/curl", ["-sS", "-k", "-D", "-", "-o", "/dev/null", "--max-time", "5",
                                                "--resolve", "y.b.example.test:\(port):127.0.0.1", "https://y.b.example.test:\(port)/"])
        XCTAssertEqual(header("X-SNI", in: curl.out), "y.b.example.test", curl.err)
    }

    /// In `mode tcp` the session's TLS facts route too: `use_backend … if { ssl_fc_sni … }` and a
    /// client certificate's subject in `tcp-request content` rules, after termination.
    func testTCPModeRoutesOnTLSFetches() throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                mode tcp
                bind 127.0.0.1:\(port) ssl crt \(dir.file("a.pem")) crt \(dir.file("b.pem")) ca-file \(dir.file("ca.pem")) verify optional crt-ignore-err all
                tcp-request content reject if { ssl_c_s_dn -m sub CN=stranger }
                use_backend second if { ssl_fc_sni b.example.test }
                default_backend first
            backend first
                mode tcp
                server s 127.0.0.1:\(nginx.ports[0])
            backend second
                mode tcp
                server s 127.0.0.1:\(nginx.ports[1])
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func get(_ name: String, _ extra: [String] = []) -> (status: Int32, out: String, err: String) {
            runCommand("/usr/bin/curl", ["-sS", "-k", "--max-time", "5", "--resolve", "\(name):\(port):127.0.0.1"] + extra + ["https://\(name):\(port)/"])
        }
        XCTAssertEqual(get("a.example.test").out, "node1\n")
        XCTAssertEqual(get("b.example.test").out, "node2\n")
        let client = ["--cert", dir.file("client.pem"), "--key", dir.file("client.pem")]
        XCTAssertEqual(get("b.example.test", client).out, "node2\n")
        let stranger = get("b.example.test", ["--cert", dir.file("stranger.pem"), "--key", dir.file("stranger.pem")])
        XCTAssertEqual(stranger.out, "", "let through the handshake by crt-ignore-err, rejected by its subject")
        XCTAssertNotEqual(stranger.status, 0)
    }

    /// A CA file, CRL file or client certificate that is missing or not PEM is a configuration
    /// error naming lb.conf's line, the keyword and the file.
    func testBrokenCAAndCertificateFilesAreConfigurationErrors() throws {
        let notPEM = try dir.write("not.pem", "hello\n")
        let cases: [(String, String)] = [
            ("bind 127.0.0.1:\(freePort()) ssl crt \(dir.file("server.pem")) ca-file \(dir.file("missing.pem")) verify required",
             "ca-file \(dir.file("missing.pem")): cannot read"),
            ("bind 127.0.0.1:\(freePort()) ssl crt \(dir.file("server.pem")) ca-file \(notPEM) verify optional",
             "ca-file \(notPEM): not a PEM file"),
            ("bind 127.0.0.1:\(freePort()) ssl crt \(dir.file("server.pem")) ca-file \(dir.file("ca.pem")) verify optional crl-file \(notPEM)",
             "crl-file \(notPEM): not a PEM file"),
        ]
        for (line, message) in cases {
            let path = try dir.write("lb.conf", "frontend fe\n    \(line)\n    default_backend app\nbackend app\n    server s1 127.0.0.1:1\n")
            let check = runCommand(Paths.swiftlb, ["check", "-c", path])
            XCTAssertEqual(check.status, 1, check.out)
            XCTAssertTrue(check.err.contains("[\(path):2] : 'bind' : "), check.err)
            XCTAssertTrue(check.err.contains(message), check.err)
        }
        let path = try dir.write("lb.conf", "frontend fe\n    bind 127.0.0.1:\(freePort())\n    default_backend app\nbackend app\n    server s1 127.0.0.1:1 ssl verify none crt \(notPEM)\n")
        let check = runCommand(Paths.swiftlb, ["check", "-c", path])
        XCTAssertEqual(check.status, 1, check.out)
        XCTAssertTrue(check.err.contains("[\(path):5] : 'server' : crt \(notPEM): no certificate found"), check.err)
    }
}
