import Foundation
import SwiftLBTestSupport
import XCTest

/// Shell and namespace helpers for the tests that need a kernel: each test creates its own
/// namespaces with `ip netns` and deletes them in a `defer`, so nothing outlives a failure.
enum Namespaces {
    @discardableResult
    static func sh(_ command: String) -> (status: Int32, out: String) {
        let run = runProcess("/bin/sh", ["-c", command], mergeStderr: true)
        return (run.status, run.out)
    }

    static var available: Bool { getuid() == 0 && sh("command -v ip").status == 0 }

    /// setns(2), looked up at run time: Swift's Glibc module leaves out the _GNU_SOURCE parts.
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    static let CLONE_NEWNET: Int32 = 0x4000_0000

    /// Runs `body` with this thread inside namespace `name`, then moves it back.
    static func inside(_ name: String, _ body: () throws -> Void) throws {
        let symbol = try XCTUnwrap(dlsym(nil /* RTLD_DEFAULT */, "setns"), "setns not found")
        let setns = unsafeBitCast(symbol, to: SetNS.self)
        let target = open("/var/run/netns/\(name)", O_RDONLY)
        let home = open("/proc/thread-self/ns/net", O_RDONLY)
        defer { close(target); close(home) }
        XCTAssertGreaterThanOrEqual(target, 0)
        XCTAssertEqual(setns(target, CLONE_NEWNET), 0, "setns: \(String(cString: strerror(errno)))")
        defer { XCTAssertEqual(setns(home, CLONE_NEWNET), 0) }
        try body()
    }
}
