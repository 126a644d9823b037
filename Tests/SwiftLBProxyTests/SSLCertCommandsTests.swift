import Foundation
import SwiftLBTestSupport
import XCTest

/// The stats socket's `ssl cert` commands on a live proxy, on loopback: a committed
/// certificate reaches `openssl s_client`'s next handshake while a connection opened before
/// the commit keeps working on the certificate it had; bad payloads, a key that does not
/// match and an unknown name get HAProxy's answers and change nothing.
final class SSLCertCommandsTests: XCTestCase {
    var dir: TempDirectory!
    override func setUpWithError() throws {
        try requireExecutable("/usr/bin/socat")
        dir = try TempDirectory()
    }
    override func tearDown() { dir = nil }

    private func requireExecutable(_ path: String) throws {
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("\(path) is missing") }
    }

    private func makeCert(_ name: String, _ kind: String) -> String {
        let out = dir.file("\(name).pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, [name, out, kind]).status, 0)
        return out
    }

    /// One CLI exchange through socat, as the reg-tests do (`payload` after `<<`).
    private func cli(_ socket: String, _ line: String, payload: String? = nil) -> String {
        let input = dir.file("cli-\(UUID().uuidString.prefix(6)).txt")
        let text = payload.map { line + " <<\n" + $0 + ($0.hasSuffix("\n") ? "\n" : "\n\n") } ?? line + "\n"
        try? text.write(toFile: input, atomically: true, encoding: .utf8)
        return runCommand("/bin/sh", ["-c", "socat -t 5 \(socket) - < \(input)"]).out
    }

    /// The subject `openssl s_client` sees on a new handshake.
    private func subject(_ port: Int) -> String {
        let out = runCommand("/bin/sh", ["-c", "openssl s_client -connect 127.0.0.1:\(port) -servername old.example.test < /dev/null 2>&1"]).out
        return out.split(separator: "\n").first { $0.hasPrefix("subject=") }.map(String.init) ?? out
    }

    /// A TLS connection to `port` for `serverName` (presenting `clientCertificate` if given),
    /// held open by python: it prints `cert SHA1` of the certificate it got, then sends a request
    /// once `go` exists (bounded wait) and prints `answer STATUS-LINE`.
    private func holdConnection(_ port: Int, serverName: String, clientCertificate: String? = nil, go: String) throws -> SpawnedProcess {
        try SpawnedProcess("/usr/bin/env", ["python3", "-c", """
            import hashlib, os, socket, ssl, sys, time
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            if len(sys.argv) > 2: ctx.load_cert_chain(sys.argv[2])
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", \(port)), timeout=10), server_hostname="\(serverName)")
            print("cert", hashlib.sha1(s.getpeercert(True)).hexdigest().upper(), flush=True)
            deadline = time.time() + 15
            while not os.path.exists(sys.argv[1]) and time.time() < deadline: time.sleep(0.05)
            s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
            print("answer", s.recv(100).split(b"\\r\\n")[0].decode(), flush=True)
            """, go] + (clientCertificate.map { [$0] } ?? []), stdout: .pipe)
    }

    func testACommittedCertificateServesNewHandshakesWhileAnOpenConnectionKeepsItsOwn() throws {
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let old = makeCert("old.example.test", "ec"), new = makeCert("new.example.test", "rsa")
        let socket = dir.file("admin.sock"), port = freePort()
        let lb = try SwiftLBInstance(config: """
            global
                stats socket \(socket) level admin
            \(testDefaults(server: "30s"))
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(old)
                default_backend app
            backend app
                server s 127.0.0.1:\(nginx.ports[0])
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertEqual(subject(port), "subject=CN = old.example.test")

        // A connection opened now; it sends its request once `go` exists (bounded wait).
        let go = dir.file("go")
        let held = try holdConnection(port, serverName: "old.example.test", go: go)
        defer { held.stop() }
        // Its handshake is done before the commit below (on a loaded machine python may start late).
        let up = String(decoding: held.readAvailable(held.output), as: UTF8.self)
        XCTAssertTrue(up.hasPrefix("cert"), "the connection is up: \(up)")

        let shown = cli(socket, "show ssl cert \(old)")
        let oldSHA1 = shown.split(separator: "\n").first { $0.hasPrefix("SHA1 FingerPrint: ") }?.dropFirst(18)
        XCTAssertEqual(oldSHA1?.count, 40, shown)
        XCTAssertTrue(shown.hasPrefix("Filename: \(old)\nStatus: Used\n"), shown)
        XCTAssertTrue(shown.contains("Subject: /CN=old.example.test"), shown)
        XCTAssertTrue(shown.contains("Algorithm: EC256"), shown)

        // Bad input: HAProxy's answers, nothing changes.
        XCTAssertEqual(cli(socket, "set ssl cert \(old)", payload: "this is not PEM"),
                       "unable to load certificate from file '\(old)'.\nCan't load the payload\nCan't update \(old)!\n\n")
        XCTAssertEqual(cli(socket, "set ssl cert /nowhere.pem", payload: try String(contentsOfFile: new, encoding: .utf8)),
                       "Can't replace a certificate which is not referenced by the configuration!\nCan't update /nowhere.pem!\n\n")
        XCTAssertEqual(cli(socket, "commit ssl cert \(old)"), "No ongoing transaction! !\nCan't commit \(old)!\n\n")
        let newPEM = try String(contentsOfFile: new, encoding: .utf8), oldPEM = try String(contentsOfFile: old, encoding: .utf8)
        let oldKey = oldPEM.components(separatedBy: "-----BEGIN CERTIFICATE-----")[0]
        let newCert = "-----BEGIN CERTIFICATE-----" + newPEM.components(separatedBy: "-----BEGIN CERTIFICATE-----")[1]
        XCTAssertEqual(cli(socket, "set ssl cert \(old)", payload: oldKey + newCert), "Transaction created for certificate \(old)!\n\n")
        XCTAssertEqual(cli(socket, "commit ssl cert \(old)"),
                       "inconsistencies between private key and certificate loaded '\(old)'.\nCan't commit \(old)!\n\n")
        XCTAssertEqual(subject(port), "subject=CN = old.example.test", "a refused commit changes nothing")

        // The right pair: a transaction (shown with *), then the commit.
        XCTAssertEqual(cli(socket, "set ssl cert \(old)", payload: newPEM), "Transaction updated for certificate \(old)!\n\n")
        XCTAssertTrue(cli(socket, "show ssl cert").hasPrefix("# transaction\n*\(old)\n# filename\n\(old)\n"))
        XCTAssertTrue(cli(socket, "show ssl cert *\(old)").contains("Subject: /CN=new.example.test"))
        XCTAssertEqual(subject(port), "subject=CN = old.example.test", "not before the commit")
        XCTAssertEqual(cli(socket, "commit ssl cert \(old)"), "Committing \(old).\nSuccess!\n\n")
        XCTAssertEqual(subject(port), "subject=CN = new.example.test")
        XCTAssertTrue(cli(socket, "show ssl cert \(old)").contains("Subject: /CN=new.example.test"))
        XCTAssertEqual(cli(socket, "del ssl cert \(old)"), "Can't remove the certificate: certificate '\(old)' in use, can't be deleted!\n\n\n")

        // The connection opened before the commit still works.
        FileManager.default.createFile(atPath: go, contents: Data())
        let heldText = up + String(decoding: held.readToEnd(held.output, timeout: 30), as: UTF8.self)
        held.wait(timeout: 10)
        XCTAssertTrue(heldText.contains("answer HTTP/1.1 200"), heldText)
        XCTAssertTrue(heldText.contains("cert \(oldSHA1 ?? "?")"), "it was made with the old certificate: \(heldText)")
    }

    /// The refusals side by side with HAProxy 2.6 on the same configuration: the same text.
    func testRefusalsReadAsHAProxys() throws {
        try requireHAProxy()
        let cert = makeCert("site.example.test", "ec"), other = makeCert("other.example.test", "ec")
        let list = try dir.write("sites.crt-list", "\(other) other.example.test\n")
        let both = try SideBySide({ port in """
            global
                stats socket \(self.dir.file("s\(port).sock")) level admin
            frontend fe
                bind 127.0.0.1:\(port) ssl crt \(cert) crt-list \(list)
                default_backend app
            backend app
                server s 127.0.0.1:1
            """ }, in: dir)
        defer { both.stop() }
        let pem = try String(contentsOfFile: cert, encoding: .utf8)
        let exchanges: [(String, String?)] = [
            ("set ssl cert \(cert)", "this is not PEM"),
            ("set ssl cert /nowhere.pem", pem),
            ("commit ssl cert \(cert)", nil),
            ("abort ssl cert \(cert)", nil),
            ("new ssl cert \(cert)", nil),
            ("del ssl cert \(cert)", nil),
            ("del ssl cert /nowhere.pem", nil),
            ("show ssl cert /nowhere.pem", nil),
            ("show ssl crt-list /nowhere.crt-list", nil),
            ("show ssl crt-list -n", nil),
            ("add ssl crt-list /nowhere.crt-list \(cert)", nil),
            ("del ssl crt-list \(list) /nowhere.pem", nil),
            ("del ssl crt-list \(list) \(other):7", nil),
            ("set ssl cert \(cert)", pem),
            ("abort ssl cert \(other)", nil),
            ("abort ssl cert \(cert)", nil),
        ]
        for (line, payload) in exchanges {
            let answers = both.ports.map { cli(dir.file("s\($0).sock"), line, payload: payload) }
            XCTAssertEqual(answers[0], answers[1], "\(line): SwiftLB, then HAProxy")
        }
        // One deliberate difference: HAProxy 2.6 takes `set ssl cert OTHER` while a transaction
        // is open on CERT as an update of CERT's transaction (OTHER's payload would be served
        // as CERT at the commit); SwiftLB refuses it, as HAProxy's own message says it should.
        _ = cli(dir.file("s\(both.lbPort).sock"), "set ssl cert \(cert)", payload: pem)
        XCTAssertEqual(cli(dir.file("s\(both.lbPort).sock"), "set ssl cert \(other)", payload: pem),
                       "The ongoing transaction is about '\(cert)' but you are trying to set '\(other)'\nCan't update \(other)!\n\n")
    }

    /// A `crt-list` line added over the socket may name a CA file made with `new ssl ca-file`
    /// (HAProxy looks the name up in its CA-file tree, not on disk): the new SNI name then
    /// verifies client certificates against it, while the bind's own `ca-file` still fails them
    /// (let through by `crt-ignore-err all`, the error in `ssl_c_verify`). The file is in use
    /// until the line is deleted, then it can go.
    func testARuntimeCrtListLineVerifiesAgainstACAFileMadeOnTheSocket() throws {
        let made = runCommand("/bin/bash", ["-c", """
            set -e
            cd '\(dir.path)'
            ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
            openssl req -x509 $ec -days 2 -subj "/CN=Runtime CA" -keyout ca.key -out ca.crt 2>/dev/null
            openssl req -x509 $ec -days 2 -subj "/CN=Other CA" -keyout other.key -out other.crt 2>/dev/null
            openssl req $ec -subj "/CN=client" -keyout client.key -out client.csr 2>/dev/null
            openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -set_serial 2 -days 2 -out client.crt 2>/dev/null
            cat client.key client.crt > client.pem
            """])
        XCTAssertEqual(made.status, 0, made.err)
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let a = makeCert("a.example.test", "ec"), b = makeCert("b.example.test", "ec")
        let list = try dir.write("sites.crt-list", "\(a) a.example.test\n")
        let socket = dir.file("admin.sock"), port = freePort()
        let lb = try SwiftLBInstance(config: """
            global
                stats socket \(socket) level admin
            \(testDefaults())
            frontend fe
                bind 127.0.0.1:\(port) ssl strict-sni crt-list \(list) ca-file \(dir.file("other.crt")) verify required crt-ignore-err all
                http-response set-header X-Verify %[ssl_c_verify]
                default_backend app
            backend app
                server s 127.0.0.1:\(nginx.ports[0])
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        /// curl for NAME with the client certificate: its exit status and ssl_c_verify.
        func request(_ name: String) -> (status: Int32, verify: String?) {
            let r = runCommand("/usr/bin/curl", ["-sS", "-k", "-D", "-", "-o", "/dev/null", "--max-time", "5",
                                                 "--cert", dir.file("client.pem"), "--resolve", "\(name):\(port):127.0.0.1", "https://\(name):\(port)/"])
            let verify = r.out.split(separator: "\r\n").first { $0.lowercased().hasPrefix("x-verify:") }?.dropFirst(9)
            return (r.status, verify.map { $0.trimmingCharacters(in: .whitespaces) })
        }
        XCTAssertEqual(request("a.example.test").verify, "21", "the bind's CA file does not know the client's CA: X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, let through")
        XCTAssertNotEqual(request("b.example.test").status, 0, "strict-sni: no entry for b yet")

        XCTAssertEqual(cli(socket, "new ssl ca-file runtime-ca.crt"), "New CA file created 'runtime-ca.crt'!\n\n")
        XCTAssertEqual(cli(socket, "set ssl ca-file runtime-ca.crt", payload: try String(contentsOfFile: dir.file("ca.crt"), encoding: .utf8)),
                       "transaction created for CA runtime-ca.crt!\n\n")
        XCTAssertEqual(cli(socket, "commit ssl ca-file runtime-ca.crt"), "Committing runtime-ca.crt\nSuccess!\n\n")
        XCTAssertEqual(cli(socket, "new ssl cert \(b)"), "New empty certificate store '\(b)'!\n\n")
        _ = cli(socket, "set ssl cert \(b)", payload: try String(contentsOfFile: b, encoding: .utf8))
        XCTAssertEqual(cli(socket, "commit ssl cert \(b)"), "Committing \(b)\nSuccess!\n\n")
        XCTAssertEqual(cli(socket, "add ssl crt-list \(list)", payload: "\(b) [ca-file /nowhere.crt] b.example.test"),
                       "Can't edit the crt-list: 'ca-file' : unable to load /nowhere.crt\n\n",
                       "a name neither lb.conf nor the socket made is refused (haproxy 2.6's text)")
        XCTAssertEqual(cli(socket, "add ssl crt-list \(list)", payload: "\(b) [ca-file runtime-ca.crt] b.example.test"),
                       "Inserting certificate '\(b)' in crt-list '\(list)'.\nSuccess!\n\n")

        let verified = request("b.example.test")
        XCTAssertEqual(verified.status, 0)
        XCTAssertEqual(verified.verify, "0", "verified against the CA file made on the socket")
        XCTAssertEqual(request("a.example.test").verify, "21", "the other entry keeps the bind's CA file")
        XCTAssertTrue(cli(socket, "show ssl ca-file runtime-ca.crt").hasPrefix("Filename: runtime-ca.crt\nStatus: Used\n"))
        XCTAssertEqual(cli(socket, "del ssl ca-file runtime-ca.crt"), "Can't remove the CA file: CA file 'runtime-ca.crt' in use, can't be deleted!\n\n\n")

        // A connection made on the line stays open across its deletion: the file is no longer
        // in use all the same (HAProxy counts configuration users, not connections).
        let go = dir.file("go")
        let held = try holdConnection(port, serverName: "b.example.test", clientCertificate: dir.file("client.pem"), go: go)
        defer { held.stop() }
        let up = String(decoding: held.readAvailable(held.output), as: UTF8.self)
        XCTAssertTrue(up.hasPrefix("cert"), "the connection is up: \(up)")

        XCTAssertEqual(cli(socket, "del ssl crt-list \(list) \(b)"), "Entry '\(b)' deleted in crtlist '\(list)'!\n\n")
        XCTAssertEqual(cli(socket, "del ssl ca-file runtime-ca.crt"), "CA file 'runtime-ca.crt' deleted!\n\n")
        XCTAssertNotEqual(request("b.example.test").status, 0, "the line is gone")
        FileManager.default.createFile(atPath: go, contents: Data())
        let heldText = String(decoding: held.readToEnd(held.output, timeout: 30), as: UTF8.self)
        held.wait(timeout: 10)
        XCTAssertTrue(heldText.contains("answer HTTP/1.1 200"), "the open connection still works: \(heldText)")
    }
}

