import Foundation
import XCTest
@testable import SwiftLBHA

/// Gratuitous ARP across a veth pair between two namespaces this test creates: sent in one,
/// captured with a raw packet socket in the other, checked byte by byte.
final class GratuitousARPTests: XCTestCase {
    func testAnnouncementReachesTheNeighbourNamespace() throws {
        guard Namespaces.available else { throw XCTSkip("needs root and iproute2") }
        let (a, b) = ("slbgarpa\(getpid())", "slbgarpb\(getpid())")
        XCTAssertEqual(Namespaces.sh("ip netns add \(a) && ip netns add \(b)").0, 0)
        defer { Namespaces.sh("ip netns del \(a); ip netns del \(b)") }
        XCTAssertEqual(Namespaces.sh("ip -n \(a) link add lb0 type veth peer name peer0 netns \(b) && ip -n \(a) link set lb0 up && ip -n \(b) link set peer0 up").0, 0)

        // The listener first, opened in b (a socket stays in the namespace it was made in).
        var listener: Int32 = -1
        try Namespaces.inside(b) {
            listener = socket(AF_PACKET, Int32(SOCK_RAW.rawValue), Int32(UInt16(0x0806).bigEndian))
            XCTAssertGreaterThanOrEqual(listener, 0)
        }
        defer { close(listener) }
        var timeout = timeval(tv_sec: 3, tv_usec: 0)
        setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        var mac: [UInt8] = []
        try Namespaces.inside(a) {
            mac = try XCTUnwrap(GratuitousARP.hardwareAddress(of: "lb0"))
            try GratuitousARP.announce([10, 99, 0, 10], interface: "lb0", count: 3)
        }
        var frame = [UInt8](repeating: 0, count: 2048)
        let n = recv(listener, &frame, frame.count, 0)
        XCTAssertEqual(n, 42, "an Ethernet ARP frame")
        guard n >= 42 else { return }
        XCTAssertEqual(Array(frame[0..<6]), [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], "broadcast")
        XCTAssertEqual(Array(frame[6..<12]), mac, "from lb0's MAC")
        XCTAssertEqual(Array(frame[12..<14]), [0x08, 0x06], "ARP")
        XCTAssertEqual(Array(frame[20..<22]), [0x00, 0x01], "request")
        XCTAssertEqual(Array(frame[22..<28]), mac, "sender hardware address")
        XCTAssertEqual(Array(frame[28..<32]), [10, 99, 0, 10], "sender IP: the VIP")
        XCTAssertEqual(Array(frame[38..<42]), [10, 99, 0, 10], "target IP: the VIP")
    }
}
