import Foundation
import NIOCore
import NIOEmbedded
import SwiftLBTestSupport
import XCTest
@testable import SwiftLBTLS

/// The CA/CRL files of the stats socket's `ssl ca-file|crl-file` commands: transactions with
/// HAProxy's answers, and commits that change what new handshakes verify against, on real
/// OpenSSL on both ends (a throwaway CA, a leaf it signs, CRLs from `openssl ca`).
final class CAFileStoreTests: TLSTestCase {
    /// ca.crt (a CA), leaf.pem (key + certificate for leaf.example.test, serial 0x1008, signed by
    /// the CA), other.crt (another CA), empty.crl and revoked.crl (the leaf revoked), all PEM.
    func makePKI() throws {
        let script = """
        set -e
        cd "$1"
        ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
        openssl req -x509 $ec -subj "/CN=Test CA" -keyout ca.key -out ca.crt -days 2 \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign 2>/dev/null
        openssl req -x509 $ec -subj "/CN=Other CA" -keyout other.key -out other.crt -days 2 \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign 2>/dev/null
        openssl req $ec -subj "/CN=leaf.example.test" -keyout leaf.key -out leaf.csr 2>/dev/null
        printf 'subjectAltName=DNS:leaf.example.test\\nextendedKeyUsage=serverAuth,clientAuth\\n' > leaf.ext
        openssl x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -set_serial 0x1008 -days 2 -extfile leaf.ext -out leaf.crt 2>/dev/null
        cat leaf.key leaf.crt > leaf.pem
        touch index.txt; echo 01 > crlnumber
        printf '[ca]\\ndefault_ca=d\\n[d]\\ndatabase=index.txt\\ncrlnumber=crlnumber\\ndefault_md=sha256\\ndefault_crl_days=2\\n' > ca.cnf
        openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.crt -out empty.crl 2>/dev/null
        openssl ca -config ca.cnf -revoke leaf.crt -keyfile ca.key -cert ca.crt 2>/dev/null
        openssl ca -config ca.cnf -gencrl -keyfile ca.key -cert ca.crt -out revoked.crl 2>/dev/null
        """
        let run = runProcess("/bin/bash", ["-c", script, "pki", dir.path])
        XCTAssertEqual(run.status, 0, "openssl made the throwaway PKI: \(run.err)")
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
    func text(_ name: String) throws -> String { try String(contentsOfFile: path(name), encoding: .utf8) }

    /// Whether a fresh handshake between the two contexts completes on both sides.
    func handshakes(_ server: TLSServerContext, _ client: TLSClientContext) throws -> Bool {
        let pair = try makePair(server: server, client: client, sni: "leaf.example.test")
        try? pair.pump()
        return pair.serverRecorder.events.count == 1 && pair.clientRecorder.events.count == 1
    }

    func testACommittedCAFileVerifiesTheServerOnNewHandshakesOnly() throws {
        try makePKI()
        let store = CAFileStore()
        let server = try TLSServerContext(entries: [TLSServerEntry(certificate: TLSCertificate(path: path("leaf.pem")), settings: TLSSettings())], caFileStore: store)
        var options = TLSClientOptions()
        options.caFile = path("other.crt")
        let client = try TLSClientContext(options: options, caFileStore: store)
        XCTAssertFalse(try handshakes(server, client), "other.crt did not sign the server's certificate")

        XCTAssertEqual(store.list(kind: .ca), "# filename\n\(path("other.crt")) - 1 certificate(s)\n")
        XCTAssertEqual(try store.stage(path("other.crt"), kind: .ca, payload: text("ca.crt")).get(), "transaction created for CA \(path("other.crt"))!\n")
        XCTAssertEqual(store.list(kind: .ca), "# transaction\n*\(path("other.crt")) - 1 certificate(s)\n# filename\n\(path("other.crt")) - 1 certificate(s)\n")
        let staged = try store.show("*" + path("other.crt"), kind: .ca).get()
        XCTAssertTrue(staged.hasPrefix("Filename: *\(path("other.crt"))\nStatus: Unused\n \nCertificate #1:\nSerial: "), staged)
        XCTAssertTrue(staged.contains("\nSubject: /CN=Test CA\nIssuer: /CN=Test CA\n"), staged)
        XCTAssertTrue(staged.contains("\nAlgorithm: EC256\nSHA1 FingerPrint: \(try fingerprint("ca.crt"))\n"), staged)
        XCTAssertTrue(try store.show(path("other.crt"), kind: .ca).get().contains("Subject: /CN=Other CA"), "the file in force is unchanged")
        XCTAssertFalse(try handshakes(server, client), "a staged file changes nothing")

        // Bad input is refused in HAProxy's words and changes nothing.
        XCTAssertEqual(store.stage(path("other.crt"), kind: .ca, payload: "not PEM at all\n"), .failure(CAFileStore.Refusal("Invalid payload\nCan't update \(path("other.crt"))!\n")))
        XCTAssertEqual(store.stage("/no/such.crt", kind: .ca, payload: try text("ca.crt")),
                       .failure(CAFileStore.Refusal("The ongoing transaction is about '\(path("other.crt"))' but you are trying to set '/no/such.crt'\nCan't update /no/such.crt!\n")))
        XCTAssertEqual(store.commit("/no/such.crt", kind: .ca),
                       .failure(CAFileStore.Refusal("The ongoing transaction is about '\(path("other.crt"))' but you are trying to set '/no/such.crt'\nCan't commit /no/such.crt!\n")))
        XCTAssertEqual(store.delete(path("other.crt"), kind: .ca), .failure(CAFileStore.Refusal("Can't remove the CA file: ongoing transaction for the CA file '\(path("other.crt"))'\n")))

        XCTAssertEqual(try store.commit(path("other.crt"), kind: .ca).get(), "Committing \(path("other.crt")).\nSuccess!\n", "one dot: one context rebuilt")
        XCTAssertTrue(try handshakes(server, client), "new handshakes verify against the committed CA")
        XCTAssertTrue(try store.show(path("other.crt"), kind: .ca).get().hasPrefix("Filename: \(path("other.crt"))\nStatus: Used\n"))
        XCTAssertEqual(store.commit(path("other.crt"), kind: .ca), .failure(CAFileStore.Refusal("No ongoing transaction! !\nCan't commit \(path("other.crt"))!\n")))
        XCTAssertEqual(store.delete(path("other.crt"), kind: .ca), .failure(CAFileStore.Refusal("Can't remove the CA file: CA file '\(path("other.crt"))' in use, can't be deleted!\n\n")))
        // A context built at run time (`commit ssl cert`, a crt-list edit) takes the committed
        // file, not the disk's; a configuration build (a reload) reads the disk again.
        let rebuilt = try TLSClientContext(options: options, caFileStore: store)
        XCTAssertTrue(try handshakes(server, rebuilt), "a context built after the commit verifies against it")
        store.beginConfigurationBuild()
        let reloaded = try TLSClientContext(options: options, caFileStore: store)
        XCTAssertFalse(try handshakes(server, reloaded), "a reload reads other.crt from disk")
        withExtendedLifetime((rebuilt, reloaded)) {}

        // Back to the wrong CA: the session the client kept must not skip the verification.
        _ = try store.stage(path("other.crt"), kind: .ca, payload: text("other.crt")).get()
        _ = try store.commit(path("other.crt"), kind: .ca).get()
        XCTAssertFalse(try handshakes(server, client), "no resumption past a changed CA file")
        withExtendedLifetime(client) {}
    }

    func testACommittedCRLRefusesARevokedServerAndABindTakesANewClientCA() throws {
        try makePKI()
        let store = CAFileStore()
        // The bind asks for a client certificate, verified against other.crt: the wrong CA.
        var settings = TLSSettings()
        settings.verify = .required
        settings.caFile = path("other.crt")
        let server = try TLSServerContext(entries: [TLSServerEntry(certificate: TLSCertificate(path: path("leaf.pem")), settings: settings)], caFileStore: store)
        var options = TLSClientOptions()
        options.caFile = path("ca.crt")
        options.crlFile = path("empty.crl")
        options.certificate = try TLSCertificate(path: path("leaf.pem"))
        let client = try TLSClientContext(options: options, caFileStore: store)
        XCTAssertFalse(try handshakes(server, client), "the bind cannot verify the client's certificate")

        _ = try store.stage(path("other.crt"), kind: .ca, payload: text("other.crt") + text("ca.crt")).get()
        XCTAssertEqual(store.abort(path("other.crt"), kind: .ca), .success("Transaction aborted for certificate '\(path("other.crt"))'!\n"))
        XCTAssertEqual(store.abort(path("other.crt"), kind: .ca), .failure(CAFileStore.Refusal("No ongoing transaction!\n")))
        XCTAssertFalse(try handshakes(server, client), "an aborted transaction changes nothing")
        _ = try store.stage(path("other.crt"), kind: .ca, payload: text("other.crt") + text("ca.crt")).get()
        _ = try store.commit(path("other.crt"), kind: .ca).get()
        XCTAssertTrue(try store.list(kind: .ca).contains("\(path("other.crt")) - 2 certificate(s)\n"))
        XCTAssertTrue(try handshakes(server, client), "the bind verifies the client against the committed CA file")
        XCTAssertTrue(try handshakes(server, client), "again (a resumption)")
        _ = try store.stage(path("other.crt"), kind: .ca, payload: text("other.crt")).get()
        _ = try store.commit(path("other.crt"), kind: .ca).get()
        XCTAssertFalse(try handshakes(server, client), "the bind no longer resumes sessions verified under the old CA file")
        _ = try store.stage(path("other.crt"), kind: .ca, payload: text("other.crt") + text("ca.crt")).get()
        _ = try store.commit(path("other.crt"), kind: .ca).get()
        XCTAssertTrue(try handshakes(server, client))

        // The server's certificate revoked in the CRL the client checks.
        XCTAssertEqual(store.list(kind: .crl), "# filename\n\(path("empty.crl"))\n")
        XCTAssertEqual(try store.stage(path("empty.crl"), kind: .crl, payload: text("revoked.crl")).get(), "transaction created for CRL \(path("empty.crl"))!\n")
        XCTAssertEqual(store.list(kind: .crl), "# transaction\n*\(path("empty.crl"))\n# filename\n\(path("empty.crl"))\n")
        let staged = try store.show("*" + path("empty.crl") + ":1", kind: .crl).get()
        XCTAssertTrue(staged.contains("Certificate Revocation List #1:\nVersion 2\nSignature Algorithm: ecdsa-with-SHA256\nIssuer: /CN=Test CA\n"), staged)
        XCTAssertTrue(staged.contains("Revoked Certificates:\n    Serial Number: 1008\n        Revocation Date: "), staged)
        XCTAssertTrue(try store.show(path("empty.crl"), kind: .crl).get().contains("No Revoked Certificates.\n"))
        XCTAssertTrue(try handshakes(server, client), "not committed yet")
        _ = try store.commit(path("empty.crl"), kind: .crl).get()
        XCTAssertFalse(try handshakes(server, client), "the committed CRL revokes the server's certificate")

        XCTAssertEqual(store.show(path("empty.crl") + ":0", kind: .crl), .failure(CAFileStore.Refusal("wrong CRL index after colons in '\(path("empty.crl")):0'!")))
        XCTAssertEqual(store.show("/no/such.crl", kind: .crl), .failure(CAFileStore.Refusal("Can't display the CRL file : Not found!\n")))
        XCTAssertEqual(store.delete(path("ca.crt"), kind: .crl), .failure(CAFileStore.Refusal("Can't remove the CRL file: 'del ssl crl-file' does not work on CA files!\n\n")))
        withExtendedLifetime(client) {}
    }

    func testNewAndDeleteOfAnUnusedFile() throws {
        try makePKI()
        let store = CAFileStore()
        XCTAssertEqual(store.create("new_cafile.crt", kind: .ca), .success("New CA file created 'new_cafile.crt'!\n"))
        XCTAssertEqual(store.create("new_cafile.crt", kind: .ca), .failure(CAFileStore.Refusal("CA file 'new_cafile.crt' already exists!\n")))
        XCTAssertEqual(store.list(kind: .ca), "# filename\nnew_cafile.crt - 0 certificate(s)\n")
        XCTAssertEqual(try store.show("new_cafile.crt", kind: .ca).get(), "Filename: new_cafile.crt\nStatus: Empty\n")
        _ = try store.stage("new_cafile.crt", kind: .ca, payload: text("ca.crt") + text("other.crt")).get()
        _ = try store.commit("new_cafile.crt", kind: .ca).get()
        let second = try store.show("new_cafile.crt:2", kind: .ca).get()
        XCTAssertEqual(second.components(separatedBy: "Certificate #").count, 2, "only the second: \(second)")
        XCTAssertTrue(second.contains("Status: Unused\n \nCertificate #2:\n"), second)
        // A context built now takes the file as the CLI made it, not from disk.
        var options = TLSClientOptions()
        options.caFile = "new_cafile.crt"
        var client: TLSClientContext? = try TLSClientContext(options: options, caFileStore: store)
        XCTAssertNotNil(client)
        XCTAssertEqual(store.delete("new_cafile.crt", kind: .ca), .failure(CAFileStore.Refusal("Can't remove the CA file: CA file 'new_cafile.crt' in use, can't be deleted!\n\n")))
        client = nil
        XCTAssertEqual(store.delete("new_cafile.crt", kind: .ca), .success("CA file 'new_cafile.crt' deleted!\n"))
        XCTAssertEqual(store.delete("new_cafile.crt", kind: .ca), .failure(CAFileStore.Refusal("Can't remove the CA file: CA file 'new_cafile.crt' doesn't exist!\n\n")))
        XCTAssertEqual(store.list(kind: .ca), "# filename\n")
        XCTAssertEqual(store.stage("nope.crt", kind: .ca, payload: try text("ca.crt")),
                       .failure(CAFileStore.Refusal("Can't replace a CA file which is not referenced by the configuration!\nCan't update nope.crt!\n")))
    }

    /// The SHA-1 of a certificate file's DER, as `openssl x509 -fingerprint` prints it.
    func fingerprint(_ name: String) throws -> String {
        let out = runProcess("/usr/bin/openssl", ["x509", "-in", path(name), "-noout", "-fingerprint", "-sha1"]).out
        return out.trimmingCharacters(in: .whitespacesAndNewlines).components(separatedBy: "=").last!.replacingOccurrences(of: ":", with: "")
    }
}
