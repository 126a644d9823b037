import Foundation
import NIOCore
import SwiftLBAdmin
import SwiftLBConfig
import SwiftLBHealth
import XCTest

/// The control socket over real sockets, driven the way operators drive HAProxy's: `socat`
/// with one line of `;`-separated commands, and an interactive `prompt` session.
final class ControlSocketTests: XCTestCase {
    let socat = "/usr/bin/socat"

    func start(_ settings: ControlSocketSettings, actions: InMemoryActions = InMemoryActions(), log: LogCapture = LogCapture()) async throws -> ControlSocket {
        try await ControlSocket.start(settings, api: RuntimeAPI(actions: actions, logger: log.logger), group: testGroup, logger: log.logger)
    }

    func testSocatOneLineWithSeveralCommands() async throws {
        try requireTool(socat)
        let dir = try Scratch()
        let path = dir.file("admin.sock")
        let actions = InMemoryActions()
        let socket = try await start(ControlSocketSettings(address: .unix(path: path)), actions: actions)
        defer { Task { await socket.stop() } }
        let r = runTool(socat, ["-t", "5", "-", "UNIX-CONNECT:\(path)"], input: "set server nodes/node1 state drain; show servers state nodes;show info\n")
        XCTAssertEqual(r.status, 0, r.err)
        // A blank line for set server, the servers' state, a blank line, the process info.
        let parts = r.out.components(separatedBy: "\n\n")
        XCTAssertTrue(parts[0].hasPrefix("\n1\n# be_id be_name"), r.out)
        XCTAssertTrue(parts[0].contains("\n3 nodes 1 node1 127.0.0.1 2 8 100 100 "), parts[0])
        XCTAssertTrue(parts[1].hasPrefix("Name: SwiftLB\nVersion: 0.1.0\n"), r.out)
        XCTAssertEqual(parts.count, 3, "the line's answers, then the connection closed")
        XCTAssertEqual(actions.calls, ["state nodes/node1 drain"])

        // `printf 'show info' | socat`: the last line needs no newline.
        let noNewline = runTool(socat, ["-t", "5", "-", "UNIX-CONNECT:\(path)"], input: "get weight nodes/node2")
        XCTAssertEqual(noNewline.out, "100 (initial 100)\n\n")
    }

