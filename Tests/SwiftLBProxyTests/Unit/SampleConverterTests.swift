import Foundation
import XCTest
@testable import SwiftLBProxy

/// The byte and map converters on their own: published test vectors, what a binary prints as,
/// and the configuration errors (HAProxyConverterTests compares the values with HAProxy's).
final class SampleConverterTests: XCTestCase {
    private func eval(_ text: String, _ headers: String = "") throws -> SampleValue? {
        let head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\n\(headers)\r\n")
        return try SampleExpression(parsing: text).evaluate(SampleInput(facts: try facts(head)))
    }

    func testHashVectors() {
        // xxHash's own reference values for the empty input, seed 0.
        XCTAssertEqual(SampleHash.xxh32([], seed: 0), 0x02CC_5D05)
        XCTAssertEqual(SampleHash.xxh64([], seed: 0), 0xEF46_DB37_51D8_E999)
        XCTAssertEqual(SampleHash.djb2(Array("a".utf8)), 5381 * 33 + 97)
        XCTAssertEqual(Base64.decode(Array("aGVsbG8=".utf8), url: false), Array("hello".utf8))
        XCTAssertNil(Base64.decode(Array("aGVsbG8".utf8), url: false))
        XCTAssertNil(Base64.decode(Array("aG=sbG8=".utf8), url: false))
        XCTAssertEqual(Base64.decode(Array("aGVsbG8".utf8), url: true), Array("hello".utf8))
    }

    /// A request's header or variable can hold any 64-bit integer: the arithmetic converters
    /// cap at the range's ends as HAProxy does (Int.min / -1 trapped the process before).
    func testArithmeticCapsInsteadOfTrapping() throws {
        let (max, min) = ("9223372036854775807", "-9223372036854775808")
        for (expression, header, expected) in [("req.hdr(x),div(-1)", min, Int.max), ("req.hdr(x),mod(-1)", min, 0),
                                               ("req.hdr(x),div(0)", "5", Int.max), ("req.hdr(x),mod(0)", "5", 0),
                                               ("req.hdr(x),mul(2)", max, Int.max), ("req.hdr(x),mul(2)", min, Int.min),
                                               ("req.hdr(x),mul(-2)", max, Int.min), ("req.hdr(x),mul(-1)", min, Int.max),
                                               ("req.hdr(x),add(1)", max, Int.max), ("req.hdr(x),add(-1)", min, Int.min),
                                               ("req.hdr(x),sub(1)", min, Int.min), ("req.hdr(x),sub(\(min))", "0", Int.max),
                                               ("req.hdr(x),sub(\(min))", "-1", Int.max), ("req.hdr(x),div(-2)", min, Int.min / -2),
                                               ("req.hdr(x),add(-3)", "1", -2), ("req.hdr(x),mul(-3)", "7", -21), ("req.hdr(x),mod(-3)", "7", 1)] {
            XCTAssertEqual(try eval(expression, "x: \(header)\r\n"), .integer(expected), "\(expression) of \(header)")
        }
    }

    /// Counts and occurrences at the ends of the Int range, which lb.conf may write: all the
    /// fields there are, or none, never an overflow (both trapped at the first request).
    func testFieldCountsAndOccurrencesAtTheEndsOfTheRange() throws {
        let (max, min) = ("9223372036854775807", "-9223372036854775808")
        for (expression, expected) in [("req.hdr(x),field(2,:,\(max))", "b:c"), ("req.hdr(x),field(-2,:,\(max))", "a:b"),
                                       ("req.hdr(x),word(2,:,\(max))", "b:c"), ("req.hdr(x),field(\(min),:,\(max))", ""),
                                       ("req.hdr(x),field(\(max),:,\(max))", ""), ("req.hdr(x),field(1,:,0)", "a:b:c")] {
            XCTAssertEqual(try eval(expression, "x: a:b:c\r\n")?.text, expected, expression)
        }
        XCTAssertNil(try eval("req.hdr(x,\(min))", "x: a\r\nx: b\r\n"))
        XCTAssertNil(try eval("req.hdr(x,\(max))", "x: a\r\nx: b\r\n"))
        XCTAssertEqual(try eval("req.hdr(x,-2)", "x: a\r\nx: b\r\n")?.text, "a")
    }

    func testABinaryPrintsUpToItsFirstNULAndHexPrintsAllOfIt() throws {
        XCTAssertEqual(try eval("req.hdr(x),b64dec", "x: YQBi\r\n"), .binary([0x61, 0, 0x62]))
        XCTAssertEqual(try eval("req.hdr(x),b64dec", "x: YQBi\r\n")?.text, "a")
        XCTAssertEqual(try eval("req.hdr(x),b64dec,hex", "x: YQBi\r\n")?.text, "610062")
        XCTAssertEqual(try eval("req.hdr(x),sha1,hex", "x: abc\r\n")?.text, "A9993E364706816ABA3E25717850C26C9CD0D89D")
        XCTAssertNil(try eval("req.hdr(x),b64dec", "x: !!\r\n"))
    }

