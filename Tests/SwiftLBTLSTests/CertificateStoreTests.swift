import Foundation
import XCTest
@testable import SwiftLBTLS

/// The `set ssl cert` transaction as a pure state machine, then the store with real PEM files
/// from gen-cert.sh: HAProxy's refusals leave the table and the transaction as they were.
final class CertificateTransactionTests: XCTestCase {
    let a = CertificateParts(key: Array("KEY-A".utf8), certificates: Array("CERT-A".utf8))
    let b = CertificateParts(key: Array("KEY-B".utf8), certificates: Array("CERT-B".utf8))

    func testSetOpensThenUpdatesCommitAndAbortClose() throws {
        var t = CertificateTransaction()
        XCTAssertNil(t.path)
        XCTAssertNil(try t.base(for: "/x.pem"), "nothing open: start from the stored entry")
        XCTAssertEqual(t.stage(path: "/x.pem", parts: a), .created)
        XCTAssertEqual(t.path, "/x.pem")
        XCTAssertEqual(try t.base(for: "/x.pem"), a, "a second set starts from the candidate")
        XCTAssertEqual(t.stage(path: "/x.pem", parts: b), .updated)
        XCTAssertEqual(t.candidate(for: "/x.pem"), b)
        XCTAssertEqual(try t.commitCandidate(path: "/x.pem"), b)
        XCTAssertEqual(t.path, "/x.pem", "open until the commit is applied")
        t.committed()
        XCTAssertNil(t.path)
        _ = t.stage(path: "/x.pem", parts: a)
        try t.abort(path: "/x.pem")
        XCTAssertNil(t.path)
    }

    func testRefusalsNameTheOpenTransaction() {
        var t = CertificateTransaction()
        XCTAssertThrowsError(try t.commitCandidate(path: "/x.pem")) { XCTAssertEqual(($0 as? CertificateCommandError)?.message, "No ongoing transaction! !") }
        XCTAssertThrowsError(try t.abort(path: "/x.pem")) { XCTAssertEqual(($0 as? CertificateCommandError)?.message, "No ongoing transaction!") }
        _ = t.stage(path: "/x.pem", parts: a)
        XCTAssertThrowsError(try t.base(for: "/y.pem")) {
            XCTAssertEqual(($0 as? CertificateCommandError)?.message, "The ongoing transaction is about '/x.pem' but you are trying to set '/y.pem'")
        }
        XCTAssertThrowsError(try t.abort(path: "/y.pem")) {
            XCTAssertEqual(($0 as? CertificateCommandError)?.message, "The ongoing transaction is about '/x.pem' but you are trying to abort a transaction for '/y.pem'")
        }
        XCTAssertEqual(t.candidate(for: "/x.pem"), a, "a refusal changes nothing")
        var keyless = CertificateTransaction()
        _ = keyless.stage(path: "/k.pem", parts: CertificateParts(key: nil, certificates: a.certificates))
        XCTAssertThrowsError(try keyless.commitCandidate(path: "/k.pem")) {
            XCTAssertEqual(($0 as? CertificateCommandError)?.message, "The transaction must contain at least a certificate and a private key!")
        }
        XCTAssertEqual(keyless.path, "/k.pem")
    }

    func testSplitKeepsTheKeyAndEveryCertificateBlockInOrder() {
        let pem = "junk\n-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n-----BEGIN DH PARAMETERS-----\nDH\n-----END DH PARAMETERS-----\n"
            + "-----BEGIN PRIVATE KEY-----\r\nKKK\r\n-----END PRIVATE KEY-----\r\n-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n"
        let parts = CertificateParts.split(Array(pem.utf8))
        XCTAssertEqual(parts.key.map { String(decoding: $0, as: UTF8.self) }, "-----BEGIN PRIVATE KEY-----\nKKK\n-----END PRIVATE KEY-----\n")
        XCTAssertEqual(parts.certificates.map { String(decoding: $0, as: UTF8.self) },
                       "-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----\nBBB\n-----END CERTIFICATE-----\n")
        XCTAssertEqual(CertificateParts.split(Array("not a pem".utf8)), CertificateParts())
    }
}

