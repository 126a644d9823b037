import XCTest
@testable import SwiftLBProxy

/// Absolute-form targets checked against Host and normalised as HAProxy 2.6's h1 parser does
/// (the cases of reg-test http-messaging/h1_host_normalization.vtc, as pure functions;
/// `HTTPMessagingParityTests` compares with a live haproxy).
final class AbsoluteFormTests: XCTestCase {
    func testSplitPort() {
        func split(_ s: String) -> [String?] { let (h, p) = AbsoluteForm.splitPort(Substring(s)); return [String(h), p.map(String.init)] }
        XCTAssertEqual(split("host:80"), ["host", "80"])
        XCTAssertEqual(split("host:"), ["host", ""])
        XCTAssertEqual(split("host"), ["host", nil])
        XCTAssertEqual(split("[::1]"), ["[::1]", nil])
        XCTAssertEqual(split("[::1]:8080"), ["[::1]", "8080"])
        XCTAssertEqual(split(":"), ["", ""])
    }

    func testHostAgreesWithTheAuthority() {
        func agrees(_ authority: String, _ host: String, https: Bool = false) -> Bool {
            AbsoluteForm.hostAgrees(authority: Substring(authority), host: Substring(host), https: https)
        }
        // h1_host_normalization.vtc's accepted pairs…
        for (a, h, s) in [("hostname:80", "hostname:80", false), ("hostname:8080", "hostname:8080", false), ("hostname:443", "hostname:443", true),
                          ("hostname:80", "hostname", false), ("hostname:443", "hostname", true), ("hostname", "hostname:80", false),
                          ("hostname", "hostname:443", true), ("hostname:", "hostname", false), ("hostname", "hostname:", false),
                          ("hostname:80", "hostname:", false), ("hostname:", "hostname:80", false), ("HostName", "hostname", false),
                          (":", ":80", false), (":", ":443", true), (":", ":", false)] {
            XCTAssertTrue(agrees(a, h, https: s), "\(a) vs \(h)")
        }
        // …and its refused ones (c8–c11), plus a default port of the other scheme.
        for (a, h, s) in [("hostname1", "hostname2", false), ("hostname:80", "hostname:81", false), ("hostname:8080", "hostname", false),
                          ("hostname", "hostname:81", false), ("hostname:443", "hostname", false), ("hostname", "hostname:80", true)] {
            XCTAssertFalse(agrees(a, h, https: s), "\(a) vs \(h)")
        }
    }

    func testNormalisedDropsOnlyADefaultOrEmptyPort() {
        XCTAssertEqual(AbsoluteForm.normalised("http://hostname:80/c1")?.target, "http://hostname/c1")
        XCTAssertEqual(AbsoluteForm.normalised("http://hostname:80/c1")?.host, "hostname")
        XCTAssertEqual(AbsoluteForm.normalised("https://hostname:443/c3?x")?.target, "https://hostname/c3?x")
        XCTAssertEqual(AbsoluteForm.normalised("http://hostname:/c24")?.target, "http://hostname/c24")
        XCTAssertEqual(AbsoluteForm.normalised("HTTP://h:80")?.target, "HTTP://h")
        XCTAssertNil(AbsoluteForm.normalised("http://hostname:8080/c2"))
        XCTAssertNil(AbsoluteForm.normalised("https://hostname:80/c4"))
        XCTAssertNil(AbsoluteForm.normalised("http://hostname/c22"))
        XCTAssertNil(AbsoluteForm.normalised("/origin:80"))
    }

    func testNormaliseRewritesTheStartLineAndEveryHost() throws {
        var head = try requestHead("GET http://h:80/p?q HTTP/1.1\r\nHost: h:80\r\nX: y\r\n\r\n")
        AbsoluteForm.normalise(&head)
        XCTAssertEqual(serialised(head), "GET http://h/p?q HTTP/1.1\r\nX: y\r\nHost: h\r\n\r\n")
        var kept = try requestHead("GET http://h:81/p HTTP/1.1\r\nHost: h:81\r\n\r\n")
        AbsoluteForm.normalise(&kept)
        XCTAssertNil(kept.startLineOverride)
    }

    func testAMismatchIsAProblem() throws {
        XCTAssertNotNil(RequestValidator.problem(in: try requestHead("GET http://a/ HTTP/1.1\r\nHost: b\r\n\r\n")))
        XCTAssertNil(RequestValidator.problem(in: try requestHead("GET http://a:80/ HTTP/1.1\r\nHost: a\r\n\r\n")))
        XCTAssertNil(RequestValidator.problem(in: try requestHead("GET http://a/ HTTP/1.0\r\n\r\n")), "an HTTP/1.0 client may send no Host")
    }
}
