import Foundation
import XCTest

/// `http-reuse never|safe|aggressive|always` and `dispatch` on the wire, as HAProxy's
/// reg-tests check them: a receiving listen of the same SwiftLB answers every request with
/// `http_first_req` (1: the request is the first on its server connection), so each answer
/// says whether the sender opened a new server connection or reused one. One event loop
/// (`nbthread 1`): idle connections stay with the loop that opened them, so two client
/// connections can only share one on the same loop.
final class ReuseModesTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// The `first` header of each answer, for requests sent one after the other on one client
    /// connection.
    private func firsts(port: Int, requests: Int) throws -> [String] {
        let client = try RawClient(port: port, timeout: 5)
        defer { client.shutdownBoth() }
        return (0..<requests).map { _ in
            client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = client.readResponse()
            return response.split(separator: "\r\n").first { $0.lowercased().hasPrefix("first: ") }.map { String($0.dropFirst(7)) } ?? "none: \(response)"
        }
    }

    func testEachModeReusesWhatHAProxySaysItDoes() throws {
        let receiver = freePort()
        let modes = ["never", "safe", "aggressive", "always"]
        let ports = Dictionary(uniqueKeysWithValues: modes.map { ($0, freePort()) })
        let dispatchPort = freePort()
        var config = """
            global
                nbthread 1
            defaults
                mode http
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            listen receiver
                bind 127.0.0.1:\(receiver)
                http-request return status 200
                http-after-response set-header first %[http_first_req]
            listen viadispatch
                bind 127.0.0.1:\(dispatchPort)
                dispatch 127.0.0.1:\(receiver)

            """
        for mode in modes {
            config += "listen \(mode)\n    bind 127.0.0.1:\(ports[mode]!)\n    http-reuse \(mode)\n    server r 127.0.0.1:\(receiver)\n"
        }
        let lb = try SwiftLBInstance(config: config, waitPort: receiver, in: dir)
        defer { lb.stop() }
        for port in ports.values { XCTAssertTrue(waitForPort(port)) }

        // Each client connection closes before the next opens (a short pause lets SwiftLB see it).
        func sessions(_ port: Int) throws -> [[String]] {
            try (0..<3).map { _ in
                let answers = try firsts(port: port, requests: 2)
                Thread.sleep(forTimeInterval: 0.2)
                return answers
            }
        }
        // never: each client connection has its own server connection, kept for its requests.
        XCTAssertEqual(try sessions(ports["never"]!), [["1", "0"], ["1", "0"], ["1", "0"]])
        // dispatch: the same (HAProxy makes dispatch connections private).
        XCTAssertEqual(try sessions(dispatchPort), [["1", "0"], ["1", "0"], ["1", "0"]])
        // safe: a first request always opens a connection; the second takes a pooled one.
        XCTAssertEqual(try sessions(ports["safe"]!), [["1", "0"], ["1", "0"], ["1", "0"]])
        // always: a first request takes any pooled connection.
        XCTAssertEqual(try sessions(ports["always"]!), [["1", "0"], ["0", "0"], ["0", "0"]])
        // aggressive: a first request takes only a connection that has carried two requests
        // or more: after one session of one request, it opens its own.
        let aggressive = ports["aggressive"]!
        XCTAssertEqual(try firsts(port: aggressive, requests: 1), ["1"])
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(try firsts(port: aggressive, requests: 2), ["1", "0"])
        Thread.sleep(forTimeInterval: 0.2)
        XCTAssertEqual(try firsts(port: aggressive, requests: 1), ["0"])
    }

    func testTheModesAndPoolMaxConnAreCheckedWithTheirLine() throws {
        let path = try dir.write("lb.conf", """
            defaults
                mode http
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            backend b
                http-reuse sometimes
                server s 127.0.0.1:1 pool-max-conn -2
            backend c
                server s 127.0.0.1:1
                dispatch 127.0.0.1:2

            """)
        let check = runCommand(Paths.swiftlb, ["check", "-c", path])
        XCTAssertEqual(check.status, 1, check.out)
        XCTAssertTrue(check.err.contains("parsing [\(path):7] : 'http-reuse' : unknown mode 'sometimes'"), check.err)
        XCTAssertTrue(check.err.contains("parsing [\(path):8] : 'server' : "), check.err)
        XCTAssertTrue(check.err.contains("parsing [\(path):11] : 'dispatch' : "), check.err)
    }
}