final class CertificateStoreTests: TLSTestCase {
    private func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }

    func testSetCommitSwapsTheEntryAndAppliesIt() throws {
        let one = try makeCert("one.test"), two = try makeCert("two.test", kind: "rsa")
        let store = CertificateStore()
        let before = try store.certificate(path: one)
        XCTAssertTrue(before.detailLines.contains("Subject: /CN=one.test"), before.detailLines)
        let (path, staged) = try store.set(name: one, payload: try text(two))
        XCTAssertEqual(path, one)
        XCTAssertEqual(staged, .created)
        XCTAssertTrue(try store.certificate(path: one) === before, "nothing changes before the commit")
        var applied: [String] = []
        let count = try store.commit(path: one) { certificate in applied.append(certificate.sha1Fingerprint); return 2 }
        XCTAssertEqual(count, 2)
        let after = try store.certificate(path: one)
        XCTAssertEqual(applied, [after.sha1Fingerprint])
        XCTAssertNotEqual(after.sha1Fingerprint, before.sha1Fingerprint)
        XCTAssertTrue(after.detailLines.contains("Algorithm: RSA"), after.detailLines)
        XCTAssertNil(store.transaction.path)
    }

    func testBadPayloadsAndAMismatchedKeyChangeNothing() throws {
        let one = try makeCert("one.test"), two = try makeCert("two.test")
        let store = CertificateStore()
        let before = try store.certificate(path: one)
        XCTAssertThrowsError(try store.commit(path: one) { _ in 1 })
        XCTAssertThrowsError(try store.set(name: one, payload: "hello, not a certificate\n")) {
            XCTAssertEqual(($0 as? CertificateCommandError)?.message, "unable to load certificate from file '\(one)'.\nCan't load the payload")
        }
        XCTAssertThrowsError(try store.set(name: "/nowhere.pem", payload: try text(two))) {
            XCTAssertEqual(($0 as? CertificateCommandError)?.message, "Can't replace a certificate which is not referenced by the configuration!")
        }
        XCTAssertNil(store.transaction.path, "a refused set opens nothing")
        // two's certificate with one's key: the set takes it, the commit refuses it.
        let mixed = CertificateParts.split(Array(try text(two).utf8))
        let key = CertificateParts.split(Array(try text(one).utf8)).key!
        _ = try store.set(name: one, payload: String(decoding: mixed.certificates!, as: UTF8.self))
        _ = try store.set(name: one + ".key", payload: String(decoding: key, as: UTF8.self))
        var applied = false
        XCTAssertThrowsError(try store.commit(path: one) { _ in applied = true; return 1 }) {
            XCTAssertEqual(($0 as? CertificateCommandError)?.message, "inconsistencies between private key and certificate loaded '\(one)'.")
        }
        XCTAssertFalse(applied)
        XCTAssertTrue(try store.certificate(path: one) === before)
        XCTAssertEqual(store.transaction.path, one, "the transaction stays open to be fixed or aborted")
        // An apply that fails puts the old entry back.
        _ = try store.set(name: one, payload: try text(two))
        XCTAssertThrowsError(try store.commit(path: one) { _ in throw TLSError("bind refused it") })
        XCTAssertTrue(try store.certificate(path: one) === before)
        try store.abort(path: one)
        XCTAssertNil(store.transaction.path)
    }

    func testNewAndDelete() throws {
        let one = try makeCert("one.test")
        let store = CertificateStore()
        _ = try store.certificate(path: one)
        try store.new(path: "/fresh.pem")
        XCTAssertThrowsError(try store.new(path: "/fresh.pem")) { XCTAssertEqual(($0 as? CertificateCommandError)?.message, "Certificate '/fresh.pem' already exists!") }
        XCTAssertNil(store.entry("/fresh.pem")?.certificate, "empty until committed")
        XCTAssertThrowsError(try store.certificate(path: "/fresh.pem"))
        XCTAssertEqual(store.paths, ["/fresh.pem", one].sorted())
        XCTAssertThrowsError(try store.delete(path: one, inUse: true)) { XCTAssertEqual(($0 as? CertificateCommandError)?.message, "certificate '\(one)' in use, can't be deleted!\n") }
        XCTAssertThrowsError(try store.delete(path: "/nope.pem", inUse: false)) { XCTAssertEqual(($0 as? CertificateCommandError)?.message, "certificate '/nope.pem' doesn't exist!\n") }
        try store.delete(path: "/fresh.pem", inUse: false)
        XCTAssertEqual(store.paths, [one])
    }

    /// A `crt` without its key takes `PATH.key`, or with ssl-load-extra-del-ext the path
    /// without its extension; `set ssl cert BASE.key` then changes that certificate's key.
    func testKeyFilesBesideTheCertificate() throws {
        let pem = try text(try makeCert("split.test"))
        let parts = CertificateParts.split(Array(pem.utf8))
        let crt = dir.appendingPathComponent("site.crt").path
        try Data(parts.certificates!).write(to: URL(fileURLWithPath: crt))
        try Data(parts.key!).write(to: URL(fileURLWithPath: dir.appendingPathComponent("site.key").path))
        XCTAssertThrowsError(try CertificateStore().certificate(path: crt), "without del-ext the key is looked for in site.crt.key")
        try Data(parts.key!).write(to: URL(fileURLWithPath: crt + ".key"))
        XCTAssertNoThrow(try CertificateStore().certificate(path: crt))
        try FileManager.default.removeItem(atPath: crt + ".key")
        let store = CertificateStore(deleteExtension: true)
        XCTAssertEqual(store.keyPath(for: crt), dir.appendingPathComponent("site.key").path)
        let before = try store.certificate(path: crt)
        let other = CertificateParts.split(Array(try text(try makeCert("other.test")).utf8))
        XCTAssertEqual(try store.set(name: crt, payload: String(decoding: other.certificates!, as: UTF8.self)).staged, .created)
        let keyed = try store.set(name: dir.appendingPathComponent("site.key").path, payload: String(decoding: other.key!, as: UTF8.self))
        XCTAssertEqual(keyed.path, crt, "site.key names site.crt's key")
        XCTAssertEqual(keyed.staged, .updated)
        _ = try store.commit(path: crt) { _ in 1 }
        XCTAssertNotEqual(try store.certificate(path: crt).sha1Fingerprint, before.sha1Fingerprint)
    }
}

