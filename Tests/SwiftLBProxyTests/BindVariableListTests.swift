import Foundation
import XCTest

/// Environment variables in a `bind` address, beside haproxy 2.6 on loopback. HAProxy splits a
/// `bind A,B` list before it expands each piece's variables (str2listener, then str2sa_range)
/// and reads the port with atoi, so `bind 127.0.0.1:${PORTS}` with PORTS=P1,P2 listens on P1
/// only; the lexer expands a quoted `"${LIST}"` first, so LIST=127.0.0.1:P1,127.0.0.1:P2 is a
/// list of two listeners. SwiftLB listens where haproxy listens, and warns about the first form.
final class BindVariableListTests: XCTestCase {
    private func config(_ bind: String) -> String {
        differentialHTTPDefaults + "frontend fe\n    bind \(bind)\n    http-request return status 200\n"
    }

    /// Starts `config` with `environment` under haproxy or swiftlb, waits for `first`, and
    /// returns which of `ports` listen (the other's too, once the first is up).
    private func listening(_ program: String, _ config: String, _ environment: [String: String], first: Int, ports: [Int],
                           in dir: TempDirectory) throws -> [Int] {
        let stop: () -> Void
        if program == "haproxy" {
            let path = try dir.write("haproxy-\(first).cfg", config)
            let child = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", path], logDirectory: dir, name: "haproxy-\(first)", environment: environment)
            stop = child.stop
            guard waitForPort(first) else { stop(); throw HarnessError("haproxy did not listen: \(child.stderr)") }
        } else {
            stop = try SwiftLBInstance(config: config, waitPort: first, in: dir, name: "swiftlb-\(first)", environment: environment).stop
        }
        defer { stop() }
        usleep(200_000)  // every listener of the line is opened together; a late one would show here
        let open = ports.filter(isListening)
        for port in open {
            let got = curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"], maxTime: 5)
            XCTAssertEqual(got.out, "200", "\(program) on \(port)")
        }
        return open
    }

    func testAVariableInABindAddressListensWhereHAProxyListens() throws {
        try requireHAProxy()
        let dir = try TempDirectory()
        for program in ["haproxy", "swiftlb"] {
            let (p1, p2) = (freePort(), freePort())
            let unquoted = try listening(program, config("127.0.0.1:${PORTS}"), ["PORTS": "\(p1),\(p2)"], first: p1, ports: [p1, p2], in: dir)
            XCTAssertEqual(unquoted, [p1], "\(program): split before expansion, the port read up to the comma")
            let (q1, q2) = (freePort(), freePort())
            let quoted = try listening(program, config("\"${LIST}\""), ["LIST": "127.0.0.1:\(q1),127.0.0.1:\(q2)"], first: q1, ports: [q1, q2], in: dir)
            XCTAssertEqual(quoted, [q1, q2], "\(program): a quoted variable expands first, then the list is split")
        }
        let check = try dir.write("ports.cfg", config("127.0.0.1:${PORTS}"))
        let ours = runCommand(Paths.swiftlb, ["check", "-c", check], environment: ["PORTS": "8001,8002"])
        XCTAssertEqual(ours.status, 0, ours.err)
        XCTAssertTrue(ours.err.contains("ports.cfg:7] : 'bind' : '127.0.0.1:${PORTS}' expands to '127.0.0.1:8001,8002'")
                      && ours.err.contains("only port 8001 listens (as in HAProxy)") && ours.err.contains("LIST='127.0.0.1:8001,127.0.0.1:8002'"), ours.err)
        // The quoted form of PORTS is refused by both: its second piece has no colon.
        let quotedPorts = try dir.write("quoted.cfg", config("\":${PORTS}\""))
        XCTAssertNotEqual(runCommand(Paths.swiftlb, ["check", "-c", quotedPorts], environment: ["PORTS": "8001,8002"]).status, 0)
        XCTAssertNotEqual(runCommand("/usr/sbin/haproxy", ["-c", "-f", quotedPorts], environment: ["PORTS": "8001,8002"]).status, 0)
    }
}
