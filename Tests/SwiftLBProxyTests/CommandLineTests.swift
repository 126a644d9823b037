import Foundation
import SwiftLBTestSupport
import XCTest

/// `swiftlb check` and `swiftlb run` as an operator uses them.
final class CommandLineTests: XCTestCase {
    func testCheckAcceptsTheSampleAndRejectsABrokenFileWithItsLine() throws {
        let dir = try TempDirectory()
        // The sample names /etc/swiftlb/hipc.pem; check it with a certificate made here.
        let pem = dir.file("hipc.pem")
        XCTAssertEqual(runCommand(Paths.repository.appendingPathComponent("scripts/gen-cert.sh").path, ["hipchat.example.test", pem]).status, 0)
        // …and /etc/swiftlb/vrrp.key, the heartbeat key, which `check` reads too.
        let key = try dir.write("vrrp.key", "0123456789abcdef0123456789abcdef\n")
        chmod(key, 0o600)
        let sample = try String(contentsOf: Paths.repository.appendingPathComponent("lb.conf"), encoding: .utf8)
        let samplePath = try dir.write("lb.conf", sample.replacingOccurrences(of: "/etc/swiftlb/hipc.pem", with: pem)
            .replacingOccurrences(of: "/etc/swiftlb/vrrp.key", with: key))
        let ok = runCommand(Paths.swiftlb, ["check", "-c", samplePath])
        XCTAssertEqual(ok.status, 0, ok.err)
        XCTAssertTrue(ok.out.contains("Configuration file is valid"))
        XCTAssertEqual(ok.err, "", "no warning for the sample")
        // haproxy's -f names the file too.
        let haproxyFlag = runCommand(Paths.swiftlb, ["check", "-f", samplePath])
        XCTAssertEqual(haproxyFlag.status, 0, haproxyFlag.err)
        XCTAssertEqual(haproxyFlag.out, ok.out)

        // A short key, or one others can read: named with the file and line of auth_key_file.
        let keyLine = sample.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains("auth_key_file") }! + 1
        try "short\n".write(toFile: key, atomically: false, encoding: .utf8)
        let short = runCommand(Paths.swiftlb, ["check", "-c", samplePath])
        XCTAssertEqual(short.status, 1)
        XCTAssertTrue(short.err.contains("lb.conf:\(keyLine)] : 'auth_key_file' : the key in '\(key)' has 5 bytes; use at least 16"), short.err)
        try "0123456789abcdef0123456789abcdef\n".write(toFile: key, atomically: false, encoding: .utf8)
        chmod(key, 0o644)
        let open = runCommand(Paths.swiftlb, ["check", "-c", samplePath])
        XCTAssertEqual(open.status, 0, open.err)
        XCTAssertTrue(open.err.contains("[WARNING]  (") && open.err.contains(" : config : parsing [\(samplePath):\(keyLine)] : 'auth_key_file' : '\(key)' can be read by other users (mode 644); chmod 600 it (or 640 with a group only SwiftLB is in)"), open.err)

