import XCTest
@testable import SwiftLBConfig

/// `peers` sections, `localpeer`, and `stick-table … peers NAME` / `srvkey`: what they read, and
/// what they refuse with the file, line and keyword.
final class PeersKeywordTests: XCTestCase {
    func testASectionInBothForms() throws {
        let config = try parseOrFail("""
            global
                localpeer lb1
            peers pair
                bind "fd@3"
                server lb1
                server lb2 10.0.0.12:10000
                peer old 10.0.0.13:10001
                table sessions type string len 64 size 100k expire 30m srvkey addr
            peers off
                disabled
                server x
            backend be
                stick-table type ip size 1k peers pair
                stick on src
                server s 127.0.0.1:80
            """)
        XCTAssertEqual(config.global.localPeer, "lb1")
        let pair = try XCTUnwrap(config.peers["pair"])
        XCTAssertEqual(pair.peers, [.init(name: "lb1", host: nil, port: nil, line: 5), .init(name: "lb2", host: "10.0.0.12", port: 10000, line: 6),
                                    .init(name: "old", host: "10.0.0.13", port: 10001, line: 7)])
        XCTAssertEqual(pair.bind?.socket, .inherited(fd: 3))
        let table = try XCTUnwrap(pair.tables["sessions"])
        XCTAssertEqual(table.peers, "pair")
        XCTAssertTrue(table.serverKeyIsAddress)
        XCTAssertTrue(table.lengthWritten)
        XCTAssertEqual(table.keyLength, 64)
        XCTAssertEqual(config.backends["be"]?.stickTable?.peers, "pair")
        XCTAssertEqual(config.peers["off"]?.disabled, true)
    }

    func testTLSOptions() throws {
        let config = try parseOrFail("""
            peers pair
                default-server ssl verify none
                bind 127.0.0.1:10000 ssl crt a.pem crt b.pem
                server lb1
                server lb2 10.0.0.12:10000
                server lb3 10.0.0.13:10000 verify required ca-file ca.pem
            """)
        let pair = try XCTUnwrap(config.peers["pair"])
        XCTAssertEqual(pair.bindCertificates, ["a.pem", "b.pem"])
        XCTAssertEqual(pair.peers[1].tls?.verify, false)
        XCTAssertEqual(pair.peers[2].tls?.verify, true)
        XCTAssertEqual(pair.peers[2].tls?.caFile, "ca.pem")
        let plain = try parseOrFail("peers p\n    server a 10.0.0.1:1000\n")
        XCTAssertNil(plain.peers["p"]?.peers[0].tls)
    }

    func testRefusalsNameTheLineAndKeyword() {
        func first(_ text: String) -> ConfigError? { parseErrors(text, file: "p.conf").first }
        let cases: [(String, Int, String, String)] = [
            ("peers p\n    shards 2\n", 2, "shards", "not sharded"),
            ("peers p\n    server a 10.0.0.1:1000 ssl sni x\n", 2, "server", "only 'ssl', 'verify', 'ca-file' and 'crt' (not 'sni')"),
            ("peers p\n    bind 10.0.0.1:1000 ssl\n", 2, "bind", "'ssl' expects 'crt FILE'"),
            ("peers p\n    bind 10.0.0.1:1000 accept-proxy\n", 2, "bind", "not 'accept-proxy'"),
            ("peers p\n    server a\n    server a\n", 3, "server", "already declared"),
            ("peers p\n    peer a nowhere\n", 2, "peer", "expects ADDR:PORT"),
            ("peers p\n    table t type ip\n", 2, "table", "at least 'type ip size N'"),
            ("peers p\npeers p\n", 2, "peers", "already exists"),
            ("backend b\n    stick-table type ip size 1 srvkey id\n", 2, "stick-table", "'srvkey' expects 'name' or 'addr'"),
        ]
        for (text, line, keyword, message) in cases {
            let error = first(text)
            XCTAssertEqual(error?.file, "p.conf", text)
            XCTAssertEqual(error?.line, line, text)
            XCTAssertEqual(error?.keyword, keyword, text)
            XCTAssertTrue(error?.message.contains(message) ?? false, "\(text): \(error?.message ?? "no error")")
        }
    }
}
