import Foundation
import SwiftLBTestSupport
import XCTest
@testable import SwiftLBTLS

/// OCSP responses made by `openssl ocsp` for a certificate of a throw-away CA: their key (the
/// certificate ID), OpenSSL's text, the store reading `PATH.ocsp`, `set ssl ocsp-response`
/// replacing the response of the same ID and refusing one for an unknown certificate.
final class OCSPResponseTests: TLSTestCase {
    private func script(_ text: String) throws -> String {
        let run = runProcess("/bin/sh", ["-c", "set -e; cd \(dir.path); " + text])
        XCTAssertEqual(run.status, 0, run.err)
        return run.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A CA, `leaf.pem` (key, certificate, CA) signed by it, and a good and a revoked response for it.
    private func makeResponses(prefix: String = "") throws -> (serial: String, good: [UInt8], revoked: [UInt8]) {
        let serial = try script("""
            openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=ca -keyout \(prefix)ca.key -out \(prefix)ca.crt -days 30 2>/dev/null
            openssl req -newkey rsa:2048 -nodes -subj /CN=leaf.test -keyout \(prefix)leaf.key -out \(prefix)leaf.csr 2>/dev/null
            openssl x509 -req -in \(prefix)leaf.csr -CA \(prefix)ca.crt -CAkey \(prefix)ca.key -CAcreateserial -out \(prefix)leaf.crt -days 30 2>/dev/null
            serial=$(openssl x509 -in \(prefix)leaf.crt -noout -serial | cut -d= -f2)
            printf 'V\\t300101000000Z\\t\\t%s\\tunknown\\t/CN=leaf.test\\n' "$serial" > \(prefix)good.idx
            printf 'R\\t300101000000Z\\t250101000000Z\\t%s\\tunknown\\t/CN=leaf.test\\n' "$serial" > \(prefix)revoked.idx
            for s in good revoked; do openssl ocsp -index \(prefix)$s.idx -rsigner \(prefix)ca.crt -rkey \(prefix)ca.key -CA \(prefix)ca.crt -issuer \(prefix)ca.crt -cert \(prefix)leaf.crt -respout \(prefix)$s.der -ndays 1 >/dev/null 2>&1; done
            cat \(prefix)leaf.key \(prefix)leaf.crt \(prefix)ca.crt > \(prefix)leaf.pem
            echo "$serial"
            """)
        let good = try [UInt8](Data(contentsOf: dir.appendingPathComponent("\(prefix)good.der")))
        let revoked = try [UInt8](Data(contentsOf: dir.appendingPathComponent("\(prefix)revoked.der")))
        return (serial, good, revoked)
    }

    func testKeyTextAndTheStoresResponses() throws {
        let (serial, good, revoked) = try makeResponses()
        let key = try OCSPResponse.key(of: good)
        XCTAssertEqual(try OCSPResponse.key(of: revoked), key, "one certificate, one ID")
        XCTAssertTrue(key.hasPrefix("30"), key)
        XCTAssertTrue(OCSPResponse.describe(key: key).contains("Serial Number: \(serial)"), OCSPResponse.describe(key: key))
        XCTAssertTrue(OCSPResponse.text(of: good).contains("Cert Status: good"))
        XCTAssertFalse(OCSPResponse.text(of: good).contains("\n\n"), "no empty line: it would end the CLI answer")
        XCTAssertThrowsError(try OCSPResponse.key(of: [1, 2, 3])) { XCTAssertEqual(($0 as? CertificateCommandError)?.message, "Unable to parse OCSP response") }
        XCTAssertEqual(OCSPResponse.base64(Data(good).base64EncodedString(options: .lineLength64Characters)), good)
        XCTAssertNil(OCSPResponse.base64("not base64!"))
        XCTAssertNil(OCSPResponse.base64("========"), "padding alone (a crash before)")
        XCTAssertNil(OCSPResponse.base64("QQ==="), "three pads")

        let pem = dir.appendingPathComponent("leaf.pem").path
        try Data(good).write(to: URL(fileURLWithPath: pem + ".ocsp"))
        let store = CertificateStore()
        _ = try store.certificate(path: pem)
        XCTAssertEqual(store.ocspResponses.map(\.key), [key])
        try store.setOCSPResponse(revoked)
        XCTAssertTrue(OCSPResponse.text(of: store.ocspResponse(forCertificate: pem)!).contains("Cert Status: revoked"))
        // Another CA's response matches no certificate here: refused, nothing changes.
        let other = try makeResponses(prefix: "other-")
        XCTAssertThrowsError(try store.setOCSPResponse(other.good)) {
            XCTAssertEqual(($0 as? CertificateCommandError)?.message, "OCSP single response: Certificate ID does not match any certificate or issuer")
        }
        XCTAssertEqual(store.ocspResponses.map(\.der), [revoked])
        // `set ssl cert PATH.ocsp` in a transaction, in force at the commit.
        _ = try store.set(name: pem + ".ocsp", payload: Data(good).base64EncodedString())
        XCTAssertEqual(store.transaction.candidate(for: pem)?.ocsp, good)
        XCTAssertEqual(store.ocspResponses.map(\.der), [revoked], "not before the commit")
        _ = try store.commit(path: pem) { _ in 0 }
        XCTAssertEqual(store.ocspResponses.map(\.der), [good])
    }
}
