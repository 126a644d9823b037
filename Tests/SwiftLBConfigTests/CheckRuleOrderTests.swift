import Foundation
import XCTest

/// `http-check` rules in HAProxy 2.6's order, and the options of `http-check connect`: every
/// file here goes through `haproxy -c` and `swiftlb check`. What HAProxy refuses SwiftLB refuses
/// on the same line with HAProxy's reason (a send follows a connect, an expect a send, a connect
/// an expect; a connect comes first or after set-var/unset-var only); what HAProxy accepts
/// SwiftLB runs, or refuses by name — never ignores.
final class CheckRuleOrderTests: XCTestCase {
    enum Verdict {
        /// Both refuse, SwiftLB with HAProxy's reason.
        case refused
        /// Both refuse, each in its own words (an unknown option).
        case refusedOwnWords
        /// Both accept.
        case accepted
        /// HAProxy accepts what SwiftLB does not do: refused, saying so.
        case refusedByName
    }

    private let cases: [(String, [String], Verdict)] = [
        ("send before connect", ["http-check send meth GET uri /", "http-check connect"], .refused),
        ("expect before connect", ["http-check expect status 200", "http-check connect"], .refused),
        ("two connects in a row", ["http-check connect", "http-check connect port 8081"], .refused),
        ("two sends", ["http-check send meth GET uri /a", "http-check send meth GET uri /b"], .refused),
        ("send after expect", ["http-check send meth GET uri /a", "http-check expect status 200", "http-check send meth GET uri /b"], .refused),
        ("connect after the first expect", ["http-check send meth GET", "http-check expect status 200", "http-check connect port 8081", "http-check expect status 200"], .refused),
        ("expect right after connect", ["http-check connect", "http-check expect status 200"], .refused),
        ("a second option httpchk keeps the rules", ["http-check send meth GET uri /", "http-check expect status 200",
                                                     "option httpchk GET /x", "http-check send meth GET uri /y"], .refused),
        ("set-var before connect", ["http-check set-var(check.x) str(a)", "http-check connect", "http-check send meth GET uri /", "http-check expect status 200"], .accepted),
        ("linger", ["http-check connect linger", "http-check send meth GET uri /", "http-check expect status 200"], .accepted),
        ("default, comment, proto h1", ["http-check connect default comment c proto h1"], .accepted),
        ("alpn in clear", ["http-check connect alpn h2"], .accepted),
        ("ssl with sni and alpn http/1.1", ["http-check connect ssl sni health.example alpn http/1.1"], .accepted),
        ("ssl alpn h2", ["http-check connect ssl alpn h2"], .refusedByName),
        ("send-proxy", ["http-check connect send-proxy", "http-check send meth GET uri /"], .accepted),
        ("via-socks4", ["http-check connect via-socks4"], .refusedByName),
        ("proto h2", ["http-check connect proto h2"], .refusedByName),
        ("two requests", ["http-check connect", "http-check send meth GET uri /a", "http-check expect status 200",
                          "http-check connect port 8081", "http-check send meth GET uri /b", "http-check expect status 200"], .refusedByName),
        ("an unknown option", ["http-check connect bogus"], .refusedOwnWords),
    ]

    private func file(_ rules: [String]) -> String {
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 1s\n    timeout server 1s\nbackend b\n    option httpchk\n"
            + rules.map { "    \($0)\n" }.joined() + "    server s1 127.0.0.1:8080 check verify none\n"
    }

    /// The first alert's line number and its reason (after the keyword).
    private func firstAlert(_ text: String) -> (line: String, reason: String)? {
        guard let alert = text.split(separator: "\n").first(where: { $0.contains("parsing [") }),
              let open = alert.range(of: "parsing ["), let close = alert[open.upperBound...].firstIndex(of: "]") else { return nil }
        let place = alert[open.upperBound..<close]
        let line = String(place.split(separator: ":").last ?? "")
        // HAProxy: `'http-check connect' : REASON.`; SwiftLB: `'http-check' : 'http-check connect': REASON`.
        var reason = String(alert[close...])
        if let verb = reason.range(of: "'http-check [a-z-]+' ?: ", options: .regularExpression) { reason = String(reason[verb.upperBound...]) }
        while reason.hasSuffix(".") { reason.removeLast() }
        return (line, reason)
    }

    func testRuleOrderAndConnectOptionsAgreeWithHAProxyMinusC() throws {
        let haproxy = "/usr/sbin/haproxy"
        guard FileManager.default.isExecutableFile(atPath: haproxy) else { throw XCTSkip("no \(haproxy)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("check-order-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (index, (name, rules, verdict)) in cases.enumerated() {
            let path = dir.appendingPathComponent("c\(index).cfg").path
            try file(rules).write(toFile: path, atomically: true, encoding: .utf8)
            let theirs = runCommand(haproxy, ["-c", "-f", path], timeout: 30)
            let ours = runCommand(Binaries.swiftlb, ["check", "-c", path], timeout: 30)
            let theyAccept = theirs.status == 0 || theirs.status == 2, weAccept = ours.status == 0 || ours.status == 2
            let said = "\(name): haproxy \(theirs.status) \(theirs.err)\nswiftlb \(ours.status) \(ours.err)"
            switch verdict {
            case .accepted:
                XCTAssertTrue(theyAccept && weAccept, said)
            case .refusedByName:
                XCTAssertTrue(theyAccept, said)
                XCTAssertFalse(weAccept, said)
                XCTAssertTrue(ours.err.contains("not supported") || ours.err.contains("SwiftLB"), said)
            case .refused, .refusedOwnWords:
                XCTAssertFalse(theyAccept, said)
                XCTAssertFalse(weAccept, said)
                let (h, s) = (firstAlert(theirs.err), firstAlert(ours.err))
                XCTAssertEqual(s?.line, h?.line, "the same line: \(said)")
                if verdict == .refused { XCTAssertEqual(s?.reason, h?.reason, "HAProxy's reason: \(said)") }
            }
        }
    }
}
