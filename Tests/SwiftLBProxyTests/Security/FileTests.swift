import Foundation
import XCTest

/// The files SwiftLB writes and removes itself. Only a regular file it wrote, still holding
/// its pid, is ever removed; every other path is refused at start with its reason, and
/// nothing outside the process's own files is touched.
final class FileTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func config(pidfile: String, port: Int) -> String {
        """
        global
            pidfile \(pidfile)
        \(testDefaults())
        frontend fe
            bind 127.0.0.1:\(port)
            default_backend app
        backend app
            server s1 127.0.0.1:1

        """
    }

    /// Runs swiftlb expecting it to refuse to start; returns its stderr.
    private func refusedStart(pidfile: String) throws -> String {
        let port = freePort()
        let path = try dir.write("refused.conf", config(pidfile: pidfile, port: port))
        let child = try ChildProcess(Paths.swiftlb, ["run", "-c", path], logDirectory: dir, name: "refused")
        let status = child.waitForExit(timeout: 10)
        XCTAssertEqual(status, 1, "swiftlb should refuse pidfile \(pidfile): \(child.stderr)")
        return child.stderr
    }

    func testAPidfileThatIsADirectoryIsRefusedAndLeftAlone() throws {
        let victim = dir.file("precious")
        try FileManager.default.createDirectory(atPath: victim + "/inside", withIntermediateDirectories: true)
        _ = try dir.write("precious/inside/data", "keep me")
        let err = try refusedStart(pidfile: victim)
        XCTAssertTrue(err.contains("is a directory"), err)
        XCTAssertEqual(try String(contentsOfFile: victim + "/inside/data", encoding: .utf8), "keep me")
    }

    func testASymlinkPidfileIsRefusedAndItsTargetUntouched() throws {
        let target = try dir.write("target", "not a pid\n")
        let link = dir.file("link.pid")
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let err = try refusedStart(pidfile: link)
        XCTAssertTrue(err.contains("symbolic link"), err)
        XCTAssertEqual(try String(contentsOfFile: target, encoding: .utf8), "not a pid\n")
        XCTAssertNotNil(try? FileManager.default.destinationOfSymbolicLink(atPath: link))
    }

    func testAPidfileOwnedBySomeoneElseIsRefused() throws {
        try XCTSkipUnless(getuid() == 0, "needs root to give a file to another user")
        let other = try dir.write("other.pid", "12345\n")
        XCTAssertEqual(chown(other, 65534, 65534), 0)
        let err = try refusedStart(pidfile: other)
        XCTAssertTrue(err.contains("belongs to uid 65534"), err)
        XCTAssertEqual(try String(contentsOfFile: other, encoding: .utf8), "12345\n")
    }

    func testAnUnwritablePidfileIsReported() throws {
        let err = try refusedStart(pidfile: dir.file("no/such/dir/swiftlb.pid"))
        XCTAssertTrue(err.contains("cannot write pidfile"), err)
    }

    func testThePidfileIsRemovedAtStopOnlyIfStillOurs() throws {
        let pidfile = dir.file("swiftlb.pid")
        let port = freePort()
        let lb = try SwiftLBInstance(config: config(pidfile: pidfile, port: port), waitPort: port, in: dir)
        XCTAssertEqual(try String(contentsOfFile: pidfile, encoding: .utf8), "\(lb.child.pid)\n")
        lb.stop()
        XCTAssertFalse(FileManager.default.fileExists(atPath: pidfile), "pidfile left behind")

        // Replaced while running (another instance, an operator): the new file stays.
        let lb2 = try SwiftLBInstance(config: config(pidfile: pidfile, port: port), waitPort: port, in: dir, name: "second")
        try FileManager.default.removeItem(atPath: pidfile)
        _ = try dir.write("swiftlb.pid", "4242\n")
        lb2.stop()
        XCTAssertEqual(try String(contentsOfFile: pidfile, encoding: .utf8), "4242\n")
    }
}
