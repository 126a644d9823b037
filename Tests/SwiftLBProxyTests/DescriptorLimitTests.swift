import Foundation
import XCTest

/// HAProxy 2.6's default `maxconn` and descriptor limit, side by side: the same file through
/// swiftlb and Debian's haproxy, both started under the same `prlimit --nofile=SOFT:HARD`, must
/// show the same `Maxconn`, `Hard_maxconn`, `Maxsock` and `Ulimit-n` in `show info` and run
/// under the same RLIMIT_NOFILE (/proc/PID/limits); and refuse to start alike when `ulimit-n`
/// is below what `maxconn` needs (`strict-limits`, HAProxy 2.6's default).
final class DescriptorLimitTests: XCTestCase {
    private let fields = ["Maxconn", "Hard_maxconn", "Maxsock", "Ulimit-n"]

    /// A frontend, a checked server, a stats socket: each holds descriptors in HAProxy's count.
    private func config(port: Int, socket: String, global: String) -> String {
        let server = freePort()
        return "global\n    nbthread 2\n    stats socket \(socket) level admin\n\(global)\n"
            + oneServerConfig(port: port, rules: "", serverPort: server)
            .replacingOccurrences(of: "127.0.0.1:\(server)", with: "127.0.0.1:\(server) check inter 10s")
    }

    private struct Started {
        let process: ChildProcess
        let socket: String
    }

    private func start(_ program: String, nofile: String, global: String, in dir: TempDirectory) throws -> Started {
        let port = freePort()
        let socket = dir.file("\(program).sock")
        let path = try dir.write("\(program).cfg", config(port: port, socket: socket, global: global))
        let command = program == "haproxy" ? ["/usr/sbin/haproxy", "-db", "-f", path] : [Paths.swiftlb, "run", "-c", path]
        let process = try ChildProcess("/usr/bin/prlimit", ["--nofile=\(nofile)"] + command, logDirectory: dir, name: program)
        guard waitForPort(port) else {
            process.stop()
            throw HarnessError("\(program) did not listen under --nofile=\(nofile): \(process.stderr)")
        }
        return Started(process: process, socket: socket)
    }

    /// `show info`'s limit fields and the process's "Max open files" soft and hard.
    private func limits(_ started: Started) -> [String: String] {
        var seen: [String: String] = [:]
        for line in runCommand(Paths.swiftlb, ["ctl", "-s", started.socket, "show", "info"]).out.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, fields.contains(parts[0]) { seen[parts[0]] = parts[1] }
        }
        let proc = (try? String(contentsOfFile: "/proc/\(started.process.pid)/limits", encoding: .utf8)) ?? ""
        if let line = proc.split(separator: "\n").first(where: { $0.hasPrefix("Max open files") }) {
            let words = line.split(separator: " ")
            seen["soft"] = String(words[3])
            seen["hard"] = String(words[4])
        }
        return seen
    }

    private func compare(nofile: String, global: String = "", expectedMaxconn: String, file: StaticString = #filePath, line: UInt = #line) throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let dir = try TempDirectory()
        let haproxy = try start("haproxy", nofile: nofile, global: global, in: dir)
        defer { haproxy.process.stop() }
        let lb = try start("swiftlb", nofile: nofile, global: global, in: dir)
        defer { lb.process.stop() }
        let theirs = limits(haproxy), ours = limits(lb)
        XCTAssertEqual(theirs.count, fields.count + 2, "haproxy: \(theirs)", file: file, line: line)
        XCTAssertEqual(theirs["Maxconn"], expectedMaxconn, "haproxy 2.6 itself, as measured when this test was written", file: file, line: line)
        XCTAssertEqual(ours, theirs, "--nofile=\(nofile) \(global)", file: file, line: line)
    }

    /// No `maxconn`: derived from the larger of the soft and hard limits (10 reserved, the bind,
    /// the check, the socket and its 10 connections, 3 per thread: 29; (4096 - 29) / 2 = 2033),
    /// the soft limit raised to the 4095 that needs.
    func testDefaultMaxconnComesFromTheDescriptorLimitAsInHAProxy() throws {
        try compare(nofile: "1024:4096", expectedMaxconn: "2033")
        try compare(nofile: "3000", expectedMaxconn: "1485")
    }

    /// A written `maxconn` needs 229 descriptors: `Ulimit-n: 229`, and the limit, already
    /// higher, stays (HAProxy 2.6.12 raises it only).
    func testWrittenMaxconnSizesMaxsockAndLeavesAHigherLimit() throws {
        try compare(nofile: "1024:4096", global: "    maxconn 100", expectedMaxconn: "100")
    }

    /// `ulimit-n` below what the derived maxconn needs: strict-limits stops both at start, with
    /// the same words; `no strict-limits` starts both under that limit.
    func testUlimitBelowWhatMaxconnNeedsStopsTheStartUnlessNoStrictLimits() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/haproxy") else { throw XCTSkip("haproxy is not installed") }
        let dir = try TempDirectory()
        for program in ["haproxy", "swiftlb"] {
            let path = try dir.write("\(program)-strict.cfg", config(port: freePort(), socket: dir.file("\(program)-strict.sock"), global: "    ulimit-n 3000\n    strict-limits"))
            let command = program == "haproxy" ? ["/usr/sbin/haproxy", "-db", "-f", path] : [Paths.swiftlb, "run", "-c", path]
            let process = try ChildProcess("/usr/bin/prlimit", ["--nofile=1024:4096"] + command, logDirectory: dir, name: "\(program)-strict")
            let status = process.waitForExit(timeout: 10)
            if status == nil { process.stop() }
            XCTAssertEqual(status, 1, "\(program): \(process.stderr)")
            XCTAssertTrue(process.stderr.contains("FD limit (3000) too low for maxconn=2033/maxsock=4095. Please raise 'ulimit-n' to 4095 or more"),
                          "\(program): \(process.stderr)")
        }
        try compare(nofile: "1024:4096", global: "    ulimit-n 3000\n    no strict-limits", expectedMaxconn: "2033")
    }
}
