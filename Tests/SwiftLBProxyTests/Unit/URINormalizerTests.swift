import XCTest
import SwiftLBConfig
@testable import SwiftLBProxy

/// `http-request normalize-uri`'s normalizers as pure functions, on the targets of HAProxy's
/// reg-test http-rules/normalize_uri.vtc and on the edge cases haproxy 2.6.12 was asked about
/// (its answers are the expected values here; `HTTPRuleDifferentialTests` asks it again live).
final class URINormalizerTests: XCTestCase {
    private func check(_ normalizer: HTTPRule.URINormalizer, _ cases: [(String, String)], file: StaticString = #filePath, line: UInt = #line) {
        for (input, expected) in cases {
            XCTAssertEqual(try? URINormalizer.apply(normalizer, to: input).get(), expected, "\(normalizer) on \(input)", file: file, line: line)
        }
    }

    func testPathMergeSlashes() {
        check(.pathMergeSlashes, [("/foo//bar", "/foo/bar"), ("///foo///bar///", "/foo/bar/"), ("///", "/"), ("//foo?bar=///", "/foo?bar=///"),
                                  ("/a//b/?x//y", "/a/b/?x//y"), ("*", "*")])
    }

    func testPathStripDotDot() {
        let plain: [(String, String)] = [("/foo/..", "/"), ("/foo/bar/../", "/foo/"), ("/foo/../bar", "/bar"), ("/foo/../../bar/", "/../bar/"),
                                         ("/foo//../../bar/", "/bar/"), ("/foo/../?bar=/foo/../", "/?bar=/foo/../"), ("/a/b/..", "/a/"),
                                         ("/..", "/../"), ("/../a", "/../a"), ("/a/./..", "/a/"), ("/a/.../b/..", "/a/.../"), ("/a/%2e%2e/b", "/a/%2e%2e/b"),
                                         ("*", "*")]
        check(.pathStripDotDot(full: false), plain)
        check(.pathStripDotDot(full: true), [("/foo/../../bar/", "/bar/"), ("/..", "/"), ("/../a", "/a"), ("/a/b/../..", "/")])
    }

    func testPathStripDot() {
        check(.pathStripDot, [("/.", "/"), ("/./", "/"), ("/a/.", "/a/"), ("/a.", "/a."), ("/.a", "/.a"), ("/a/./a", "/a/a"), ("/a/../", "/a/../"),
                              ("/?a=/./", "/?a=/./"), ("/./a", "/a"), ("//", "//"), ("/a//./b", "/a//b"), ("/a/.?x", "/a/?x")])
    }

    func testQuerySortByName() {
        check(.querySortByName, [("/?z=a&a=z", "/?a=z&z=a"), ("/?c&b&a&z&x&y", "/?a&b&c&x&y&z"), ("/?aaaa=&a=&aa=&aaa=", "/?a=&aa=&aaa=&aaaa="),
                                 ("/?a=5&b=3&a=1&a=2&b=4", "/?a=5&a=1&a=2&b=3&b=4"), ("/", "/"), ("/?", "/?"), ("/?&b&&a", "/?&&a&b"),
                                 ("/?b=2;a=1&a", "/?a&b=2;a=1"), ("/?B&a", "/?B&a")])
    }

    func testPercentNormalizers() {
        check(.percentToUppercase(strict: false), [("/%aa?a=%aa", "/%AA?a=%AA"), ("/%zz?a=%zz", "/%zz?a=%zz"), ("/%ab%c", "/%AB%c")])
        check(.percentDecodeUnreserved(strict: false), [("/%61?%61=%61", "/a?a=a"), ("/%3F?foo=bar", "/%3F?foo=bar"), ("/%%36%36", "/%66"),
                                                        ("/%41%7e%7E%2d%2F", "/A~~-%2F"), ("/%c3%a9", "/%c3%a9"), ("/%", "/%")])
        XCTAssertEqual(URINormalizer.apply(.percentToUppercase(strict: true), to: "/%zz?a=%zz"), .failure(URINormalizer.Invalid()))
        XCTAssertEqual(URINormalizer.apply(.percentDecodeUnreserved(strict: true), to: "/%%36%36"), .failure(URINormalizer.Invalid()))
        XCTAssertEqual(URINormalizer.apply(.percentDecodeUnreserved(strict: true), to: "/a%2"), .failure(URINormalizer.Invalid()))
    }

    func testFragments() {
        check(.fragmentStrip, [("/#foo", "/"), ("/%23foo", "/%23foo"), ("*", "*")])
        check(.fragmentEncode, [("/#foo", "/%23foo"), ("/#foo/#foo", "/%23foo/%23foo")])
    }

    /// An absolute-form target keeps its scheme and authority; one without a path is left alone.
    func testAbsoluteForm() {
        check(.pathMergeSlashes, [("http://h//a//b", "http://h/a/b"), ("http://h", "http://h")])
        check(.pathStripDotDot(full: true), [("http://h/a/../b", "http://h/b")])
    }

    /// The action needs `expose-experimental-directives` (HAProxy 2.6's rule); a bad
    /// normalizer or option is an error naming the line and keyword.
    func testParsing() throws {
        func parse(_ rule: String, experimental: Bool = true) -> Result<Configuration, ConfigErrors> {
            let text = "\(experimental ? "global\n    expose-experimental-directives\n" : "")frontend fe\n    bind :8080\n    \(rule)\n    default_backend b\nbackend b\n    server s 127.0.0.1:1\n"
            do { return .success(try ConfigParser.parse(text: text, file: "t.cfg")) } catch { return .failure(error) }
        }
        guard case .success(let c) = parse("http-request normalize-uri path-strip-dotdot full") else { return XCTFail("refused") }
        guard case .normalizeURI(.pathStripDotDot(full: true)) = c.frontends[0].httpRequestRules[0].action else { return XCTFail("\(c.frontends[0].httpRequestRules)") }
        for (rule, words, experimental) in [("http-request normalize-uri path-strip-dots", "did you mean 'path-strip-dot'", true),
                                            ("http-request normalize-uri path-merge-slashes full", "takes no option", true),
                                            ("http-request normalize-uri percent-to-uppercase full", "takes 'strict' or nothing", true),
                                            ("http-request normalize-uri fragment-strip", "experimental", false)] {
            guard case .failure(let errors) = parse(rule, experimental: experimental), let error = errors.errors.first else { XCTFail("\(rule) accepted"); continue }
            XCTAssertEqual(error.file, "t.cfg")
            XCTAssertEqual(error.keyword, "http-request", "\(error)")
            XCTAssertTrue(error.message.contains(words), "\(rule): \(error.message)")
            XCTAssertEqual(error.line, experimental ? 5 : 3)
        }
    }
}
