import Foundation
import NIOCore
import XCTest
@testable import SwiftLBProxy

/// HTTP/1 messaging where HAProxy 2.6's behaviour is SwiftLB's spec (the reg-tests
/// http-rules/path_and_pathq.vtc, http-messaging/h1_host_normalization.vtc): the same
/// configuration runs in haproxy and in swiftlb, each in front of its own recording server on
/// loopback, the same raw requests go to both, and what the servers see (start line, the named
/// headers) and what the clients get (status) must agree.
final class HTTPMessagingParityTests: XCTestCase {
    /// The rules of path_and_pathq.vtc, and the headers that show what `path`, `pathq`,
    /// `query` and `url` saw.
    private static let pathRules = """
            http-request add-header x-path  %[path]
            http-request add-header x-pathq %[pathq]
            http-request add-header x-query %[query]
            http-request add-header x-url   %[url]
            http-request set-path /fe%[path]
            http-request replace-path (.*) /foo\\1
            http-request replace-path (.*) \\1/bar
            http-request set-pathq %[path]?app=regtest&%[query]
            http-request replace-pathq /([^?]*)\\?app=([^&]*)&?(.*) /\\2/\\1?\\3
        """

    /// An absolute-form request goes to the server as it came (the rules edit its path only),
    /// with Host naming its authority; a default port leaves both; a Host that names another
    /// origin is refused.
    func testAbsoluteFormIsForwardedAsHAProxyForwardsIt() throws {
        let requests = [
            "GET /req1?param1=val1&param2=val2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET http://127.0.0.1/req2?param1=val1&param2=val2 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
            "GET http://Example.COM:80/c1 HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
            "GET https://example.com:443/c3 HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "GET http://example.com:8080/c2 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
            "GET http://example.com/c22 HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
            "GET http://example.com:/c24 HTTP/1.1\r\nHost: example.com\r\n\r\n",
            "GET https://example.com:80/c4 HTTP/1.1\r\nHost: example.com:80\r\n\r\n",
            // Refused by both: another host, another port, a non-default port on one side only.
            "GET http://hostname1/ HTTP/1.1\r\nHost: hostname2\r\n\r\n",
            "GET http://hostname:80/ HTTP/1.1\r\nHost: hostname:81\r\n\r\n",
            "GET http://hostname:8080/ HTTP/1.1\r\nHost: hostname\r\n\r\n",
            "GET http://hostname/ HTTP/1.1\r\nHost: hostname:81\r\n\r\n",
        ]
        let outcomes = try compare(frontend: Self.pathRules, requests: requests, headers: ["host", "x-path", "x-pathq", "x-query", "x-url"])
        // The two servers saw the reg-test's URIs, not origin-form.
        XCTAssertEqual(outcomes[1].startLine, "GET http://127.0.0.1/regtest/foo/fe/req2/bar?param1=val1&param2=val2 HTTP/1.1")
        XCTAssertEqual(outcomes[1].headers["x-url"], "http://127.0.0.1/req2?param1=val1&param2=val2")
        XCTAssertEqual(outcomes[2].headers["host"], "Example.COM", "the default port leaves Host too")
        XCTAssertEqual(outcomes.suffix(4).map(\.status), [400, 400, 400, 400])
    }

    // MARK: harness

    struct Outcome: Equatable {
        var status: Int
        /// What the server received, nil when it received nothing.
        var startLine: String?
        var headers: [String: String] = [:]
    }

    /// Runs `requests` (each on its own connection, `Connection: close` added) through haproxy
    /// and through swiftlb on one configuration; asserts that both agree and returns SwiftLB's.
    func compare(frontend rules: String, backend: String = "", requests: [String], headers: [String]) throws -> [Outcome] {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let directory = try TempDirectory()
        func config(_ port: Int, _ server: RecordingServer) -> String {
            oneServerConfig(port: port, rules: rules, backendLines: backend, serverPort: server.port)
        }
        let theirServer = try RecordingServer(), ourServer = try RecordingServer()
        defer { theirServer.stop(); ourServer.stop() }
        let theirPort = freePort()
        let haproxy = try startHAProxy(config(theirPort, theirServer), port: theirPort, in: directory)
        defer { haproxy.stop() }
        let ourPort = freePort()
        let swiftlb = try SwiftLBInstance(config: config(ourPort, ourServer), waitPort: ourPort, in: directory)
        defer { swiftlb.stop() }

        func run(_ request: String, port: Int, server: RecordingServer) throws -> Outcome {
            let before = server.recorded.count
            let client = try RawClient(port: port)
            client.send(request.replacingOccurrences(of: "\r\n\r\n", with: "\r\nConnection: close\r\n\r\n"))
            let response = client.readAll().text
            let status = Int(response.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
            guard server.recorded.count > before, let head = server.recorded.last?.head else { return Outcome(status: status) }
            let lines = head.components(separatedBy: "\r\n")
            var outcome = Outcome(status: status, startLine: lines.first)
            for line in lines.dropFirst() {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                if headers.contains(name) { outcome.headers[name] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces) }
            }
            return outcome
        }
        var ours: [Outcome] = []
        for request in requests {
            let theirs = try run(request, port: theirPort, server: theirServer)
            let mine = try run(request, port: ourPort, server: ourServer)
            XCTAssertEqual(mine, theirs, "for \(request.debugDescription)")
            ours.append(mine)
        }
        return ours
    }
}
