import NIOCore
import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBProxy

/// The fetches of tcp-request content inspection on bytes held (`req.len`, `req.payload`,
/// `req.payload_lv`, `req.ssl_hello_type`), when a rule must wait for more, and the
/// stick-counter and payload ACLs as lb.conf writes them.
final class PayloadFetchTests: XCTestCase {
    private func criterion(_ text: String) throws -> ACLCriterion {
        let config = try ConfigParser.parse(text: """
            frontend f
                mode tcp
                bind :1
                acl x \(text)
                use_backend b if x
                default_backend b
            backend b
                mode tcp
                server s 127.0.0.1:1
            """, file: "lb.conf")
        return try XCTUnwrap(config.frontends.first?.switchingRules.first?.condition.alternatives.first?.first?.acl.criteria.first)
    }

    private func input(_ bytes: [UInt8], final: Bool) -> (SampleInput, InspectedPayload) {
        let payload = InspectedPayload(ByteBuffer(bytes: bytes), final: final)
        var input = SampleInput.connectionLevel(source: nil, destination: nil)
        input.inspected = payload
        return (input, payload)
    }

    func testPayloadFetchesReadTheHeldBytesAndWaitForMissingOnes() throws {
        let startup: [UInt8] = [0, 0, 0, 8, 0, 3, 0, 0]
        let bin = try criterion("req.payload(4,4) -m bin 00030000")
        XCTAssertEqual(bin.method, .binary)
        var (i, p) = input(startup, final: false)
        XCTAssertTrue(bin.matches(i))
        XCTAssertFalse(p.mustWait(holds: true))
        (i, p) = input([0, 0, 0, 8, 0], final: false)
        XCTAssertFalse(bin.matches(i))
        XCTAssertTrue(p.mustWait(holds: false), "bytes 4…7 are not all there yet")
        (i, p) = input([0, 0, 0, 8, 0], final: true)
        XCTAssertFalse(bin.matches(i))
        XCTAssertFalse(p.mustWait(holds: false), "the delay is over: decide on what came")

        let len = try criterion("req.len ge 8")
        XCTAssertEqual(len.integerOperator, "ge")
        (i, p) = input(Array(repeating: 1, count: 5), final: false)
        XCTAssertFalse(len.matches(i))
        XCTAssertTrue(p.mustWait(holds: false), "a length that does not match yet may match later")
        (i, p) = input(Array(repeating: 1, count: 9), final: false)
        XCTAssertTrue(len.matches(i))
        XCTAssertFalse(p.mustWait(holds: true))

        // payload_lv: a two-byte length at 0, then that many bytes.
        let lv = try criterion("req.payload_lv(0,2) -m str hello")
        (i, _) = input([0, 5] + Array("hello!".utf8), final: false)
        XCTAssertTrue(lv.matches(i))
        let str = try criterion("req.payload(0,3) -m str GET")
        (i, _) = input(Array("GET / HTTP/1.1\r\n".utf8), final: false)
        XCTAssertTrue(str.matches(i))
        let sub = try criterion("req.payload(0,0) -m sub HTTP/1.1")
        XCTAssertTrue(sub.matches(i))

        // A hostile length field: the largest 4-byte length is bytes that never come (no
        // match, wait while more may come), never a crash.
        let huge = try criterion("req.payload_lv(0,4) -m found")
        var pending: InspectedPayload
        (i, pending) = input([0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3], final: false)
        XCTAssertFalse(huge.matches(i))
        XCTAssertTrue(pending.mustWait(holds: false))
        (i, pending) = input([0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3], final: true)
        XCTAssertFalse(huge.matches(i))
        XCTAssertFalse(pending.mustWait(holds: false))
        XCTAssertThrowsError(try criterion("req.payload_lv(0,8) -m found"), "length fields are 1 to 4 bytes")
        XCTAssertThrowsError(try criterion("req.payload(9223372036854775807,1) -m found"), "offsets beyond what a session holds")
    }

