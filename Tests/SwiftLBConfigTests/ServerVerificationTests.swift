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

    /// `text` through `haproxy -c` and `swiftlb check`: the same verdict, HAProxy's the one the
    /// case says. A refusal's error output from each (nil: accepted).
    private func refusals(_ text: String, named file: String, case name: String, refused: Bool,
                          in scratch: Scratch) throws -> (theirs: String, ours: String, said: String)? {
        let both = try CheckedBeside.check(text, named: file, in: scratch)
        let said = "\(name):\n\(both.said)"
        XCTAssertEqual(both.theyAccept, !refused, "the case's verdict is HAProxy's: \(said)")
        XCTAssertEqual(both.weAccept, both.theyAccept, said)
        return refused ? (both.theirs.err, both.ours.err, said) : nil
    }

    func testAVerificationWithoutACAFileIsRefusedAsHAProxyRefusesIt() throws {
        let scratch = try Scratch()
        for (index, (name, global, backend, refused)) in cases.enumerated() {
            let text = "global\n    \(global)\ndefaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
                + "backend b\n    \(backend)\n"
            guard let both = try refusals(text, named: "v\(index).cfg", case: name, refused: refused, in: scratch) else { continue }
            let (h, s) = (alert(both.theirs), alert(both.ours))
            XCTAssertNotNil(h, both.said)
            XCTAssertEqual(s?.line, h?.line, "the server's line: \(both.said)")
            XCTAssertEqual(s?.reason, h?.reason, "HAProxy's words: \(both.said)")
            XCTAssertTrue(both.ours.contains(":\(h?.line ?? "")] : 'server' : "), "file, line and keyword: \(both.said)")
        }
    }
    /// A `peers` section's `server … ssl` follows the same rule, `ssl-server-verify` included:
    /// `swiftlb check` refuses what `run` would (HAProxy's `haproxy -c` does, in the same words,
    /// though without a line; ours names the peer's line).
    func testAPeerVerificationWithoutACAFileIsRefusedAsHAProxyRefusesIt() throws {
        let scratch = try Scratch()
        let cases: [(String, String, String, Bool)] = [
            ("peer ssl", "", "ssl", true),
            ("peer ssl verify required", "", "ssl verify required", true),
            ("peer ssl verify none", "", "ssl verify none", false),
            ("peer ssl ca-file", "", "ssl ca-file \(ca)", false),
            ("peer ssl, ssl-server-verify none", "ssl-server-verify none", "ssl", false),
            ("peer ssl verify required, ssl-server-verify none", "ssl-server-verify none", "ssl verify required", true),
            ("peer without ssl", "", "", false),
        ]
        for (index, (name, global, options, refused)) in cases.enumerated() {
            let text = "global\n    localpeer a\n    \(global)\ndefaults\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\n"
                + "peers p\n    peer a 127.0.0.1:10001\n    server b 127.0.0.1:10002 \(options)\n"
            guard let both = try refusals(text, named: "p\(index).cfg", case: name, refused: refused, in: scratch) else { continue }
            func reason(_ err: String) -> String? {
                err.split(separator: "\n").lazy.compactMap { l in l.range(of: "verify is enabled").map { String(l[$0.lowerBound...]) } }.first
            }
            XCTAssertNotNil(reason(both.theirs), both.said)
            XCTAssertEqual(reason(both.ours), reason(both.theirs), "HAProxy's words: \(both.said)")
            XCTAssertTrue(both.ours.contains("p\(index).cfg:10] : 'server' : "), "file, line and keyword: \(both.said)")
        }
    }
}
