import Foundation
import SwiftLBConfig
import SwiftLBHealth
import XCTest
@testable import SwiftLBProxy

/// Which file a backend reads and which of its lines apply (apply_server_state): `local` files
/// under `server-state-base`, lines matched by backend name (an id alone is not enough), the
/// first of two lines for a server, unknown servers and unreadable files as warnings; and a
/// reload does not read the file again.
final class ServerStateLoaderTests: XCTestCase {
    /// HAProxy's proxy ids count `defaults` sections: below, app is 2, api 3.
    private func line(_ beID: Int, _ backend: String, _ server: String, admin: Int, uweight: Int = 1, port: Int) -> String {
        "\(beID) \(backend) 1 \(server) 127.0.0.1 2 \(admin) \(uweight) 1 5 1 0 0 0 0 0 0 - \(port) - 0 0 - - 0\n"
    }

    func testLocalFilesAndWhatTheyMatch() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: base) }
        // app's own file (named after it): s1 forced into maintenance, s2 listed twice (the
        // first line wins), a server app no longer has, and a line of another backend with
        // app's id (skipped: names must match).
        try ("1\n" + line(2, "app", "s1", admin: 1, port: 81) + line(2, "app", "s2", admin: 8, port: 82) + line(2, "app", "s2", admin: 1, port: 82)
             + line(2, "app", "gone", admin: 1, port: 87) + line(2, "other", "s3", admin: 1, port: 83)).write(toFile: base + "/app", atomically: true, encoding: .utf8)
        // api names its file; weight 5 for t1.
        try ("1\n" + line(3, "api", "t1", admin: 0, uweight: 5, port: 84)).write(toFile: base + "/api.state", atomically: true, encoding: .utf8)
        let text = """
            global
                server-state-base \(base)
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                load-server-state-from-file local
            backend app
                server s1 127.0.0.1:81
                server s2 127.0.0.1:82
                server s3 127.0.0.1:83
            backend api
                server-state-file-name api.state
                server t1 127.0.0.1:84
            backend none
                load-server-state-from-file none
                server u1 127.0.0.1:85
            backend missing
                server v1 127.0.0.1:86

            """
        let configuration = try ConfigParser.parse(text: text, file: "state.conf")
        let runtime = try ProxyRuntime(configuration: configuration)
        func health(_ b: String, _ s: String) -> ServerHealth? { runtime.serverStates.first { $0.backend == b && $0.server == s } }
        XCTAssertEqual(health("app", "s1")?.admin, .maint)
        XCTAssertEqual(health("app", "s2")?.admin, .drain, "the first of two lines")
        XCTAssertEqual(health("app", "s3")?.admin, .ready, "another backend's line, even with this backend's id")
        XCTAssertEqual(health("api", "t1")?.weight, 5)
        XCTAssertEqual(health("none", "u1")?.admin, .ready)
        let warnings = runtime.warnings.map(\.message)
        XCTAssertFalse(warnings.contains { $0.contains("ID mismatch") || $0.contains("port") }, "\(warnings)")
        XCTAssertTrue(warnings.contains("Proxy 'app': can't find server 'gone' in backend 'app'"), "\(warnings)")
        XCTAssertTrue(warnings.contains("Proxy 'app': backend name mismatch: from server state file: 'other', from running config 'app'"), "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.hasPrefix("Can't open backend 'missing' server state file '\(base)/missing'") }, "\(warnings)")

        // A reload keeps what the servers are now and does not read the file again.
        health("app", "s1")?.setAdmin(.ready)
        let reloaded = try ProxyRuntime(configuration: configuration, previous: runtime)
        XCTAssertEqual(reloaded.serverStates.first { $0.server == "s1" }?.admin, .ready)
        XCTAssertFalse(reloaded.warnings.contains { $0.message.contains("server state file") }, "\(reloaded.warnings)")
    }

    func testACorruptedGlobalFileAppliesNothing() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("state-\(UUID().uuidString.prefix(8))").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try ("1\n" + line(2, "app", "s1", admin: 1, port: 81) + "2 app 2 s2 127.0.0.1 2 0\n").write(toFile: file, atomically: true, encoding: .utf8)
        let runtime = try ProxyRuntime(configuration: ConfigParser.parse(text: """
            global
                server-state-file \(file)
            defaults
                timeout connect 1s
                timeout client 1s
                timeout server 1s
                load-server-state-from-file global
            backend app
                server s1 127.0.0.1:81
                server s2 127.0.0.1:82

            """, file: "state.conf"))
        XCTAssertEqual(runtime.serverStates.first?.admin, .ready, "s1's good line is not applied from a corrupted file")
        XCTAssertEqual(runtime.warnings.map(\.message), ["corrupted global server state file '\(file)' at line 3: nothing of it applied"])
        XCTAssertEqual(runtime.warnings.first?.line, 2, "named at the server-state-file line")
    }
}
