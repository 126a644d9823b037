import Foundation
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
        let go = dir.file("go"), held = Process(), heldOut = Pipe()
        held.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        held.arguments = ["python3", "-c", """
            import hashlib, os, socket, ssl, sys, time
            ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", \(port)), timeout=10), server_hostname="old.example.test")
            print("cert", hashlib.sha1(s.getpeercert(True)).hexdigest().upper(), flush=True)
            deadline = time.time() + 15
            while not os.path.exists(sys.argv[1]) and time.time() < deadline: time.sleep(0.05)
            s.sendall(b"GET / HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n")
            print("answer", s.recv(100).split(b"\\r\\n")[0].decode(), flush=True)
            """, go]
        held.standardOutput = heldOut
        try held.run()
        defer { if held.isRunning { held.terminate() } }

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
        let heldText = String(decoding: heldOut.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        held.waitUntilExit()
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
}

