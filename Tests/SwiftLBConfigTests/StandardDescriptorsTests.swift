import Foundation
import XCTest

/// `swiftlb run` started with stdin, stdout and stderr closed: before, its event loops' epoll,
/// eventfd and timerfd took descriptors 0, 1 and 2, and the log went to stderr, that is into a
/// timerfd (or, with another order of creation, into a socket to a client). Now 0-2 are
/// /dev/null before anything else is opened.
final class StandardDescriptorsTests: XCTestCase {
    func testClosedStandardDescriptorsBecomeDevNull() throws {
        let dir = try Scratch()
        let port = unusedPort()
        let conf = try dir.write("lb.conf", answeringConfiguration(port: port, body: "fds"))
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in 0...2 { posix_spawn_file_actions_addclose(&actions, fd) }
        let words: [String] = [Binaries.swiftlb, "run", "-c", conf]
        let argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        XCTAssertEqual(posix_spawn(&pid, Binaries.swiftlb, &actions, nil, argv, environ), 0)
        XCTAssertGreaterThan(pid, 0)
        var reaped = false
        defer {
            // Only our child: kill(0) would be the test's whole process group.
            if pid > 0 && !reaped {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
            }
        }
        XCTAssertTrue(eventually(15) { self.status(port) == "200" }, "it serves")
        for fd in 0...2 {
            XCTAssertEqual(try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"), "/dev/null", "descriptor \(fd)")
        }
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        var status: Int32 = 0
        reaped = eventually(10) { waitpid(pid, &status, WNOHANG) == pid }
        XCTAssertTrue(reaped, "it ends at TERM")
        XCTAssertEqual(status & 0x7f, 0, "no signal ended it")
        XCTAssertEqual((status >> 8) & 0xff, 0, "exit 0 at TERM")
    }

    private func status(_ port: Int) -> String {
        guard let curl = Binaries.which("curl") else { return "no curl" }
        return runCommand(curl, ["-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).out
    }
}
