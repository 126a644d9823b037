import Foundation
import XCTest
@testable import SwiftLBConfig

/// The process keywords of `global`, as parsed (ProcessRunTests runs them).
final class ProcessKeywordTests: XCTestCase {
    private func parse(_ text: String, pending: Bool = false, line: UInt = #line) throws -> Configuration {
        try parseOrFail(text, file: "g.conf", pending: pending, line: line)
    }

    private func expectError(_ text: String, line: Int, keyword: String, _ message: String, file: StaticString = #filePath, at: UInt = #line) {
        do {
            _ = try ConfigParser.parse(text: text, file: "g.conf")
            XCTFail("no error for:\n\(text)", file: file, line: at)
        } catch {
            XCTAssertEqual(error.errors.count, 1, "\(error)", file: file, line: at)
            XCTAssertEqual(error.errors.first?.line, line, file: file, line: at)
            XCTAssertEqual(error.errors.first?.keyword, keyword, file: file, line: at)
            XCTAssertTrue(error.errors.first?.message.contains(message) == true, "\(error)", file: file, line: at)
        }
    }

    func testDaemonUserGroupChroot() throws {
        let config = try parse("global\n    daemon\n    user nobody\n    group nogroup\n    chroot /tmp\n")
        XCTAssertTrue(config.global.daemon)
        XCTAssertEqual(config.global.uid, getpwnam("nobody")!.pointee.pw_uid)
        XCTAssertEqual(config.global.gid, getgrnam("nogroup")!.pointee.gr_gid)
        XCTAssertEqual(config.global.chroot, "/tmp")
        XCTAssertEqual(config.global.keywordLines["user"], 3)
        XCTAssertFalse(config.warnings.contains { $0.keyword == "daemon" }, "no proxy logs: nothing is discarded")
        let numeric = try parse("global\n    uid 65534\n")
        XCTAssertEqual(numeric.global.uid, 65534)
        XCTAssertEqual(numeric.global.gid, getpwuid(65534)!.pointee.pw_gid, "user without group: the user's primary group")
        XCTAssertEqual(try parse("global\n    gid 123\n").global.gid, 123)
    }

    /// `daemon` warns that the access log is lost only when some proxy logs to stdout/stderr
    /// (it once warned whenever the global default target was stdout, even for syslog only).
    func testDaemonWarnsOnlyWhenAProxyLogsToAStandardStream() throws {
        let proxy = "defaults\n    mode http\n    option httplog\n    log global\nfrontend fe\n    bind :80\n"
        func daemonWarning(_ text: String) throws -> String? {
            try parse(text).warnings.first { $0.keyword == "daemon" }?.message
        }
        XCTAssertNil(try daemonWarning("global\n    daemon\n    log /dev/log local0\n" + proxy), "syslog only")
        XCTAssertNil(try daemonWarning("global\n    daemon\n    log udp@127.0.0.1:514 local0\n" + proxy), "UDP syslog only")
        XCTAssertNil(try daemonWarning("global\n    daemon\n    log stdout local0\nfrontend fe\n    bind :80\n"), "a proxy that logs nothing")
        let stdout = try daemonWarning("global\n    daemon\n    log stdout format raw local0\n" + proxy)
        XCTAssertTrue(stdout?.contains("the access log of 'fe' ('log stdout') is discarded once detached") == true, stdout ?? "no warning")
        let own = try daemonWarning("global\n    daemon\n    log /dev/log local0\n" + proxy + "    log stderr format raw daemon\n")
        XCTAssertTrue(own?.contains("('log stderr')") == true, own ?? "no warning")
        let fallback = try daemonWarning("global\n    daemon\ndefaults\n    mode http\n    option httplog\nfrontend fe\n    bind :80\n")
        XCTAssertTrue(fallback?.contains("('log stdout')") == true, "no log line at all: lines go to stdout; \(fallback ?? "no warning")")
    }

    func testProcessKeywordErrors() {
        expectError("global\n    user no-such-user-here\n", line: 2, keyword: "user", "no user named 'no-such-user-here'")
        expectError("global\n    group no-such-group-here\n", line: 2, keyword: "group", "no group named 'no-such-group-here'")
        expectError("global\n    uid -1\n", line: 2, keyword: "uid", "expects a numeric id")
        expectError("global\n    chroot relative/dir\n", line: 2, keyword: "chroot", "expects an absolute path")
        expectError("global\n    chroot /nonexistent-dir\n", line: 2, keyword: "chroot", "'/nonexistent-dir': No such file or directory")
        expectError("global\n    chroot /etc/hostname\n", line: 2, keyword: "chroot", "is not a directory")
        expectError("global\n    daemon yes\n", line: 2, keyword: "daemon", "'daemon' takes no argument")
        expectError("global\n    cpu-map 2/1 0\n", line: 2, keyword: "cpu-map", "SwiftLB is one process")
        expectError("global\n    cpu-map 1/1-99 0\n", line: 2, keyword: "cpu-map", "invalid thread set '1-99'")
        expectError("global\n    cpu-map 1/1 2000\n", line: 2, keyword: "cpu-map", "invalid CPU set '2000'")
        expectError("global\n    cpu-map auto:1/1-4 0-1\n", line: 2, keyword: "cpu-map", "4 threads but 2 CPUs")
        expectError("global\n    cpu-map auto:1 0-1\n", line: 2, keyword: "cpu-map", "'auto:' needs a thread range")
        expectError("global\n    cpu-map 1\n", line: 2, keyword: "cpu-map", "expects '[auto:]1[/THREADS] CPU-SET'")
        expectError("global\n    tune.ssl.default-dh-param 512\n", line: 2, keyword: "tune.ssl.default-dh-param", "from 1024")
        expectError("global\n    stats socket /x expose-fd all\n", line: 2, keyword: "stats", "'expose-fd' expects 'listeners'")
        expectError("global\n    spread-checks 90\n", line: 2, keyword: "spread-checks", "from 0 to 50")
    }

