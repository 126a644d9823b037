import Foundation
import XCTest

/// The process keywords acting on a real `swiftlb run`: daemon, user, chroot, cpu-map, and a
/// VIP that still moves after the drop to `nobody` (in a network namespace of its own).
final class ProcessRunTests: XCTestCase {
    private let timeouts = "defaults\n    timeout client 5s\n    timeout connect 5s\n    timeout server 5s\n"

    private func frontend(_ port: Int) -> String {
        "frontend f\n    bind 127.0.0.1:\(port)\n    mode http\n    redirect location http://example.test/moved\n"
    }

    /// HTTP status of GET / on a loopback port, through curl.
    private func status(_ port: Int) -> String {
        guard let curl = Binaries.which("curl") else { return "no curl" }
        return runCommand(curl, ["-s", "-o", "/dev/null", "-m", "5", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).out
    }

    private func requireRoot() throws {
        try XCTSkipUnless(geteuid() == 0, "the privilege drop needs root to start from")
    }

    /// Our CPUs (Cpus_allowed_list), so cpu-map names CPUs this machine has.
    private func allowedCPUs() -> [Int] {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let list = text.split(separator: "\n").first { $0.hasPrefix("Cpus_allowed_list:") }?.split(separator: "\t").last ?? "0"
        return list.split(separator: ",").flatMap { part -> [Int] in
            let ends = part.split(separator: "-").compactMap { Int($0) }
            return ends.count == 2 ? Array(ends[0]...ends[1]) : ends
        }
    }

    func testDaemonUserChrootAndCPUMap() throws {
        try requireRoot()
        let dir = try Scratch()
        try FileManager.default.createDirectory(atPath: dir.file("jail"), withIntermediateDirectories: true)
        let port = unusedPort()
        let cpus = allowedCPUs()
        let (first, second) = (cpus[0], cpus.count > 1 ? cpus[1] : cpus[0])
        let conf = try dir.write("lb.conf", """
            global
                daemon
                user nobody
                chroot \(dir.file("jail"))
                pidfile \(dir.file("lb.pid"))
                nbthread 2
                cpu-map 1/1 \(first)
                cpu-map 1/2 \(second)
            \(timeouts)\(frontend(port))
            """)
        let started = runCommand(Binaries.swiftlb, ["run", "-c", conf], timeout: 30)
        XCTAssertEqual(started.status, 0, started.err)
        XCTAssertTrue(started.err.contains("started, pid"), "the parent relays the start: \(started.err)")
        let pidText = try String(contentsOfFile: dir.file("lb.pid"), encoding: .utf8)
        let pid = try XCTUnwrap(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(pid, SIGKILL) }
        XCTAssertEqual(status(port), "302", "the detached instance serves")

        let threads = threadStatuses(pid)
        XCTAssertGreaterThan(threads.count, 2)
        for thread in threads {
            XCTAssertEqual(thread["Uid"], "65534\t65534\t65534\t65534", "\(thread["Name"] ?? "?")")
            XCTAssertEqual(thread["CapEff"], "0000000000000000", "\(thread["Name"] ?? "?"): no capability left without a vrrp section")
        }
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/root"), dir.file("jail"))
        let loops = threads.filter { $0["Name"]?.hasPrefix("NIO-ELT") == true }.compactMap { $0["Cpus_allowed_list"] }.sorted()
        XCTAssertEqual(loops, ["\(first)", "\(second)"].sorted(), "one CPU per event loop")
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.range(of: ") ")!.upperBound...].split(separator: " ")
        XCTAssertEqual(fields[3], "\(pid)", "a session of its own (setsid): no controlling terminal")

        kill(pid, SIGTERM)
        XCTAssertTrue(eventually(10) { !processAlive(pid) || ((try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z ") ?? true) })
    }

    /// What `swiftlb run` cannot open is refused by `swiftlb check`, with file, line and
    /// keyword: TCP syslog, and a control socket on abns@/sockpair@ (both once passed the
    /// check and failed at start).
    func testCheckRefusesTCPSyslogAndControlSocketsItCannotOpen() throws {
        let dir = try Scratch()
        let cases: [(String, String)] = [
            ("    log tcp@127.0.0.1:514 local0\n", "lb.conf:2] : 'log' : 'tcp@127.0.0.1:514': TCP syslog (tcp@) is not supported by SwiftLB"),
            ("    stats socket abns@swiftlb level admin\n", "lb.conf:2] : 'stats' : 'abns@swiftlb': a control socket on 'abns@' is not supported by SwiftLB"),
            ("    stats socket sockpair@4\n", "lb.conf:2] : 'stats' : 'sockpair@4': a control socket on 'sockpair@' is not supported"),
        ]
        for (line, expected) in cases {
            let conf = try dir.write("lb.conf", "global\n" + line + timeouts + frontend(unusedPort()))
            let result = runCommand(Binaries.swiftlb, ["check", "-c", conf], timeout: 30)
            XCTAssertNotEqual(result.status, 0, line)
            XCTAssertTrue((result.out + result.err).contains(expected), "\(line): \(result.out)\(result.err)")
        }
        // What it can open still passes.
        let good = try dir.write("lb.conf", "global\n    log udp@127.0.0.1:514 local0\n    stats socket \(dir.file("s.sock")) level admin\n" + timeouts + frontend(unusedPort()))
        let result = runCommand(Binaries.swiftlb, ["check", "-c", good], timeout: 30)
        XCTAssertEqual(result.status, 0, result.out + result.err)
    }

    func testDaemonRelaysAFailedStartAndExits1() throws {
        let dir = try Scratch()
        let (blocker, port) = boundLoopbackSocket(listening: true)
        defer { close(blocker) }
        let conf = try dir.write("lb.conf", "global\n    daemon\n    pidfile \(dir.file("lb.pid"))\n" + timeouts + frontend(port))
        let result = runCommand(Binaries.swiftlb, ["run", "-c", conf], timeout: 30)
        XCTAssertEqual(result.status, 1, result.err)
        XCTAssertTrue(result.err.contains("lb.conf:9] : 'bind' : frontend 'f': cannot bind 127.0.0.1:\(port)"), result.err)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.file("lb.pid")), "the failed copy removed its pidfile")
    }

    func testDaemonIsIgnoredUnderSystemdNotify() throws {
        let dir = try Scratch()
        let port = unusedPort()
        let conf = try dir.write("lb.conf", "global\n    daemon\n" + timeouts + frontend(port))
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = dir.file("notify.sock")
        let instance = try Spawned(Binaries.swiftlb, ["run", "-c", conf], environment: environment, directory: dir.path)
        XCTAssertTrue(eventually(15) { instance.err.contains("started, pid \(instance.pid)") }, instance.err)
        XCTAssertTrue(instance.isRunning, "stays in the foreground")
        XCTAssertTrue(instance.err.contains("[NOTICE]   (\(instance.pid)) : config : 'daemon' ignored: started by systemd in notify mode"), instance.err)
        XCTAssertEqual(status(port), "302")
        XCTAssertEqual(instance.stop(), 0)
    }

    func testAFailedPrivilegeDropStopsTheStart() throws {
        try requireRoot()
        let setpriv = try XCTUnwrap(Binaries.which("setpriv"), "util-linux's setpriv")
        let dir = try Scratch()
        chmod(dir.path, 0o755)
        let port = unusedPort()
        let conf = try dir.write("lb.conf", "global\n    user root\n" + timeouts + frontend(port))
        let result = runCommand(setpriv, ["--reuid=65534", "--regid=65534", "--clear-groups", Binaries.swiftlb, "run", "-c", conf], timeout: 30)
        XCTAssertEqual(result.status, 1, result.err)
        XCTAssertTrue(result.err.contains("parsing [\(conf):2] : 'user' : privilege drop failed: cannot become uid 0: swiftlb runs as uid 65534, not root"), result.err)
        XCTAssertNotEqual(status(port), "302", "nothing serves after a refused start")
    }

    /// `user nobody` with a vrrp section: every thread keeps exactly CAP_NET_ADMIN and
    /// CAP_NET_RAW, and the VIP is still added on becoming master and removed on SIGTERM.
    func testVIPStillMovesAfterDroppingToNobody() throws {
        try requireRoot()
        let ip = try XCTUnwrap(Binaries.which("ip"), "iproute2")
        let namespace = "slbcfg\(UInt32.random(in: 0..<1_000_000))"
        guard runCommand(ip, ["netns", "add", namespace]).status == 0 else { throw XCTSkip("cannot create a network namespace here") }
        defer { runCommand(ip, ["netns", "del", namespace]) }
        for command in [["link", "add", "veth0", "type", "veth", "peer", "name", "veth1"], ["addr", "add", "10.213.0.1/24", "dev", "veth0"],
                        ["link", "set", "veth0", "up"], ["link", "set", "veth1", "up"], ["link", "set", "lo", "up"]] {
            XCTAssertEqual(runCommand(ip, ["-n", namespace] + command).status, 0, "\(command)")
        }
        let dir = try Scratch()
        let conf = try dir.write("lb.conf", """
            global
                user nobody
            \(timeouts)frontend f
                bind 127.0.0.1:8080
                redirect location http://example.test/moved
            vrrp vip
                interface veth0
                virtual_router_id 51
                priority 150
                advert_int 100ms
                unicast_src_ip 10.213.0.1
                unicast_peer 10.213.0.2
                virtual_ipaddress 10.213.0.10/24
                auth none
            """)
        let instance = try Spawned(ip, ["netns", "exec", namespace, Binaries.swiftlb, "run", "-c", conf], directory: dir.path)
        func vipPresent() -> Bool { runCommand(ip, ["-n", namespace, "-4", "addr", "show", "dev", "veth0"]).out.contains("10.213.0.10/24") }
        XCTAssertTrue(eventually(10) { vipPresent() }, "no peer answers: this instance becomes master and adds the VIP as nobody\n\(instance.err)")
        let threads = threadStatuses(instance.pid)
        XCTAssertFalse(threads.isEmpty)
        for thread in threads {
            XCTAssertEqual(thread["Uid"], "65534\t65534\t65534\t65534", "\(thread["Name"] ?? "?")")
            XCTAssertEqual(thread["CapEff"], "0000000000003000", "\(thread["Name"] ?? "?"): CAP_NET_ADMIN and CAP_NET_RAW only")
            XCTAssertEqual(thread["CapPrm"], "0000000000003000", "\(thread["Name"] ?? "?")")
        }
        XCTAssertEqual(instance.stop(), 0, instance.err)
        XCTAssertFalse(vipPresent(), "the VIP is removed on SIGTERM, after the drop\n\(instance.err)")
    }
}
