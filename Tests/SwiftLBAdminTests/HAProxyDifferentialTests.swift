import Foundation
import SwiftLBAdmin
import SwiftLBTestSupport
import XCTest

/// HAProxy 2.6 itself (Debian's package) as the reference: it runs on a unix-socket frontend
/// with servers in the states SwiftLB distinguishes, and its `show stat`, `show servers
/// state` and `show info` are compared with SwiftLB's renderings of the same situation —
/// headers byte for byte, which cells are empty row by row, and the values that do not
/// depend on timing.
final class HAProxyDifferentialTests: XCTestCase {
    let haproxy = "/usr/sbin/haproxy"
    let socat = "/usr/bin/socat"

    func testOutputsHaveHAProxysShape() async throws {
        try requireTool(haproxy)
        try requireTool(socat)
        let dir = try Scratch()
        let closed = closedLoopbackPort()
        let config = dir.file("haproxy.cfg")
        try """
            global
                stats socket \(dir.file("h.sock")) mode 600 level admin
            defaults
                mode http
                timeout connect 1s
                timeout client 5s
                timeout server 5s
            frontend fe
                bind unix@\(dir.file("fe.sock"))
                default_backend be
            backend be
                balance roundrobin
                cookie SRV insert indirect
                server s1 127.0.0.1:\(closed) check inter 100ms rise 1 fall 1 cookie c1
                server s2 127.0.0.1:\(closed) disabled
                server s3 127.0.0.1:\(closed) weight 7
                server s4 127.0.0.1:\(closed) backup
            listen tcpfe
                mode tcp
                bind unix@\(dir.file("tcp.sock"))
                balance leastconn
                server t1 127.0.0.1:\(closed)

            """.write(toFile: config, atomically: true, encoding: .utf8)
        let process = try SpawnedProcess(haproxy, ["-db", "-f", config])
        defer { process.stop() }
        func ask(_ command: String) -> String {
            runTool(socat, ["-t", "2", "-", "UNIX-CONNECT:\(dir.file("h.sock"))"], input: command + "\n", timeout: 10).out
        }
        // Wait (bounded) for the socket and for s1's check to have failed; drain s4.
        var stat = ""
        for _ in 0..<100 {
            if ask("set server be/s4 state drain") != "\n" { usleep(100_000); continue }
            stat = ask("show stat")
            if stat.contains("be,s1,") && stat.contains("L4CON") { break }
            usleep(100_000)
        }
        XCTAssertTrue(stat.contains("L4CON"), "HAProxy did not report s1's failed check: \(stat)")

        // The CSV header, byte for byte.
        let theirs = csv(stat)
        XCTAssertEqual(stat.split(separator: "\n", omittingEmptySubsequences: false)[0] + "\n", Substring(StatColumn.csvHeader))

        // The same situation in SwiftLB's model, with HAProxy's proxy ids.
        let feID = Int(theirs.first { $0["svname"] == "FRONTEND" }!["iid"]!)!
        let beID = Int(theirs.first { $0["pxname"] == "be" && $0["svname"] == "BACKEND" }!["iid"]!)!
        let tcpID = Int(theirs.first { $0["pxname"] == "tcpfe" }!["iid"]!)!
        let tcpFrontend = theirs.first { $0["pxname"] == "tcpfe" && $0["svname"] == "FRONTEND" }!
        var s1 = ServerStats(name: "s1", sid: 1, address: "127.0.0.1", port: closed, operational: .stopped,
                             check: CheckStats(status: .l4connect, durationMs: 0, lastDescription: "Connection refused", rise: 1, fall: 1, health: 0))
        s1.cookie = "c1"
        var s2 = ServerStats(name: "s2", sid: 2, address: "127.0.0.1", port: closed, operational: .stopped, admin: .maint)
        s2.maintFromConfig = true
        let s3 = ServerStats(name: "s3", sid: 3, address: "127.0.0.1", port: closed, weight: 7)
        var s4 = ServerStats(name: "s4", sid: 4, address: "127.0.0.1", port: closed, admin: .drain)
        s4.backup = true
        let theirFrontend = theirs.first { $0["svname"] == "FRONTEND" }!
        var info = ProcessStats(version: "x", pid: 1, nbthread: 1, uptime: 1, startTime: 1, maxconn: 1)
        info.node = "x"
        info.releaseDate = "x"
        let mirror = StatsSnapshot(
            process: info,
            proxies: [
                ProxyStats(name: "fe", iid: feID, frontend: FrontendStats(sessionLimit: Int(theirFrontend["slim"]!)!)),
                ProxyStats(name: "be", iid: beID, backend: BackendStats(servers: [s1, s2, s3, s4], fullconn: 1, algorithm: "roundrobin", cookieName: "SRV")),
                ProxyStats(name: "tcpfe", iid: tcpID, mode: .tcp, frontend: FrontendStats(sessionLimit: Int(tcpFrontend["slim"]!)!),
                           backend: BackendStats(servers: [ServerStats(name: "t1", sid: 1, address: "127.0.0.1", port: closed)], fullconn: 1, algorithm: "leastconn")),
            ],
            takenAt: 0)
        let ours = csv(CSVRenderer.render(mirror))
        XCTAssertEqual(ours.map { $0["svname"]! }, theirs.map { $0["svname"]! }, "same rows in the same order")

        // Every text cell (status, check status and description, address, cookie, mode,
        // algorithm…) and the numbers that do not count traffic or time must be equal.
        let timing: Set<String> = ["last_chk"]
        let exact: Set<String> = ["weight", "act", "bck", "pid", "iid", "sid", "type", "uweight", "rate_lim", "qlimit",
                                  "check_rise", "check_fall", "check_health", "check_code", "agg_server_status", "agg_check_status"]
        for (mine, reference) in zip(ours, theirs) {
            let name = "\(reference["pxname"]!)/\(reference["svname"]!)"
            for column in StatColumn.all.map(\.name) {
                let a = mine[column] ?? "<missing>", b = reference[column] ?? "<missing>"
                XCTAssertEqual(a.isEmpty, b.isEmpty, "\(name) \(column): SwiftLB '\(a)', HAProxy '\(b)'")
                if (Int(b) == nil && !timing.contains(column)) || exact.contains(column) {
                    XCTAssertEqual(a, b, "\(name) \(column)")
                }
            }
        }

        // show servers state: header and the fields that are not timers.
        // Asked again (bounded) while haproxy is in the middle of s1's next check (every 100 ms):
        // it then shows the check running (srv_check_state 7, srv_check_result 0), a moment
        // SwiftLB's snapshot does not stand for.
        var state: [String] = []
        for _ in 0..<40 {
            state = ask("show servers state").split(separator: "\n").map(String.init)
            guard state.count > 2 else { usleep(50_000); continue }
            let names = state[1].dropFirst(2).split(separator: " ").map(String.init)
            let s1 = state.dropFirst(2).map { Dictionary(uniqueKeysWithValues: zip(names, $0.split(separator: " ").map(String.init))) }
                .first { $0["srv_name"] == "s1" }
            if s1?["srv_check_result"] != "0" { break }
            usleep(50_000)
        }
        let mine = ServersStateRenderer.render(mirror).split(separator: "\n").map(String.init)
        XCTAssertEqual(mine[0], state[0], "format version")
        XCTAssertEqual(mine[1], state[1], "header")
        let header = state[1].dropFirst(2).split(separator: " ").map(String.init)
        for (m, r) in zip(mine.dropFirst(2), state.dropFirst(2)) {
            let a = Dictionary(uniqueKeysWithValues: zip(header, m.split(separator: " ").map(String.init)))
            let b = Dictionary(uniqueKeysWithValues: zip(header, r.split(separator: " ").map(String.init)))
            for field in header where field != "srv_time_since_last_change" {
                XCTAssertEqual(a[field], b[field], "\(b["srv_name"]!) \(field)")
            }
        }

        // show info: the same field names in the same order.
        let infoNames = { (text: String) in text.split(separator: "\n").map { String($0.split(separator: ":", maxSplits: 1)[0]) } }
        var referenceInfo = infoNames(ask("show info"))
        referenceInfo.removeAll { $0 == "description" }
        XCTAssertEqual(infoNames(InfoRenderer.render(mirror.process)), referenceInfo)
    }

    /// CSV rows by column name (HAProxy's values are never quoted here, a plain split will do).
    func csv(_ text: String) -> [[String: String]] {
        let lines = text.split(separator: "\n").map(String.init)
        let header = lines[0].dropFirst(2).split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        return lines.dropFirst().map { line in
            Dictionary(zip(header, line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)), uniquingKeysWith: { a, _ in a })
        }
    }

    /// A loopback port nothing listens on (bound, read back, released).
    func closedLoopbackPort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }
}