    func testPromptSessionStaysOpenUntilQuit() async throws {
        try requireTool(socat)
        let dir = try Scratch()
        let path = dir.file("admin.sock")
        let socket = try await start(ControlSocketSettings(address: .unix(path: path)))
        defer { Task { await socket.stop() } }
        // socat keeps reading after its input ends (-t), so the replies of every line arrive.
        let r = runTool(socat, ["-t", "5", "-", "UNIX-CONNECT:\(path)"],
                    input: "prompt\nget weight nodes/node1\nset weight nodes/node1 5\nget weight nodes/node1\nquit\nshow info\n")
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "\n> 100 (initial 100)\n\n> \n> 5 (initial 100)\n\n> ", "nothing after quit")
    }

    func testUnixSocketModeOwnerAndCleanup() async throws {
        let dir = try Scratch()
        let path = dir.file("admin.sock")
        // A stale socket from a previous run is replaced.
        let stale = try await start(ControlSocketSettings(address: .unix(path: path)))
        var settings = ControlSocketSettings(address: .unix(path: path))
        settings.mode = 0o660
        try settings.setOwner(user: "\(getuid())", group: "\(getgid())")
        let socket = try await start(settings)
        var st = stat()
        XCTAssertEqual(lstat(path, &st), 0)
        XCTAssertEqual(st.st_mode & S_IFMT, S_IFSOCK)
        XCTAssertEqual(st.st_mode & 0o777, 0o660)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["admin.sock"], "the private bind directory is gone")
        // The first instance stopping later must not delete the second one's socket.
        await stale.stop()
        XCTAssertEqual(lstat(path, &st), 0)
        await socket.stop()
        XCTAssertNotEqual(lstat(path, &st), 0, "stop removes its own socket")

        // A regular file at the path is never replaced.
        _ = FileManager.default.createFile(atPath: path, contents: Data("precious".utf8))
        do {
            _ = try await start(ControlSocketSettings(address: .unix(path: path)))
            XCTFail("replaced a regular file")
        } catch let error as ControlSocketError {
            XCTAssertTrue(error.message.contains("exists and is not a socket"), error.message)
        }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "precious")

        let long = dir.file(String(repeating: "x", count: 120) + ".sock")
        do {
            _ = try await start(ControlSocketSettings(address: .unix(path: long)))
            XCTFail("a path longer than sun_path was accepted")
        } catch let error as ControlSocketError {
            XCTAssertTrue(error.message.contains("limited to 107 bytes"), error.message)
        }
    }

    /// No instant at which the socket exists at its path with wider permissions: a watcher
    /// polls the path while the socket is created and replaced, and records every mode seen.
    func testNoWindowWithWiderPermissions() async throws {
        let dir = try Scratch()
        let path = dir.file("admin.sock")
        final class Watch: @unchecked Sendable {
            let lock = NSLock()
            var seen: Set<Int> = []
            var done = false
        }
        let watch = Watch()
        let watcher = Thread {
            var st = stat()
            while !watch.lock.withLock({ watch.done }) {
                if lstat(path, &st) == 0 { _ = watch.lock.withLock { watch.seen.insert(Int(st.st_mode & 0o777)) } }
            }
        }
        watcher.start()
        let previous = umask(0)
        defer { umask(previous) }
        for _ in 0..<20 {
            let socket = try await start(ControlSocketSettings(address: .unix(path: path)))
            await socket.stop()
        }
        watch.lock.withLock { watch.done = true }
        XCTAssertEqual(watch.lock.withLock { watch.seen }, [0o600], "with umask 0 a direct bind would show 0777 for a moment")
    }

    func testTCPAddressLevelAndTimeout() async throws {
        try requireTool(socat)
        var settings = ControlSocketSettings(address: try ControlSocketSettings.parseAddress("ipv4@127.0.0.1:0"))
        settings.level = .user
        settings.timeoutNanoseconds = 300_000_000
        let socket = try await start(settings)
        defer { Task { await socket.stop() } }
        let port = socket.localAddress!.port!
        let denied = runTool(socat, ["-t", "5", "-", "TCP:127.0.0.1:\(port)"], input: "set weight nodes/node1 1\n")
        XCTAssertEqual(denied.out, "Permission denied\n\n")
        // An idle prompt session is closed by `stats timeout` (the client would wait 5 s).
        let idle = try RawConnection(port: port)
        idle.send("prompt\n")
        XCTAssertEqual(idle.read(until: "> "), "\n> ")
        let started = Date()
        XCTAssertTrue(idle.readsEOF())
        XCTAssertLessThan(Date().timeIntervalSince(started), 3, "the idle session was not closed by the timeout")

        XCTAssertEqual(try ControlSocketSettings.parseAddress("ipv6@[::1]:9999"), .tcp(host: "::1", port: 9999))
        XCTAssertEqual(try ControlSocketSettings.parseAddress("/run/x.sock"), .unix(path: "/run/x.sock"))
        XCTAssertEqual(try ControlSocketSettings.parseAddress("unix@rel.sock"), .unix(path: "rel.sock"))
        XCTAssertThrowsError(try ControlSocketSettings.parseAddress("abns@x"))
        XCTAssertThrowsError(try ControlSocketSettings.parseAddress("ipv4@::1:80"))
        XCTAssertThrowsError(try ControlSocketSettings.parseAddress("ipv4@127.0.0.1:http"))
    }

    func testConnectionLimit() async throws {
        var settings = ControlSocketSettings(address: .tcp(host: "127.0.0.1", port: 0))
        settings.maxConnections = 2
        let log = LogCapture()
        let socket = try await start(settings, log: log)
        defer { Task { await socket.stop() } }
        let port = socket.localAddress!.port!
        // Two held connections (prompt mode), then a third is told and closed.
        let held = try (0..<2).map { _ in try RawConnection(port: port) }
        for c in held { c.send("prompt\n"); XCTAssertEqual(c.read(until: "> "), "\n> ") }
        let third = try RawConnection(port: port)
        XCTAssertEqual(third.read(until: "\n"), "Too many connections on this control socket (limit 2); try again later.\n")
        XCTAssertTrue(third.readsEOF())
        XCTAssertTrue(log.text.contains("refused a connection, 2 already open"))
        // Once one leaves, a new one is served: the socket counts the close a moment after the
        // client saw its EOF, so a connection made before that is still told "too many".
        held[0].send("quit\n")
        XCTAssertTrue(held[0].readsEOF())
        var answer = ""
        let deadline = Date().addingTimeInterval(5)
        repeat {
            let fourth = try RawConnection(port: port)
            fourth.send("get weight nodes/node1\n")
            answer = fourth.read(until: "\n\n")
            if answer.hasPrefix("Too many connections") { usleep(50_000) } else { break }
        } while Date() < deadline
        XCTAssertEqual(answer, "100 (initial 100)\n\n")
    }

    /// The entry point `swiftlb run` uses today, on the servers' shared states.
    func testLegacyEntryPointActsOnServerHealth() async throws {
        try requireTool(socat)
        let dir = try Scratch()
        let path = dir.file("legacy.sock")
        let servers = [ServerHealth(backend: "nodes", server: "node1"), ServerHealth(backend: "nodes", server: "node2", admin: .maint)]
        servers[1].set(.down)
        var stats = StatsSocket(path: path)
        stats.level = .admin
        let log = LogCapture()
        let socket = try await ControlSocket.start(stats, servers: servers, group: testGroup, logger: log.logger,
                                                   rotateTicketKeys: { 3 }, vrrpStatus: { "state: BACKUP\n\n" })
        defer { Task { await socket.stop() } }
        let r = runTool(socat, ["-t", "5", "-", "UNIX-CONNECT:\(path)"], input: "set server nodes/node1 state drain;show servers state;rotate ssl tickets;show vrrp;set weight nodes/node1 3\n")
        let parts = r.out.components(separatedBy: "\n\n")
        XCTAssertTrue(parts[0].hasPrefix("\n1\n# be_id"), r.out)
        XCTAssertTrue(parts[0].contains("\n1 nodes 1 node1 - 2 8 1 1 "), parts[0])
        XCTAssertTrue(parts[0].contains("\n1 nodes 2 node2 - 0 1 1 1 "), parts[0])
        XCTAssertEqual(parts[1], "Rotated the ticket keys of 3 TLS listeners.")
        XCTAssertEqual(parts[2], "state: BACKUP")
        XCTAssertTrue(parts[3].hasPrefix("'set weight' is not supported by SwiftLB"), parts[3])
        XCTAssertEqual(servers[0].admin, .drain)
        XCTAssertTrue(log.text.contains("Server nodes/node1 admin state READY -> DRAIN (control socket)"))
    }
}

/// A blocking TCP client for tests that hold connections open.
final class RawConnection {
    let fd: Int32
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { close(fd); throw ControlSocketError("connect: \(errno)") }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
    /// MSG_NOSIGNAL: writing to a connection the server already closed is an error, not a SIGPIPE.
    func send(_ s: String) { _ = s.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } }
    /// Reads until `marker` ends the text, EOF or the 5 s receive timeout.
    func read(until marker: String) -> String {
        var text = ""
        var byte: UInt8 = 0
        while !text.hasSuffix(marker), Glibc.read(fd, &byte, 1) == 1 { text.unicodeScalars.append(UnicodeScalar(byte)) }
        return text
    }
    func readsEOF() -> Bool {
        var byte: UInt8 = 0
        return Glibc.read(fd, &byte, 1) == 0
    }
    deinit { close(fd) }
}
