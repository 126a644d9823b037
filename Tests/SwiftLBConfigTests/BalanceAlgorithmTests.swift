@testable import SwiftLBConfig
import XCTest

/// `balance` with HAProxy's request-hashing algorithms and their options, `static-rr`, and
/// `hash-type` / `hash-balance-factor` read as HAProxy 2.6 reads them.
final class BalanceAlgorithmTests: XCTestCase {
    private func balance(_ line: String, file: StaticString = #filePath, at: UInt = #line) throws -> (BalanceAlgorithm?, [String]) {
        let config = try parseOrFail("backend b\n    \(line)\n    server s 127.0.0.1:1\n", sourceFile: file, line: at)
        return (config.backends["b"]?.options.balance, config.warnings.map(\.message))
    }

    func testRequestHashingAlgorithmsAndTheirOptions() throws {
        XCTAssertEqual(try balance("balance uri").0, .requestHash(.uri(length: nil, depth: nil, whole: false, pathOnly: false)))
        XCTAssertEqual(try balance("balance uri len 12 depth 3 whole path-only").0, .requestHash(.uri(length: 12, depth: 3, whole: true, pathOnly: true)))
        XCTAssertEqual(try balance("balance url_param userid").0, .requestHash(.urlParameter("userid")))
        XCTAssertEqual(try balance("balance hdr(Host) use_domain_only").0, .requestHash(.header("host", domainOnly: true)))
        XCTAssertEqual(try balance("balance hdr(X-Tenant)").0, .requestHash(.header("x-tenant", domainOnly: false)))
        XCTAssertEqual(try balance("balance static-rr").0, .roundRobin)
        XCTAssertEqual(BalanceAlgorithm.requestHash(.urlParameter("a")).name, "url_param")
    }

    func testWhatSwiftLBCannotDoIsSaid() throws {
        let (algorithm, warnings) = try balance("balance url_param session check_post")
        XCTAssertEqual(algorithm, .requestHash(.urlParameter("session")))
        XCTAssertTrue(warnings.contains { $0.contains("not a POST body") }, "\(warnings)")
        // HAProxy's own documented example keeps the old max_wait number after check_post.
        XCTAssertEqual(try balance("balance url_param session_id check_post 64").0, .requestHash(.urlParameter("session_id")))
        let tcp = try parseOrFail("backend t\n    mode tcp\n    balance uri\n    server s 127.0.0.1:1\n")
        XCTAssertTrue(tcp.warnings.contains { $0.message == "Layer 7 hash not possible for backend 't' (needs 'mode http'). Falling back to round robin." },
                      "\(tcp.warnings)")
    }

    /// cfgparse-listen.c: map-based sdbm by default; `consistent` alone adds the avalanche
    /// mix, a named function does not unless asked; a `defaults` section hands it down.
    func testHashTypeAsHAProxy26ReadsIt() throws {
        func hashType(_ lines: String) throws -> (HashType?, Int?, [String]) {
            let config = try parseOrFail("defaults\n    mode http\n\(lines)backend b\n    balance source\n    server s 127.0.0.1:1\n")
            return (config.backends["b"]?.options.hashType, config.backends["b"]?.options.hashBalanceFactor, config.warnings.map(\.message))
        }
        XCTAssertEqual(try hashType("").0, HashType(method: .mapBased, function: .sdbm, avalanche: false))
        XCTAssertEqual(try hashType("    hash-type consistent\n").0, HashType(method: .consistent, function: .sdbm, avalanche: true))
        XCTAssertEqual(try hashType("    hash-type consistent sdbm\n").0, HashType(method: .consistent, function: .sdbm, avalanche: false))
        XCTAssertEqual(try hashType("    hash-type map-based wt6 avalanche\n").0, HashType(method: .mapBased, function: .wt6, avalanche: true))
        XCTAssertEqual(try hashType("    hash-type consistent crc32\n    hash-balance-factor 150\n").1, 150)
        let extra = try hashType("    hash-type consistent djb2 avalanche more\n")
        XCTAssertEqual(extra.0, HashType(method: .consistent, function: .djb2, avalanche: true))
        XCTAssertTrue(extra.2.contains { $0.contains("'more' after 'avalanche' is ignored") }, "\(extra.2)")
        for (line, message) in [("hash-type", "expects 'consistent' or 'map-based'"), ("hash-type avalanche", "is not supported anymore"),
                                ("hash-type consistent none", "unknown hash function 'none'"), ("hash-type map-based crc32 foo", "'avalanche' is the only modifier"),
                                ("hash-balance-factor 100", "must be 0 or greater than 100"), ("hash-balance-factor 9223372036854775807", "at most 2147483647"), ("hash-balance-factor", "expects a percentage")] {
            let errors = parseErrors("backend b\n    \(line)\n    server s 127.0.0.1:1\n")
            XCTAssertEqual(errors.map(\.line), [2], line)
            XCTAssertTrue(errors.first?.message.contains(message) ?? false, "\(line): \(errors)")
        }
    }
}
