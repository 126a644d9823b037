import Foundation
import XCTest

/// `http-request auth … unless { http_auth(LIST) }` on the wire, HAProxy 2.6 as the reference:
/// without credentials, with wrong ones and with right ones (a SHA-512 crypt hash and a clear
/// password), both answer the same status, `WWW-Authenticate` and body.
final class BasicAuthWireTests: XCTestCase {
    func testAuthAnswersAsHAProxyDoes() throws {
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy"), "haproxy is installed by scripts/test.sh")
        let dir = try TempDirectory()
        func config(_ port: Int) -> String {
            """
            userlist admins
                user alice password \(UserlistTests.sha512)
                user dave insecure-password plain
            defaults
                mode http
                timeout connect 2s
                timeout client 5s
                timeout server 5s
            frontend fe
                bind 127.0.0.1:\(port)
                http-request auth realm Admin unless { http_auth(admins) }
                http-request return status 200 content-type text/plain string welcome

            """
        }
        let (hport, sport) = (freePort(), freePort())
        let haproxy = try ChildProcess("/usr/sbin/haproxy", ["-db", "-f", try dir.write("haproxy.cfg", config(hport))], logDirectory: dir, name: "haproxy")
        defer { haproxy.stop() }
        XCTAssertTrue(waitForPort(hport), haproxy.stderr)
        let lb = try SwiftLBInstance(config: config(sport), waitPort: sport, in: dir)
        defer { lb.stop() }

        func answer(_ port: Int, _ credentials: String?) throws -> String {
            let client = try RawClient(port: port, timeout: 5)
            let header = credentials.map { "Authorization: Basic \(Data($0.utf8).base64EncodedString())\r\n" } ?? ""
            client.send("GET / HTTP/1.1\r\nHost: a\r\n\(header)Connection: close\r\n\r\n")
            // The parts both write the same way: status line, the auth header, the body.
            let text = client.readAll().text
            let lines = text.components(separatedBy: "\r\n")
            let auth = lines.filter { $0.lowercased().hasPrefix("www-authenticate:") }.map { $0.lowercased() }
            return ([lines.first ?? ""] + auth + [text.components(separatedBy: "\r\n\r\n").dropFirst().joined()]).joined(separator: "|")
        }
        for credentials in [nil, "alice:wrong", "alice:secret", "dave:plain", "dave:Plain", "nobody:x"] {
            let theirs = try answer(hport, credentials), ours = try answer(sport, credentials)
            XCTAssertEqual(ours, theirs, "\(credentials ?? "no credentials")")
            XCTAssertEqual(ours.hasPrefix("HTTP/1.1 200"), credentials == "alice:secret" || credentials == "dave:plain", ours)
        }
    }
}
