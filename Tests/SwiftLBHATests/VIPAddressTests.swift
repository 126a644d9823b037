import Foundation
import XCTest
@testable import SwiftLBHA

/// rtnetlink against a real kernel, inside a network namespace this test creates (and always
/// deletes): the address exists only on a veth interface there, and no packet is sent.
final class VIPAddressTests: XCTestCase {
    func testAddAndRemoveTheVIPThroughRtnetlink() throws {
        guard Namespaces.available else { throw XCTSkip("needs root and iproute2 to create a namespace") }
        let ns = "slbvip\(getpid())"
        XCTAssertEqual(Namespaces.sh("ip netns add \(ns)").0, 0)
        defer { Namespaces.sh("ip netns del \(ns)") }
        XCTAssertEqual(Namespaces.sh("ip -n \(ns) link add vip0 type veth peer name vip1 && ip -n \(ns) link set vip0 up").0, 0)
        func addresses() -> String { Namespaces.sh("ip -n \(ns) -4 -o addr show dev vip0").1 }

        try Namespaces.inside(ns) {
            try VIPAddress.add("10.99.0.10/24", interface: "vip0")
            try VIPAddress.add("10.99.0.10/24", interface: "vip0")  // idempotent
        }
        XCTAssertTrue(addresses().contains("inet 10.99.0.10/24"), addresses())
        try Namespaces.inside(ns) {
            try VIPAddress.remove("10.99.0.10/24", interface: "vip0")
            try VIPAddress.remove("10.99.0.10/24", interface: "vip0")  // idempotent
            XCTAssertThrowsError(try VIPAddress.add("10.99.0.10/24", interface: "nosuch0")) {
                XCTAssertTrue("\($0)".contains("no such interface 'nosuch0'"))
            }
        }
        XCTAssertFalse(addresses().contains("10.99.0.10"), addresses())
        // The root namespace never saw it.
        XCTAssertFalse(Namespaces.sh("ip -4 -o addr show").1.contains("10.99.0.10"))
    }

    func testParsesOnlyIPv4WithPrefix() {
        XCTAssertNotNil(VIPAddress.parse("192.168.122.10/24"))
        XCTAssertNil(VIPAddress.parse("192.168.122.10"))
        XCTAssertNil(VIPAddress.parse("192.168.122/24"))
        XCTAssertNil(VIPAddress.parse("192.168.122.10/33"))
        XCTAssertThrowsError(try VIPAddress.add("nonsense", interface: "lo"))
    }
}