        let broken = try dir.write("broken.conf", "frontend fe\n    bind :80\n    default_backend app\nbackend app\n    balanse roundrobin\n")
        let bad = runCommand(Paths.swiftlb, ["check", "-c", broken])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.err.contains("[ALERT]    (") && bad.err.contains(" : config : parsing [\(broken):5] : 'balanse' : unknown keyword in 'backend' section (did you mean 'balance'?)"), bad.err)

        let missing = runCommand(Paths.swiftlb, ["check", "-c", dir.file("nope.conf")])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.err.contains("Cannot open configuration file/directory \(dir.file("nope.conf")) : No such file or directory"), missing.err)

        let unresolvable = try dir.write("dns.conf", "backend b\n    server s no-such-host.invalid:80\n")
        let dns = runCommand(Paths.swiftlb, ["check", "-c", unresolvable])
        XCTAssertEqual(dns.status, 1)
        XCTAssertTrue(dns.err.contains("dns.conf:2] : 'server' : cannot resolve 'no-such-host.invalid'"), dns.err)

        XCTAssertEqual(runCommand(Paths.swiftlb, ["--version"]).out, "0.1.0\n")
    }

    func testRunRefusesAnInvalidFileAndAPortInUse() throws {
        let dir = try TempDirectory()
        let broken = try dir.write("broken.conf", "global\n    maxcon 1\n")
        let bad = runCommand(Paths.swiftlb, ["run", "-c", broken])
        XCTAssertEqual(bad.status, 1)
        XCTAssertTrue(bad.err.contains("broken.conf:2] : 'maxcon'"), bad.err)

        let port = freePort()
        let config = testDefaults() + "frontend fe\n    bind 127.0.0.1:\(port)\n"
        let first = try SwiftLBInstance(config: config, waitPort: port, in: dir, name: "first")
        defer { first.stop() }
        let path = try dir.write("second.conf", config)
        let second = runCommand(Paths.swiftlb, ["run", "-c", path])
        XCTAssertEqual(second.status, 1)
        XCTAssertTrue(second.err.contains("second.conf:10] : 'bind' : frontend 'fe': cannot bind 127.0.0.1:\(port)"), second.err)
    }

    /// The binary the demo and an operator run is the release build: it must obey SIGHUP
    /// (reload) and SIGTERM (stop) as the debug build does. (An optimised build once released
    /// the signal sources early and ignored both.)
    func testTheReleaseBuildReloadsAndStopsOnSignals() throws {
        let release = Paths.repository.appendingPathComponent(".build/release/swiftlb").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: release), "scripts/test.sh builds the release binary")
        let dir = try TempDirectory()
        let port = freePort()
        let config = try dir.write("lb.conf", testDefaults() + "frontend fe\n    bind 127.0.0.1:\(port)\n")
        let lb = try ChildProcess(release, ["run", "-c", config], logDirectory: dir, name: "release")
        defer { lb.stop() }
        XCTAssertTrue(waitForPort(port), lb.stderr)
        lb.signal(SIGHUP)
        let deadline = Date().addingTimeInterval(10)
        while !(lb.stdout + lb.stderr).contains("SIGHUP: configuration reloaded") && Date() < deadline { usleep(50_000) }
        XCTAssertTrue((lb.stdout + lb.stderr).contains("SIGHUP: configuration reloaded"), "SIGHUP: \(lb.stdout)\(lb.stderr)")
        lb.signal(SIGTERM)
        XCTAssertEqual(lb.waitForExit(timeout: 10), 0, "SIGTERM: \(lb.stdout)\(lb.stderr)")
        XCTAssertTrue((lb.stdout + lb.stderr).contains("stopped"), lb.stdout + lb.stderr)
    }

    /// The product links FoundationEssentials and Glibc, never the whole Foundation with ICU:
    /// those libraries were ~8 MB of the idle RSS (docs/benchmarks.md) for a handful of calls.
    /// A new `import Foundation` in Sources/ brings them back; this says so. The debug build
    /// links the Swift libraries dynamically (its NEEDED entries say it); the scripts' release
    /// build links them in (`--static-swift-stdlib`), so its symbol table says it instead.
    func testTheProductDoesNotLinkFoundationOrICU() throws {
        for build in ["debug", "release"] {
            let binary = Paths.repository.appendingPathComponent(".build/\(build)/swiftlb").path
            guard FileManager.default.isExecutableFile(atPath: binary) else { continue }
            let output = try Self.output(of: "/usr/bin/readelf", ["-d", binary])
            let needed = output.split(separator: "\n").filter { $0.contains("(NEEDED)") }
            XCTAssertTrue(needed.contains { $0.contains("libc.so") }, "\(build): readelf lists the libraries: \(output.prefix(400))")
            for library in ["libFoundation.so", "libFoundationInternationalization.so", "lib_FoundationICU.so"] {
                XCTAssertFalse(needed.contains { $0.contains("[\(library)]") }, "\(build) build links \(library): an 'import Foundation' in Sources/?")
            }
            guard !needed.contains(where: { $0.contains("[libswiftCore.so]") }) else { continue }
            // Static: Foundation's modules would be in the binary. FoundationEssentials must be
            // (else this reads the wrong table); Foundation, its ICU half and ICU must not.
            let symbols = try Self.output(of: "/usr/bin/nm", [binary])
            XCTAssertTrue(symbols.contains("$s20FoundationEssentials"), "\(build): nm lists no FoundationEssentials symbol")
            for module in ["$s10Foundation", "$s30FoundationInternationalization", " T ucol_open"] {
                XCTAssertFalse(symbols.contains(module), "\(build) build holds \(module)…: an 'import Foundation' in Sources/?")
            }
        }
    }

    private static func output(of tool: String, _ arguments: [String]) throws -> String {
        let run = runProcess(tool, arguments)
        guard run.status >= 0 else { throw HarnessError(run.err) }
        return run.out
    }

    /// `maxconn 2`: a third client waits in the backlog and is served once a slot frees up.
    func testMaxconnHoldsTheThirdClientUntilASlotFrees() throws {
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "b", backends: """
            backend b
                server s 127.0.0.1:\(nginx.ports[0])
            """, frontendExtra: """
                maxconn 2
            """, in: dir)
        defer { lb.stop() }
        // waitForPort used one slot briefly; let its close be counted.
        usleep(200_000)
        var holders: [RawClient] = [try RawClient(port: port), try RawClient(port: port)]
        usleep(200_000)
        let third = try RawClient(port: port, timeout: 1)
        third.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        XCTAssertEqual(third.read(until: "node1\n"), "", "served while two connections are open")
        holders.removeFirst()  // closing one frees a slot
        third.setReceiveTimeout(10)  // what must come now gets time on a loaded machine
        let answer = third.read(until: "node1\n")
        XCTAssertEqual(statusCode(answer), 200, answer)
        XCTAssertTrue(answer.hasSuffix("node1\n"), answer)
        XCTAssertEqual(holders.count, 1)
    }
}

/// Thousands of short connections leave no memory and no descriptor behind.
final class ResourceTests: XCTestCase {
    func testConnectionsLeakNeitherMemoryNorDescriptors() throws {
        let dir = try TempDirectory()
        let nginx = try NginxBackends(count: 1, in: dir)
        defer { nginx.stop() }
        let (lb, port) = try startProxy(backend: "b", backends: """
            backend b
                server s 127.0.0.1:\(nginx.ports[0])
            """, in: dir)
        defer { lb.stop() }
        func batch(_ n: Int) throws {
            for _ in 0..<n {
                let client = try RawClient(port: port)
                client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
                XCTAssertTrue(client.readAll().text.hasSuffix("node1\n"))
            }
        }
        func descriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(lb.child.pid)/fd").count) ?? -1 }
        try batch(1500)  // warm-up: pools, allocator arenas
        usleep(300_000)
        let rss0 = lb.child.rssKiB, fds0 = descriptors()
        try batch(6000)
        usleep(300_000)
        let rss1 = lb.child.rssKiB, fds1 = descriptors()
        // A leak of one handler cycle per connection (~600 B) would add ~3.5 MiB here.
        XCTAssertLessThan(rss1 - rss0, 1536, "RSS grew from \(rss0) to \(rss1) KiB over 6000 connections")
        XCTAssertLessThanOrEqual(fds1, fds0 + 2, "descriptors grew from \(fds0) to \(fds1)")
    }
}
