import Foundation
import XCTest

/// HAProxy 2.6 verifies a server's certificate by default and refuses a verification with no
/// CA file: `server … ssl`, `check-ssl`, `http-check connect ssl`, `tcp-check connect ssl`,
/// each with and without `verify none` / `ssl-server-verify none`. Every file goes through
/// `haproxy -c` and `swiftlb check`: the same verdict, the same line, HAProxy's words.
final class ServerVerificationTests: XCTestCase {
    private let ca = "/etc/ssl/certs/ca-certificates.crt"

    /// (name, global lines, backend lines, refused)
    private var cases: [(String, String, String, Bool)] {
        [
            ("server ssl", "", "server s 127.0.0.1:8443 ssl", true),
            ("server ssl verify required", "", "server s 127.0.0.1:8443 ssl verify required", true),
            ("server ssl verify none", "", "server s 127.0.0.1:8443 ssl verify none", false),
            ("server ssl ca-file", "", "server s 127.0.0.1:8443 ssl ca-file \(ca)", false),
            ("server ssl, ssl-server-verify none", "ssl-server-verify none", "server s 127.0.0.1:8443 ssl", false),
            ("server ssl verify required, ssl-server-verify none", "ssl-server-verify none", "server s 127.0.0.1:8443 ssl verify required", true),
            ("server ssl verify none, ssl-server-verify required", "ssl-server-verify required", "server s 127.0.0.1:8443 ssl verify none", false),
            ("default-server ssl", "", "default-server ssl\n    server s 127.0.0.1:8443", true),
            ("default-server verify none", "", "default-server verify none\n    server s 127.0.0.1:8443 ssl", false),
            ("default-server ssl, server no-ssl", "", "default-server ssl\n    server s 127.0.0.1:8443 no-ssl", true),
            ("check-ssl", "", "server s 127.0.0.1:8443 check check-ssl", true),
            ("check-ssl verify none", "", "server s 127.0.0.1:8443 check check-ssl verify none", false),
            ("check-ssl ca-file", "", "server s 127.0.0.1:8443 check check-ssl ca-file \(ca)", false),
            ("check-ssl, ssl-server-verify none", "ssl-server-verify none", "server s 127.0.0.1:8443 check check-ssl", false),
            ("http-check connect ssl", "", "option httpchk\n    http-check connect ssl\n    server s 127.0.0.1:8443 check", true),
            ("http-check connect ssl, verify none", "", "option httpchk\n    http-check connect ssl\n    server s 127.0.0.1:8443 check verify none", false),
            ("http-check connect ssl, ssl-server-verify none", "ssl-server-verify none", "option httpchk\n    http-check connect ssl\n    server s 127.0.0.1:8443 check", false),
            ("tcp-check connect ssl", "", "option tcp-check\n    tcp-check connect ssl\n    server s 127.0.0.1:8443 check", true),
            ("tcp-check connect ssl without check", "", "option tcp-check\n    tcp-check connect ssl\n    server s 127.0.0.1:8443", true),
            ("tcp-check connect ssl, verify none", "", "option tcp-check\n    tcp-check connect ssl\n    server s 127.0.0.1:8443 check verify none", false),
            ("tcp-check connect ssl, ca-file", "", "option tcp-check\n    tcp-check connect ssl\n    server s 127.0.0.1:8443 check ca-file \(ca)", false),
            ("tcp-check connect ssl, ssl-server-verify none", "ssl-server-verify none", "option tcp-check\n    tcp-check connect ssl\n    server s 127.0.0.1:8443 check", false),
            ("plain server, no TLS anywhere", "", "server s 127.0.0.1:8080 check", false),
        ]
    }

    /// The alert's line and its text after the prefixes that differ: HAProxy's `[file:line] :
    /// 'server b/s' :`, SwiftLB's `parsing [file:line] : 'server' :`.
    private func alert(_ text: String) -> (line: String, reason: String)? {
        guard let alert = text.split(separator: "\n").first(where: { $0.contains("verify is enabled") }),
              let open = alert.range(of: ".cfg:"), let close = alert[open.upperBound...].firstIndex(of: "]") else { return nil }
        let line = String(alert[open.upperBound..<close])
        guard let reason = alert.range(of: "verify is enabled") else { return nil }
        return (line, String(alert[reason.lowerBound...]))
    }

    func testAVerificationWithoutACAFileIsRefusedAsHAProxyRefusesIt() throws {
        let scratch = try Scratch()
        for (index, (name, global, backend, refused)) in cases.enumerated() {
            let text = "global\n    \(global)\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
                + "backend b\n    \(backend)\n"
            let both = try CheckedBeside.check(text, named: "v\(index).cfg", in: scratch)
            let said = "\(name):\n\(both.said)"
            XCTAssertEqual(both.theyAccept, !refused, "the case's verdict is HAProxy's: \(said)")
            XCTAssertEqual(both.weAccept, both.theyAccept, said)
            guard refused else { continue }
            let (h, s) = (alert(both.theirs.err), alert(both.ours.err))
            XCTAssertNotNil(h, said)
            XCTAssertEqual(s?.line, h?.line, "the server's line: \(said)")
            XCTAssertEqual(s?.reason, h?.reason, "HAProxy's words: \(said)")
            XCTAssertTrue(both.ours.err.contains(":\(h?.line ?? "")] : 'server' : "), "file, line and keyword: \(said)")
        }
    }
}
