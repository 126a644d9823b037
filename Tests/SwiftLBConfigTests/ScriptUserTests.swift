import XCTest
@testable import SwiftLBConfig

/// keepalived's `script_user USER [GROUP]`, and when the VIP's scripts go through the script
/// runner (under `chroot`, or for `script_user`).
final class ScriptUserTests: XCTestCase {
    private func vrrp(_ extra: String = "") -> String {
        """
        vrrp vi
            interface lo
            virtual_router_id 5
            priority 100
            virtual_ipaddress 10.9.9.9/24
            auth none
            unicast_peer 10.9.9.8
        \(extra)
        """
    }

    func testTheUserAndGroupAreResolvedAsKeepalivedResolvesThem() throws {
        guard let daemon = getpwnam("daemon"), let nogroup = getgrnam("nogroup") else { throw XCTSkip("no user 'daemon' or group 'nogroup' here") }
        let own = try parseOrFail("global_defs {\n    script_user daemon\n}\n" + vrrp())
        XCTAssertEqual(own.scriptUser, ScriptUser(name: "daemon", uid: daemon.pointee.pw_uid, gid: daemon.pointee.pw_gid), "the user's primary group")
        let other = try parseOrFail("global_defs {\n    script_user daemon nogroup\n}\n" + vrrp())
        XCTAssertEqual(other.scriptUser?.gid, nogroup.pointee.gr_gid)
        XCTAssertFalse(other.warnings.contains { $0.keyword == "script_user" }, "no 'has no effect' warning any more: \(other.warnings)")
    }

    func testAnUnknownUserOrGroupIsNamedWithItsLine() {
        for (line, message) in [("script_user no-such-user-here", "no user named 'no-such-user-here'"),
                                ("script_user daemon no-such-group-here", "no group named 'no-such-group-here'"),
                                ("script_user", "expects a user name"), ("script_user a b c", "expects a user name")] {
            let errors = parseErrors("global_defs {\n    \(line)\n}\n" + vrrp(), file: "lb.conf")
            XCTAssertEqual(errors.count, 1, "\(line): \(errors)")
            XCTAssertEqual(errors.first?.line, 2, "\(line)")
            XCTAssertEqual(errors.first?.keyword, "script_user", "\(line)")
            XCTAssertTrue(errors.first?.message.contains(message) == true, "\(line): \(errors)")
        }
    }

    /// The runner is for a VIP with scripts under `chroot` or `script_user`; nothing else.
    func testWhenTheScriptsGoThroughTheRunner() throws {
        let jail = NSTemporaryDirectory()
        let script = "vrrp_script chk {\n    script \"true\"\n}\n"
        let cases: [(String, Bool)] = [
            (script + vrrp("    track_script chk"), false),
            ("global\n    chroot \(jail)\n" + script + vrrp("    track_script chk"), true),
            ("global\n    chroot \(jail)\n" + vrrp("    notify_master \"true\""), true),
            ("global\n    chroot \(jail)\n" + vrrp(), false),
            ("global_defs {\n    script_user daemon\n}\n" + vrrp("    notify \"/bin/true\""), true),
            ("global\n    chroot \(jail)\n", false),
        ]
        for (text, expected) in cases {
            XCTAssertEqual(try parseOrFail(text).scriptsNeedTheRunner, expected, text)
        }
    }

    /// Scripts outside the chroot as the very user swiftlb runs as: a remark says what
    /// `script_user` adds; a user of their own, or no `user` at all, needs none.
    func testARemarkWhenTheScriptsShareSwiftLBsUser() throws {
        let jail = NSTemporaryDirectory()
        let body = "vrrp_script chk {\n    script \"true\"\n}\n" + vrrp("    track_script chk")
        let shared = try parseOrFail("global\n    chroot \(jail)\n    user nobody\n" + body)
        let remark = shared.warnings.first { $0.keyword == "chroot" }
        XCTAssertEqual(remark?.line, 2)
        XCTAssertTrue(remark?.isSwiftLBRemark == true)
        XCTAssertTrue(remark?.message.contains("'script_user'") == true, "\(shared.warnings)")
        let own = try parseOrFail("global\n    chroot \(jail)\n    user nobody\nglobal_defs {\n    script_user daemon\n}\n" + body)
        XCTAssertFalse(own.warnings.contains { $0.keyword == "chroot" }, "\(own.warnings)")
        let root = try parseOrFail("global\n    chroot \(jail)\n" + body)
        XCTAssertFalse(root.warnings.contains { $0.keyword == "chroot" }, "\(root.warnings)")
    }
}
