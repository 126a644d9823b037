import Foundation
import XCTest

/// `bind "fd@${VAR}"`: a listening socket the parent opened and passed down (systemd socket
/// activation, VTest running HAProxy's reg-tests). A python parent binds 127.0.0.1:0, leaves the
/// socket inheritable, names its descriptor in LISTEN_FD and execs swiftlb, which must serve on
/// it, keep it across a reload, refuse to move it to another frontend, and name a descriptor
/// that is not a socket.
final class InheritedListenerTests: XCTestCase {
    /// The parent: prints nothing, writes the port to PORTFILE, then becomes swiftlb.
    static let parent = """
        import os, socket, sys
        swiftlb, config, portfile, number = sys.argv[1:5]
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        fd = s.fileno()
        if number != "-":
            os.dup2(fd, int(number)); fd = int(number)
        os.set_inheritable(fd, True)
        cli = socket.socket()
        cli.bind(("127.0.0.1", 0))
        cli.listen(4)
        os.set_inheritable(cli.fileno(), True)
        with open(portfile + ".tmp", "w") as f: f.write("%d %d" % (s.getsockname()[1], cli.getsockname()[1]))
        os.rename(portfile + ".tmp", portfile)
        os.environ["LISTEN_FD"] = str(fd)
        os.environ["CLI_FD"] = str(cli.fileno())
        os.execv(swiftlb, [swiftlb, "run", "-c", config])
        """

    func config(backendPort: Int, frontend: String = "fe", bind: String = "\"fd@${LISTEN_FD}\"", global: String = "") -> String {
        global + testDefaults() + """
            frontend \(frontend)
                bind \(bind)
                default_backend app
            backend app
                server s1 127.0.0.1:\(backendPort)

            """
    }

    /// Starts the parent; returns the child and the inherited socket's port.
    func start(_ config: String, in dir: TempDirectory, descriptor: String = "-") throws -> (ChildProcess, Int, String) {
        let (child, ports, path) = try startWithControlSocket(config, in: dir, descriptor: descriptor)
        return (child, ports.proxy, path)
    }

