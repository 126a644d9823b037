import Foundation
import Synchronization
import XCTest

/// `chroot DIR` with an empty DIR, as HAProxy recommends and Debian's haproxy.cfg has, on a
/// busy instance. The Swift runtime's thread pool (libdispatch) reads /proc/TID/stat of its
/// workers whenever work waits for one, and killed the process (SIGILL) when the jail hid
/// /proc: a few seconds of control-socket traffic, whose commands run as Swift tasks, on one
/// CPU were enough. swiftlb now gives it a private /proc of its own threads before entering
/// the jail, or, without the right to make one, answers those reads itself.
final class ChrootRunTests: XCTestCase {
    private func requireRoot() throws {
        try XCTSkipUnless(geteuid() == 0, "chroot and the privilege drop need root")
    }

    private func configuration(_ dir: Scratch, port: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: dir.file("jail"), withIntermediateDirectories: true)
        return try dir.write("lb.conf", """
            global
                user nobody
                chroot \(dir.file("jail"))
                stats socket \(dir.file("ctl")) mode 600 level admin
            defaults
                timeout client 5s
                timeout connect 5s
                timeout server 5s
            frontend f
                bind 127.0.0.1:\(port)
                mode http
                http-request return status 200 content-type text/plain string "in the jail"
            """)
    }

    /// Starts `swiftlb run` (through `prefix`, a command that execs it), waits for its control
    /// socket, and pins all its threads to one CPU: work then waits for a worker, which is
    /// when the thread pool looks at /proc.
    private func start(_ conf: String, in dir: Scratch, prefix: [String] = []) throws -> Spawned {
        let command = prefix + [Binaries.swiftlb, "run", "-c", conf]
        let lb = try Spawned(command[0], Array(command.dropFirst()), directory: dir.path)
        XCTAssertTrue(eventually(15) { control(dir.file("ctl"), "show info")?.contains("Pid: \(lb.pid)") == true || !lb.isRunning },
                      "the control socket answers: \(lb.err)")
        let pinned = runCommand(Binaries.which("taskset") ?? "/usr/bin/taskset", ["-a", "-p", "-c", "0", "\(lb.pid)"])
        XCTAssertEqual(pinned.status, 0, pinned.err)
        return lb
    }

    func testABusyInstanceLivesInAnEmptyChroot() throws {
        try requireRoot()
        let dir = try Scratch()
        let port = unusedPort()
        let lb = try start(try configuration(dir, port: port), in: dir)
        defer { lb.stop() }
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(lb.pid)/root"), dir.file("jail"))

        let answered = flood(dir.file("ctl"), clients: 8, seconds: 6, limit: 30_000)
        XCTAssertTrue(lb.isRunning, "swiftlb lives through \(answered) control requests in its chroot (exit \(lb.exitStatus ?? -1)): \(lb.err)")
        XCTAssertGreaterThan(answered, 100)
        XCTAssertEqual(control(dir.file("ctl"), "show info")?.contains("Pid: \(lb.pid)"), true, "it still answers")
        XCTAssertEqual(httpStatus(port), "200", "and serves")
        XCTAssertFalse(lb.err.contains("no private /proc"), "as root it makes a private /proc: \(lb.err)")
        XCTAssertEqual(lb.stop(), 0, lb.err)
    }

    /// Without CAP_SYS_ADMIN (a container's default capabilities) no procfs can be made: the
    /// start says so, and the thread pool's reads are answered "running" instead.
    func testWithoutTheRightToMountProcItLivesAndSaysSo() throws {
        try requireRoot()
        let setpriv = try XCTUnwrap(Binaries.which("setpriv"), "util-linux's setpriv")
        let dir = try Scratch()
        let port = unusedPort()
        let lb = try start(try configuration(dir, port: port), in: dir, prefix: [setpriv, "--bounding-set", "-sys_admin"])
        defer { lb.stop() }
        XCTAssertTrue(lb.err.contains("chroot \(dir.file("jail")): no private /proc inside the chroot (Operation not permitted)"), lb.err)

        let answered = flood(dir.file("ctl"), clients: 8, seconds: 6, limit: 30_000)
        XCTAssertTrue(lb.isRunning, "swiftlb lives through \(answered) control requests in its chroot (exit \(lb.exitStatus ?? -1)): \(lb.err)")
        XCTAssertGreaterThan(answered, 100)
        XCTAssertEqual(httpStatus(port), "200")
        XCTAssertEqual(lb.stop(), 0, lb.err)
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
        group.wait()
        return counts.withLock { $0.answered }
    }

    private func httpStatus(_ port: Int) -> String {
        guard let curl = Binaries.which("curl") else { return "no curl" }
        return runCommand(curl, ["-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).out
    }
}

/// One control-socket exchange: sends `line`, reads the answer until the socket closes (5 s
/// at most); nil when it cannot connect or the read fails.
func control(_ path: String, _ line: String) -> String? {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var timeout = timeval(tv_sec: 5, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
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
