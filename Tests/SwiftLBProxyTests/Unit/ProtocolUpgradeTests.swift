import NIOCore
@testable import SwiftLBProxy
import XCTest

/// Which upgrades other than WebSocket are forwarded (`ProtocolUpgrade`): one `Upgrade` line
/// naming neither h2c nor websocket, no body; and which 101s open the tunnel.
final class ProtocolUpgradeTests: XCTestCase {
    private func head(_ text: String, _ kind: MessageHead.Kind) throws -> MessageHead {
        var parser = HeadParser(kind: kind)
        var bytes = ByteBuffer(string: text)
        guard case .head(let head) = parser.parse(&bytes) else { throw HarnessError("does not parse: \(text)") }
        return head
    }

    private func request(_ upgrades: [String]) throws -> MessageHead {
        try head("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n" + upgrades.map { "Upgrade: \($0)\r\n" }.joined() + "\r\n", .request)
    }

    private func response(_ upgrades: [String]) throws -> MessageHead {
        try head("HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n" + upgrades.map { "Upgrade: \($0)\r\n" }.joined() + "\r\n", .response)
    }

    func testOneUpgradeLineNamingAnotherProtocol() throws {
        XCTAssertTrue(ProtocolUpgrade.forwardable(try request(["custom_protocol"]), hasBody: false))
        XCTAssertFalse(ProtocolUpgrade.forwardable(try request(["custom_protocol"]), hasBody: true))
        XCTAssertFalse(ProtocolUpgrade.forwardable(try request(["h2c"]), hasBody: false))
        XCTAssertFalse(ProtocolUpgrade.forwardable(try request(["foo, h2c"]), hasBody: false))
        XCTAssertFalse(ProtocolUpgrade.forwardable(try request(["foo", "h2c"]), hasBody: false), "a second line hides h2c")
        XCTAssertFalse(ProtocolUpgrade.forwardable(try request(["foo", "bar"]), hasBody: false))
        XCTAssertFalse(ProtocolUpgrade.forwardable(try request([]), hasBody: false))
    }

    func testTheSwitchNamesOneProtocolThatIsNeitherWebSocketNorH2C() throws {
        XCTAssertTrue(ProtocolUpgrade.accepts(try response(["custom_protocol"])))
        XCTAssertFalse(ProtocolUpgrade.accepts(try response([])))
        XCTAssertFalse(ProtocolUpgrade.accepts(try response(["websocket"])), "a WebSocket switch needs its accept key")
        XCTAssertFalse(ProtocolUpgrade.accepts(try response(["h2c"])))
        XCTAssertFalse(ProtocolUpgrade.accepts(try response(["custom_protocol", "h2c"])))
    }
}