    /// `hdr_ip` and `ipmask`, with the values reg-test converters_ipmask_concat_strcmp_field_word
    /// expects from HAProxy (an IPv4-mapped address is IPv4; IPv6 needs MASK6).
    func testIPMaskAndHeaderAddresses() throws {
        let headers = "a1: 2001:db8::1\r\na2: 2001:db8::bad:c0f:ffff\r\na4: ::FFFF:192.168.1.101\r\na6: 192.168.1.255\r\nbad: 1.2.3\r\n"
        XCTAssertEqual(try eval("req.hdr_ip(a1),ipmask(24,128)", headers)?.text, "2001:db8::1")
        XCTAssertEqual(try eval("hdr_ip(a2),ipmask(24,120)", headers)?.text, "2001:db8::bad:c0f:ff00")
        XCTAssertEqual(try eval("hdr_ip(a2),ipmask(24,ffff:ffff:ffff:ffff:ffff:ffff:ffff:fee0)", headers)?.text, "2001:db8::bad:c0f:fee0")
        XCTAssertEqual(try eval("hdr_ip(a4)", headers)?.text, "192.168.1.101")
        XCTAssertEqual(try eval("hdr_ip(a4),ipmask(32,64)", headers)?.text, "192.168.1.101")
        XCTAssertEqual(try eval("hdr_ip(a6),ipmask(25)", headers)?.text, "192.168.1.128")
        XCTAssertEqual(try eval("hdr_ip(a6),ipmask(255.255.0.0)", headers)?.text, "192.168.0.0")
        XCTAssertNil(try eval("hdr_ip(a1),ipmask(24)", headers), "IPv6 without MASK6: nothing")
        XCTAssertNil(try eval("hdr_ip(bad)", headers))
        XCTAssertThrowsError(try SampleExpression(parsing: "src,ipmask(33)"))
        XCTAssertThrowsError(try SampleExpression(parsing: "src,ipmask(24,129)"))
    }

    /// `strcmp(VAR)` and `secure_memcmp(VAR)` against variables, as
    /// converters_ipmask_concat_strcmp_field_word uses them (HAProxy's sample.c semantics).
    func testStrcmpAndSecureMemcmpCompareWithAVariable() throws {
        let head = try requestHead("GET / HTTP/1.1\r\nHost: h\r\nFieldhdr: f1_f2_f3__f5\r\n\r\n")
        let vars = StreamVariables()
        vars.set("sess.fieldconcat", .string("f1_f2_f3__f5"))
        vars.set("txn.short", .string("f1"))
        vars.set("txn.n", .integer(42))
        vars.set("txn.bin", .binary([0x61, 0, 0x62]))
        let input = SampleInput(facts: try facts(head), variables: vars)
        func eval(_ text: String) throws -> SampleValue? { try SampleExpression(parsing: text).evaluate(input) }
        XCTAssertEqual(try eval("hdr(Fieldhdr),strcmp(sess.fieldconcat)"), .integer(0))
        XCTAssertEqual(try eval("str(f1),strcmp(sess.fieldconcat)"), .integer(-1), "a prefix is the smaller")
        XCTAssertEqual(try eval("hdr(Fieldhdr),strcmp(txn.short)"), .integer(1))
        XCTAssertEqual(try eval("str(f0),strcmp(txn.short)"), .integer(-1))
        XCTAssertEqual(try eval("str(f3),strcmp(txn.short)"), .integer(2), "the bytes' difference, as strcmp(3)")
        XCTAssertEqual(try eval("str(42),strcmp(txn.n)"), .integer(0), "an integer variable compares as its text")
        XCTAssertNil(try eval("str(x),strcmp(txn.unset)"), "an unset variable fails the expression")
        XCTAssertEqual(try eval("hdr(Fieldhdr),secure_memcmp(sess.fieldconcat)"), .boolean(true))
        XCTAssertEqual(try eval("str(f1_f2_f3__f6),secure_memcmp(sess.fieldconcat)"), .boolean(false))
        XCTAssertEqual(try eval("str(f1),secure_memcmp(sess.fieldconcat)"), .boolean(false))
        XCTAssertEqual(try eval("str(YQBi),b64dec,secure_memcmp(txn.bin)"), .boolean(true), "binary past a NUL")
        XCTAssertEqual(try eval("str(YQBj),b64dec,secure_memcmp(txn.bin)"), .boolean(false))
        XCTAssertNil(try eval("str(x),secure_memcmp(txn.unset)"))
        for bad in ["str(x),strcmp", "str(x),strcmp(nope)", "str(x),strcmp(a.b)", "str(x),secure_memcmp(txn.a,txn.b)"] {
            XCTAssertThrowsError(try SampleExpression(parsing: bad), bad)
        }
    }

    func testBadArgumentsAndMissingMapsAreRefusedNamingThem() throws {
        func refusal(_ text: String) -> String {
            do { _ = try SampleExpression(parsing: text); return "accepted" } catch { return error.message }
        }
        XCTAssertTrue(refusal("path,sha2(100)").contains("'sha2': unsupported number of bits '100'"), refusal("path,sha2(100)"))
        XCTAssertTrue(refusal("path,xxh64(x)").contains("'xxh64' expects an integer"))
        XCTAssertTrue(refusal("path,sha1(1)").contains("'sha1' takes no argument"))
        XCTAssertTrue(refusal("path,map_beg(/nonexistent/x.map)").contains("cannot read map file '/nonexistent/x.map'"))
        XCTAssertTrue(refusal("path,map_regm_int(/dev/null)").contains("converter 'map_regm_int' is not supported"))
        let dir = try TempDirectory()
        let bad = try dir.write("bad.map", "ok 1\nalso notanumber\n")
        XCTAssertTrue(refusal("path,map_str_int(\(bad))").contains("bad.map:2: the value 'notanumber' is not an integer"), refusal("path,map_str_int(\(bad))"))
        let badRegex = try dir.write("re.map", "([a- x\n")
        XCTAssertTrue(refusal("path,map_reg(\(badRegex))").contains("re.map:1: invalid regular expression"))
    }
}
