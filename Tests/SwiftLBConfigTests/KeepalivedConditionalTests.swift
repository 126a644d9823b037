import Foundation
import XCTest
@testable import SwiftLBConfig

/// keepalived's `@ID` / `@^ID` lines: one shared file, each node reading its own lines.
final class KeepalivedConditionalTests: XCTestCase {
    func testTheConditionPicksTheLinesOfThisNode() {
        let apply = KeepalivedConditional.apply
        XCTAssertEqual(apply(["priority", "150"], "lb1"), .unconditional)
        XCTAssertEqual(apply(["@lb1", "priority", "150"], "lb1"), .kept(["priority", "150"]))
        XCTAssertEqual(apply(["@lb1", "priority", "150"], "lb2"), .skipped)
        XCTAssertEqual(apply(["@^lb1", "state", "BACKUP"], "lb1"), .skipped)
        XCTAssertEqual(apply(["@^lb1", "state", "BACKUP"], "lb2"), .kept(["state", "BACKUP"]))
        XCTAssertEqual(apply(["@lb", "priority", "150"], "lb1"), .skipped, "a prefix of the id is another id")
        XCTAssertEqual(apply(["@LB1", "priority", "150"], "lb1"), .skipped, "ids compare as written, as keepalived's strncmp")
    }

    func testAConditionWithNothingAfterItOrNoIDIsReadAsKeepalivedReadsIt() {
        let apply = KeepalivedConditional.apply
        XCTAssertEqual(apply(["@lb1"], "lb1"), .skipped, "nothing after the id: an empty line")
        XCTAssertEqual(apply(["@^lb2"], "lb1"), .skipped)
        XCTAssertEqual(apply(["@", "priority", "1"], "lb1"), .skipped, "no id names no node")
        XCTAssertEqual(apply(["@^", "priority", "1"], "lb1"), .kept(["priority", "1"]), "…so '@^' is every node")
    }

    func testTheHostConfigIDIsTheNodeNameUpToItsFirstDot() {
        var name = utsname()
        XCTAssertEqual(uname(&name), 0)
        let node = withUnsafeBytes(of: &name.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let id = KeepalivedConditional.hostConfigID()
        XCTAssertFalse(id.isEmpty)
        XCTAssertFalse(id.contains("."))
        XCTAssertTrue(node == id || node.hasPrefix(id + "."), "\(id) from \(node)")
    }

    private let shared = """
        vrrp_instance VI_1 {
            @lb1 state MASTER
            @^lb1 state BACKUP
            interface eth0
            virtual_router_id 51
            @lb1 priority 150
            @lb2 priority 100
            @lb1 unicast_src_ip 192.168.122.11
            @lb2 unicast_src_ip 192.168.122.12
            unicast_peer {
                @lb1 192.168.122.12
                @lb2 192.168.122.11
            }
            virtual_ipaddress {
                192.168.122.10/24
            }
            authentication {
                auth_type PASS
                auth_pass s3cret
            }
        }
        """

    private func parse(_ text: String, as id: String) throws -> Configuration {
        var facts = BuildFacts()
        facts.configID = id
        return try ConfigParser.parse(text: text, file: "keepalived.conf", facts: facts)
    }

    /// One keepalived.conf for both nodes, as keepalived's man page shows it.
    func testOneSharedFileGivesEachNodeItsOwnInstance() throws {
        let lb1 = try XCTUnwrap(parse(shared, as: "lb1").vrrpInstances.first)
        XCTAssertEqual(lb1.initialState, .master)
        XCTAssertEqual(lb1.priority, 150)
        XCTAssertEqual(lb1.unicastSourceIP, "192.168.122.11")
        XCTAssertEqual(lb1.unicastPeers, ["192.168.122.12"])

        let lb2 = try XCTUnwrap(parse(shared, as: "lb2").vrrpInstances.first)
        XCTAssertEqual(lb2.initialState, .backup)
        XCTAssertEqual(lb2.priority, 100)
        XCTAssertEqual(lb2.unicastSourceIP, "192.168.122.12")
        XCTAssertEqual(lb2.unicastPeers, ["192.168.122.11"])

        XCTAssertEqual(lb1.virtualAddresses, lb2.virtualAddresses, "unconditional lines are everyone's")
    }

    /// An error on a kept line names its line and the keyword after the condition; the same
    /// mistake on another node's line is never read.
    func testAnErrorOnAKeptLineNamesItsLineAndKeyword() throws {
        let wrong = shared.replacingOccurrences(of: "@lb2 priority 100", with: "@lb2 priority 300")
        XCTAssertNoThrow(try parse(wrong, as: "lb1"))
        do {
            _ = try parse(wrong, as: "lb2")
            XCTFail("priority 300 was accepted")
        } catch let error as ConfigErrors {
            let e = try XCTUnwrap(error.errors.first)
            XCTAssertEqual(e.line, 7, "\(e)")
            XCTAssertEqual(e.keyword, "priority", "\(e)")
        }
    }

    /// `swiftlb check -i ID` (keepalived's flag) picks the lines; without it the host name does.
    func testTheCommandLinePicksTheNode() throws {
        let dir = try Scratch()
        let host = KeepalivedConditional.hostConfigID()
        let path = try dir.write("lb.conf", """
            frontend web
                bind 127.0.0.1:22999
                mode http
                @lb1 no_such_keyword_on_lb1
                @^\(host) no_such_keyword_but_here
                default_backend app
            backend app
                mode http
                server s1 127.0.0.1:22998
            """)
        let lb1 = runCommand(Binaries.swiftlb, ["check", "-i", "lb1", "-f", path], timeout: 30)
        XCTAssertEqual(lb1.status, 1, lb1.err)
        XCTAssertTrue(lb1.err.contains("[\(path):4]") && lb1.err.contains("no_such_keyword_on_lb1"), lb1.err)
        let named = runCommand(Binaries.swiftlb, ["check", "--config-id", host, "-f", path], timeout: 30)
        XCTAssertEqual(named.status, 0, named.err)
        let byHost = runCommand(Binaries.swiftlb, ["check", "-f", path], timeout: 30)
        XCTAssertEqual(byHost.status, 0, "without -i the host's id (\(host)) is this node's: \(byHost.err)")
        let other = runCommand(Binaries.swiftlb, ["check", "-i", host + "-other", "-f", path], timeout: 30)
        XCTAssertEqual(other.status, 1, other.err)
        XCTAssertTrue(other.err.contains("[\(path):5]") && other.err.contains("no_such_keyword_but_here"), other.err)
    }
}
