import Foundation
import XCTest
@testable import SwiftLBHA

/// rtnetlink against a real kernel, inside a network namespace this test creates (and always
/// deletes): the address exists only on a veth interface there, and no packet is sent.
final class VIPAddressTests: XCTestCase {
    @discardableResult
    func sh(_ command: String) -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = out
        try? p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// setns(2), looked up at run time: Swift's Glibc module leaves out the _GNU_SOURCE parts.
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    static func setnsFunction() -> SetNS? {
        guard let symbol = dlsym(nil /* RTLD_DEFAULT */, "setns") else { return nil }
        return unsafeBitCast(symbol, to: SetNS.self)
    }
    let CLONE_NEWNET: Int32 = 0x4000_0000

    /// Runs `body` with this thread inside the namespace, then moves it back.
    func inNamespace(_ name: String, _ body: () throws -> Void) throws {
        let setns = try XCTUnwrap(Self.setnsFunction(), "setns not found")
        let target = open("/var/run/netns/\(name)", O_RDONLY)
        let home = open("/proc/thread-self/ns/net", O_RDONLY)
        defer { close(target); close(home) }
        XCTAssertGreaterThanOrEqual(target, 0)
        XCTAssertEqual(setns(target, CLONE_NEWNET), 0, "setns: \(String(cString: strerror(errno)))")
        defer { XCTAssertEqual(setns(home, CLONE_NEWNET), 0) }
        try body()
    }

    func testAddAndRemoveTheVIPThroughRtnetlink() throws {
        guard getuid() == 0, sh("command -v ip").0 == 0 else { throw XCTSkip("needs root and iproute2 to create a namespace") }
        let ns = "slbvip\(getpid())"
        XCTAssertEqual(sh("ip netns add \(ns)").0, 0)
        defer { sh("ip netns del \(ns)") }
        XCTAssertEqual(sh("ip -n \(ns) link add vip0 type veth peer name vip1 && ip -n \(ns) link set vip0 up").0, 0)
        func addresses() -> String { sh("ip -n \(ns) -4 -o addr show dev vip0").1 }

        try inNamespace(ns) {
            try VIPAddress.add("10.99.0.10/24", interface: "vip0")
            try VIPAddress.add("10.99.0.10/24", interface: "vip0")  // idempotent
        }
        XCTAssertTrue(addresses().contains("inet 10.99.0.10/24"), addresses())
        try inNamespace(ns) {
            try VIPAddress.remove("10.99.0.10/24", interface: "vip0")
            try VIPAddress.remove("10.99.0.10/24", interface: "vip0")  // idempotent
            XCTAssertThrowsError(try VIPAddress.add("10.99.0.10/24", interface: "nosuch0")) {
                XCTAssertTrue("\($0)".contains("no such interface 'nosuch0'"))
            }
        }
        XCTAssertFalse(addresses().contains("10.99.0.10"), addresses())
        // The root namespace never saw it.
        XCTAssertFalse(sh("ip -4 -o addr show").1.contains("10.99.0.10"))
    }

    func testParsesOnlyIPv4WithPrefix() {
        XCTAssertNotNil(VIPAddress.parse("192.168.122.10/24"))
        XCTAssertNil(VIPAddress.parse("192.168.122.10"))
        XCTAssertNil(VIPAddress.parse("192.168.122/24"))
        XCTAssertNil(VIPAddress.parse("192.168.122.10/33"))
        XCTAssertThrowsError(try VIPAddress.add("nonsense", interface: "lo"))
    }
}
