import SwiftLBConfig
import SwiftLBHealth
import XCTest
@testable import SwiftLBProxy

/// HAProxy 2.6's reading of a server-state file (version 1) and its rules for what a line does
/// to a server (server_state.c), as pure functions.
final class ServerStateFileParseTests: XCTestCase {
    private let header = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"

    private func row(_ server: String, op: Int = 2, admin: Int = 0, uweight: Int = 1, iweight: Int = 1, port: Int = 80) -> String {
        "2 be 1 \(server) 127.0.0.1 \(op) \(admin) \(uweight) \(iweight) 5 1 0 0 0 0 0 0 - \(port) - 0 0 - - 0"
    }

    func testParsing() {
        let good = "1\n\(header)\n\(row("s1"))\n\n   \n\(row("s2"))\n"
        XCTAssertEqual(try ServerStateFile.parse(good).get().map(\.server), ["s1", "s2"])
        XCTAssertEqual(try ServerStateFile.parse(good).get().first?.fields.count, 21)
        XCTAssertEqual(ServerStateFile.parse("2\n\(header)\n"), .failure(.version))
        XCTAssertEqual(ServerStateFile.parse(""), .failure(.version))
        XCTAssertEqual(ServerStateFile.parse("1"), .failure(.version), "no newline after the version")
        XCTAssertEqual(ServerStateFile.parse("1\n\(header)\n\(row("s1"))"), .failure(.corrupted(line: 3)), "the last line lacks its newline")
        XCTAssertEqual(ServerStateFile.parse("1\n2 be 1 s1 127.0.0.1 2 0\n"), .failure(.corrupted(line: 2)), "too few fields")
        XCTAssertEqual(try ServerStateFile.parse("1\n").get(), [])
    }

    private func decide(_ line: String, disabled: Bool = false, weight: Int = 1, fall: Int = 3, port: Int = 80) throws -> ServerStateFile.Decision {
        var p = ServerParameters()
        p.disabled = disabled
        p.weight = weight
        p.fall = fall
        p.check = true
        let fields = try XCTUnwrap(try ServerStateFile.parse("1\n\(line)\n").get().first).fields
        return try ServerStateFile.decide(fields, server: p, port: port).get()
    }

    func testWhatALineDoes() throws {
        XCTAssertEqual(try decide(row("s", op: 0)).operational, .down)
        XCTAssertEqual(try decide(row("s", op: 1)).operational, .up, "STARTING")
        XCTAssertEqual(try decide(row("s", op: 3)).operational, .up, "STOPPING")
        XCTAssertEqual(try decide(row("s", op: 3), fall: 1).operational, .down, "STOPPING with fall 1 is STOPPED")
        var unchecked = ServerParameters()
        unchecked.check = false
        let stopped = try XCTUnwrap(try ServerStateFile.parse("1\n" + row("s", op: 0, admin: 1) + "\n").get().first).fields
        XCTAssertNil(try ServerStateFile.decide(stopped, server: unchecked, port: 80).get().operational,
                     "no check to bring it back: an unchecked server's STOPPED (its maintenance) leaves it up")
        // Maintenance forced at runtime is kept; lb.conf's `disabled` changing wins over the file.
        XCTAssertEqual(try decide(row("s", admin: 1)).admin, .maint)
        XCTAssertEqual(try decide(row("s", admin: 0x41)).admin, .maint, "inherited bits (HMAINT) ignored")
        XCTAssertEqual(try decide(row("s", admin: 5), disabled: false).admin, .ready, "lb.conf no longer disables it")
        XCTAssertEqual(try decide(row("s", admin: 0), disabled: true).admin, .maint, "lb.conf now disables it")
        XCTAssertEqual(try decide(row("s", admin: 4), disabled: true).admin, .ready, "disabled in both, then 'set server ready' at runtime")
        XCTAssertEqual(try decide(row("s", admin: 5), disabled: true).admin, .maint)
        // Drain: kept, unless it came from a weight of 0 that lb.conf has raised.
        XCTAssertEqual(try decide(row("s", admin: 8, iweight: 10), weight: 10).admin, .drain)
        XCTAssertEqual(try decide(row("s", admin: 8, iweight: 0), weight: 10).admin, .ready)
        XCTAssertEqual(try decide(row("s", admin: 8, iweight: 0), weight: 0).admin, .drain)
        XCTAssertEqual(try decide(row("s", admin: 8), disabled: true).admin, .maint, "lb.conf now disables it: maintenance wins over the drain")
        XCTAssertEqual(try decide(row("s", admin: 0x0C), disabled: true).admin, .drain, "disabled in both, set ready then drain at runtime")
        // The saved weight applies while lb.conf's weight is the one it was set against.
        XCTAssertEqual(try decide(row("s", uweight: 7, iweight: 10), weight: 10).weight, 7)
        XCTAssertNil(try decide(row("s", uweight: 7, iweight: 10), weight: 20).weight)
        XCTAssertEqual(try decide(row("s", port: 9999)).ignoredPort, 9999)
        XCTAssertNil(try decide(row("s", port: 80)).ignoredPort)
        let checksOff = "2 be 1 s 127.0.0.1 2 0 1 1 5 6 3 4 2 0 0 0 - 80 - 0 0 - - 0"
        XCTAssertTrue(try decide(checksOff).ignoredChecksDisabled, "configured, not enabled: 'disable health'")
        XCTAssertFalse(try decide(checksOff.replacingOccurrences(of: " 4 2 0 0 0 ", with: " 4 6 0 0 0 ")).ignoredChecksDisabled)
    }

    func testInvalidFieldsApplyNothing() throws {
        let fields = try XCTUnwrap(try ServerStateFile.parse("1\n" + row("s", op: 7, admin: 2, uweight: 300) + "\n").get().first).fields
        guard case .failure(let invalid) = ServerStateFile.decide(fields, server: ServerParameters(), port: 80) else { return XCTFail("applied") }
        let both = try XCTUnwrap(try ServerStateFile.parse("1\n" + row("s", admin: 9) + "\n").get().first).fields
        guard case .failure(let combined) = ServerStateFile.decide(both, server: ServerParameters(), port: 80) else { return XCTFail("applied") }
        XCTAssertEqual(combined.reasons, ["invalid srv_admin_state value '9'"], "forced maintenance and drain together: not a state HAProxy writes")
        XCTAssertEqual(invalid.reasons, ["invalid srv_op_state value '7'", "invalid srv_uweight value '300'"],
                       "admin 2 is IMAINT alone, an inherited bit: 0 once removed, valid")
    }
}
