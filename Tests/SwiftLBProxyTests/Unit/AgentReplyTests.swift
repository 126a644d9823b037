import XCTest
@testable import SwiftLBConfig
@testable import SwiftLBHealth

/// The agent's answer as HAProxy 2.6 reads it, and the `agent-*` server parameters.
final class AgentReplyTests: XCTestCase {
    func testWordsOfAnAnswer() {
        XCTAssertEqual(AgentReply.parse("75%,maxconn:30,maint,down\n"),
                       AgentReply(weightPercent: 75, maxconn: 30, state: .down, admin: .maint))
        XCTAssertEqual(AgentReply.parse("UP READY 100% # all good\r\nignored"),
                       AgentReply(weightPercent: 100, state: .up, admin: .ready, description: "all good"))
        XCTAssertEqual(AgentReply.parse("stopped\tdrain"), AgentReply(state: .down, admin: .drain))
        XCTAssertEqual(AgentReply.parse("fail #disk full"), AgentReply(state: .down, description: "disk full"))
        XCTAssertEqual(AgentReply.parse("bogus x% maxconn:y"), AgentReply())
        XCTAssertEqual(AgentReply.weight(percent: 75, of: 100), 75)
        XCTAssertEqual(AgentReply.weight(percent: 50, of: 3), 1)
        XCTAssertEqual(AgentReply.weight(percent: 400, of: 100), 256)
    }

    func testAgentParameters() throws {
        let config = try ConfigParser.parse(text: """
            backend b
                server s 127.0.0.1:80 weight 100 agent-check agent-addr 127.0.0.2 agent-port 8000 agent-send "pouet\\n" agent-inter 100ms
            """, file: "a.conf")
        let agent = config.backends["b"]!.servers[0].parameters.agent
        XCTAssertTrue(agent.enabled)
        XCTAssertEqual(agent.port, 8000)
        XCTAssertEqual(agent.address, "127.0.0.2")
        XCTAssertEqual(agent.send, "pouet\n")
        XCTAssertEqual(agent.inter, .milliseconds(100))
    }
}
