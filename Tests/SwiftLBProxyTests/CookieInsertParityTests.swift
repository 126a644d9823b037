import Foundation
import XCTest

/// `cookie … insert` side by side with HAProxy 2.6: what a response carries for a server with
/// a `cookie` value, for one without (HAProxy's removal, `NAME=; Expires=Thu, 01-Jan-1970
/// 00:00:01 GMT; path=/`, whether the client sent the cookie or not), and with `nocache` (which
/// HAProxy 2.6.12 turns into no header at all).
final class CookieInsertParityTests: XCTestCase {
    func testSetCookieAndCacheControlAreHAProxysForServersWithAndWithoutACookie() throws {
        let dir = try TempDirectory()
        let origin = try RecordingBackend(in: dir)
        defer { origin.stop() }
        let both = try SideBySide({ port in """
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend anonymous if { path_beg /two }
                default_backend named
            backend named
                cookie SRV insert nocache
                server s1 127.0.0.1:\(origin.port) cookie a
            backend anonymous
                cookie SRV insert nocache domain .example.com httponly secure
                server s2 127.0.0.1:\(origin.port)

            """ }, in: dir)
        defer { both.stop() }
        let removal = "SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/; domain=.example.com; HttpOnly; Secure"
        let cases: [(arguments: [String], expected: [String])] = [
            (["/one"], ["set-cookie: SRV=a; path=/"]),
            (["-I", "/one"], ["set-cookie: SRV=a; path=/"]),
            (["-H", "Cookie: SRV=a", "/one"], []),
            (["/two"], ["set-cookie: \(removal)"]),
            (["-H", "Cookie: SRV=a", "/two"], ["set-cookie: \(removal)"]),
            (["-d", "x", "/two"], ["set-cookie: \(removal)"]),
        ]
        for (arguments, expected) in cases {
            var seen: [String] = []
            for port in both.ports {
                let path = arguments.last!
                let run = curl(["-s", "-o", "/dev/null", "-D", "-"] + arguments.dropLast() + ["http://127.0.0.1:\(port)\(path)"])
                // Header names compared without case: HAProxy writes every name in lower case,
                // SwiftLB the names it adds as HAProxy's documentation spells them.
                let lines = run.out.split(separator: "\r\n").map(String.init).filter {
                    let name = $0.split(separator: ":").first?.lowercased()
                    return name == "set-cookie" || name == "cache-control"
                }.map { line -> String in
                    let colon = line.firstIndex(of: ":")!
                    return line[..<colon].lowercased() + line[colon...]
                }
                seen.append(lines.joined(separator: "\n"))
            }
            XCTAssertEqual(seen[1], expected.joined(separator: "\n"), "haproxy 2.6 itself, for \(arguments)")
            XCTAssertEqual(seen[0], seen[1], "swiftlb then haproxy, for \(arguments)")
        }
    }
}
