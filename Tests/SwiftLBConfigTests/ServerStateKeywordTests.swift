import XCTest
@testable import SwiftLBConfig

/// `server-state-file`, `server-state-base`, `load-server-state-from-file` and
/// `server-state-file-name`, read as HAProxy 2.6 reads them (nothing loads unless a backend
/// says `global` or `local`; `defaults` presets it).
final class ServerStateKeywordTests: XCTestCase {
    func testTheModel() throws {
        let config = try parseOrFail("""
            global
                server-state-base /var/lib/swiftlb/
                server-state-file global.state
            defaults
                timeout client 1s
                timeout connect 1s
                timeout server 1s
                load-server-state-from-file global
            backend a
                server s 127.0.0.1:81
            backend b
                load-server-state-from-file local
                server-state-file-name b.state
                server s 127.0.0.1:82
            backend c
                load-server-state-from-file local
                server-state-file-name use-backend-name
                server s 127.0.0.1:83
            """)
        XCTAssertEqual(config.global.serverStateFile, "global.state")
        XCTAssertEqual(config.global.serverStateBase, "/var/lib/swiftlb/")
        XCTAssertEqual(config.backends["a"]?.options.serverState.load, .global)
        XCTAssertEqual(config.backends["b"]?.options.serverState.load, .local)
        XCTAssertEqual(config.backends["b"]?.options.serverState.fileName, "b.state")
        XCTAssertNil(config.backends["c"]?.options.serverState.fileName)
        let none = try parseOrFail("global\n    server-state-file x\nbackend a\n    timeout connect 1s\n    timeout server 1s\n    server s 127.0.0.1:81\n")
        XCTAssertEqual(none.backends["a"]?.options.serverState.load, ServerStateSource.Load.none, "HAProxy's default: nothing loaded")
    }

    func testBadLines() {
        for (text, words, line) in [
            ("global\n    server-state-file\n", "expects a file path", 2),
            ("global\n    server-state-base\n", "expects a directory path", 2),
            ("backend b\n    load-server-state-from-file both\n", "expects 'global', 'local' or 'none'", 2),
            ("backend b\n    server-state-file-name a b\n", "expects at most a file name", 2),
        ] {
            let errors = parseErrors(text)
            XCTAssertTrue(errors.contains { $0.line == line && $0.description.contains(words) }, "\(text): \(errors)")
        }
        // Given twice: HAProxy's alert that lets the start go on ("already specified.
        // Continuing."), the first line kept; not an error, not a warning.
        let twice = try? ConfigParser.parse(text: "global\n    server-state-base /a\n    server-state-base /b\n    server-state-file a\n    server-state-file b\n", file: "t.cfg")
        XCTAssertEqual(twice?.global.serverStateFile, "a")
        XCTAssertEqual(twice?.global.serverStateBase, "/a")
        XCTAssertEqual(twice?.alerts.map(\.line), [3, 5])
        XCTAssertEqual(twice?.alerts.map(\.description), ["parsing [t.cfg:3] : 'server-state-base' already specified. Continuing.",
                                                          "parsing [t.cfg:5] : 'server-state-file' already specified. Continuing."],
                       "haproxy's words: the keyword once")
        XCTAssertEqual(twice?.warnings.count, 0)
        // In a frontend: ignored with HAProxy's warning (no backend capability).
        let frontend = try? parseOrFail("frontend f\n    bind 127.0.0.1:80\n    timeout client 1s\n    load-server-state-from-file global\n")
        XCTAssertTrue(frontend?.warnings.contains { $0.line == 4 && $0.message.contains("ignored because frontend 'f' has no backend capability") } == true,
                      "\(frontend?.warnings ?? [])")
    }
}