    func testTLSHelloType() throws {
        let hello = try criterion("req_ssl_hello_type 1")
        // A TLS 1.0 record header of a handshake, then a ClientHello (type 1) of 8 bytes.
        let whole: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0x0C, 0x01, 0x00, 0x00, 0x08] + Array(repeating: 0, count: 8)
        var (i, p) = input(whole, final: false)
        XCTAssertTrue(hello.matches(i))
        XCTAssertFalse(p.mustWait(holds: true))
        // Only part of the message yet (a ClientHello larger than a read): wait, as HAProxy's
        // fetch does, so that the SNI read after an accept sees the whole hello.
        (i, p) = input(Array(whole.prefix(12)), final: false)
        XCTAssertFalse(hello.matches(i))
        XCTAssertTrue(p.mustWait(holds: false))
        (i, p) = input([0x16, 0x03], final: false)
        XCTAssertFalse(hello.matches(i))
        XCTAssertTrue(p.mustWait(holds: false))
        (i, p) = input(Array("GET / HTTP/1.0\r\n".utf8), final: false)
        XCTAssertFalse(hello.matches(i))
        XCTAssertFalse(p.mustWait(holds: false), "not TLS: no use waiting")
    }

    func testStickCounterFetchesParse() throws {
        let rate = try criterion("sc_http_req_rate(0) gt 10")
        XCTAssertEqual(rate.fetch, .stickCounter(StickCounterFetch(entry: .tracked(0, table: nil), counter: .httpReqRate)))
        XCTAssertEqual(rate.integerOperator, "gt")
        XCTAssertEqual(try criterion("sc1_conn_cur(other) ge 2").fetch, .stickCounter(StickCounterFetch(entry: .tracked(1, table: "other"), counter: .connCur)))
        XCTAssertEqual(try criterion("src_http_req_rate lt 5").fetch, .stickCounter(StickCounterFetch(entry: .source(table: nil), counter: .httpReqRate)))
        XCTAssertEqual(try criterion("table_avl(other) lt 10").fetch, .stickCounter(StickCounterFetch(entry: .table("other"), counter: .tableAvailable)))
        XCTAssertThrowsError(try criterion("sc_http_req_rate(7) gt 1"))
        XCTAssertThrowsError(try criterion("req.payload(0) -m bin 00"))
        XCTAssertThrowsError(try criterion("req.payload_lv(0,2,+2) -m bin 00"), "a relative offset is refused, not read as absolute")
        XCTAssertThrowsError(try criterion("req.payload(0,1) -m bin 0g"))
        XCTAssertThrowsError(try criterion("sc0_http_req_rate gt many"))
    }

    func testStickTableDeclarationsAreCheckedByName() throws {
        func refusal(_ line: String) -> String {
            do {
                _ = try ConfigParser.parse(text: "backend b\n    \(line)\n    server s 127.0.0.1:1\n", file: "lb.conf")
                return "accepted"
            } catch {
                return error.errors.first?.message ?? ""
            }
        }
        XCTAssertTrue(refusal("stick-table type ip size 1m store gpc(2)").contains("stick-table store 'gpc(2)' is not supported by SwiftLB"))
        XCTAssertEqual(refusal("stick-table type ip size 1m store gpc0,gpc0_rate(31s)"), "accepted")
        // `peers NAME` is read here; that the section exists is checked with the runtime.
        XCTAssertEqual(refusal("stick-table type ip size 1m peers mypeers"), "accepted")
        XCTAssertTrue(refusal("stick-table type ip size 1m srvkey id").contains("'srvkey' expects 'name' or 'addr'"))
        XCTAssertTrue(refusal("stick-table type binary size 1m").contains("'binary' is not supported"))
        XCTAssertTrue(refusal("stick-table type ip size 1m store http_req_rate").contains("expects a period"))
        XCTAssertEqual(refusal("stick-table type string len 64 size 1m expire 10s store conn_cur,http_req_rate(10s)"), "accepted")
    }

    func testWhatOnlySomeProxiesHaveIsRefusedWithItsLine() throws {
        let config = try ConfigParser.parse(text: """
            defaults
                mode http
            frontend fe
                bind 127.0.0.1:1
                acl x req.payload(0,3) -m str GET
                acl r src_http_req_rate gt 3
                use_backend be if x
                http-request deny if r
                http-request track-sc1 src table nowhere
                default_backend be
            backend be
                stick on src
                server s1 127.0.0.1:1
            """, file: "lb.conf")
        XCTAssertThrowsError(try ProxyRuntime(configuration: config)) { error in
            let messages = (error as! ConfigErrors).errors.map { "\($0.line) \($0.keyword): \($0.message)" }.sorted()
            XCTAssertEqual(messages, [
                "7 use_backend: 'req.payload' reads a tcp-mode session's first bytes (tcp-request content rules and use_backend in 'mode tcp'); an HTTP request is read with req.hdr(), path, method…",
                "8 http-request: 'fe' has no stick-table for a src_* fetch (declare one, or name one: src_conn_cur(TABLE))",
                "9 http-request track-sc1: no stick-table in a proxy named 'nowhere'",
                "12 stick on: backend 'be' has no stick-table (declare one, or name another with 'table NAME')",
            ].sorted())
        }
    }
}

/// `src -f blocklist`: thousands of networks matched in a few lookups, the same answers as
/// checking each network in turn.
final class IPNetworkSetTests: XCTestCase {
    func testTheSetAgreesWithEachNetwork() {
        let texts = ["10.0.0.0/8", "192.0.2.0/24", "198.51.100.7", "172.16.0.0/12", "2001:db8::/32", "::1", "203.0.113.0/255.255.255.128"]
            + (0..<2000).map { "100.\($0 / 256).\($0 % 256).0/24" }
        let networks = texts.compactMap(IPNetwork.init)
        XCTAssertEqual(networks.count, texts.count)
        let set = IPNetworkSet(networks)
        for address in ["10.1.2.3", "11.0.0.1", "192.0.2.255", "192.0.3.1", "198.51.100.7", "198.51.100.8", "172.31.255.255",
                        "172.32.0.0", "2001:db8:ffff::1", "2001:db9::1", "::1", "::2", "203.0.113.127", "203.0.113.128",
                        "100.7.207.9", "100.7.208.9", "::ffff:10.0.0.1"] {
            guard let bytes = IPNetwork.bytes(address) else { return XCTFail(address) }
            XCTAssertEqual(set.contains(bytes), networks.contains { $0.contains(bytes) }, address)
        }
    }
}
