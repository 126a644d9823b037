import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SwiftLBConfig
import SwiftLBTestSupport
import XCTest
@testable import SwiftLBProxy

/// Swapping the configuration in a running data path (`ProxyServer.reload(to:)`), in process,
/// with real nginx backends and real clients: listeners change only where the file changed
/// them, a keep-alive connection's next request runs on the new file, a request in flight
/// finishes on the old one, health carries over by backend/name, and a bind that cannot be
/// opened leaves everything as it was.
final class ReloadTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    private func runtime(_ text: String, previous: ProxyRuntime? = nil) throws -> ProxyRuntime {
        try ProxyRuntime(configuration: ConfigParser.parse(text: text, file: "reload.conf"), previous: previous)
    }

    private func config(port: Int, extraBind: Int? = nil, backendPort: Int, slow: Int) -> String {
        """
        defaults
            mode http
            timeout connect 2s
            timeout client 10s
            timeout server 10s
        frontend fe
            bind 127.0.0.1:\(port)
        \(extraBind.map { "    bind 127.0.0.1:\($0)\n" } ?? "")    default_backend app
        backend app
            server s1 127.0.0.1:\(backendPort)
        backend slow
            server slow 127.0.0.1:\(slow)

        """
    }

    func testAReloadSwapsTheConfigurationWithoutClosingWhatStays() async throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let slow = try ScriptedBackend(.delayed(.milliseconds(1500), body: "slow answer"))
        defer { slow.stop() }
        let port = freePort(), second = freePort()
        let first = try runtime(config(port: port, backendPort: nginx.ports[0], slow: slow.port)
            .replacingOccurrences(of: "default_backend app", with: "use_backend slow if { path_beg /slow }\n    default_backend app"))
        let server = ProxyServer(runtime: first, threads: 2, logger: Logger(label: "reload-test"))
        try await server.start()

        // Before: node1. A keep-alive client, and a slow request in flight.
        let client = try RawClient(port: port, timeout: 5)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertTrue(client.readResponse().hasSuffix("node1\n"))
        let inFlight = try RawClient(port: port, timeout: 5)
        inFlight.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        // In flight once it reached the slow server (which answers 1.5 s later).
        XCTAssertNotNil(waitUntil(timeout: 5) { slow.connections == 1 }, "the slow request reached its server before the reload")

        // The new file: node2 as the backend, a second bind.
        let next = try runtime(config(port: port, extraBind: second, backendPort: nginx.ports[1], slow: slow.port), previous: first)
        let report = try await server.reload(to: next)
        XCTAssertEqual(report.kept, ["127.0.0.1:\(port)"])
        XCTAssertEqual(report.opened, ["127.0.0.1:\(second)"])
        XCTAssertEqual(report.closed, [])

        XCTAssertTrue(inFlight.readResponse().hasSuffix("slow answer"), "the request in flight finishes on the old file")
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertTrue(client.readResponse().hasSuffix("node2\n"), "the same connection's next request runs on the new file")
        XCTAssertEqual(curl(["http://127.0.0.1:\(second)/"]).out, "node2\n")

        // Dropping the second bind closes only it.
        let third = try runtime(config(port: port, backendPort: nginx.ports[1], slow: slow.port), previous: next)
        let dropped = try await server.reload(to: third)
        XCTAssertEqual(dropped.closed, ["127.0.0.1:\(second)"])
        XCTAssertNotEqual(curl(["http://127.0.0.1:\(second)/"]).status, 0, "the dropped address no longer answers")
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node2\n")
        await server.stop(grace: .seconds(1))
    }

    /// A reload that raises `maxconn` (the frontend's, then the global one) serves the clients
    /// waiting in the backlog of a listener it keeps, at once: the limit was fixed when the
    /// listener opened, and nothing woke it.
    func testAReloadRaisingMaxconnServesTheClientsWaitingForIt() async throws {
        let backend = try ScriptedBackend(.raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false))
        defer { backend.stop() }
        let port = freePort()
        func text(frontend: Int, global: Int) -> String {
            """
            global
                maxconn \(global)
            defaults
                mode http
                timeout connect 2s
                timeout client 20s
                timeout server 20s
                timeout http-request 20s
            frontend fe
                maxconn \(frontend)
                bind 127.0.0.1:\(port)
                default_backend app
            backend app
                server s1 127.0.0.1:\(backend.port)

            """
        }
        let server = ProxyServer(runtime: try runtime(text(frontend: 1, global: 100)), threads: 1, logger: Logger(label: "reload-test"))
        try await server.start()
        // The one slot, held by a client that sends nothing (20 s before its 408).
        let holder = try RawClient(port: port, timeout: 0.3)
        try await Task.sleep(nanoseconds: 200_000_000)
        /// A new client waits while the limits are `before`, and is served once a reload sets `after`.
        func waitsThenIsServed(before: (Int, Int), after: (Int, Int)) async throws -> RawClient {
            _ = try await server.reload(to: runtime(text(frontend: before.0, global: before.1), previous: server.runtime))
            let client = try RawClient(port: port, timeout: 0.5)
            client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            XCTAssertEqual(client.readResponse(), "", "served over maxconn \(before)")
            _ = try await server.reload(to: runtime(text(frontend: after.0, global: after.1), previous: server.runtime))
            client.setReceiveTimeout(5)
            XCTAssertEqual(statusCode(client.readResponse()), 200, "maxconn raised to \(after) (frontend, global)")
            return client
        }
        // The frontend's limit, 1 → 2; then the global one, 2 → 3 (both slots taken by then).
        let second = try await waitsThenIsServed(before: (1, 100), after: (2, 100))
        let third = try await waitsThenIsServed(before: (10, 2), after: (10, 3))
        _ = (second, third)
        _ = holder
        await server.stop(grace: .seconds(1))
    }

    /// A frontend a reload removes, added again by the next one under the same name, starts
    /// counting its connections from zero, as HAProxy's new process does: the removed one's
    /// client, still connected, does not take the re-added frontend's only slot.
    func testAFrontendAddedAgainAfterAReloadDoesNotInheritTheOldConnections() async throws {
        let backend = try ScriptedBackend(.raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", close: false))
        defer { backend.stop() }
        let port = freePort(), other = freePort()
        func text(withFrontend: Bool) -> String {
            """
            defaults
                mode http
                timeout connect 2s
                timeout client 20s
                timeout server 20s
                timeout http-request 20s
            frontend keep
                bind 127.0.0.1:\(other)
                default_backend app
            \(withFrontend ? "frontend fe\n    maxconn 1\n    bind 127.0.0.1:\(port)\n    default_backend app" : "")
            backend app
                server s1 127.0.0.1:\(backend.port)

            """
        }
        let server = ProxyServer(runtime: try runtime(text(withFrontend: true)), threads: 1, logger: Logger(label: "reload-test"))
        try await server.start()
        // fe's one slot, held by a kept-alive client across the two reloads.
        let old = try RawClient(port: port, timeout: 2)
        old.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(statusCode(old.readResponse()), 200)
        _ = try await server.reload(to: runtime(text(withFrontend: false), previous: server.runtime))
        _ = try await server.reload(to: runtime(text(withFrontend: true), previous: server.runtime))
        let client = try RawClient(port: port, timeout: 3)
        client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(statusCode(client.readResponse()), 200, "the re-added frontend counts the removed one's client")
        _ = old
        await server.stop(grace: .seconds(1))
    }

    /// A reload whose only change is a bind's `interface` (either way) is applied: a listener
    /// bound to the device replaces the one on every interface, the address answering all
    /// along (the two share it with SO_REUSEPORT while both are open).
    func testAReloadChangingOnlyABindsInterfaceRebindsIt() async throws {
        let port = freePort()
        func config(_ interface: String?, _ answer: String) -> String {
            testDefaults() + """
            frontend fe
                bind 127.0.0.1:\(port)\(interface.map { " interface \($0)" } ?? "")
                http-request return status 200 content-type text/plain string \(answer)

            """
        }
        func boundDevice() -> String? {
            let line = runCommand("/bin/sh", ["-c", "ss -Hltn 'sport = :\(port)'"]).out
            return line.contains("127.0.0.1%lo:\(port)") ? "lo" : line.contains("127.0.0.1:\(port)") ? "" : nil
        }
        let first = try runtime(config(nil, "one"))
        let server = ProxyServer(runtime: first, threads: 1, logger: Logger(label: "reload-test"))
        try await server.start()
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "one")
        XCTAssertEqual(boundDevice(), "")

        let second = try runtime(config("lo", "two"), previous: first)
        let report = try await server.reload(to: second)
        XCTAssertEqual(report.opened, ["127.0.0.1:\(port) interface lo"])
        XCTAssertEqual(report.closed, ["127.0.0.1:\(port)"])
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "two")
        XCTAssertEqual(boundDevice(), "lo")

        let third = try runtime(config(nil, "three"), previous: second)
        let back = try await server.reload(to: third)
        XCTAssertEqual(back.opened, ["127.0.0.1:\(port)"])
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "three")
        XCTAssertEqual(boundDevice(), "")
        await server.stop(grace: .seconds(1))
    }

    /// An address that moves to another frontend is rebound for it the same way: the old
    /// frontend's listener closes once the new one is open beside it.
    func testAnAddressMovingToAnotherFrontendIsRebound() async throws {
        let (port, other) = (freePort(), freePort())
        let config = { (first: Int, second: Int) in self.twoFrontends(first, second) }
        let first = try runtime(config(port, other))
        let server = ProxyServer(runtime: first, threads: 1, logger: Logger(label: "reload-test"))
        try await server.start()
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "one")
        let swapped = try runtime(config(other, port), previous: first)
        let report = try await server.reload(to: swapped)
        XCTAssertEqual(report.opened, ["127.0.0.1:\(other)", "127.0.0.1:\(port)"].sorted(), "the report's order: sorted as text")
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "two")
        XCTAssertEqual(curl(["http://127.0.0.1:\(other)/"]).out, "one")
        await server.stop(grace: .seconds(1))
    }

    /// `noreuseport`: no listener shares its address, so the same swap cannot open the new
    /// listeners beside the old ones: the reload is refused and the old frontends go on.
    func testNoReusePortRefusesAReloadThatRebindsAnAddress() async throws {
        let (port, other) = (freePort(), freePort())
        let config = { (first: Int, second: Int) in "global\n    noreuseport\n" + self.twoFrontends(first, second) }
        let first = try runtime(config(port, other))
        let server = ProxyServer(runtime: first, threads: 1, logger: Logger(label: "reload-test"))
        try await server.start()
        let swapped = try runtime(config(other, port), previous: first)
        do {
            _ = try await server.reload(to: swapped)
            XCTFail("without SO_REUSEPORT the new listener cannot bind beside the old one")
        } catch {
            XCTAssertTrue("\(error)".contains("cannot bind 127.0.0.1:"), "\(error)")
        }
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "one")
        XCTAssertEqual(curl(["http://127.0.0.1:\(other)/"]).out, "two")
        await server.stop(grace: .seconds(1))
    }

    /// A reload that fails on its second new bind closes the first one it had opened, and the
    /// log says nothing of it: only listeners that stay are announced ("listening on").
    func testAFailedReloadAnnouncesNoListenerItClosed() async throws {
        let lines = NIOLockedValueBox<[String]>([])
        let logger = Logger(label: "reload-test") { _ in LineLogHandler { event in lines.withLockedValue { $0.append("\(event.message)") } } }
        let blocker = try RawListener()
        let (port, other, fresh) = (freePort(), freePort(), freePort())
        let first = try runtime(twoFrontends(port, other))
        let server = ProxyServer(runtime: first, threads: 1, logger: logger)
        try await server.start()
        XCTAssertEqual(lines.withLockedValue { $0.filter { $0.contains("listening on") }.count }, 2, "the start's listeners are announced")
        let next = try runtime(twoFrontends(fresh, blocker.port), previous: first)
        do {
            _ = try await server.reload(to: next)
            XCTFail("the reload should fail on a taken port")
        } catch {
            XCTAssertTrue("\(error)".contains("cannot bind 127.0.0.1:\(blocker.port)"), "\(error)")
        }
        XCTAssertNotEqual(curl(["http://127.0.0.1:\(fresh)/"]).status, 0, "the listener opened for the failed reload is closed")
        let announced = lines.withLockedValue { $0.filter { $0.contains("listening on") } }
        XCTAssertEqual(announced.count, 2, "\(announced)")
        XCTAssertFalse(announced.contains { $0.contains(":\(fresh)") }, "\(announced)")
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "one")
        await server.stop(grace: .seconds(1))
    }

    /// Frontends `one` and `two` on these ports, each answering its name.
    private func twoFrontends(_ first: Int, _ second: Int) -> String {
        testDefaults() + """
        frontend one
            bind 127.0.0.1:\(first)
            http-request return status 200 content-type text/plain string one
        frontend two
            bind 127.0.0.1:\(second)
            http-request return status 200 content-type text/plain string two

        """
    }

    func testHealthCarriesOverByBackendAndName() throws {
        let first = try runtime(config(port: 1, backendPort: 2, slow: 3))
        first.backends[0].servers[0].health.set(.down)
        first.backends[0].servers[0].health.setAdmin(.drain)
        let same = try runtime(config(port: 1, backendPort: 2, slow: 3), previous: first)
        XCTAssertTrue(same.backends[0].servers[0].health === first.backends[0].servers[0].health, "unchanged: the same health object")
        XCTAssertEqual(same.backends[0].servers[0].id, first.backends[0].servers[0].id)
        let moved = try runtime(config(port: 1, backendPort: 4, slow: 3), previous: first)
        XCTAssertFalse(moved.backends[0].servers[0].health === first.backends[0].servers[0].health)
        XCTAssertEqual(moved.backends[0].servers[0].health.state, .down, "state carried to the new object")
        XCTAssertEqual(moved.backends[0].servers[0].health.admin, .drain)
        XCTAssertNotEqual(moved.backends[0].servers[0].id, first.backends[0].servers[0].id, "a new address gets a new pool slot")
    }

    func testABindThatCannotBeOpenedLeavesEverythingAsItWas() async throws {
        let nginx = try NginxBackends(count: 2, in: dir)
        defer { nginx.stop() }
        let port = freePort()
        let first = try runtime(config(port: port, backendPort: nginx.ports[0], slow: 1))
        let server = ProxyServer(runtime: first, threads: 1, logger: Logger(label: "reload-test"))
        try await server.start()
        // Port 1 on loopback needs privileges we may have as root: use a port another socket holds.
        let blocker = try RawListener()
        let next = try runtime(config(port: port, extraBind: blocker.port, backendPort: nginx.ports[1], slow: 1), previous: first)
        do {
            _ = try await server.reload(to: next)
            XCTFail("the reload should fail on a taken port")
        } catch {
            XCTAssertTrue("\(error)".contains("cannot bind 127.0.0.1:\(blocker.port)"), "\(error)")
        }
        XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"]).out, "node1\n", "the old file still serves")
        XCTAssertTrue(server.runtime === first)
        await server.stop(grace: .seconds(1))
    }

    /// `tune.vars.*-max-size` of a reload that is refused (here: a bind on a taken port) never
    /// apply: the old file's variables go on as they were, as HAProxy's old process's do.
    func testARefusedReloadLeavesTheVariableLimitsAsTheyWere() async throws {
        let port = freePort()
        func text(global: String, extraBind: Int?) -> String {
            """
            global
            \(global)
            defaults
                mode http
                timeout client 10s
            frontend fe
                bind 127.0.0.1:\(port)
            \(extraBind.map { "    bind 127.0.0.1:\($0)\n" } ?? "")    http-request set-var(txn.x) str(hello)
                http-request return status 200 hdr X-V "x=%[var(txn.x)]"

            """
        }
        let first = try runtime(text(global: "    tune.vars.txn-max-size 1000", extraBind: nil))
        let server = ProxyServer(runtime: first, threads: 1, logger: Logger(label: "reload-test"))
        try await server.start()
        let blocker = try RawListener()
        let next = try runtime(text(global: "    tune.vars.txn-max-size 10", extraBind: blocker.port), previous: first)
        do {
            _ = try await server.reload(to: next)
            XCTFail("the reload should fail on a taken port")
        } catch {}
        let out = curl(["-s", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(port)/"]).out.lowercased()
        XCTAssertTrue(out.contains("x-v: x=hello\r\n"), out)
        await server.stop(grace: .seconds(1))
    }
}

/// A listening TCP socket on loopback that accepts nothing (holds a port).
final class RawListener {
    let fd: Int32
    let port: Int
    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }) == 0,
              listen(fd, 8) == 0 else { close(fd); throw HarnessError("cannot listen") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        self.fd = fd
        self.port = Int(UInt16(bigEndian: addr.sin_port))
    }
    deinit { close(fd) }
}
