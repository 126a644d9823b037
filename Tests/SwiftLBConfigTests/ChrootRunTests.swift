import Foundation
import Synchronization
import XCTest

/// `chroot DIR` with an empty DIR, as HAProxy recommends and Debian's haproxy.cfg has, on a
/// busy instance. The Swift runtime's thread pool (libdispatch) reads /proc/TID/stat of its
/// workers whenever work waits for one, and killed the process (SIGILL) when the jail hid
/// /proc: a few seconds of control-socket traffic, whose commands run as Swift tasks, on one
/// CPU were enough. swiftlb now answers those reads itself inside the jail.
final class ChrootRunTests: XCTestCase {
    func testABusyInstanceLivesInAnEmptyChroot() throws {
        try XCTSkipUnless(geteuid() == 0, "chroot and the privilege drop need root")
        let taskset = try XCTUnwrap(Binaries.which("taskset"), "util-linux's taskset")
        let dir = try Scratch()
        let port = unusedPort()
        try FileManager.default.createDirectory(atPath: dir.file("jail"), withIntermediateDirectories: true)
        let conf = try dir.write("lb.conf", answeringConfiguration(port: port, body: "in the jail", global: """
                user nobody
                chroot \(dir.file("jail"))
                stats socket \(dir.file("ctl")) mode 600 level admin

            """))
        let lb = try Spawned(Binaries.swiftlb, ["run", "-c", conf], directory: dir.path)
        defer { lb.stop() }
        // "started" comes once the chroot and the drop are done.
        XCTAssertTrue(eventually(15) { lb.err.contains("started, pid \(lb.pid)") || !lb.isRunning }, lb.err)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(lb.pid)/root"), dir.file("jail"))
        // All its threads on one CPU: work then waits for a worker, which is when the pool
        // looks at /proc.
        let cpu = firstAllowedCPU()
        let pinned = runCommand(taskset, ["-a", "-p", "-c", "\(cpu)", "\(lb.pid)"])
        XCTAssertEqual(pinned.status, 0, pinned.err)

        let answered = flood(dir.file("ctl"), clients: 8, seconds: 6, limit: 30_000)
        XCTAssertTrue(lb.isRunning, "swiftlb lives through \(answered) control requests in its chroot (exit \(lb.exitStatus ?? -1)): \(lb.err)")
        XCTAssertGreaterThan(answered, 100)
        XCTAssertEqual(control(dir.file("ctl"), "show info")?.contains("Pid: \(lb.pid)"), true, "it still answers")
        XCTAssertEqual(httpStatus(port), "200", "and serves")
        XCTAssertEqual(lb.stop(), 0, lb.err)
    }

    /// The first CPU this process may run on (Cpus_allowed_list), where the instance is pinned.
    private func firstAllowedCPU() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let list = status.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?.split(separator: "\t").last ?? "0"
        return list.split(whereSeparator: { $0 == "," || $0 == "-" }).first.flatMap { Int($0) } ?? 0
    }

    /// `clients` threads each send `show info; show stat` over new connections until
    /// `seconds` pass or they made `limit` requests together; how many were answered.
    private func flood(_ socket: String, clients: Int, seconds: Double, limit: Int) -> Int {
        let deadline = Date().addingTimeInterval(seconds)
        let counts = Mutex((made: 0, answered: 0))
        let group = DispatchGroup()
        for _ in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                while Date() < deadline {
                    let go = counts.withLock { $0.made += 1; return $0.made <= limit }
                    guard go else { return }
                    if control(socket, "show info; show stat")?.contains("Name: SwiftLB") == true { counts.withLock { $0.answered += 1 } }
                }
            }.start()
        }
        // Each request gives up after 5 s: the clients are done by then.
        XCTAssertEqual(group.wait(timeout: .now() + seconds + 15), .success, "the flood ended")
        return counts.withLock { $0.answered }
    }

    private func httpStatus(_ port: Int) -> String {
        guard let curl = Binaries.which("curl") else { return "no curl" }
        return runCommand(curl, ["-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).out
    }
}

/// One control-socket exchange: sends `line`, reads the answer until the socket closes (5 s
/// at most each way); nil when it cannot connect or a read or write fails.
func control(_ path: String, _ line: String) -> String? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { bytes in
        for (i, byte) in path.utf8.prefix(bytes.count - 1).enumerated() { bytes[i] = byte }
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else { return nil }
    let request = Array((line + "\n").utf8)
    guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else { return nil }
    var answer: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n == 0 { return String(decoding: answer, as: UTF8.self) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        answer += buffer[0..<n]
    }
}
