import Foundation
import XCTest

/// `server NAME HOST` without a port (older haproxy.cfg files write `server web1 10.0.0.1
/// check port 80`): each connection goes to the port the client connected to. One frontend
/// listens on two ports of 127.0.0.2, the backend's servers on the same ports of 127.0.0.1;
/// HAProxy 2.6 runs the same file beside (on 127.0.0.3).
final class PortlessServerTests: XCTestCase {
    private func answers(frontendAddress: String, haproxy: Bool, ports: [Int], dir: TempDirectory) throws -> [String] {
        let config = differentialHTTPDefaults + """
            frontend fe
                bind \(frontendAddress):\(ports[0])
                bind \(frontendAddress):\(ports[1])
                default_backend app
            backend app
                server s 127.0.0.1

            """
        let child = try startOnSameFile(config, haproxy: haproxy, port: ports[1], host: frontendAddress, in: dir)
        defer { child.stop() }
        return ports.map { port in
            // Twice on one connection: the second may not come back on another port's connection.
            curl(["-s", "http://\(frontendAddress):\(port)/whoami", "http://\(frontendAddress):\(port)/whoami"], maxTime: 5).out
        }
    }

    func testEachConnectionGoesToThePortTheClientConnectedTo() throws {
        let dir = try TempDirectory()
        let first = try StreamBackend(in: dir), second = try StreamBackend(in: dir)
        defer { first.stop(); second.stop() }
        let ports = [first.port, second.port]
        let expected = ports.map { "stream_server \($0)\nstream_server \($0)\n" }
        XCTAssertEqual(try answers(frontendAddress: "127.0.0.2", haproxy: false, ports: ports, dir: dir), expected)
        try requireHAProxy()
        XCTAssertEqual(try answers(frontendAddress: "127.0.0.3", haproxy: true, ports: ports, dir: dir), expected, "HAProxy")
    }
}

/// `bind HOST:LOW-HIGH` (HAProxy's port range): every port of the range listens.
final class BindPortRangeListenTests: XCTestCase {
    func testEveryPortOfTheRangeAnswers() throws {
        let dir = try TempDirectory()
        let backend = try StreamBackend(in: dir)
        defer { backend.stop() }
        // Two consecutive free ports (bounded tries).
        var low = 0
        for _ in 0..<20 {
            let p = freePort()
            if p < 65535, canBind(p + 1) { low = p; break }
        }
        XCTAssertNotEqual(low, 0, "no two consecutive free ports")
        let config = differentialHTTPDefaults + "frontend fe\n    bind 127.0.0.1:\(low)-\(low + 1)\n    default_backend app\nbackend app\n    server s 127.0.0.1:\(backend.port)\n"
        let child = try startOnSameFile(config, haproxy: false, port: low + 1, in: dir)
        defer { child.stop() }
        for port in [low, low + 1] {
            XCTAssertEqual(curl(["-s", "http://127.0.0.1:\(port)/whoami"], maxTime: 5).out, "stream_server \(backend.port)\n", "port \(port)")
        }
    }
}
