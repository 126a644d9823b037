import Foundation
import XCTest

/// HTTP/1 options a copied haproxy.cfg carries, through haproxy 2.6 and swiftlb side by side
/// (each in front of its own scripted server on loopback): what the server receives and what
/// the client gets must agree.
final class HTTP1OptionParityTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    /// Each program in turn in front of its own server answering `answer` (the connection kept
    /// open), `backendLines` in its backend: the requests the server saw (one per connection)
    /// and what the client got for `requests`, each sent once the previous one was answered.
    private func run(_ program: String, answer: String, backendLines: String, requests: [String]) throws -> (server: [String], client: [String]) {
        let server = try ScriptedBackend(.raw(answer, close: false))
        defer { server.stop() }
        let port = freePort()
        let proxy = try startEither(program, oneServerConfig(port: port, rules: "", backendLines: backendLines, serverPort: server.port), port: port, in: dir)
        defer { proxy.stop() }
        let client = try RawClient(port: port, timeout: 2)
        var answers: [String] = []
        for request in requests {
            client.send(request)
            answers.append(client.readResponse())
        }
        _ = waitUntil(timeout: 2) { server.requests.count >= requests.count }
        return (server.requests, answers)
    }

    /// Whether a request head (as a server got it) says `Connection: close`, in any case.
    private func saysClose(_ head: String) -> Bool {
        head.lowercased().components(separatedBy: "\r\n").contains { $0.hasPrefix("connection:") && $0.contains("close") }
    }

    /// `option http-pretend-keepalive` with `http-server-close` or `httpclose`: the server is
    /// not told the connection closes (HTTP/1.1 requests lose their `Connection: close`; an
    /// HTTP/1.0 one is kept alive: haproxy writes `Connection: keep-alive` on its HTTP/1.0
    /// line, swiftlb sends HTTP/1.1 with nothing), and it is closed all the same: each request
    /// of one client connection opens a server connection. The client sees no difference.
    /// `no option http-pretend-keepalive` in the backend undoes the defaults' line.
    func testPretendKeepAliveHidesTheCloseFromTheServer() throws {
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
        let twice = ["GET /1 HTTP/1.1\r\nHost: a\r\n\r\n", "GET /2 HTTP/1.1\r\nHost: a\r\n\r\n"]
        let oneZero = ["GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", "GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"]
        for (lines, requests, close) in [
            ("    option http-server-close", twice, true),
            ("    option http-server-close\n    option http-pretend-keepalive", twice, false),
            ("    option http-server-close\n    option http-pretend-keepalive", oneZero, false),
            ("    option http-pretend-keepalive\n    option http-server-close\n    no option http-pretend-keepalive", twice, true),
        ] {
            var clients: [[Int]] = []
            for program in ["swiftlb", "haproxy"] {
                let (server, client) = try run(program, answer: answer, backendLines: lines, requests: requests)
                XCTAssertEqual(server.count, 2, "\(program), \(lines): one server connection per request: \(server)")
                for head in server {
                    XCTAssertEqual(saysClose(head), close, "\(program), \(lines): \(head.debugDescription)")
                }
                clients.append(client.map { statusCode($0) })
            }
            XCTAssertEqual(clients, [[200, 200], [200, 200]], lines)
        }
    }

    /// `option accept-invalid-http-response` behind an HTTP/2 listener: a version word it lets
    /// through is no matter (`:status` carries none), the body arrives; a name with a byte over
    /// 127 cannot be carried by HPACK: haproxy sends it and curl refuses it, swiftlb resets the
    /// stream — and goes on serving (it once stopped the process).
    func testAcceptInvalidHTTPResponseBehindAnHTTP2Listener() throws {
        let icy = try ScriptedBackend(.raw("ICY 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false))
        defer { icy.stop() }
        let name = try ScriptedBackend(.raw("HTTP/1.1 200 OK\r\nX\u{E9}: v\r\nContent-Length: 2\r\n\r\nok", close: false))
        defer { name.stop() }
        let sides = try SideBySide({ port in
            """
            \(haproxyDefaults)
            frontend fe
                bind 127.0.0.1:\(port) proto h2
                use_backend name if { path /name }
                default_backend icy
            backend icy
                option accept-invalid-http-response
                server s 127.0.0.1:\(icy.port)
            backend name
                option accept-invalid-http-response
                server s 127.0.0.1:\(name.port)

            """
        }, in: dir)
        defer { sides.stop() }
        for port in sides.ports {
            let ok = curl(["--http2-prior-knowledge", "-w", " %{http_code}", "http://127.0.0.1:\(port)/"], maxTime: 5)
            XCTAssertEqual(ok.out, "ok 200", "port \(port): \(ok.err)")
            let refused = curl(["--http2-prior-knowledge", "-o", "/dev/null", "http://127.0.0.1:\(port)/name"], maxTime: 5)
            XCTAssertEqual(refused.status, 92, "port \(port): \(refused.err)")
            let again = curl(["--http2-prior-knowledge", "http://127.0.0.1:\(port)/"], maxTime: 5)
            XCTAssertEqual(again.out, "ok", "port \(port), after: \(again.err)")
        }
    }
}