    func testCPUMapForms() throws {
        let config = try parse("""
            global
                nbthread 4
                cpu-map 1 0-3
                cpu-map 1/2 1
                cpu-map auto:1/3-4 2,3
            """)
        XCTAssertEqual(config.global.cpuMap.count, 3)
        XCTAssertEqual(config.global.cpus(forThread: 1), [0, 1, 2, 3], "the process-wide line")
        XCTAssertEqual(config.global.cpus(forThread: 2), [1], "a later line overrides")
        XCTAssertEqual(config.global.cpus(forThread: 3), [2])
        XCTAssertEqual(config.global.cpus(forThread: 4), [3])
        let auto = try parse("global\n    cpu-map auto:1/1-4 0-3\n")
        XCTAssertEqual((1...4).map { auto.global.cpus(forThread: $0) }, [[0], [1], [2], [3]])
        XCTAssertNil(auto.global.cpus(forThread: 5))
        XCTAssertEqual(try parse("global\n    cpu-map all/all 0 1\n").global.cpus(forThread: 7), [0, 1])
    }

    func testBasesPrefixRelativePaths() throws {
        let config = try parse("""
            global
                crt-base /etc/ssl/private
                ca-base /etc/ssl/certs
            frontend f
                bind :443 ssl crt site.pem crt /abs/other.pem
            backend b
                server s 127.0.0.1:443 ssl verify required ca-file ca.pem
            """)
        XCTAssertEqual(config.frontends[0].binds[0].tls?.certificates, ["/etc/ssl/private/site.pem", "/abs/other.pem"])
        XCTAssertEqual(config.backends["b"]?.servers[0].parameters.tls?.caFile, "/etc/ssl/certs/ca.pem")
    }

    func testTuningKeywordsAreParsedAndPendingUntilTheDataPathReadsThem() throws {
        let text = "global\n    tune.bufsize 32768\n    tune.http.maxhdr 200\n    tune.maxaccept 100\n    spread-checks 5\n    stats timeout 2m\n"
        let config = try parse(text, pending: true)
        XCTAssertEqual(config.global.tuneBufsize, 32768)
        XCTAssertEqual(config.global.tuneHTTPMaxHeaders, 200)
        XCTAssertEqual(config.global.tuneMaxAccept, 100)
        XCTAssertEqual(config.global.spreadChecks, 5)
        XCTAssertEqual(config.global.statsTimeout, .seconds(120))
        do {
            _ = try ConfigParser.parse(text: text, file: "g.conf")
            XCTFail("pending keywords accepted")
        } catch {
            XCTAssertEqual(error.errors.map(\.line), [4])  // tune.bufsize, tune.http.maxhdr, spread-checks and stats timeout are active
            XCTAssertTrue(error.errors.allSatisfy { $0.message.contains("is not yet supported by SwiftLB: ") }, "\(error)")
        }
    }

    func testDHParamAndStatsSocketExposeFD() throws {
        let config = try parse("global\n    tune.ssl.default-dh-param 2048\n    stats socket /run/x.sock mode 600 level admin expose-fd listeners\n")
        XCTAssertEqual(config.global.sslDefaultDHParam, 2048)
        XCTAssertEqual(config.global.statsSocket?.exposeFDListeners, true)
        XCTAssertNotNil(try? parse("global\n    stats socket ipv4@127.0.0.1:9999 level admin\n"), "a stats socket on TCP is active")
    }

    /// HAProxy's owner parameters of `stats socket`, names resolved when the file is read.
    func testStatsSocketOwner() throws {
        let root = try parse("global\n    stats socket /run/x.sock user root group root level admin\n")
        XCTAssertEqual(root.global.statsSocket?.uid, 0)
        XCTAssertEqual(root.global.statsSocket?.gid, 0)
        let numeric = try parse("global\n    stats socket /run/x.sock uid 65534 gid 65533\n")
        XCTAssertEqual(numeric.global.statsSocket?.uid, 65534)
        XCTAssertEqual(numeric.global.statsSocket?.gid, 65533)
        expectError("global\n    stats socket /x user no-such-user-here\n", line: 2, keyword: "stats", "no user named 'no-such-user-here'")
        expectError("global\n    stats socket /x group no-such-group-here\n", line: 2, keyword: "stats", "no group named 'no-such-group-here'")
        expectError("global\n    stats socket /x uid nobody\n", line: 2, keyword: "stats", "'uid' expects a numeric id")
        expectError("global\n    log tcp@127.0.0.1:514 local0\n", line: 2, keyword: "log", "TCP syslog (tcp@) is not supported by SwiftLB")
        expectError("global\n    stats socket abns@x\n", line: 2, keyword: "stats", "a control socket on 'abns@' is not supported by SwiftLB")
    }
}
