@testable import SwiftLBConfig
import XCTest

/// `balance` with HAProxy's request-hashing algorithms and their options, `static-rr`, and
/// `hash-type map-based` accepted with a warning.
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
        let mapBased = try parseOrFail("backend b\n    balance uri\n    hash-type map-based\n    server s 127.0.0.1:1\n")
        XCTAssertTrue(mapBased.warnings.contains { $0.message.contains("always use a consistent hash") }, "\(mapBased.warnings)")
    }
}
