import Foundation
import XCTest

/// testssl.sh (Debian's package) against a SwiftLB TLS listener configured like the sample
/// lb.conf. Its JSON verdict is written to a scratch directory, never to the repository.
/// Findings about the test's own self-signed certificate (`cert_*`: trust chain, name,
/// revocation; `DNS_CAArecord`) judge the certificate, not SwiftLB, and are left out; every
/// other finding rated HIGH or CRITICAL fails the test.
final class TestsslScenarioTests: XCTestCase {
    func testTestsslFindsNothingHighOrCritical() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/testssl") else {
            throw XCTSkip("testssl.sh is not installed (.ci/run installs it)")
        }
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let pem = dir.file("hipc.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["hipchat.example.test", pem]).status, 0)
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend hipchat_https
                bind 127.0.0.1:\(port) ssl crt \(pem) alpn http/1.1
                http-request set-header X-Forwarded-Proto https
                http-response set-header Strict-Transport-Security "max-age=15768000"
                default_backend nodes
            backend nodes
                server node1 127.0.0.1:\(nginx.ports[0])
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        let json = dir.file("testssl.json")
        let run = runCommand("/usr/bin/timeout", ["300", "/usr/bin/testssl", "--quiet", "--color", "0", "--warnings", "off",
                                                  "--jsonfile", json, "--ip", "one", "127.0.0.1:\(port)"])
        let data = try Data(contentsOf: URL(fileURLWithPath: json))
        let findings = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [[String: Any]], run.out)
        XCTAssertGreaterThan(findings.count, 50, "testssl did not run its checks: \(run.out.suffix(500))")
        let serious = findings.filter { f in
            let severity = f["severity"] as? String ?? ""
            let id = f["id"] as? String ?? ""
            return (severity == "HIGH" || severity == "CRITICAL") && !id.hasPrefix("cert_") && id != "DNS_CAArecord"
        }
        XCTAssertEqual(serious.count, 0, serious.map { "\($0["severity"] ?? "") \($0["id"] ?? ""): \($0["finding"] ?? "")" }.joined(separator: "\n"))
        // The protocol findings say what we configured.
        let byID = Dictionary(findings.compactMap { f in (f["id"] as? String).map { ($0, f["finding"] as? String ?? "") } }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(byID["TLS1_1"], "not offered")
        XCTAssertEqual(byID["SSLv3"], "not offered")
        XCTAssertEqual(byID["TLS1_3"], "offered with final")
        XCTAssertEqual(byID["HSTS_time"].map { $0.contains("15768000 seconds") }, true, byID["HSTS_time"] ?? "no HSTS finding")
    }
}
