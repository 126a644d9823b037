import Foundation
import XCTest

/// A reload must not cost a long session: 200 WebSocket tunnels opened through SwiftLB keep
/// echoing after a SIGHUP that adds a frontend, after an invalid file, and after a SIGUSR2
/// (Debian's haproxy unit reloads with it) that removes the frontend again. Real python
/// `websockets` peers on loopback; `ws_client.py hold` echoes on every tunnel in rounds the
/// test releases one by one with a file.
final class ReloadTunnelTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func config(port: Int, backend: Int, extraFrontend: Int? = nil) -> String {
        var text = testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)
                default_backend ws
            backend ws
                timeout tunnel 300s
                server node1 127.0.0.1:\(backend)

            """
        if let extra = extraFrontend {
            text += "frontend fe2\n    bind 127.0.0.1:\(extra)\n    default_backend ws\n"
        }
        return text
    }

    /// `ws_client.py handshake` on a port: 101 when a frontend there upgrades.
    private func handshake(_ port: Int) -> String {
        runCommand("/usr/bin/timeout", ["30", "python3", Paths.fixtures.appendingPathComponent("ws_client.py").path,
                                        "handshake", "ws://127.0.0.1:\(port)/echo"]).out
    }

    /// Releases round `n` of the holding client and returns what it reported for it.
    private func round(_ n: Int, in holdDir: String, client: ChildProcess) throws -> [String: Any] {
        if n > 0 { FileManager.default.createFile(atPath: holdDir + "/go\(n)", contents: nil) }
        let done = holdDir + "/done\(n)"
        guard waitUntil(timeout: 150, { FileManager.default.fileExists(atPath: done) }) != nil,
              let data = FileManager.default.contents(atPath: done),
              let answer = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw HarnessError("round \(n) never ended: \(client.stdout) \(client.stderr)")
        }
        return answer
    }

    /// Tunnels of frontend `fe` that have ended (logged at their end with their 101).
    private func endedTunnels(_ lb: SwiftLBInstance) -> Int {
        lb.accessLog.split(separator: "\n").filter { $0.contains(" fe ws/") && $0.contains(" 101 ") }.count
    }

    func testTwoHundredTunnelsSurviveSIGHUPAnInvalidReloadAndSIGUSR2() throws {
        let tunnels = 200
        let server = try WebSocketTests.WSServer(name: "ws1", in: dir)
        defer { server.stop() }
        let port = freePort(), extra = freePort()
        let lb = try SwiftLBInstance(config: config(port: port, backend: server.port), waitPort: port, in: dir)
        defer { lb.stop() }

        let holdDir = dir.file("hold")
        try FileManager.default.createDirectory(atPath: holdDir, withIntermediateDirectories: true)
        let client = try ChildProcess("/usr/bin/timeout", ["600", "python3", Paths.fixtures.appendingPathComponent("ws_client.py").path,
                                                           "hold", "ws://127.0.0.1:\(port)/echo", "\(tunnels)", holdDir, "3"],
                                      logDirectory: dir, name: "hold")
        defer { client.stop() }
        let opened = try round(0, in: holdDir, client: client)
        XCTAssertEqual(opened["ok"] as? Int, tunnels, "\(opened)")
        XCTAssertEqual(opened["failed"] as? Int, 0, "\(opened)")

        // 1. A valid file with a change (a new frontend): SIGHUP. The new bind answers, every tunnel echoes.
        try config(port: port, backend: server.port, extraFrontend: extra).write(toFile: lb.configPath, atomically: true, encoding: .utf8)
        lb.child.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("SIGHUP: configuration reloaded") }, lb.child.stderr)
        XCTAssertTrue(waitForPort(extra), "the new frontend listens")
        XCTAssertTrue(handshake(extra).contains("\"status\": 101"), "a tunnel through the new frontend")
        let afterHUP = try round(1, in: holdDir, client: client)
        XCTAssertEqual(afterHUP["ok"] as? Int, tunnels, "after SIGHUP: \(afterHUP)")
        XCTAssertEqual(afterHUP["failed"] as? Int, 0, "after SIGHUP: \(afterHUP)")

        // 2. An invalid file: refused; nothing changes, the tunnels least of all.
        try "frontend fe\n    bind 127.0.0.1:\(port)\n    no_such_keyword\n".write(toFile: lb.configPath, atomically: true, encoding: .utf8)
        lb.child.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("SIGHUP: reload refused") }, lb.child.stderr)
        XCTAssertTrue(handshake(extra).contains("\"status\": 101"), "the refused file did not close fe2")
        let afterInvalid = try round(2, in: holdDir, client: client)
        XCTAssertEqual(afterInvalid["ok"] as? Int, tunnels, "after the invalid reload: \(afterInvalid)")
        XCTAssertEqual(afterInvalid["failed"] as? Int, 0, "after the invalid reload: \(afterInvalid)")

        // 3. SIGUSR2 with the first file again: fe2 closes, fe and its tunnels stay.
        try config(port: port, backend: server.port).write(toFile: lb.configPath, atomically: true, encoding: .utf8)
        lb.child.signal(SIGUSR2)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.child.stderr.contains("SIGUSR2: configuration reloaded") }, lb.child.stderr)
        XCTAssertNotNil(waitUntil(timeout: 10) { !handshake(extra).contains("\"status\": 101") }, "SIGUSR2 applied the file: fe2 is gone")
        XCTAssertEqual(endedTunnels(lb), 0, "no tunnel of fe ended across three reloads:\n\(lb.accessLog)")
        let afterUSR2 = try round(3, in: holdDir, client: client)
        XCTAssertEqual(afterUSR2["ok"] as? Int, tunnels, "after SIGUSR2: \(afterUSR2)")
        XCTAssertEqual(afterUSR2["failed"] as? Int, 0, "after SIGUSR2: \(afterUSR2)")

        // The client closes its tunnels: each ends now, and only now, with its log line.
        XCTAssertEqual(client.waitForExit(timeout: 60), 0, client.stderr)
        XCTAssertTrue(client.stdout.contains("\"opened\": \(tunnels)"), client.stdout)
        lb.waitForAccessLog(timeout: 10) { _ in self.endedTunnels(lb) >= tunnels }
        XCTAssertEqual(endedTunnels(lb), tunnels, "one 101 line per tunnel, at its end")
        XCTAssertNil(lb.child.waitForExit(timeout: 0.1), "still running")
    }
}
