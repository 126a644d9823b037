import Foundation
import XCTest

/// Lines of real-world haproxy.cfg files (Tests/fixtures/configs) that HAProxy 2.6 runs and
/// SwiftLB refused, now run side by side with haproxy: IPv6 addresses written without brackets
/// (`bind :::6443`, `server x ::1:6443`, the port after the last colon), `bind … interface`,
/// `%{+Q}[fetch]` in a header value.
final class CorpusShapesTests: XCTestCase {
    var dir: TempDirectory!

    override func setUpWithError() throws { dir = try TempDirectory() }
    override func tearDown() { dir = nil }

    func testIPv6AddressesWithoutBracketsAsInHAProxy() throws {
        // An origin on ::1 only, so only an IPv6 connection reaches it.
        let origin = freePort()
        try FileManager.default.createDirectory(atPath: dir.file("www"), withIntermediateDirectories: true)
        _ = try dir.write("www/index.txt", "on ::1\n")
        let python = try ChildProcess("/usr/bin/env", ["python3", "-m", "http.server", "--bind", "::1", "\(origin)",
                                                      "--directory", dir.file("www")],
                                      logDirectory: dir, name: "origin-v6")
        defer { python.stop() }
        var up = false
        for _ in 0..<100 where !up {
            up = curl(["-g", "-o", "/dev/null", "http://[::1]:\(origin)/index.txt"], maxTime: 2).status == 0
            if !up { usleep(50_000) }
        }
        XCTAssertTrue(up, python.stderr)
        let both = try SideBySide({ port in
            """
            frontend fe
                bind :::\(port)
                default_backend be
            backend be
                server s1 ::1:\(origin)

            """
        }, in: dir)
        defer { both.stop() }
        for port in both.ports {
            // `:::PORT` is every IPv6 address (and IPv4 with the kernel's default bindv6only=0).
            for url in ["http://[::1]:\(port)/index.txt", "http://127.0.0.1:\(port)/index.txt"] {
                let answer = curl(["-g", "-i", url], maxTime: 5)
                // The origin answers HTTP/1.0: both relay its status line as it is.
                XCTAssertTrue(answer.out.hasPrefix("HTTP/1.0 200"), "\(url): \(answer.out)\(answer.err)")
                XCTAssertTrue(answer.out.hasSuffix("on ::1\n"), "\(url): \(answer.out)")
            }
        }
    }

    func testBindInterfaceTakesOnlyThatInterfacesConnectionsAsInHAProxy() throws {
        // A loopback connection arrives on `lo`: a listener bound to another interface does
        // not take it (the kernel refuses it), one bound to `lo` does.
        let interfaces = (try? FileManager.default.contentsOfDirectory(atPath: "/sys/class/net"))?.filter { $0 != "lo" }.sorted() ?? []
        let other = try XCTUnwrap(interfaces.first, "a network interface besides lo")
        var second: [Int: Int] = [:], third: [Int: Int] = [:]
        let both = try SideBySide({ port in
            let elsewhere = second[port] ?? freePort()
            second[port] = elsewhere
            let nowhere = third[port] ?? freePort()
            third[port] = nowhere
            return """
                frontend on_lo
                    bind 127.0.0.1:\(port) interface lo
                    http-request return status 200 content-type text/plain string "lo"
                frontend on_other
                    bind 127.0.0.1:\(elsewhere) interface \(other)
                    http-request return status 200 content-type text/plain string "other"
                frontend on_missing
                    bind 127.0.0.1:\(nowhere) interface nosuch0
                    http-request return status 200 content-type text/plain string "any"

                """
        }, in: dir)
        defer { both.stop() }
        let sockets = runCommand("/usr/bin/ss", ["-ltnH"]).out
        for port in both.ports {
            let elsewhere = try XCTUnwrap(second[port])
            XCTAssertEqual(curl(["http://127.0.0.1:\(port)/"], maxTime: 5).out, "lo")
            let refused = curl(["http://127.0.0.1:\(elsewhere)/"], maxTime: 5)
            XCTAssertEqual(refused.status, 7, "port \(elsewhere) bound to \(other) takes no loopback connection: \(refused)")
            XCTAssertTrue(sockets.contains("127.0.0.1%lo:\(port) "), sockets)
            XCTAssertTrue(sockets.contains("127.0.0.1%\(other):\(elsewhere) "), sockets)
            // An interface the system lacks: a warning, and the listener takes every interface.
            XCTAssertEqual(curl(["http://127.0.0.1:\(try XCTUnwrap(third[port]))/"], maxTime: 5).out, "any", "port \(port)")
        }
    }

    /// `%{+Q}[ssl_c_s_dn]` in a header value (client-certificate front ends): HAProxy 2.6
    /// writes the sample as it is there, unquoted (+X changes nothing either); +E is refused.
    func testQuotingFlagsInAHeaderValueAsInHAProxy() throws {
        let both = try SideBySide({ port in
            """
            frontend fe
                bind 127.0.0.1:\(port)
                http-request set-var(txn.in) req.hdr(x-in)
                http-request set-var(txn.none) req.hdr(x-none)
                http-request return status 200 content-type text/plain string ok
                http-after-response set-header X-Src %{+Q}[src]
                http-after-response set-header X-In "<%{+Q,+X}[var(txn.in)]>"
                http-after-response set-header X-None %{+Q}[var(txn.none)]

            """
        }, in: dir)
        defer { both.stop() }
        var answers: [[String]] = []
        for port in both.ports {
            let answer = curl(["-i", "-H", "X-In: a\"b c", "http://127.0.0.1:\(port)/"], maxTime: 5).out
            answers.append(answer.split(separator: "\r\n").filter { $0.lowercased().hasPrefix("x-") }.map { $0.lowercased() })
        }
        XCTAssertEqual(answers[0], ["x-src: 127.0.0.1", "x-in: <a\"b c>", "x-none: "])
        XCTAssertEqual(answers[0], answers[1], "SwiftLB, then HAProxy")
        let path = try dir.write("e.cfg", "frontend fe\n    bind 127.0.0.1:\(freePort())\n    mode http\n    http-request set-header X %{+E}[src]\n")
        XCTAssertTrue(runCommand(Paths.swiftlb, ["check", "-c", path]).err.contains("[\(path):4] : 'http-request' : unsupported format"))
    }

    func testBindInterfaceNamesAnInterface() throws {
        for (value, refused) in [("lo", false), ("", true), ("a-name-longer-than-15", true)] {
            let path = try dir.write("lb.conf", """
                frontend fe
                    bind 127.0.0.1:\(freePort()) interface "\(value)"
                    mode http
                    http-request return status 200

                """)
            let check = runCommand(Paths.swiftlb, ["check", "-c", path])
            XCTAssertEqual(check.status, refused ? 1 : 0, "\(value): \(check.err)")
            if refused { XCTAssertTrue(check.err.contains("[\(path):2] : 'bind' : 'interface' expects a network interface name"), check.err) }
        }
    }
}
