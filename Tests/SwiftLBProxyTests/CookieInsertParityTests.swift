import Foundation
import XCTest

/// `cookie … insert` side by side with HAProxy 2.6: what a response carries for a server with
/// a `cookie` value, for one without (HAProxy's removal, `NAME=; Expires=Thu, 01-Jan-1970
/// 00:00:01 GMT; path=/`, whether the client sent the cookie or not), and with `nocache` the
/// `Cache-Control: private` HAProxy 2.6.12 adds to a cacheable response only (a safe method or
/// `public`, a cacheable status, an expiry or a validator, nothing that forbids caching).
final class CookieInsertParityTests: XCTestCase {
    /// nginx answering each path with the caching headers its name says.
    private func startOrigin(in dir: TempDirectory) throws -> (ChildProcess, Int) {
        let port = freePort(), root = dir.file("nginx")
        let expires = #"add_header Expires "Thu, 01 Jan 2037 00:00:00 GMT";"#
        let conf = try dir.write("nginx.conf", try singleNginxConfig(root: root, server: """
                listen 127.0.0.1:\(port);
                location ~ /plain$ { return 200 "ok"; }
                location ~ /expires$ { \(expires) return 200 "ok"; }
                location ~ /maxage$ { add_header Cache-Control "max-age=10"; return 200 "ok"; }
                location ~ /etag$ { add_header ETag '"v1"'; return 200 "ok"; }
                location ~ /public$ { add_header Cache-Control "public, max-age=10"; return 200 "ok"; }
                location ~ /uncached$ { add_header Cache-Control "no-cache, max-age=10"; return 200 "ok"; }
                location ~ /pragma$ { add_header Pragma "no-cache"; \(expires) return 200 "ok"; }
                location ~ /moved$ { \(expires) return 302 "/x"; }
            """))
        let nginx = try ChildProcess("/usr/sbin/nginx", ["-c", conf, "-e", root + "/error.log"], logDirectory: dir, name: "nginx")
        guard waitForPort(port) else {
            nginx.stop()
            throw HarnessError("nginx did not start: \(nginx.stderr)")
        }
        return (nginx, port)
    }

    func testSetCookieAndCacheControlAreHAProxysForServersWithAndWithoutACookie() throws {
        let dir = try TempDirectory()
        let (origin, originPort) = try startOrigin(in: dir)
        defer { origin.stop() }
        let both = try SideBySide({ port in """
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend anonymous if { path_beg /two }
                default_backend named
            backend named
                cookie SRV insert nocache
                server s1 127.0.0.1:\(originPort) cookie a
            backend anonymous
                cookie SRV insert nocache domain .example.com httponly secure
                server s2 127.0.0.1:\(originPort)

            """ }, in: dir)
        defer { both.stop() }
        let inserted = "set-cookie: SRV=a; path=/", removal = "set-cookie: SRV=; Expires=Thu, 01-Jan-1970 00:00:01 GMT; path=/; domain=.example.com; HttpOnly; Secure"
        let (maxAge, publicAge, uncached) = ("cache-control: max-age=10", "cache-control: public, max-age=10", "cache-control: no-cache, max-age=10")
        let cases: [(arguments: [String], expected: [String])] = [
            (["/plain"], [inserted]),
            (["-I", "/plain"], [inserted]),
            (["-H", "Cookie: SRV=a", "/plain"], []),
            (["/expires"], [inserted, "cache-control: private"]),
            (["-d", "x", "/expires"], [inserted]),
            (["/maxage"], [maxAge, inserted, "cache-control: private"]),
            (["/etag"], [inserted, "cache-control: private"]),
            (["-d", "x", "/public"], [publicAge, inserted, "cache-control: private"]),
            (["/uncached"], [uncached, inserted]),
            (["/pragma"], [inserted]),
            (["/moved"], [inserted]),
            (["/two/plain"], [removal]),
            (["-H", "Cookie: SRV=a", "/two/plain"], [removal]),
            (["-d", "x", "/two/plain"], [removal]),
            (["/two/expires"], [removal, "cache-control: private"]),
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
