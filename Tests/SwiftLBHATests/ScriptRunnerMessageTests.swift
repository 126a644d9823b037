import SwiftLBConfig
import XCTest
@testable import SwiftLBHA

/// The script runner's datagrams and allow-list: pure functions, no process.
final class ScriptRunnerMessageTests: XCTestCase {
    let samples: [ScriptRunnerMessage] = [
        .run(id: 7, command: "test -e '/tmp/a b'\necho \"$@\"", arguments: ["notify", "INSTANCE", "vi", "MASTER", "150"], detached: true),
        .run(id: .max, command: "", arguments: [], detached: false),
        .kill(id: 3), .ready, .started(id: 9), .failed(id: 1, reason: "refusé"),
        .exited(id: 2, .exited(1)), .exited(id: 4, .signaled(9)),
    ]

    func testEveryMessageSurvivesARoundTrip() throws {
        for message in samples { XCTAssertEqual(try ScriptRunnerMessage.decode(message.encoded), message) }
    }

    func testTruncatedAndGarbageDatagramsAreRefused() {
        for message in samples {
            let bytes = message.encoded
            for cut in 0..<bytes.count {
                XCTAssertThrowsError(try ScriptRunnerMessage.decode(Array(bytes[0..<cut])), "\(message) cut at \(cut)")
            }
            XCTAssertThrowsError(try ScriptRunnerMessage.decode(bytes + [0]), "trailing byte after \(message)")
        }
        XCTAssertThrowsError(try ScriptRunnerMessage.decode([99, 0, 0, 0, 1]))
        XCTAssertThrowsError(try ScriptRunnerMessage.decode([1, 0, 0, 0, 1, 0, 0, 0, 0, 2, 0xFF, 0xFE, 0, 0]), "invalid UTF-8")
        XCTAssertThrowsError(try ScriptRunnerMessage.decode([1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]), "NUL in the command")
    }

    func testTheAllowListHoldsExactlyTheConfiguredCommands() throws {
        let configuration = try scriptTestConfiguration(scripts: ["pidof swiftlb"],
                                                        instanceLines: ["track_script s0", "notify_master \"/etc/keepalived/up.sh\"",
                                                                        "notify \"/etc/keepalived/n.sh\""])
        let list = ScriptAllowList(configuration: configuration)
        XCTAssertEqual(list.commands, ["/etc/keepalived/n.sh \"$@\"", "/etc/keepalived/up.sh", "pidof swiftlb"])
        XCTAssertTrue(list.permits(command: "pidof swiftlb", arguments: []))
        XCTAssertFalse(list.permits(command: "pidof swiftlb", arguments: ["x"]))
        XCTAssertTrue(list.permits(command: "/etc/keepalived/n.sh \"$@\"", arguments: ["notify", "INSTANCE", "vi", "MASTER", "100"]))
        XCTAssertFalse(list.permits(command: "/etc/keepalived/n.sh \"$@\"", arguments: ["notify", "INSTANCE", "vi", "; rm -rf /", "100"]))
        XCTAssertFalse(list.permits(command: "rm -rf /", arguments: []))
    }
}
