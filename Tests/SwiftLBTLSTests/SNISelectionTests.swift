import Foundation
import SwiftLBTestSupport
import XCTest
@testable import SwiftLBTLS

/// Which certificate a ClientHello gets: crt-list filters (exact before wildcard, `!`
/// exclusions), the certificate's own names without filters, and HAProxy's preference by key
/// type for what the client can verify (ssl_crt-list_filters.vtc's cases).
final class SNISelectionTests: TLSTestCase {
    func testExactWildcardExclusionAndKeyTypeChoice() throws {
        let rsa = try TLSCertificate(path: try makeCert("rsa.example.test", kind: "rsa"))
        let ec = try TLSCertificate(path: try makeCert("ec.example.test", kind: "ec"))
        XCTAssertEqual(rsa.keyType, .rsa)
        XCTAssertEqual(ec.keyType, .ecdsa)
        let settings = TLSSettings()
        let entries = [
            TLSServerEntry(certificate: rsa, sniFilters: ["*.bug810.test", "record.bug810.test", "*.bug818.test", "!another.bug818.test"], settings: settings),
            TLSServerEntry(certificate: ec, sniFilters: ["record.bug810.test", "another.bug810.test", "*.bug818.test"], settings: settings),
            TLSServerEntry(certificate: rsa, settings: settings),  // its own names: rsa.example.test, *.rsa.example.test
        ]
        func choose(_ host: String, ecdsa: Bool, rsa: Bool = true) -> Int? { TLSServerEntry.choose(entries, host: host, ecdsa: ecdsa, rsa: rsa) }
        XCTAssertEqual(choose("another.bug810.test", ecdsa: false), 0, "an RSA-only client: the RSA wildcard over the exact ECDSA name")
        XCTAssertEqual(choose("another.bug810.test", ecdsa: true), 1, "a client that can use ECDSA: the exact ECDSA one")
        XCTAssertEqual(choose("record.bug810.test", ecdsa: false), 0)
        XCTAssertEqual(choose("another.bug818.test", ecdsa: false), 1, "the RSA one excludes the name: the ECDSA one, the client will fail")
        XCTAssertEqual(choose("x.bug818.test", ecdsa: false), 0)
        XCTAssertEqual(choose("ANOTHER.bug810.TEST", ecdsa: true), 1, "names compare case-insensitively")
        XCTAssertEqual(choose("www.rsa.example.test", ecdsa: true), 2, "no filters: the certificate's SAN wildcard")
        XCTAssertEqual(choose("rsa.example.test", ecdsa: true), 2)
        XCTAssertNil(choose("a.b.bug810.test", ecdsa: true), "a wildcard covers one label")
        XCTAssertNil(choose("unknown.test", ecdsa: true))
    }

    /// HAProxy indexes a certificate under its CN too when it has SANs (the reg-tests'
    /// common.pem: CN www.test1.com, a SAN that names something else).
    func testTheCommonNameCountsNextToTheAlternativeNames() throws {
        let path = dir.appendingPathComponent("cn.pem").path
        runProcess("/bin/sh", ["-c", "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 -subj /CN=cn.example.test "
            + "-addext subjectAltName=DNS:san.example.test -keyout \(path).key -out \(path).crt 2>/dev/null && cat \(path).key \(path).crt > \(path)"])
        let certificate = try TLSCertificate(path: path)
        let entries = [TLSServerEntry(certificate: certificate, settings: TLSSettings())]
        XCTAssertEqual(TLSServerEntry.choose(entries, host: "cn.example.test", ecdsa: true, rsa: true), 0)
        XCTAssertEqual(TLSServerEntry.choose(entries, host: "san.example.test", ecdsa: true, rsa: true), 0)
        XCTAssertNil(TLSServerEntry.choose(entries, host: "other.example.test", ecdsa: true, rsa: true))
    }
}
