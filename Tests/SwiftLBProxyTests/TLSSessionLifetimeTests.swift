import Foundation
import XCTest

/// `tune.ssl.lifetime`: a TLS session (a ticket, a cached session id) resumes within the
/// lifetime and not after it, in SwiftLB as in haproxy on the same configuration.
final class TLSSessionLifetimeTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// openssl s_client with stdin held open briefly (TLS 1.3 tickets arrive after the handshake).
    private func sClient(_ port: Int, _ args: [String]) -> String {
        runCommand("/bin/sh", ["-c", "sleep 0.3 | openssl s_client -connect 127.0.0.1:\(port) " + args.joined(separator: " ") + " 2>&1"]).out
    }

    func testASessionResumesWithinTheLifetimeOnly() throws {
        let pem = dir.file("site.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["site.example.test", pem]).status, 0)
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let pair = try SideBySide({ port in
            "global\n    tune.ssl.lifetime 2\nlisten l\n    bind 127.0.0.1:\(port) ssl crt \(pem)\n    server s 127.0.0.1:\(backend.port)\n"
        }, in: dir)
        defer { pair.stop() }
        var seen: [String] = []
        for version in ["-tls1_2", "-tls1_3"] {
            for port in pair.ports {
                let session = dir.file("session-\(port)\(version).pem")
                let first = sClient(port, [version, "-sess_out", session])
                let soon = sClient(port, [version, "-sess_in", session])
                seen.append("\(version) \(first.contains("New, TLSv1.") ? "new" : "?") \(soon.contains("Reused, TLSv1.") ? "reused" : "new")")
            }
            Thread.sleep(forTimeInterval: 3)
            for port in pair.ports {
                let late = sClient(port, [version, "-sess_in", dir.file("session-\(port)\(version).pem")])
                seen.append("\(version) after 3 s: \(late.contains("Reused, TLSv1.") ? "reused" : late.contains("New, TLSv1.") ? "new" : "?")")
            }
        }
        // SwiftLB, then haproxy, for each version.
        XCTAssertEqual(seen, [
            "-tls1_2 new reused", "-tls1_2 new reused", "-tls1_2 after 3 s: new", "-tls1_2 after 3 s: new",
            "-tls1_3 new reused", "-tls1_3 new reused", "-tls1_3 after 3 s: new", "-tls1_3 after 3 s: new",
        ])
    }
}
