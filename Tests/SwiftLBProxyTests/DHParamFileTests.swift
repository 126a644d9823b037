import Foundation
import XCTest

/// `ssl-dh-param-file FILE`: the DHE suites of every `bind … ssl` use the file's parameters, in
/// SwiftLB as in haproxy on the same configuration (the client sees a 3072-bit DH key with an
/// ffdhe3072 file, where SwiftLB's automatic parameters for a 2048-bit RSA key are 2048 bits);
/// a file without parameters is refused with haproxy's message.
final class DHParamFileTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The "Server Temp Key" line of a TLS 1.2 DHE handshake.
    private func temporaryKey(_ port: Int) -> String {
        let out = runCommand("/bin/sh", ["-c", "echo | openssl s_client -connect 127.0.0.1:\(port) -tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256 2>&1"]).out
        return out.split(separator: "\n").first { $0.hasPrefix("Server Temp Key") }.map(String.init) ?? out
    }

    func testDHEUsesTheFilesParameters() throws {
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["site.example.test", pem]).status, 0)
        let parameters = dir.file("dh.pem")
        XCTAssertEqual(runCommand("/usr/bin/openssl", ["genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "dh_param:ffdhe3072", "-out", parameters]).status, 0)
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let pair = try SideBySide({ port in
            "global\n    ssl-dh-param-file \(parameters)\n"
                + "listen l\n    bind 127.0.0.1:\(port) ssl crt \(pem) ciphers DHE-RSA-AES128-GCM-SHA256\n    server s 127.0.0.1:\(backend.port)\n"
        }, in: dir)
        defer { pair.stop() }
        for port in pair.ports {
            XCTAssertEqual(temporaryKey(port), "Server Temp Key: DH, 3072 bits", "port \(port)")
        }
    }

    func testAFileWithoutParametersIsRefused() throws {
        let bad = try dir.write("bad.pem", "hello\n")
        let file = try dir.write("lb.conf", "global\n    ssl-dh-param-file \(bad)\n" + testDefaults())
        let ours = runCommand(Paths.swiftlb, ["check", "--config", file])
        let theirs = runCommand("/usr/sbin/haproxy", ["-c", "-f", file])
        let message = "'ssl-dh-param-file': unable to load DH parameters from file <\(bad)>."
        XCTAssertNotEqual(ours.status, 0)
        XCTAssertTrue(ours.err.contains(message), ours.err)
        XCTAssertTrue(theirs.err.contains(message) || theirs.out.contains(message), theirs.err)
    }
}
