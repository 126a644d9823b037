import Foundation
import XCTest

/// HAProxy's agent-check (checks/agent-check.vtc) through a real `swiftlb run`: a scripted
/// agent on loopback answers each connection with the words of a file the test rewrites;
/// what it says moves the real traffic — `maint` takes the server out (503), `ready up`
/// brings it back, `0%` gives its share to the other server, `100%` takes it back.
final class AgentCheckTests: XCTestCase {
    func testTheAgentsAnswerMovesTraffic() throws {
        let dir = try TempDirectory()
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let agentPort = freePort()
        let replyFile = try dir.write("reply", "maint\n")
        let heardFile = dir.file("heard")
        let script = """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", \(agentPort))); s.listen(16)
            for _ in range(2000):
                c, _ = s.accept(); c.settimeout(0.05)
                try:
                    open("\(heardFile)", "ab").write(c.recv(100))
                except Exception:
                    pass
                try:
                    c.sendall(open("\(replyFile)", "rb").read())
                except Exception:
                    pass
                c.close()
            """
        let agent = try ChildProcess("/usr/bin/env", ["python3", "-c", script], logDirectory: dir, name: "agent")
        defer { agent.stop() }
        XCTAssertTrue(waitForPort(agentPort))
        let port = freePort(), port2 = freePort()
        let stats = StatsClient(in: dir)
        let lb = try SwiftLBInstance(config: stats.global + testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                server s1 127.0.0.1:\(stream.port) weight 100 agent-check agent-port \(agentPort) agent-inter 100ms agent-send "hello\\n"
            backend two
                server a 127.0.0.1:\(stream.port) weight 10 agent-check agent-addr 127.0.0.1 agent-port \(agentPort) agent-inter 100ms
                server b 127.0.0.1:\(stream.port) weight 10
            frontend fe2
                bind 127.0.0.1:\(port2)
                default_backend two
            """, waitPort: port, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(port2))
        func status(_ p: Int) -> String { curl(["-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(p)/echo-headers"]).out }
        // Each answer is read at the agent's next ask (every 100 ms, later on a loaded machine):
        // wait for the state it sets (bounded) rather than sleeping a fixed time.
        func weightOfA(_ weight: String) -> Bool {
            waitUntil(timeout: 10) { stats.field("two", "a", "weight") == weight } != nil
        }
        // Both servers that ask the agent took its "maint" before it changes (else `a` could
        // take "maint" after the wait below and stay in maintenance).
        XCTAssertNotNil(waitUntil(timeout: 10) { status(port) == "503" && stats.field("two", "a", "status") == "MAINT" },
                        "the agent put s1 and a in maintenance: \(stats.field("two", "a", "status") ?? "?")")
        try "ready up\n".write(toFile: replyFile, atomically: true, encoding: .utf8)
        // Backend two's `a` asks the same agent: it must have left maintenance too before the
        // weights below can show.
        XCTAssertNotNil(waitUntil(timeout: 10) { status(port) == "200" && stats.field("two", "a", "status").map { $0 != "MAINT" } == true },
                        "the agent made s1 and a ready again: \(stats.field("two", "a", "status") ?? "?")")
        try "0%\n".write(toFile: replyFile, atomically: true, encoding: .utf8)
        XCTAssertTrue(weightOfA("0"), "0%: \(stats.field("two", "a", "weight") ?? "?")")
        for _ in 1...4 { XCTAssertEqual(status(port2), "200") }
        try "100%\n".write(toFile: replyFile, atomically: true, encoding: .utf8)
        XCTAssertTrue(weightOfA("10"), "100%: \(stats.field("two", "a", "weight") ?? "?")")
        for _ in 1...4 { XCTAssertEqual(status(port2), "200") }
        lb.waitForAccessLog { $0.split(separator: "\n").filter { $0.contains(" two/") }.count >= 8 }
        let servers = lb.accessLog.split(separator: "\n").filter { $0.contains(" two/") }.map { $0.contains(" two/a ") ? "a" : "b" }
        XCTAssertEqual(Array(servers.prefix(4)), ["b", "b", "b", "b"], "weight 0% leaves a without traffic:\n\(lb.accessLog)")
        XCTAssertTrue(servers.dropFirst(4).contains("a"), "100% gives a its share back:\n\(lb.accessLog)")
        let heard = (try? String(contentsOfFile: heardFile, encoding: .utf8)) ?? ""
        XCTAssertTrue(heard.contains("hello\n"), "agent-send reached the agent: \(heard.debugDescription)")
    }
    /// `agent-inter` defaults to 2 s whatever the server's `inter` (HAProxy's DEF_CHKINTR): an
    /// agent beside `inter 30s` is still asked every 2 s.
    func testTheAgentIsAskedEveryTwoSecondsWhateverTheServersInter() throws {
        let dir = try TempDirectory()
        let stream = try StreamBackend(in: dir)
        defer { stream.stop() }
        let agentPort = freePort()
        let heardFile = dir.file("heard")
        let script = """
            import socket
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", \(agentPort))); s.listen(16)
            for _ in range(100):
                c, _ = s.accept()
                open("\(heardFile)", "a").write("asked\\n")
                c.sendall(b"up\\n"); c.close()
            """
        let agent = try ChildProcess("/usr/bin/env", ["python3", "-c", script], logDirectory: dir, name: "agent")
        defer { agent.stop() }
        XCTAssertTrue(waitForPort(agentPort))
        let port = freePort()
        let lb = try SwiftLBInstance(config: testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend be
            backend be
                server s1 127.0.0.1:\(stream.port) check inter 30s agent-check agent-port \(agentPort)

            """, waitPort: port, in: dir)
        defer { lb.stop() }
        func asked() -> Int { ((try? String(contentsOfFile: heardFile, encoding: .utf8)) ?? "").split(separator: "\n").count }
        // With the server's 30 s the agent would be asked at most once in this window.
        XCTAssertNotNil(waitUntil(timeout: 15) { asked() >= 3 }, "asked \(asked()) times")
    }
}