    /// The same, with a second inherited socket named in CLI_FD for `stats socket "fd@${CLI_FD}"`.
    func startWithControlSocket(_ config: String, in dir: TempDirectory, descriptor: String = "-") throws -> (ChildProcess, (proxy: Int, cli: Int), String) {
        let path = try dir.write("lb.conf", config)
        let portFile = dir.file("port")
        let child = try ChildProcess("/usr/bin/python3", ["-c", Self.parent, Paths.swiftlb, path, portFile, descriptor],
                                     logDirectory: dir, name: "swiftlb")
        _ = waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: portFile) }
        let ports = ((try? String(contentsOfFile: portFile, encoding: .utf8)) ?? "").split(separator: " ").compactMap { Int($0) }
        guard ports.count == 2 else {
            child.stop()
            throw HarnessError("the parent wrote no ports: \(child.stderr)")
        }
        return (child, (ports[0], ports[1]), path)
    }

    /// `stats socket "fd@${CLI_FD}"`, as every HAProxy reg-test writes it: the runtime API
    /// answers on the inherited socket.
    func testTheControlSocketListensOnAnInheritedDescriptor() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let text = config(backendPort: backend.port, global: "global\n    stats socket \"fd@${CLI_FD}\" level admin\n")
        let (lb, ports, _) = try startWithControlSocket(text, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(ports.proxy), lb.stderr)
        var answer = ""
        _ = waitUntil(timeout: 10) {
            guard let cli = try? RawClient(port: ports.cli, timeout: 3) else { return false }
            cli.send("show servers state\n")
            answer = cli.readAll().0
            return !answer.isEmpty
        }
        XCTAssertTrue(answer.hasPrefix("1\n# be_id be_name srv_id srv_name"), "\(answer)\n\(lb.stderr)")
        XCTAssertTrue(answer.contains(" app ") && answer.contains(" s1 "), answer)
    }

    /// A reload that adopts an inherited descriptor and then fails (a later bind is refused)
    /// closes it with the rest of its new listeners, and retires its number as a reload that
    /// closes it does: the next reload naming it is refused for that reason, never adopting
    /// whatever file the process has since opened under the same number.
    func testAFailedReloadRetiresTheInheritedDescriptorItAdopted() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let port = freePort()
        let busy = try RawListener()
        let plain = config(backendPort: backend.port, bind: "127.0.0.1:\(port)")
        let (lb, _, path) = try start(plain, in: dir)
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(port), lb.stderr)
        // The inherited socket first, then an address already taken: the reload fails after adopting it.
        try (plain + "frontend late\n    bind \"fd@${LISTEN_FD}\"\n    bind 127.0.0.1:\(busy.port)\n    default_backend app\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        lb.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.stderr.contains("SIGHUP: reload refused") }, lb.stderr)
        try (plain + "frontend late\n    bind \"fd@${LISTEN_FD}\"\n    default_backend app\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        lb.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.stderr.components(separatedBy: "SIGHUP: reload refused").count == 3 }, lb.stderr)
        XCTAssertTrue(lb.stderr.contains("the inherited descriptor was closed by an earlier reload"), lb.stderr)
        XCTAssertEqual(curl(["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/"]).out, "200", "the old file still serves")
        _ = busy
    }

    func testSwiftLBServesOnAnInheritedSocketAndKeepsItAcrossAReload() throws {
        let dir = try TempDirectory()
        let backend = try RecordingBackend(in: dir)
        defer { backend.stop() }
        let (lb, port, path) = try start(config(backendPort: backend.port), in: dir)
        defer { lb.stop() }
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.stderr.contains("listening on fd@") }, lb.stderr)
        XCTAssertTrue(lb.stderr.contains("frontend fe listening on fd@"), lb.stderr)

        let client = try RawClient(port: port, timeout: 3)
        client.send("GET /inherited HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        let (answer, _) = client.readAll()
        XCTAssertEqual(statusCode(answer), 200, answer)
        XCTAssertEqual(backend.requests.map(\.target), ["/inherited"])

        // A reload that keeps the bind keeps the socket: the same port still serves.
        try config(backendPort: backend.port).write(toFile: path, atomically: true, encoding: .utf8)
        lb.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.stderr.contains("SIGHUP: configuration reloaded") }, lb.stderr)
        let again = try RawClient(port: port, timeout: 3)
        again.send("GET /after-reload HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(statusCode(again.readAll().0), 200)

        // Moving it to another frontend would close it for good: refused, the old one serves.
        try config(backendPort: backend.port, frontend: "other").write(toFile: path, atomically: true, encoding: .utf8)
        lb.signal(SIGHUP)
        XCTAssertNotNil(waitUntil(timeout: 10) { lb.stderr.contains("an inherited listener stays with its frontend") }, lb.stderr)
        let third = try RawClient(port: port, timeout: 3)
        third.send("GET /still HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        XCTAssertEqual(statusCode(third.readAll().0), 200)
        XCTAssertEqual(backend.requests.map(\.target), ["/inherited", "/after-reload", "/still"])

        lb.signal(SIGTERM)
        XCTAssertEqual(lb.waitForExit(timeout: 10), 0, lb.stderr)
    }

    func testADescriptorThatIsNotASocketStopsTheStartWithItsNumber() throws {
        let dir = try TempDirectory()
        // Descriptor 0 is the harness's stdin pipe: open, but not a socket.
        let text = config(backendPort: 9, bind: "fd@0")
        let line = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("bind fd@0") }! + 1
        let (lb, _, path) = try start(text, in: dir)
        defer { lb.stop() }
        XCTAssertEqual(lb.waitForExit(timeout: 10), 1, lb.stderr)
        XCTAssertTrue(lb.stderr.contains("parsing [\(path):\(line)] : 'bind' : frontend 'fe': cannot listen on fd@0: descriptor 0 is not a socket"), lb.stderr)
    }
}
