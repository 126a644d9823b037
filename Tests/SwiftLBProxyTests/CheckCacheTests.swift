import Foundation
import XCTest

/// `option checkcache` beside HAProxy 2.6 on the same configuration: a response a shared cache
/// would keep (safe method, cacheable status, a freshness or validator, no private/no-cache)
/// that sets a cookie is blocked — replaced by HAProxy's page for its own status (2.6's deny
/// sets no status: a 200 becomes the "Service ready." page, a status without a page the 500
/// one); one a cache would not keep, or whose `Cache-Control: no-cache="set-cookie"` keeps the
/// cookie out of it, passes.
final class CheckCacheTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The status and whether the body is HAProxy's page (the server's is empty).
    private func answer(_ port: Int, _ method: String, _ path: String) -> String {
        guard let client = try? RawClient(port: port, timeout: 5) else { return "no connection" }
        client.send("\(method) \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        let text = client.readAll().text
        let status = text.split(separator: " ", maxSplits: 2).dropFirst().first.map(String.init) ?? "?"
        let page = text.components(separatedBy: "<h1>").dropFirst().first?.components(separatedBy: "</h1>").first
        return status + (page.map { " page \($0)" } ?? "")
    }

    /// The answer's headers the path names: `sc` a Set-Cookie, `ma` max-age=60, `pr` private,
    /// `nc` no-cache="set-cookie", `s404`/`s203` the status.
    private static let answer = """
        def answer(path):
            status = b"404 Not Found" if b"s404" in path else b"203 Non-Authoritative Information" if b"s203" in path else b"200 OK"
            head = b""
            if b"sc" in path: head += b"Set-Cookie: SID=1; path=/\\r\\n"
            cache = [v for k, v in ((b"ma", b"max-age=60"), (b"pr", b"private"), (b"nc", b"no-cache=\\"set-cookie\\"")) if k in path]
            if cache: head += b"Cache-Control: " + b", ".join(cache) + b"\\r\\n"
            return b"HTTP/1.1 " + status + b"\\r\\nContent-Length: 2\\r\\n" + head + b"Connection: close\\r\\n\\r\\nok"
        """

    func testCacheableCookiesAreBlockedAsInHAProxy() throws {
        let origin = try PythonOrigin(answer: Self.answer, in: dir)
        defer { origin.stop() }
        let both = try SideBySide({ listen in
            """
            frontend fe
                bind 127.0.0.1:\(listen)
                default_backend be
            backend be
                option checkcache
                server s1 127.0.0.1:\(origin.port)
            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            XCTAssertEqual(answer(port, "GET", "/sc-ma"), "200 page 200 OK", "port \(port): cacheable with a cookie")
            XCTAssertEqual(answer(port, "GET", "/sc-ma-s404"), "404 page 404 Not Found", "port \(port)")
            XCTAssertEqual(answer(port, "GET", "/sc-ma-s203"), "500 page 500 Internal Server Error", "port \(port)")
            XCTAssertEqual(answer(port, "POST", "/sc-ma"), "200", "port \(port): a POST's answer is not kept by caches")
            XCTAssertEqual(answer(port, "GET", "/sc-ma-pr"), "200", "port \(port)")
            XCTAssertEqual(answer(port, "GET", "/sc-ma-nc"), "200", "port \(port): no-cache=\"set-cookie\"")
            XCTAssertEqual(answer(port, "GET", "/ma"), "200", "port \(port): no cookie")
            XCTAssertEqual(answer(port, "GET", "/sc"), "200", "port \(port): no freshness nor validator")
        }
    }
}
