import Foundation
import XCTest
@testable import SwiftLBConfig

/// The TLS keywords of `bind`, `server`/`default-server` and `global`: what they put in the
/// model, the crt-list format, HAProxy's version-range rule, and the errors.
final class TLSKeywordTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("tlskw-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDown() { try? FileManager.default.removeItem(at: dir) }

    private func write(_ name: String, _ text: String) throws -> String {
        let path = dir.appendingPathComponent(name).path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testCrtListLines() throws {
        let entry = try XCTUnwrap(KeywordRegistry.certificateListLine("  site.pem [alpn h2,http/1.1 verify none]  a.test *.b.test !x.b.test # note",
                                                                      crtBase: "/etc/certs", file: "l", line: 3))
        XCTAssertEqual(entry.path, "/etc/certs/site.pem")
        XCTAssertEqual(entry.options, ["alpn", "h2,http/1.1", "verify", "none"])
        XCTAssertEqual(entry.filters, ["a.test", "*.b.test", "!x.b.test"])
        XCTAssertEqual(entry.line, 3)
        XCTAssertNil(try KeywordRegistry.certificateListLine("   # only a comment", crtBase: nil, file: "l", line: 1))
        XCTAssertNil(try KeywordRegistry.certificateListLine("", crtBase: nil, file: "l", line: 1))
        let absolute = try XCTUnwrap(KeywordRegistry.certificateListLine("/abs.pem", crtBase: "/etc/certs", file: "l", line: 1))
        XCTAssertEqual(absolute.path, "/abs.pem")
        XCTAssertEqual(absolute.filters, [])
        XCTAssertThrowsError(try KeywordRegistry.certificateListLine("x.pem [verify none", crtBase: nil, file: "l", line: 1))
    }

    func testCrtListOnABindLineWithEntryOptions() throws {
        let list = try write("site.list", "a.pem [ssl-min-ver TLSv1.3 alpn http/1.1] a.test\n\nb.pem *.b.test\n")
        let config = try parseOrFail("""
            global
                crt-base /certs
            frontend f
                bind :443 ssl strict-sni crt-list \(list) ciphers ECDHE-RSA-AES128-GCM-SHA256 ssl-max-ver TLSv1.3 curves P-256:P-384
                default_backend b
            backend b
                server s 127.0.0.1:80
            """)
        let tls = try XCTUnwrap(config.frontends[0].binds[0].tls)
        XCTAssertTrue(tls.more.strictSNI)
        XCTAssertEqual(tls.more.curves, "P-256:P-384")
        XCTAssertEqual(tls.more.certificateList.map(\.path), ["/certs/a.pem", "/certs/b.pem"])
        XCTAssertEqual(tls.more.certificateList.map(\.line), [1, 3])
        let own = try XCTUnwrap(tls.more.certificateList[0].settings)
        XCTAssertEqual(own.minVersion, "TLSv1.3")
        XCTAssertEqual(own.alpn, ["http/1.1"])
        XCTAssertEqual(own.ciphers, "ECDHE-RSA-AES128-GCM-SHA256", "the bind line's settings, with the entry's options over them")
        XCTAssertNil(tls.more.certificateList[1].settings)
    }

    func testCrtListErrorsNameTheListsLine() throws {
        let list = try write("bad.list", "a.pem a.test\nb.pem [frobnicate] b.test\n")
        let errors = parseErrors("frontend f\n    bind :443 ssl crt-list \(list)\n")
        XCTAssertEqual(errors.first?.line, 2)
        XCTAssertEqual(errors.first?.keyword, "bind")
        XCTAssertTrue(errors.first?.message.contains("'crt-list' \(list):2: unknown crt-list option 'frobnicate'") ?? false, "\(errors)")
        let missing = parseErrors("frontend f\n    bind :443 ssl crt-list /nonexistent.list\n")
        XCTAssertTrue(missing.first?.message.contains("'crt-list': cannot read '/nonexistent.list'") ?? false, "\(missing)")
    }

    func testClientCertificateVerificationOnBinds() throws {
        let config = try parseOrFail("""
            global
                ca-base /ca
            frontend f
                bind :443 ssl crt /x.pem ca-file c.pem verify optional crl-file crl.pem ca-verify-file v.pem crt-ignore-err 10,23 ca-ignore-err all
            """)
        let tls = try XCTUnwrap(config.frontends[0].binds[0].tls)
        XCTAssertEqual(tls.caFile, "/ca/c.pem")
        XCTAssertEqual(tls.verify, "optional")
        XCTAssertEqual(tls.more.crlFile, "/ca/crl.pem")
        XCTAssertEqual(tls.more.caVerifyFile, "/ca/v.pem")
        XCTAssertEqual(tls.more.ignoredCertificateErrors, 1 << 10 | 1 << 23)
        XCTAssertEqual(tls.more.ignoredCAErrors, ~0)
        let errors = parseErrors("frontend f\n    bind :443 ssl crt /x.pem verify required\n")
        XCTAssertTrue(errors.first?.message.contains("'verify required' needs 'ca-file FILE'") ?? false, "\(errors)")
        let bad = parseErrors("frontend f\n    bind :443 ssl crt /x.pem ca-file /c verify optional crt-ignore-err 64\n")
        XCTAssertTrue(bad.first?.message.contains("X509 error numbers below 64") ?? false, "\(bad)")
    }

    /// HAProxy's rule: from the lowest enabled version at or above ssl-min-ver, the contiguous
    /// enabled ones up to ssl-max-ver.
    func testVersionRange() {
        XCTAssertTrue(TLSVersionNames.range(min: nil, max: nil, disabled: [])! == ("TLSv1.2", "TLSv1.3"))
        XCTAssertTrue(TLSVersionNames.range(min: "TLSv1.0", max: nil, disabled: ["TLSv1.1"])! == ("TLSv1.0", "TLSv1.0"))
        XCTAssertTrue(TLSVersionNames.range(min: nil, max: nil, disabled: ["TLSv1.2"])! == ("TLSv1.3", "TLSv1.3"))
        XCTAssertTrue(TLSVersionNames.range(min: "TLSv1.2", max: "TLSv1.2", disabled: [])! == ("TLSv1.2", "TLSv1.2"))
        XCTAssertNil(TLSVersionNames.range(min: "TLSv1.3", max: "TLSv1.2", disabled: []))
        XCTAssertNil(TLSVersionNames.range(min: nil, max: nil, disabled: ["TLSv1.2", "TLSv1.3"]))
        let errors = parseErrors("frontend f\n    bind :443 ssl crt /x.pem no-tlsv12 no-tlsv13\n")
        XCTAssertTrue(errors.first?.message.contains("no TLS version left") ?? false, "\(errors)")
    }

    func testServerTLSKeywordsAndDefaultServerInheritance() throws {
        let config = try parseOrFail("""
            global
                crt-base /crt
                ca-base /ca
                ssl-default-server-options no-tls-tickets ssl-min-ver TLSv1.2
                ssl-default-server-ciphers ECDHE-RSA-AES128-GCM-SHA256
            backend b
                default-server ssl crt client1.pem ca-file ca.pem verify required no-ssl-reuse force-tlsv12
                server s1 127.0.0.1:443
                server s2 127.0.0.1:443 crt client2.pem crl-file crl.pem ciphersuites TLS_AES_128_GCM_SHA256 ssl-max-ver TLSv1.3 ssl-min-ver TLSv1.3
                server s3 127.0.0.1:80 no-ssl
                server s4 127.0.0.1:80 no-ssl check check-ssl verify none
                server s5 127.0.0.1:443 ssl ssl-reuse no-check-ssl
            """)
        let servers = try XCTUnwrap(config.backends["b"]).servers
        let s1 = try XCTUnwrap(servers[0].parameters.tls)
        XCTAssertTrue(s1.more.ssl)
        XCTAssertEqual(s1.more.certificate, "/crt/client1.pem")
        XCTAssertEqual(s1.caFile, "/ca/ca.pem")
        XCTAssertTrue(s1.verify)
        XCTAssertTrue(s1.more.noSessionReuse)
        XCTAssertTrue(s1.more.noTickets, "ssl-default-server-options")
        XCTAssertEqual(s1.more.ciphers, "ECDHE-RSA-AES128-GCM-SHA256", "ssl-default-server-ciphers")
        XCTAssertEqual(s1.more.minVersion, "TLSv1.2")
        XCTAssertEqual(s1.more.maxVersion, "TLSv1.2")
        let s2 = try XCTUnwrap(servers[1].parameters.tls)
        XCTAssertEqual(s2.more.certificate, "/crt/client2.pem", "the server line overrides default-server")
        XCTAssertEqual(s2.more.crlFile, "/ca/crl.pem")
        XCTAssertEqual(s2.more.ciphersuites, "TLS_AES_128_GCM_SHA256")
        XCTAssertTrue(TLSVersionNames.range(min: s2.more.minVersion, max: s2.more.maxVersion, disabled: s2.more.disabledVersions)! == ("TLSv1.3", "TLSv1.3"))
        XCTAssertNil(servers[2].parameters.tls, "no-ssl undoes default-server's ssl")
        let s4 = try XCTUnwrap(servers[3].parameters.tls, "check-ssl keeps TLS settings for the checks")
        XCTAssertFalse(s4.more.ssl)
        XCTAssertEqual(s4.more.checkSSL, true)
        let s5 = try XCTUnwrap(servers[4].parameters.tls)
        XCTAssertFalse(s5.more.noSessionReuse)
        XCTAssertEqual(s5.more.checkSSL, false)
    }

    /// `check-ssl` on a server in clear (tls_health_checks' be6): `addr IP:PORT` gives the
    /// check's address, `port` wins over its port, `check-sni` names the check's SNI.
    func testCheckSSLCheckSNIAndAddrWithAPort() throws {
        let config = try parseOrFail("backend b\n    server s 127.0.0.1:80 crt /c.pem verify none check check-ssl check-sni chk.test port 8443 addr 127.0.0.2:80\n    server t 127.0.0.1:80 check addr 127.0.0.3:9000\n")
        let s = try XCTUnwrap(config.backends["b"]?.servers[0].parameters)
        XCTAssertEqual(s.checkAddress, "127.0.0.2")
        XCTAssertEqual(s.checkPort, 8443)
        XCTAssertEqual(s.tls?.more.checkSNI, "chk.test")
        XCTAssertEqual(s.tls?.more.ssl, false)
        let t = try XCTUnwrap(config.backends["b"]?.servers[1].parameters)
        XCTAssertEqual(t.checkAddress, "127.0.0.3")
        XCTAssertEqual(t.checkPort, 9000)
    }

    func testTLSSettingsWithoutSSLDoNothing() throws {
        let config = try parseOrFail("backend b\n    server s 127.0.0.1:80 verify none sni str(x.test) crt /c.pem\nfrontend f\n    bind :80 no-sslv3 no-tlsv10\n    default_backend b\n")
        XCTAssertNil(config.backends["b"]?.servers[0].parameters.tls, "as in HAProxy, TLS keywords without 'ssl' leave the server in clear")
        XCTAssertNil(config.frontends[0].binds[0].tls, "version keywords on a plain bind are harmless")
        let errors = parseErrors("frontend f\n    bind :443 ca-file /c.pem\n")
        XCTAssertTrue(errors.first?.message.contains("TLS parameters without 'ssl'") ?? false, "\(errors)")
    }
}
