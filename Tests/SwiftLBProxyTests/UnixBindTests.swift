import Foundation
import XCTest

/// `unix-bind prefix P mode M`: a `bind unix@NAME` listens on P + NAME with those permissions
/// unless the line sets its own — in SwiftLB as in haproxy on the same configuration.
final class UnixBindTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testThePrefixAndModeApplyToUnixBinds() throws {
        try requireHAProxy()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        var seen: [String: [String]] = [:]
        for who in ["haproxy", "swiftlb"] {
            let port = freePort()
            let config = differentialHTTPDefaults + """
                global
                    unix-bind prefix \(dir.file(who))- mode 640
                frontend fe
                    bind 127.0.0.1:\(port)
                    bind unix@plain.sock
                    bind unix@own.sock mode 600
                    default_backend app
                backend app
                    server s 127.0.0.1:\(backend.port)

                """
            let child = try startEither(who, config, port: port, in: dir)
            defer { child.stop() }
            var facts: [String] = []
            for name in ["plain.sock", "own.sock"] {
                let path = dir.file("\(who)-\(name)")
                _ = waitUntil(timeout: 5) { FileManager.default.fileExists(atPath: path) }
                let mode = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
                let status = curl(["-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", path, "http://x/"], maxTime: 5).out
                facts.append("\(name) \(String(mode, radix: 8)) \(status)")
            }
            seen[who] = facts
        }
        XCTAssertEqual(seen["swiftlb"], ["plain.sock 640 200", "own.sock 600 200"])
        XCTAssertEqual(seen["swiftlb"], seen["haproxy"])
    }
}
