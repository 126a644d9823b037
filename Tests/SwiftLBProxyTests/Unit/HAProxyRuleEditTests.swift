import Foundation
import NIOCore
import NIOPosix
import XCTest
@testable import SwiftLBProxy

/// What the request rules do to a request on its way to the server, compared with HAProxy 2.6
/// on the same configuration: HAProxy forwards to a recording server on loopback, the rule
/// engine edits the same request head, and the two heads the server would see must agree
/// (start line, and header lines in order — names compared without case, since HAProxy writes
/// them in lower case; the lines HAProxy adds itself, `connection: close`, are left out).
final class HAProxyRuleEditTests: XCTestCase {
    func testRequestEditsMatchWhatHAProxyForwards() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let server = try RecordingServer()
        defer { server.stop() }
        let recorded = server.recorded

        let rules = """
                http-request set-var(txn.host) req.hdr(host),lower,regsub(:[0-9]+$,)
                http-request set-header X-Host %[req.hdr(host)]
                http-request add-header X-Added one
                http-request add-header X-Added two
                http-request del-header x-secret -m beg
                http-request del-header -drop -m end
                http-request del-header ^x-tmp.$|^x-temp.$ -m reg
                http-request replace-header X-Forwarded-Host ^([^:]*):[0-9]+$ \\1
                http-request replace-value Cache-Control ^max-age=([0-9]+)$ max-age=1\\1
                http-request replace-header User-Agent Mozilla/([0-9]) M\\1-%[src]
                http-request set-path /v2%[path] if { path_beg /api }
                http-request set-query flag=1 if { path_beg /v2/api/q }
                http-request replace-path ^/old/(.*)$ /new/\\1
                http-request set-uri /fixed?x=%[req.hdr(x-num)] if { path /set-uri }
                http-request set-header X-After-Path %[path]
            """
        let directory = try TempDirectory()
        let port = freePort()
        let config = oneServerConfig(port: port, rules: rules, serverPort: server.port)
        let haproxy = try startHAProxy(config, port: port, in: directory)
        defer { haproxy.stop() }
        let set = try requestRules(rules)

        let requests = [
            "GET /api/items?id=3 HTTP/1.1\r\nHost: Example.COM:8080\r\nX-Secret-Token: s\r\nx-secret2: t\r\nX-Keep: k\r\nX-Forwarded-Host: a.example:443\r\nCache-Control: no-cache, max-age=5 , private\r\nUser-Agent: Mozilla/5.0 (X11)\r\nX-Tmp1: a\r\nX-Tmp12: keep\r\nx-temp2: b\r\nCookie-Drop: c\r\n\r\n",
            "GET /api/q?old=1 HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /old/a/b?z=9 HTTP/1.1\r\nHost: h\r\nX-Forwarded-Host: nomatch\r\n\r\n",
            "GET /set-uri HTTP/1.1\r\nHost: h\r\nX-Num: 42\r\n\r\n",
        ]
        for request in requests {
            let client = try RawClient(port: port)
            client.send(request.replacingOccurrences(of: "HTTP/1.1\r\n", with: "HTTP/1.1\r\nConnection: close\r\n"))
            let response = client.readAll().text
            XCTAssertTrue(response.hasPrefix("HTTP/1.1 200"), response)
            guard let theirs = recorded.last?.head else { return XCTFail("the server saw nothing") }

            var head = try requestHead(request.replacingOccurrences(of: "HTTP/1.1\r\n", with: "HTTP/1.1\r\nConnection: close\r\n"))
            var input = SampleInput(facts: try facts(head, source: "127.0.0.1"), variables: StreamVariables())
            _ = set.evaluate(&head, &input)
            _ = RequestRewriter.removeHopByHop(&head)
            XCTAssertEqual(Self.normalised(serialised(head)), Self.normalised(theirs), "for \(request.debugDescription)")
        }
    }

    /// Start line as is; header lines with lower-case names, minus the connection's own.
    private static func normalised(_ head: String) -> [String] {
        let lines = head.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        guard let first = lines.first else { return [] }
        return [first] + lines.dropFirst().compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return line }
            let name = line[..<colon].lowercased()
            if name == "connection" { return nil }
            return name + ":" + line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
}
