import Foundation
import XCTest

/// `option http-restrict-req-hdr-names preserve|delete|reject`, SwiftLB and HAProxy 2.6 side
/// by side in front of one recording server: the same headers reach it (`delete`), the same
/// status comes back (`reject`: 403).
final class HeaderNameRestrictionTests: XCTestCase {
    func testHeaderNamesAreRestrictedAsHAProxyDoes() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        func config(_ port: Int) -> String {
            """
            frontend fe
                bind 127.0.0.1:\(port)
                use_backend del if { path /del }
                use_backend rej if { path /rej }
                default_backend keep
            backend keep
                server s1 127.0.0.1:\(backend.port)
            backend del
                option http-restrict-req-hdr-names delete
                server s1 127.0.0.1:\(backend.port)
            backend rej
                option http-restrict-req-hdr-names reject
                server s1 127.0.0.1:\(backend.port)
            """
        }
        let both = try SideBySide(config, in: dir)
        defer { both.stop() }
        func names(_ raw: String) -> [String] {
            raw.lowercased().components(separatedBy: "\r\n").dropFirst().compactMap { line in
                line.firstIndex(of: ":").map { String(line[..<$0]) }
            }.filter { $0.hasPrefix("x") }
        }
        for path in ["/keep", "/del", "/rej", "/rej-ok"] {
            var seen: [[String]] = []
            var statuses: [String] = []
            for port in both.ports {
                backend.clear()
                let client = try RawClient(port: port, timeout: 3)
                let bad = path == "/rej-ok" ? "" : "x_under: 1\r\nx.dot: 2\r\n"
                client.send("GET \(path == "/rej-ok" ? "/rej" : path) HTTP/1.1\r\nHost: h\r\n\(bad)x-fine-9: 3\r\nConnection: close\r\n\r\n")
                statuses.append(String(client.readAll().text.prefix(12)))
                seen.append(backend.requests.first.map { names($0.raw) } ?? [])
            }
            XCTAssertEqual(statuses[0], statuses[1], path)
            XCTAssertEqual(seen[0], seen[1], path)
            let expected: [String: (String, [String])] = ["/keep": ("HTTP/1.1 200", ["x_under", "x.dot", "x-fine-9"]), "/del": ("HTTP/1.1 200", ["x-fine-9"]),
                                                          "/rej": ("HTTP/1.1 403", []), "/rej-ok": ("HTTP/1.1 200", ["x-fine-9"])]
            XCTAssertEqual(statuses[0], expected[path]!.0, path)
            XCTAssertEqual(seen[0], expected[path]!.1, path)
        }
    }
}
