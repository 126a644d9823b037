import NIOCore
@testable import SwiftLBConfig
@testable import SwiftLBProxy
import XCTest

/// What `balance uri|url_param|hdr` hash of a request (`RequestHashKey.hash`), and the ring
/// the request-hash balancer picks from.
final class RequestHashKeyTests: XCTestCase {
    private func head(_ text: String) throws -> MessageHead {
        var parser = HeadParser(kind: .request)
        var bytes = ByteBuffer(string: text)
        guard case .head(let head) = parser.parse(&bytes) else { throw HarnessError("does not parse: \(text)") }
        return head
    }

    private func get(_ target: String, _ headers: String = "Host: a\r\n") throws -> MessageHead {
        try head("GET \(target) HTTP/1.1\r\n\(headers)\r\n")
    }

    private func uri(_ target: String, length: Int? = nil, depth: Int? = nil, whole: Bool = false, pathOnly: Bool = false) throws -> UInt64? {
        RequestHashKey.uri(length: length, depth: depth, whole: whole, pathOnly: pathOnly).hash(try get(target))
    }

    func testURIHashesThePathAndWithWholeTheQuery() throws {
        XCTAssertEqual(try uri("/a/b?x=1"), stableHash("/a/b".utf8))
        XCTAssertEqual(try uri("/a/b?x=1", whole: true), stableHash("/a/b?x=1".utf8))
        XCTAssertEqual(try uri("/a/b/c/d", depth: 2), stableHash("/a/b".utf8))
        XCTAssertEqual(try uri("/abcdef", length: 3), stableHash("/ab".utf8))
        XCTAssertEqual(try uri("http://h.example/a/b?q", pathOnly: true), stableHash("/a/b".utf8))
        XCTAssertEqual(try uri("http://h.example/a/b?q"), stableHash("http://h.example/a/b".utf8))
    }

    func testURLParameterAndHeader() throws {
        let param = RequestHashKey.urlParameter("user")
        XCTAssertEqual(param.hash(try get("/p?a=1&user=bob&c")), stableHash("bob".utf8))
        XCTAssertNil(param.hash(try get("/p?a=1&username=bob")), "no such parameter: round robin")
        XCTAssertNil(param.hash(try get("/p?user=")), "an empty value: round robin")
        XCTAssertNil(param.hash(try get("/p")))
        let host = RequestHashKey.header("host", domainOnly: true)
        XCTAssertEqual(host.hash(try get("/", "Host: www.example.com:8080\r\n")), stableHash("example".utf8))
        XCTAssertEqual(host.hash(try get("/", "Host: localhost\r\n")), stableHash("localhost".utf8))
        XCTAssertEqual(RequestHashKey.header("x-tenant", domainOnly: false).hash(try get("/", "Host: a\r\nX-Tenant: acme\r\n")), stableHash("acme".utf8))
        XCTAssertNil(RequestHashKey.header("x-tenant", domainOnly: false).hash(try get("/")))
        // The first value of a list, as HAProxy: two CDN edges in front of one client agree.
        let forwarded = RequestHashKey.header("x-forwarded-for", domainOnly: false)
        XCTAssertEqual(forwarded.hash(try get("/", "Host: a\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.1\r\n")), stableHash("1.2.3.4".utf8))
        XCTAssertEqual(forwarded.hash(try get("/", "Host: a\r\nX-Forwarded-For: 1.2.3.4,10.0.0.2\r\n")), stableHash("1.2.3.4".utf8))
    }
}
