import NIOCore
@testable import SwiftLBConfig
@testable import SwiftLBProxy
import XCTest

/// What the hashing `balance` algorithms hash (`RequestHashKey.bytes`, `HashType.sourceKey`),
/// with which numbers (`HashType.hash`, checked against haproxy 2.6.12's converters of the same
/// names), and the map and ring they look the key up in.
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

    private func key(_ key: RequestHashKey, _ target: String, _ headers: String = "Host: a\r\n") throws -> String? {
        key.bytes(try get(target, headers)).map { String(decoding: $0, as: UTF8.self) }
    }

    private func uri(_ target: String, length: Int? = nil, depth: Int? = nil, whole: Bool = false, pathOnly: Bool = false) throws -> String? {
        try key(.uri(length: length, depth: depth, whole: whole, pathOnly: pathOnly), target)
    }

    /// backend.c's `get_server_uh`: `len` first, then up to the `?` (unless `whole`) or the
    /// slash after `depth` directories; `path-only` drops an absolute-form's scheme and host.
    func testURIKeyIsCutAsHAProxyCutsIt() throws {
        XCTAssertEqual(try uri("/a/b?x=1"), "/a/b")
        XCTAssertEqual(try uri("/a/b?x=1", whole: true), "/a/b?x=1")
        XCTAssertEqual(try uri("/a/b/c/d", depth: 2), "/a/b")
        XCTAssertEqual(try uri("/a/b?c/d", depth: 2, whole: true), "/a/b?c")
        XCTAssertEqual(try uri("/abcdef", length: 3), "/ab")
        XCTAssertEqual(try uri("/a?bcdef", length: 5, whole: true), "/a?bc")
        XCTAssertEqual(try uri("http://h.example/a/b?q", pathOnly: true), "/a/b")
        XCTAssertEqual(try uri("http://h.example/a/b?q", whole: true, pathOnly: true), "/a/b?q")
        XCTAssertEqual(try uri("http://h.example/a/b?q"), "http://h.example/a/b")
        XCTAssertEqual(try uri("http://h.example/a/b", depth: 1), "http:/", "the scheme's slashes count, as in HAProxy")
        // HTTP/2 with :authority: HAProxy's URI is absolute (`*` drops out of it).
        let whole = RequestHashKey.uri(length: nil, depth: nil, whole: true, pathOnly: false)
        let bytes = { (target: String, origin: String) in try whole.bytes(self.get(target), origin: origin).map { String(decoding: $0, as: UTF8.self) } }
        XCTAssertEqual(try bytes("/a?b", "https://h:8443"), "https://h:8443/a?b")
        XCTAssertEqual(try RequestHashKey.uri(length: nil, depth: nil, whole: false, pathOnly: true).bytes(get("/a?b"), origin: "http://h")
            .map { String(decoding: $0, as: UTF8.self) }, "/a")
        XCTAssertEqual(try RequestHashKey.uri(length: nil, depth: nil, whole: false, pathOnly: false)
            .bytes(head("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), origin: "http://h").map { String(decoding: $0, as: UTF8.self) }, "http://h")
    }

    /// `get_server_ph`: the first parameter named exactly NAME, its value up to `&`; an empty
    /// value is a key (HAProxy hashes it), no `NAME=` none (round robin).
    func testURLParameterAndHeaderKeys() throws {
        let param = RequestHashKey.urlParameter("user")
        XCTAssertEqual(try key(param, "/p?a=1&user=bob&c"), "bob")
        XCTAssertEqual(try key(param, "/p?xuser=1&user=bob&user=carol"), "bob")
        XCTAssertEqual(try key(param, "/p?user="), "", "an empty value is hashed, as HAProxy does")
        XCTAssertNil(try key(param, "/p?a=1&username=bob"))
        XCTAssertNil(try key(param, "/p?user&a=1"))
        XCTAssertNil(try key(param, "/p"))
        let tenant = RequestHashKey.header("x-tenant", domainOnly: false)
        XCTAssertEqual(try key(tenant, "/", "Host: a\r\nX-Tenant: acme\r\n"), "acme")
        XCTAssertNil(try key(tenant, "/"))
        XCTAssertNil(try key(tenant, "/", "Host: a\r\nX-Tenant:\r\n"), "an empty header: round robin")
        // The first value of a list, as HAProxy: two CDN edges in front of one client agree.
        let forwarded = RequestHashKey.header("x-forwarded-for", domainOnly: false)
        XCTAssertEqual(try key(forwarded, "/", "Host: a\r\nX-Forwarded-For: 1.2.3.4, 10.0.0.1\r\n"), "1.2.3.4")
        XCTAssertEqual(try key(forwarded, "/", "Host: a\r\nX-Forwarded-For: 1.2.3.4,10.0.0.2\r\n"), "1.2.3.4")
    }

    /// `use_domain_only`: HAProxy's backward scan from the last dot, quirks kept.
    func testDomainOnlyScansAsHAProxy() throws {
        let host = RequestHashKey.header("host", domainOnly: true)
        for (value, expected) in [("www.example.com", "example"), ("www.example.com:8080", "example"), ("example.com", "example"),
                                  ("localhost", "localhost"), ("localhost:8080", "localhost:8080"), ("127.0.0.1:80", "0"),
                                  ("example.com.", "com"), (".com", ".com"), ("a..com", "a."), ("x.com", "x")] {
            XCTAssertEqual(try key(host, "/", "Host: \(value)\r\n"), expected, value)
        }
    }

    /// The functions' numbers as haproxy 2.6.12 printed them (`%[req.hdr(x-k),sdbm]`,
    /// `sdbm(1)`, `djb2`, `wt6`, `crc32`): the hashes `hash-type` names.
    func testHashFunctionsGiveHAProxysNumbers() {
        let expected: [(String, [UInt32])] = [
            ("/url1", [4_103_199_409, 2_561_722_472, 194_222_904, 2_463_210_733, 380_733_385]),
            ("alice", [2_441_577_632, 736_519_853, 253_185_475, 589_800_615, 663_665_735]),
            ("www.example.com", [2_718_216_582, 1_242_975_261, 2_843_247_409, 612_436_471, 785_793_723]),
            ("a", [97, 1_830_748_055, 177_670, 1_900_802_597, 3_904_355_907]),
        ]
        for (text, numbers) in expected {
            let bytes = Array(text.utf8)
            let got = [HashType(function: .sdbm), HashType(function: .sdbm, avalanche: true), HashType(function: .djb2),
                       HashType(function: .wt6), HashType(function: .crc32)].map { $0.hash(bytes) }
            XCTAssertEqual(got, numbers, text)
        }
    }

    /// `get_server_sh`: the address's 32-bit words XORed, no hash function, avalanche only.
    func testSourceKeyIsTheAddressWords() throws {
        let plain = HashType(), mixed = HashType(method: .consistent, avalanche: true)
        XCTAssertEqual(plain.sourceKey(try SocketAddress(ipAddress: "127.0.0.1", port: 5)), 0x7F00_0001)
        XCTAssertEqual(mixed.sourceKey(try SocketAddress(ipAddress: "127.0.0.1", port: 5)), SampleHash.avalanche(0x7F00_0001))
        XCTAssertEqual(plain.sourceKey(try SocketAddress(ipAddress: "2001:db8::1", port: 5)), 0x2001_0DB9)
        XCTAssertEqual(plain.sourceKey(try SocketAddress(ipAddress: "::ffff:127.0.0.1", port: 5)), 0x7F00_FFFE)
        XCTAssertNil(plain.sourceKey(nil))
    }

    /// HAProxy's reg-test balance/balance-uri.vtc: four servers of weight 1, `balance uri`
    /// (map-based, sdbm): /url1 → srv2, /url2 → srv3, /url3 → srv4, /url4 → srv1.
    func testTheMapPlacesKeysAsHAProxysRegTest() {
        let map = ServerMap(weights: [1, 1, 1, 1])
        XCTAssertEqual(map.slots, [0, 1, 2, 3])
        let picked = (1...4).map { map.slots[Int(HashType().hash(Array("/url\($0)".utf8)) % UInt32(map.slots.count))] }
        XCTAssertEqual(picked, [1, 2, 3, 0])
        // Weights divided by their common divisor; a server out of the map has weight 0.
        XCTAssertEqual(ServerMap.divisor([10, 20, 0, 30]), 10)
        XCTAssertEqual(ServerMap(weights: [2, 0, 1]).slots, [0, 0, 2])
        XCTAssertEqual(ServerMap(weights: [0, 1]).slots, [1])
    }

    /// The ring: weight × 16 points per server; a key takes the nearest point, before or after.
    func testTheRingTakesTheNearestPoint() {
        let ring = HashRing(ids: [1, 2], weights: [16, 32])
        XCTAssertEqual(ring.keys.count, 48)
        XCTAssertEqual(ring.owners.filter { $0 == 1 }.count, 32)
        XCTAssertEqual(ring.keys, ring.keys.sorted())
        XCTAssertTrue(ring.keys.contains(SampleHash.avalanche(2 * 4096 + 31)))
        for i in 1..<ring.keys.count {
            let (low, high) = (ring.keys[i - 1], ring.keys[i])
            XCTAssertEqual(ring.nearest(to: low &+ (high &- low) / 2), i - 1, "a tie goes to the point before")
            XCTAssertEqual(ring.nearest(to: high &- 1), high &- low > 2 ? i : i - 1)
        }
        XCTAssertEqual(ring.nearest(to: ring.keys.last! &+ 1), ring.keys.count - 1)
        XCTAssertEqual(ring.nearest(to: ring.keys.first! &- 1), 0)
    }

    /// `hash-balance-factor 150` (lb_chash.c's bounded loads), worked by hand: with 9 requests
    /// in flight the 10th gives ceil(10 × 150 / 100) = 15 slots over a total weight of 48 — none
    /// whole per weight unit, the remainder 15 shared by declaration order: 16 × 15 / 48 = 5 for
    /// the first server, 48 × 15 / 48 − 5 = 10 for the second.
    func testBoundedLoadsShareSlotsAsHAProxy() {
        let ring = HashRing(ids: [1, 2], weights: [16, 32])
        XCTAssertTrue(ring.hasRoom(0, serving: 4, backendServing: 9, factor: 150))
        XCTAssertFalse(ring.hasRoom(0, serving: 5, backendServing: 9, factor: 150))
        XCTAssertTrue(ring.hasRoom(1, serving: 9, backendServing: 9, factor: 150))
        XCTAssertFalse(ring.hasRoom(1, serving: 10, backendServing: 9, factor: 150))
        // ceil(1.25) = 2 slots: 16 × 2 / 48 = 0 for the first, raised to 1; 2 − 0 for the second.
        XCTAssertTrue(ring.hasRoom(0, serving: 0, backendServing: 0, factor: 125))
        XCTAssertFalse(ring.hasRoom(0, serving: 1, backendServing: 0, factor: 125))
        XCTAssertTrue(ring.hasRoom(1, serving: 1, backendServing: 0, factor: 125))
        XCTAssertFalse(ring.hasRoom(1, serving: 2, backendServing: 0, factor: 125))
    }
}
